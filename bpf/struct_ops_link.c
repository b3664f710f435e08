// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * struct_ops_link.c: struct_ops.c's TCP congestion control as a BPF_F_LINK
 * map (struct_ops links, 6.4+), in an object of its own so that a kernel
 * without struct_ops links loads struct_ops.o all the same.
 *
 *   tsbpf_cc_link  SEC(".struct_ops.link"): BPF_F_LINK. Its value only
 *                  prepares the map; BPF_LINK_CREATE (attach type
 *                  BPF_STRUCT_OPS) registers it.
 *
 * Programs: link_ssthresh, link_cong_avoid, link_undo_cwnd, as in struct_ops.c.
 */
#include "tsbpf_tcp_cc.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

TSBPF_RENO_PROGRAMS(link)

SEC(".struct_ops.link")
struct tcp_congestion_ops tsbpf_cc_link = {
	.ssthresh = (void *)link_ssthresh,
	.cong_avoid = (void *)link_cong_avoid,
	.undo_cwnd = (void *)link_undo_cwnd,
	.name = "tsbpf_cc_link",
};
