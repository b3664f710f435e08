// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * attach_syscall.c: a syscall program for test/attach-trace.test.ts.
 *
 *   sys_add  SEC("syscall"): ctx struct add_args { u32 a, b; u64 sum; }:
 *            writes a + b into sum (copied back into ctx_in) and into .bss
 *            last_sum; returns a * b.
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

__u64 last_sum;

struct add_args {
	__u32 a;
	__u32 b;
	__u64 sum;
};

SEC("syscall")
int sys_add(struct add_args *args)
{
	args->sum = (__u64)args->a + args->b;
	last_sum = args->sum;
	return args->a * args->b;
}
