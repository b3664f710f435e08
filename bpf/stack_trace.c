// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * stack_trace.c: stacks for test/stack-trace.test.ts.
 *
 * .rodata target_tgid: the process whose calls are recorded;
 *         target_syscall: the number of the syscall on_sys_enter records.
 *
 *   on_sys_enter SEC("tracepoint/raw_syscalls/sys_enter"): for target_syscall,
 *                records the kernel stack and the user stack (BPF_F_USER_STACK)
 *                in `stacks` with bpf_get_stackid; .bss kernel_id / user_id hold
 *                the ids (negative: the helper's error), calls++. A generic
 *                tracepoint hands BPF the registers of its caller in the kernel,
 *                so the kernel stack is there on every kernel.
 *   on_getppid   SEC("tracepoint/syscalls/sys_enter_getppid"): the same into
 *                `sc_stacks`, .bss sc_kernel_id / sc_user_id, sc_calls++.
 *                Syscall tracepoints handed BPF the user-mode registers of the
 *                syscall until Linux 6.11: there bpf_get_stackid of the kernel
 *                stack finds no frame and returns -EFAULT.
 * Both return 0.
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

struct {
	__uint(type, MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 64);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, DEPTH * sizeof(__u64));
} sc_stacks SEC(".maps");

/* struct trace_event_raw_sys_enter */
struct sys_enter {
	__u64 common; /* struct trace_entry */
	long id;
	unsigned long args[6];
};

const volatile __u32 target_tgid = 0;
const volatile __s64 target_syscall = -1;
__s64 kernel_id = -1;
__s64 user_id = -1;
__u64 calls;
__s64 sc_kernel_id = -1;
__s64 sc_user_id = -1;
__u64 sc_calls;

SEC("tracepoint/raw_syscalls/sys_enter")
int on_sys_enter(struct sys_enter *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid || ctx->id != target_syscall)
		return 0;
	kernel_id = bpf_get_stackid(ctx, &stacks, 0);
	user_id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	__sync_fetch_and_add(&calls, 1);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	sc_kernel_id = bpf_get_stackid(ctx, &sc_stacks, 0);
	sc_user_id = bpf_get_stackid(ctx, &sc_stacks, BPF_F_USER_STACK);
	__sync_fetch_and_add(&sc_calls, 1);
	return 0;
}
