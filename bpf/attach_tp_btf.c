// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * attach_tp_btf.c: a BTF tracepoint program (BPF_PROG_TYPE_TRACING,
 * BPF_TRACE_RAW_TP) for test/attach-trace.test.ts.
 *
 * .rodata target_tgid: the test's pid; only calls made by that process count.
 *
 *   btf_sys_enter  SEC("tp_btf/sys_enter"): typed arguments; .bss calls++ for
 *                  syscall id __NR_getppid (110 on x86-64). Returns 0.
 */
#include "tsbpf_kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define NR_GETPPID 110

const volatile __u32 target_tgid = 0;
__u64 calls;

SEC("tp_btf/sys_enter")
int BPF_PROG(btf_sys_enter, struct pt_regs *regs, long id)
{
	if ((bpf_get_current_pid_tgid() >> 32) == target_tgid && id == NR_GETPPID)
		__sync_fetch_and_add(&calls, 1);
	return 0;
}
