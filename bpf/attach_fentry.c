// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * attach_fentry.c: an fentry program for test/attach-trace.test.ts.
 *
 *   on_entry  SEC("fentry/bpf_fentry_test1"): BPF_PROG_TYPE_TRACING,
 *             BPF_TRACE_FENTRY, attach_btf_id = vmlinux FUNC
 *             bpf_fentry_test1. .bss calls++, arg_sum += a. Returns 0.
 *
 * bpf_fentry_test1(int a) (net/bpf/test_run.c) returns a + 1. It exists to be
 * an fentry/fexit target: BPF_PROG_TEST_RUN of a BPF_TRACE_FENTRY or
 * BPF_TRACE_FEXIT program calls it with a = 1. (The program's name is no tail
 * of its section's: test/loader-externs.test.ts rewrites the section string.)
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

__u64 calls;
__u64 arg_sum;

SEC("fentry/bpf_fentry_test1")
int BPF_PROG(on_entry, int a)
{
	__sync_fetch_and_add(&calls, 1);
	__sync_fetch_and_add(&arg_sum, a);
	return 0;
}
