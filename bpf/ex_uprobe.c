// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * ex_uprobe.c: the uprobe program of examples/uprobe.ts.
 *
 * Counts the calls of the function it is attached to, per thread, in the hash
 * map `calls` (thread id -> calls). User space attaches it to one function of
 * one process.
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} calls SEC(".maps");

SEC("uprobe")
int count_calls(void *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 one = 1, *n = bpf_map_lookup_elem(&calls, &tid);

	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&calls, &tid, &one, BPF_NOEXIST);
	return 0;
}
