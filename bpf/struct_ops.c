// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * struct_ops.c: a TCP congestion control implemented in BPF, as a struct_ops
 * map of the kernel's struct tcp_congestion_ops (Reno, through the kernel's
 * own tcp_reno_* kfuncs). The BPF_F_LINK variant (6.4+) is struct_ops_link.c.
 *
 *   tsbpf_cc  SEC(".struct_ops"): a map without BPF_F_LINK. Writing its value
 *             (map update, key 0) registers "tsbpf_cc" as a congestion
 *             control (listed in
 *             /proc/sys/net/ipv4/tcp_available_congestion_control); deleting
 *             key 0 unregisters it. .flags = TCP_CONG_NON_RESTRICTED (1): a
 *             data member the loader copies into the kernel value; with it
 *             the algorithm is also listed in tcp_allowed_congestion_control.
 *
 * Programs (BPF_PROG_TYPE_STRUCT_OPS; attach_btf_id = vmlinux struct
 * tcp_congestion_ops, expected_attach_type = the member's index:
 * ssthresh 0, cong_avoid 1, undo_cwnd 8): cc_ssthresh, cc_cong_avoid,
 * cc_undo_cwnd. Each calls the matching kfunc (tcp_reno_ssthresh,
 * tcp_reno_cong_avoid, tcp_reno_undo_cwnd). Only the members the kernel
 * requires are set.
 */
#include "tsbpf_tcp_cc.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

TSBPF_RENO_PROGRAMS(cc)

SEC(".struct_ops")
struct tcp_congestion_ops tsbpf_cc = {
	.ssthresh = (void *)cc_ssthresh,
	.cong_avoid = (void *)cc_cong_avoid,
	.undo_cwnd = (void *)cc_undo_cwnd,
	.flags = 1,
	.name = "tsbpf_cc",
};
