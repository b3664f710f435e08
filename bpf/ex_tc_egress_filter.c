// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * ex_tc_egress_filter.c: the tc program of examples/tc-egress-filter.ts.
 *
 * Drops IPv4 TCP and UDP packets whose destination port is a key of the hash
 * map `blocked_ports` (port in host order -> packets dropped), and lets every
 * other packet through.
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define ETH_P_IP 0x0800
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17

struct ethhdr {
	__u8 h_dest[6];
	__u8 h_source[6];
	__be16 h_proto;
} __attribute__((packed));

struct iphdr {
	__u8 ihl : 4, version : 4;
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__u16 check;
	__be32 saddr;
	__be32 daddr;
};

/* The first four bytes of a TCP or UDP header. */
struct ports {
	__be16 source;
	__be16 dest;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u16);
	__type(value, __u64);
} blocked_ports SEC(".maps");

SEC("tc")
int drop_ports(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct ports *l4;
	__u16 port;
	__u64 *drops;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
		return TC_ACT_OK;
	l4 = (void *)ip + ip->ihl * 4;
	if ((void *)(l4 + 1) > end)
		return TC_ACT_OK;
	port = bpf_ntohs(l4->dest);
	drops = bpf_map_lookup_elem(&blocked_ports, &port);
	if (!drops)
		return TC_ACT_OK;
	__sync_fetch_and_add(drops, 1);
	return TC_ACT_SHOT;
}
