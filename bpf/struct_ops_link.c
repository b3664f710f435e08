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
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct sock;

/* Only the members used; the loader matches them to the kernel's by name. */
struct tcp_congestion_ops {
	__u32 (*ssthresh)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, __u32 ack, __u32 acked);
	__u32 (*undo_cwnd)(struct sock *sk);
	__u32 flags;
	char name[16];
};

extern __u32 tcp_reno_ssthresh(struct sock *sk) __ksym;
extern void tcp_reno_cong_avoid(struct sock *sk, __u32 ack, __u32 acked) __ksym;
extern __u32 tcp_reno_undo_cwnd(struct sock *sk) __ksym;

SEC("struct_ops/ssthresh")
__u32 BPF_PROG(link_ssthresh, struct sock *sk)
{
	return tcp_reno_ssthresh(sk);
}

SEC("struct_ops/cong_avoid")
void BPF_PROG(link_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	tcp_reno_cong_avoid(sk, ack, acked);
}

SEC("struct_ops/undo_cwnd")
__u32 BPF_PROG(link_undo_cwnd, struct sock *sk)
{
	return tcp_reno_undo_cwnd(sk);
}

SEC(".struct_ops.link")
struct tcp_congestion_ops tsbpf_cc_link = {
	.ssthresh = (void *)link_ssthresh,
	.cong_avoid = (void *)link_cong_avoid,
	.undo_cwnd = (void *)link_undo_cwnd,
	.name = "tsbpf_cc_link",
};
