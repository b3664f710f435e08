// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * attach_misc.c: programs for the attach tests of SkReuseport (SO_ATTACH_REUSEPORT_EBPF)
 * and Netfilter (BPF_LINK_TYPE_NETFILTER).
 *
 *   select_socket   sk_reuseport   steers every packet of the group to the socket at
 *                                  index `target` of `sockets`; counts in calls[0]
 *   nf_count        netfilter      counts packets at its hook in calls[1]; NF_ACCEPT
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
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} calls SEC(".maps");

volatile const __u32 target = 0;

static void count(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&calls, &slot);

	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("sk_reuseport")
int select_socket(struct sk_reuseport_md *reuse)
{
	__u32 key = target;

	count(0);
	if (bpf_sk_select_reuseport(reuse, &sockets, &key, 0))
		return SK_DROP;
	return SK_PASS;
}

SEC("netfilter")
int nf_count(void *ctx)
{
	count(1);
	return 1; /* NF_ACCEPT */
}

char LICENSE[] SEC("license") = "GPL";
