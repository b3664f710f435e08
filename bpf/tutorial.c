// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/* tutorial.c: the README's tutorial (examples/tutorial.ts): openat(2) calls per command. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* command name (as bpf_get_current_comm writes it) -> openat calls */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, char[16]);
	__type(value, __u64);
} opens SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int count_openat(void *ctx)
{
	char comm[16] = {};
	__u64 one = 1, *n;

	bpf_get_current_comm(comm, sizeof(comm));
	n = bpf_map_lookup_elem(&opens, comm);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&opens, comm, &one, BPF_NOEXIST);
	return 0;
}
