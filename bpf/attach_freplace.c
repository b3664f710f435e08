// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * attach_freplace.c: a freplace program and its target, for
 * test/attach-trace.test.ts.
 *
 *   target_sub  a global (non-static) function of tc_main: the freplace
 *               target; returns len + 1.
 *   tc_main     SEC("tc"): returns target_sub(skb->len).
 *   new_sub     SEC("freplace/target_sub"): BPF_PROG_TYPE_EXT; returns 1234.
 *               Ebpf.load leaves it unloaded: Extension.load({ target }).
 *
 * With new_sub attached, a test run of tc_main returns 1234.
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

__attribute__((noinline)) int target_sub(__u32 len)
{
	return len + 1;
}

SEC("tc")
int tc_main(struct __sk_buff *skb)
{
	return target_sub(skb->len);
}

SEC("freplace/target_sub")
int new_sub(__u32 len)
{
	return 1234;
}
