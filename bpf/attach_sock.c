// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * attach_sock.c: socket, cgroup and network-namespace programs for
 * test/attach-sock.test.ts. Every program counts what it sees in `counts`
 * (ARRAY of 32 u64, slots below) and reads its settings from `cfg` (ARRAY of
 * 8 u32, host byte order), so a test can steer it and assert on the kernel's
 * view of real traffic.
 *
 *   cfg[0]  cg_egress: UDP destination port to drop (0: drop nothing)
 *   cfg[1]  cg_connect4: destination port whose connect() is refused (EPERM)
 *   cfg[2]  cg_connect4: destination port rewritten ...
 *   cfg[3]  ... to this port
 *   cfg[4]  sk_lookup steer: local port steered to the socket at sk_lookup_map[0]
 *
 *   counts[0]  socket filter: datagrams kept      counts[1]  dropped ('x' first)
 *   counts[2]  cg_egress packets                  counts[3]  cg_egress dropped
 *   counts[4]  cg_egress_b packets
 *   counts[5]  connect4 calls                     counts[6]  connect4 refused
 *   counts[7]  connect4 rewritten
 *   counts[8]  sysctl reads                       counts[9]  sysctl writes (refused)
 *   counts[10] device accesses                    counts[11] device accesses refused (1:5, /dev/zero)
 *   counts[12] sk_msg messages                    counts[13] sk_msg bytes
 *   counts[14] sk_skb verdicts (redirected)       counts[15] sk_lookup steered
 *   counts[16] getsockopt calls
 *   counts[20 + op] sock_ops callbacks by op (op < 12)
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define BPF_MAP_TYPE_SOCKMAP 15
#define BPF_MAP_TYPE_SOCKHASH 18
#define BPF_F_INGRESS 1
#define BPF_OK 0

/* Context prefixes (include/uapi/linux/bpf.h): the verifier checks accesses by
 * offset, so a prefix of the real layout is enough. */
struct bpf_sock_addr {
	__u32 user_family;
	__u32 user_ip4;
	__u32 user_ip6[4];
	__u32 user_port;
	__u32 family;
	__u32 type;
	__u32 protocol;
};

struct bpf_sock_ops {
	__u32 op;
};

struct sk_msg_md {
	__bpf_md_ptr(void *, data);
	__bpf_md_ptr(void *, data_end);
	__u32 family;
	__u32 remote_ip4;
	__u32 local_ip4;
	__u32 remote_ip6[4];
	__u32 local_ip6[4];
	__u32 remote_port;
	__u32 local_port;
	__u32 size;
};

struct bpf_sysctl {
	__u32 write;
	__u32 file_pos;
};

struct bpf_sockopt;

struct bpf_cgroup_dev_ctx {
	__u32 access_type;
	__u32 major;
	__u32 minor;
};

struct bpf_flow_keys {
	__u16 nhoff;
	__u16 thoff;
	__u16 addr_proto;
	__u8 is_frag;
	__u8 is_first_frag;
	__u8 is_encap;
	__u8 ip_proto;
	__be16 n_proto;
	__be16 sport;
	__be16 dport;
	__be32 ipv4_src;
	__be32 ipv4_dst;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 32);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} cfg SEC(".maps");

/* Sockets for sk_msg / sk_skb (value u64: user space reads socket cookies). */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} sock_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} sock_hash SEC(".maps");

/* The listening socket sk_lookup steers to. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lookup_map SEC(".maps");

static __always_inline void bump(__u32 slot, __u64 by)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &slot);
	if (v)
		__sync_fetch_and_add(v, by);
}

static __always_inline __u32 setting(__u32 slot)
{
	__u32 *v = bpf_map_lookup_elem(&cfg, &slot);
	return v ? *v : 0;
}

/* UDP socket filter: the packet starts at the UDP header; drop datagrams whose
 * payload starts with 'x'. */
SEC("socket")
int drop_x(struct __sk_buff *skb)
{
	__u8 first = 0;
	if (bpf_skb_load_bytes(skb, 8, &first, 1) == 0 && first == 'x') {
		bump(1, 1);
		return 0;
	}
	bump(0, 1);
	return skb->len;
}

/* cgroup_skb egress: count, and drop UDP to cfg[0] (IPv4 without options). */
SEC("cgroup_skb/egress")
int cg_egress(struct __sk_buff *skb)
{
	__u8 proto = 0;
	__be16 dport = 0;
	__u32 drop = setting(0);

	bump(2, 1);
	if (drop && skb->protocol == bpf_htons(0x0800) &&
	    bpf_skb_load_bytes(skb, 9, &proto, 1) == 0 && proto == 17 &&
	    bpf_skb_load_bytes(skb, 22, &dport, 2) == 0 && bpf_ntohs(dport) == drop) {
		bump(3, 1);
		return 0;
	}
	return 1;
}

/* A second egress program, for the attach modes. */
SEC("cgroup_skb/egress")
int cg_egress_b(struct __sk_buff *skb)
{
	bump(4, 1);
	return 1;
}

SEC("cgroup/connect4")
int cg_connect4(struct bpf_sock_addr *ctx)
{
	__u16 port = bpf_ntohs((__u16)ctx->user_port);
	__u32 refuse = setting(1), from = setting(2);

	bump(5, 1);
	if (refuse && port == refuse) {
		bump(6, 1);
		return 0;
	}
	if (from && port == from) {
		ctx->user_port = bpf_htons((__u16)setting(3));
		bump(7, 1);
	}
	return 1;
}

SEC("cgroup/sysctl")
int cg_sysctl(struct bpf_sysctl *ctx)
{
	if (ctx->write) {
		bump(9, 1);
		return 0;
	}
	bump(8, 1);
	return 1;
}

SEC("cgroup/getsockopt")
int cg_getsockopt(struct bpf_sockopt *ctx)
{
	bump(16, 1);
	return 1;
}

SEC("cgroup/dev")
int cg_dev(struct bpf_cgroup_dev_ctx *ctx)
{
	bump(10, 1);
	if (ctx->major == 1 && ctx->minor == 5) {
		bump(11, 1);
		return 0;
	}
	return 1;
}

SEC("sockops")
int sock_ops_count(struct bpf_sock_ops *ctx)
{
	__u32 op = ctx->op;
	if (op < 12)
		bump(20 + op, 1);
	return 1;
}

SEC("sk_msg")
int msg_count(struct sk_msg_md *msg)
{
	bump(12, 1);
	bump(13, msg->size);
	return SK_PASS;
}

/* Everything a socket of the map receives goes out of the socket at key 1. */
SEC("sk_skb/stream_verdict")
int skb_redirect(struct __sk_buff *skb)
{
	bump(14, 1);
	return bpf_sk_redirect_map(skb, &sock_map, 1, 0);
}

SEC("sk_skb/stream_parser")
int skb_parser(struct __sk_buff *skb)
{
	return skb->len;
}

SEC("sk_lookup")
int steer(struct bpf_sk_lookup *ctx)
{
	__u32 key = 0;
	struct bpf_sock *sk;
	long err;

	if (ctx->local_port != setting(4))
		return SK_PASS;
	sk = bpf_map_lookup_elem(&lookup_map, &key);
	if (!sk)
		return SK_PASS;
	err = bpf_sk_assign(ctx, sk, 0);
	bpf_sk_release(sk);
	if (err == 0)
		bump(15, 1);
	return SK_PASS;
}

/* Claims every packet is UDP from port 1234 to 5678, to be seen in test runs. */
SEC("flow_dissector")
int dissect(struct __sk_buff *skb)
{
	struct bpf_flow_keys *keys = skb->flow_keys;

	keys->ip_proto = 17;
	keys->sport = bpf_htons(1234);
	keys->dport = bpf_htons(5678);
	return BPF_OK;
}

char _license[] SEC("license") = "GPL";
