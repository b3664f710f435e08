// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * attach_raw_tp.c: a raw tracepoint program for test/attach-trace.test.ts.
 *
 * .rodata target_tgid: the test's pid; only calls made by that process count.
 *
 *   raw_sys_enter  SEC("raw_tp/sys_enter"): .bss calls++ when the syscall id
 *                  (args[1]) is __NR_getppid (110 on x86-64). Returns 0.
 */
#include "tsbpf_kernel.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define NR_GETPPID 110

const volatile __u32 target_tgid = 0;
__u64 calls;

SEC("raw_tp/sys_enter")
int raw_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) == target_tgid && ctx->args[1] == NR_GETPPID)
		__sync_fetch_and_add(&calls, 1);
	return 0;
}
