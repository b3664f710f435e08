// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * attach_fmod_ret.c: an fmod_ret program for test/attach-trace.test.ts.
 *
 *   fmod_ret_test  SEC("fmod_ret/bpf_modify_return_test"):
 *                  BPF_PROG_TYPE_TRACING, BPF_MODIFY_RETURN. .bss calls++,
 *                  last_a = a; returns 7: the kernel skips the function and
 *                  its caller sees 7.
 *
 * int bpf_modify_return_test(int a, int *b) (net/bpf/test_run.c, error
 * injectable) does *b += 1 and returns a + *b; BPF_PROG_TEST_RUN of a
 * BPF_MODIFY_RETURN program calls it with a = 1.
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

__u64 calls;
__u64 last_a;

SEC("fmod_ret/bpf_modify_return_test")
int BPF_PROG(fmod_ret_test, int a, int *b, int ret)
{
	__sync_fetch_and_add(&calls, 1);
	last_a = a;
	return 7;
}
