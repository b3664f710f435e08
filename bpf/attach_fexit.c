// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * attach_fexit.c: an fexit program for test/attach-trace.test.ts.
 *
 *   on_exit  SEC("fexit/bpf_fentry_test1"): BPF_PROG_TYPE_TRACING,
 *            BPF_TRACE_FEXIT, target vmlinux FUNC bpf_fentry_test1 (see
 *            attach_fentry.c). .bss calls++, ret_sum += the return value
 *            (2 for a = 1). Returns 0.
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

__u64 calls;
__u64 ret_sum;

SEC("fexit/bpf_fentry_test1")
int BPF_PROG(on_exit, int a, int ret)
{
	__sync_fetch_and_add(&calls, 1);
	__sync_fetch_and_add(&ret_sum, ret);
	return 0;
}
