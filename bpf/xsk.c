// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * xsk.c: an XDP program that hands frames to AF_XDP sockets, for test/xsk.test.ts.
 *
 *   xsk_redirect  xdp  frames of ethertype 0x88b5: bpf_redirect_map(&xsks,
 *                      ctx->rx_queue_index, XDP_PASS), counting what it returned
 *                      (counts[0] XDP_REDIRECT, counts[1] the XDP_PASS fallback);
 *                      every other frame passes untouched (so the neighbour and
 *                      router traffic of the veth never reaches the socket)
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, 17); /* BPF_MAP_TYPE_XSKMAP */
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

SEC("xdp")
int xsk_redirect(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *eth = data;

	if (data + 14 > data_end || eth[12] != 0x88 || eth[13] != 0xb5)
		return XDP_PASS;
	long act = bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
	__u32 slot = act == XDP_REDIRECT ? 0 : 1;
	__u64 *n = bpf_map_lookup_elem(&counts, &slot);
	if (n)
		__sync_fetch_and_add(n, 1);
	return act;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
