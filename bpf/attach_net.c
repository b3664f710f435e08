// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * attach_net.c: XDP and tc programs for test/attach-net.test.ts.
 *
 * Each program acts only on IPv4 UDP packets to or from port NET_PORT (the
 * test's echo traffic) and lets everything else (ARP, IPv6 noise) through
 * untouched, so the counters count exactly the test's packets:
 *
 *   name       section  counts in slot  returns on a match
 *   xdp_pass   xdp      0               XDP_PASS
 *   xdp_drop   xdp      1               XDP_DROP
 *   tc_pass    tc       2               TC_ACT_OK
 *   tc_drop    tc       3               TC_ACT_SHOT
 *   tc_next    tc       4               TC_ACT_UNSPEC (tcx: next program; cls_bpf: next filter)
 *   tc_next2   tc       5               TC_ACT_UNSPEC
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* The packet headers this file reads (linux/if_ether.h, ip.h, udp.h). */
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

struct udphdr {
	__be16 source;
	__be16 dest;
	__be16 len;
	__u16 check;
};

#define ETH_P_IP 0x0800
#define IPPROTO_UDP 17

#define NET_PORT 47631

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline int is_test_udp(void *data, void *end)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct udphdr *udp;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;
	if (ip->protocol != IPPROTO_UDP || ip->ihl != 5)
		return 0;
	udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > end)
		return 0;
	return udp->dest == bpf_htons(NET_PORT) || udp->source == bpf_htons(NET_PORT);
}

static __always_inline void count(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &slot);

	if (v)
		__sync_fetch_and_add(v, 1);
}

#define XDP_PROG(name, slot, verdict)                                          \
	SEC("xdp") int name(struct xdp_md *ctx)                                \
	{                                                                      \
		if (!is_test_udp((void *)(long)ctx->data,                      \
				 (void *)(long)ctx->data_end))                 \
			return XDP_PASS;                                       \
		count(slot);                                                   \
		return verdict;                                                \
	}

#define TC_PROG(name, slot, verdict)                                           \
	SEC("tc") int name(struct __sk_buff *skb)                              \
	{                                                                      \
		if (!is_test_udp((void *)(long)skb->data,                      \
				 (void *)(long)skb->data_end))                 \
			return TC_ACT_UNSPEC;                                  \
		count(slot);                                                   \
		return verdict;                                                \
	}

XDP_PROG(xdp_pass, 0, XDP_PASS)
XDP_PROG(xdp_drop, 1, XDP_DROP)
TC_PROG(tc_pass, 2, TC_ACT_OK)
TC_PROG(tc_drop, 3, TC_ACT_SHOT)
TC_PROG(tc_next, 4, TC_ACT_UNSPEC)
TC_PROG(tc_next2, 5, TC_ACT_UNSPEC)

char LICENSE[] SEC("license") = "Dual MIT/GPL";
