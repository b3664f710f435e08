// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * attach_introspect.c: programs for the introspection, statistics and test-run
 * tests (test/attach-introspect.test.ts) and for bench/attach.
 *
 * Maps:
 *   counts  ARRAY u32 -> u64, 4 entries   (used by sock_count: program map ids)
 *   lens    HASH  u32 -> u32, 16 entries  (used by sock_count)
 *
 * Programs, what each returns, and what BPF_PROG_TEST_RUN needs:
 *
 *   name            section                         type            returns / does
 *   sock_count      socket                          SOCKET_FILTER   skb->len; counts[0]++, lens[len] = len
 *   tc_len          tc                              SCHED_CLS       TC_ACT_SHOT (2) when skb->len > 100, else TC_ACT_OK (0)
 *   act_mark        action                          SCHED_ACT       skb->len + 1000
 *   xdp_rewrite     xdp                             XDP             XDP_TX (3); writes 0xaa 0xbb over the first two bytes
 *   xdp_pass        xdp                             XDP             XDP_PASS (2); nothing else (bench/attach's empty program:
 *                                                                   r0 = 2; exit, the same two instructions bench/attach.c loads)
 *   tc_pass         tc                              SCHED_CLS       TC_ACT_OK (0, TCX_PASS): bench/attach (r0 = 0; exit)
 *   tp_getppid      tracepoint/syscalls/sys_enter_getppid  TRACEPOINT  0: bench/attach (r0 = 0; exit); test run: ENOTSUPP
 *   cg_ingress      cgroup_skb/ingress              CGROUP_SKB      1 (allow) when skb->len >= 14, else 0
 *   lwt_in_ok       lwt_in                          LWT_IN          BPF_OK (0)
 *   lwt_out_drop    lwt_out                         LWT_OUT         BPF_DROP (2)
 *   lwt_xmit_len    lwt_xmit                        LWT_XMIT        skb->len (as the kernel saw it)
 *   raw_args        raw_tp/sys_enter                RAW_TRACEPOINT  args[0] + args[1] (ctx: two u64s; repeat 0)
 *   dissect         flow_dissector                  FLOW_DISSECTOR  BPF_OK (0); sets flow keys: nhoff 14, thoff 34,
 *                                                                   ip_proto 17, n_proto 0x0800 (big endian), sport 1234, dport 80
 *   lookup_port     sk_lookup                       SK_LOOKUP       SK_PASS (1) when local_port is 8080, else SK_DROP (0)
 *                                                                   (ctx: struct bpf_sk_lookup, family/protocol set; no data)
 *   sys_add         syscall                         SYSCALL         7; ctx { u32 a, b, sum } : sum = a + b (written in place)
 *   kprobe_nop      kprobe/do_nanosleep             KPROBE          0; loads here, test run: ENOTSUPP
 *   sock_create     cgroup/sock_create              CGROUP_SOCK     1; test run: ENOTSUPP
 *   nf_accept       netfilter                       NETFILTER       NF_ACCEPT (1); test run: data (a packet) only
 *   seg6_ok         lwt_seg6local                   LWT_SEG6LOCAL   BPF_OK (0)
 *   raw_w           raw_tp.w/sys_enter              RAW_TRACEPOINT_WRITABLE  0
 *   btf_sys_enter   tp_btf/sys_enter                TRACING (BPF_TRACE_RAW_TP)  0
 *   iter_maps       iter/bpf_map                    TRACING (BPF_TRACE_ITER)    0
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* include/uapi/linux/bpf.h (completes the declaration in tsbpf_types.h) */
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
	union {
		struct {
			__be32 ipv4_src;
			__be32 ipv4_dst;
		};
		struct {
			__u32 ipv6_src[4];
			__u32 ipv6_dst[4];
		};
	};
	__u32 flags;
	__be32 flow_label;
};

enum { BPF_OK = 0, BPF_DROP = 2 };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 4);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 16);
} lens SEC(".maps");

SEC("socket")
int sock_count(struct __sk_buff *skb)
{
	__u32 zero = 0, len = skb->len;
	__u64 *c = bpf_map_lookup_elem(&counts, &zero);
	if (c)
		__sync_fetch_and_add(c, 1);
	bpf_map_update_elem(&lens, &len, &len, BPF_ANY);
	return len;
}

SEC("tc")
int tc_len(struct __sk_buff *skb)
{
	return skb->len > 100 ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("action")
int act_mark(struct __sk_buff *skb)
{
	return skb->len + 1000;
}

SEC("xdp")
int xdp_rewrite(struct xdp_md *ctx)
{
	__u8 *data = (__u8 *)(long)ctx->data;
	__u8 *end = (__u8 *)(long)ctx->data_end;
	if (data + 2 > end)
		return XDP_ABORTED;
	data[0] = 0xaa;
	data[1] = 0xbb;
	return XDP_TX;
}

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("tc")
int tc_pass(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int tp_getppid(void *ctx)
{
	return 0;
}

SEC("cgroup_skb/ingress")
int cg_ingress(struct __sk_buff *skb)
{
	return skb->len >= 14 ? 1 : 0;
}

SEC("lwt_in")
int lwt_in_ok(struct __sk_buff *skb)
{
	return BPF_OK;
}

SEC("lwt_out")
int lwt_out_drop(struct __sk_buff *skb)
{
	return BPF_DROP;
}

SEC("lwt_xmit")
int lwt_xmit_len(struct __sk_buff *skb)
{
	return skb->len;
}

SEC("raw_tp/sys_enter")
int raw_args(struct bpf_raw_tracepoint_args *ctx)
{
	return ctx->args[0] + ctx->args[1];
}

SEC("flow_dissector")
int dissect(struct __sk_buff *skb)
{
	struct bpf_flow_keys *keys = skb->flow_keys;
	keys->nhoff = 14;
	keys->thoff = 34;
	keys->ip_proto = 17;
	keys->n_proto = __builtin_bswap16(0x0800);
	keys->sport = __builtin_bswap16(1234);
	keys->dport = __builtin_bswap16(80);
	return BPF_OK;
}

SEC("sk_lookup")
int lookup_port(struct bpf_sk_lookup *ctx)
{
	return ctx->local_port == 8080 ? SK_PASS : SK_DROP;
}

struct sys_args {
	__u32 a;
	__u32 b;
	__u32 sum;
};

SEC("syscall")
int sys_add(struct sys_args *args)
{
	args->sum = args->a + args->b;
	return 7;
}

SEC("kprobe/do_nanosleep")
int kprobe_nop(void *ctx)
{
	return 0;
}

SEC("cgroup/sock_create")
int sock_create(void *ctx)
{
	return 1;
}

SEC("netfilter")
int nf_accept(void *ctx)
{
	return 1; /* NF_ACCEPT */
}

SEC("lwt_seg6local")
int seg6_ok(struct __sk_buff *skb)
{
	return BPF_OK;
}

SEC("raw_tp.w/sys_enter")
int raw_w(struct bpf_raw_tracepoint_args *ctx)
{
	return 0;
}

SEC("tp_btf/sys_enter")
int btf_sys_enter(__u64 *ctx)
{
	return 0;
}

struct bpf_iter_meta;
struct bpf_map;
struct bpf_iter__bpf_map {
	struct bpf_iter_meta *meta;
	struct bpf_map *map;
} __attribute__((preserve_access_index));

SEC("iter/bpf_map")
int iter_maps(struct bpf_iter__bpf_map *ctx)
{
	return 0;
}
