// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * ex_cgroup_connect4.c: the cgroup/connect4 program of
 * examples/cgroup-connect4.ts.
 *
 * Refuses connect() (TCP, and UDP sockets that connect) from processes of the
 * cgroup to an IPv4 address and port listed in the hash map `blocked`; port 0
 * in a key blocks every port of that address. connect() then fails with EPERM.
 * The value counts refusals. (A UDP sendto() without connect() is
 * cgroup/sendmsg4's hook, not covered here.)
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* The context of cgroup/connect4 (include/uapi/linux/bpf.h), as far as used. */
struct bpf_sock_addr {
	__u32 user_family;
	__u32 user_ip4;    /* network byte order */
	__u32 user_ip6[4];
	__u32 user_port;   /* network byte order, in the low 16 bits */
};

/* Address and port in host byte order (10.0.0.1 is 0x0a000001). */
struct endpoint {
	__u32 addr;
	__u16 port;
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct endpoint);
	__type(value, __u64);
} blocked SEC(".maps");

SEC("cgroup/connect4")
int block_connect4(struct bpf_sock_addr *ctx)
{
	struct endpoint key = {
		.addr = bpf_ntohl(ctx->user_ip4),
		.port = bpf_ntohs((__u16)ctx->user_port),
	};
	__u64 *refused = bpf_map_lookup_elem(&blocked, &key);

	if (!refused) {
		key.port = 0;
		refused = bpf_map_lookup_elem(&blocked, &key);
	}
	if (!refused)
		return 1; /* allow */
	__sync_fetch_and_add(refused, 1);
	return 0; /* connect() fails with EPERM */
}
