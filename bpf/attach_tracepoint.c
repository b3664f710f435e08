// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * attach_tracepoint.c: a tracepoint program for test/attach-trace.test.ts.
 *
 * .rodata target_tgid: the test's pid; only calls made by that process count.
 *
 *   tp_getppid  SEC("tracepoint/syscalls/sys_enter_getppid"): .bss calls++,
 *               other_cpu++ when running on a CPU other than 0 (the perf event
 *               is opened on CPU 0 only), cookie = bpf_get_attach_cookie().
 *               Returns 0.
 */
#include "tsbpf_kernel.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile __u32 target_tgid = 0;
__u64 calls;
__u64 other_cpu;
__u64 cookie;

SEC("tracepoint/syscalls/sys_enter_getppid")
int tp_getppid(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	__sync_fetch_and_add(&calls, 1);
	if (bpf_get_smp_processor_id() != 0)
		__sync_fetch_and_add(&other_cpu, 1);
	cookie = bpf_get_attach_cookie(ctx);
	return 0;
}
