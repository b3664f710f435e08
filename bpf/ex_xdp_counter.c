// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * ex_xdp_counter.c: the XDP program of examples/xdp-counter.ts.
 *
 * Counts the packets (and bytes) an interface receives, per EtherType and, for
 * IPv4 and IPv6, per IP protocol, in the hash map `packets`. Every packet is
 * passed on: the program only watches.
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD

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

struct ipv6hdr {
	__u8 priority : 4, version : 4;
	__u8 flow_lbl[3];
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u8 saddr[16];
	__u8 daddr[16];
};

/* The key: the EtherType in host order and the IP protocol (0 when not IP). */
struct proto_key {
	__u16 ethertype;
	__u8 ip_proto;
	__u8 pad;
};

struct counter {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct proto_key);
	__type(value, struct counter);
} packets SEC(".maps");

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct proto_key key = {};
	struct counter *c;

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	key.ethertype = bpf_ntohs(eth->h_proto);
	if (key.ethertype == ETH_P_IP) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) <= end)
			key.ip_proto = ip->protocol;
	} else if (key.ethertype == ETH_P_IPV6) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) <= end)
			key.ip_proto = ip6->nexthdr;
	}

	c = bpf_map_lookup_elem(&packets, &key);
	if (!c) {
		struct counter zero = {};

		/* Two CPUs may add the key at once: NOEXIST keeps the first one's. */
		bpf_map_update_elem(&packets, &key, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&packets, &key);
		if (!c)
			return XDP_PASS; /* the map is full */
	}
	__sync_fetch_and_add(&c->packets, 1);
	__sync_fetch_and_add(&c->bytes, end - data);
	return XDP_PASS;
}
