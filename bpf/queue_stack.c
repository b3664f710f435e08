// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * queue_stack.c: a queue and a stack for test/lpm-queue-bloom.test.ts, used
 * by raw tracepoint programs run with BPF_PROG_TEST_RUN.
 *
 *   queue_push  pushes (u32)args[0] to `fifo` and `lifo` (flags args[1]).
 *               Returns 0, or the error of the first push that failed.
 *   queue_pop   pops one value from `fifo`. Returns it, or 0xffffffff when empty.
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define MAP_TYPE_QUEUE 22
#define MAP_TYPE_STACK 23

struct {
	__uint(type, MAP_TYPE_QUEUE);
	__uint(max_entries, 4);
	__type(value, __u32);
} fifo SEC(".maps");

struct {
	__uint(type, MAP_TYPE_STACK);
	__uint(max_entries, 4);
	__type(value, __u32);
} lifo SEC(".maps");

SEC("raw_tp/sys_enter")
int queue_push(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 value = (__u32)ctx->args[0];
	long err = bpf_map_push_elem(&fifo, &value, ctx->args[1]);

	if (err)
		return err;
	return bpf_map_push_elem(&lifo, &value, ctx->args[1]);
}

SEC("raw_tp/sys_enter")
int queue_pop(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 value;

	if (bpf_map_pop_elem(&fifo, &value))
		return 0xffffffff;
	return value;
}
