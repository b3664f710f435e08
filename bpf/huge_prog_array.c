// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * huge_prog_array.c: a map whose size no loader should hand to the kernel.
 *
 * Map:
 *   jump_table  PROG_ARRAY, max_entries 2147483650 (2^31 + 2): preallocated as
 *               an array of 8-byte pointers, 16 GiB, which the kernel would
 *               attempt (with CAP_PERFMON it skips the power-of-two rounding
 *               that overflows past 2^31 and refuses unprivileged callers)
 *
 * Program:
 *   tail  SEC("socket"): tail-calls through jump_table; returns 0
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2147483650u);
	__type(key, __u32);
	__type(value, __u32);
} jump_table SEC(".maps");

SEC("socket")
int tail(void *ctx)
{
	bpf_tail_call(ctx, &jump_table, 0);
	return 0;
}
