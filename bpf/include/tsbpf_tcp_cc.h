/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * tsbpf_tcp_cc.h: the TCP congestion control of struct_ops.c and
 * struct_ops_link.c. Reno, through the kernel's own tcp_reno_* kfuncs.
 */
#ifndef TSBPF_TCP_CC_H
#define TSBPF_TCP_CC_H

#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

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

/* The three programs PREFIX_ssthresh, PREFIX_cong_avoid, PREFIX_undo_cwnd. */
#define TSBPF_RENO_PROGRAMS(prefix)						\
	SEC("struct_ops/ssthresh")						\
	__u32 BPF_PROG(prefix##_ssthresh, struct sock *sk)			\
	{									\
		return tcp_reno_ssthresh(sk);					\
	}									\
	SEC("struct_ops/cong_avoid")						\
	void BPF_PROG(prefix##_cong_avoid, struct sock *sk, __u32 ack,		\
		      __u32 acked)						\
	{									\
		tcp_reno_cong_avoid(sk, ack, acked);				\
	}									\
	SEC("struct_ops/undo_cwnd")						\
	__u32 BPF_PROG(prefix##_undo_cwnd, struct sock *sk)			\
	{									\
		return tcp_reno_undo_cwnd(sk);					\
	}

#endif
