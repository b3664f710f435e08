// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * stack_trace.c: stacks for test/stack-trace.test.ts.
 *
 * .rodata target_tgid: the process whose getppid() calls are recorded.
 *
 *   on_getppid  SEC("tracepoint/syscalls/sys_enter_getppid"): records the
 *               kernel stack and the user stack (BPF_F_USER_STACK) of the
 *               call in `stacks` with bpf_get_stackid, and keeps their ids
 *               in .bss kernel_id / user_id (negative: the helper's error),
 *               calls++. Returns 0.
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define MAP_TYPE_STACK_TRACE 7
#define BPF_F_USER_STACK (1ULL << 8)
#define DEPTH 32

struct {
	__uint(type, MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 64);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, DEPTH * sizeof(__u64));
} stacks SEC(".maps");

const volatile __u32 target_tgid = 0;
__s64 kernel_id = -1;
__s64 user_id = -1;
__u64 calls;

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	kernel_id = bpf_get_stackid(ctx, &stacks, 0);
	user_id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	__sync_fetch_and_add(&calls, 1);
	return 0;
}
