// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * attach_netfilter.c: a netfilter program (BPF_LINK_TYPE_NETFILTER, 6.4+) for
 * test/attach-misc.test.ts.
 *
 *   nf_count  netfilter  counts packets at its hook in calls[0]; NF_ACCEPT
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} calls SEC(".maps");

SEC("netfilter")
int nf_count(void *ctx)
{
	__u32 slot = 0;
	__u64 *n = bpf_map_lookup_elem(&calls, &slot);

	if (n)
		__sync_fetch_and_add(n, 1);
	return 1; /* NF_ACCEPT */
}

char LICENSE[] SEC("license") = "GPL";
