// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * attach_reuseport.c: an sk_reuseport program (SO_ATTACH_REUSEPORT_EBPF) for
 * test/attach-misc.test.ts.
 *
 *   select_socket  sk_reuseport  steers every packet of the group to the
 *                                socket at index `target` of `sockets`;
 *                                counts in calls[0]
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

struct sk_reuseport_md;

struct {
	__uint(type, 20); /* BPF_MAP_TYPE_REUSEPORT_SOCKARRAY */
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} sockets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} calls SEC(".maps");

volatile const __u32 target = 0;

SEC("sk_reuseport")
int select_socket(struct sk_reuseport_md *reuse)
{
	__u32 key = target;
	__u32 slot = 0;
	__u64 *n = bpf_map_lookup_elem(&calls, &slot);

	if (n)
		__sync_fetch_and_add(n, 1);
	if (bpf_sk_select_reuseport(reuse, &sockets, &key, 0))
		return SK_DROP;
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
