// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * ex_double_buffer.c: the program of examples/double-buffer.ts.
 *
 * Counts calls of one system call per process into one of two hash maps held
 * in the ArrayOfMaps `slots`: the one `active_slot` names. User space flips
 * `active_slot`, then reads and empties the other map while the program fills
 * the new one, so no count is read while it is still being written and no
 * interval's counts mix with the next one's.
 *
 * SEC("tracepoint") names no tracepoint: user space attaches it to
 * syscalls/sys_enter_<name> for the system call it is asked to watch.
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Which of the two slots the program counts into; written by user space. */
volatile __u32 active_slot = 0;

struct proc_calls {
	__u64 calls;
	char comm[16];
};

struct counts_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32); /* process id (tgid) */
	__type(value, struct proc_calls);
} counts_0 SEC(".maps"), counts_1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct counts_map);
} slots SEC(".maps") = {
	.values = { &counts_0, &counts_1 },
};

SEC("tracepoint")
int count_syscall(void *ctx)
{
	__u32 slot = active_slot;
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct proc_calls *v;
	void *counts;

	counts = bpf_map_lookup_elem(&slots, &slot);
	if (!counts)
		return 0;
	v = bpf_map_lookup_elem(counts, &pid);
	if (!v) {
		struct proc_calls first = {};

		bpf_get_current_comm(first.comm, sizeof(first.comm));
		bpf_map_update_elem(counts, &pid, &first, BPF_NOEXIST);
		v = bpf_map_lookup_elem(counts, &pid);
		if (!v)
			return 0; /* the map is full */
	}
	__sync_fetch_and_add(&v->calls, 1);
	return 0;
}
