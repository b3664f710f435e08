// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * special_maps.c: programs that use the fd-valued and local storage maps, for
 * test/special-maps.test.ts. Each test loads only the programs it needs.
 *
 *   tail_entry       tc       tail-calls into jmp_table[data[0]]; 99 when the
 *                             slot is empty (the call falls through)
 *   tail_a, tail_b   tc       return 10 and 20
 *   redirect_dev     xdp      bpf_redirect_map(&devs, 0, XDP_PASS)
 *   redirect_dev_hash xdp     bpf_redirect_map(&dev_hash, 7, XDP_PASS)
 *   redirect_cpu     xdp      bpf_redirect_map(&cpus, cpu_target, XDP_PASS)
 *   redirect_xsk     xdp      bpf_redirect_map(&xsks, 0, XDP_PASS)
 *   dev_egress       xdp/devmap  counts frames sent through a devmap slot
 *                             (counts[0]); XDP_PASS
 *   cpu_rx           xdp/cpumap  counts frames on the cpumap's CPU (counts[1]);
 *                             XDP_DROP
 *   rx_count         xdp      counts frames of ethertype 0x88b5 (counts[2])
 *                             and drops them; passes the rest
 *   under_cgroup     raw_tp   results[0] = bpf_current_task_under_cgroup(&cgroups, 0)
 *   task_store       raw_tp   the current task's u64 in tasks: results[1] = the
 *                             value found (created as 0), then adds 1
 *   sk_tag           tc       for a packet of a socket with a u64 in socks:
 *                             results[3] = the value, then adds 1
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

struct task_struct;

struct {
	__uint(type, 3); /* BPF_MAP_TYPE_PROG_ARRAY */
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} jmp_table SEC(".maps");

struct {
	__uint(type, 14); /* BPF_MAP_TYPE_DEVMAP */
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64); /* struct bpf_devmap_val */
} devs SEC(".maps");

struct {
	__uint(type, 25); /* BPF_MAP_TYPE_DEVMAP_HASH */
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} dev_hash SEC(".maps");

struct {
	__uint(type, 16); /* BPF_MAP_TYPE_CPUMAP */
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64); /* struct bpf_cpumap_val */
} cpus SEC(".maps");

struct {
	__uint(type, 17); /* BPF_MAP_TYPE_XSKMAP */
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

struct {
	__uint(type, 8); /* BPF_MAP_TYPE_CGROUP_ARRAY */
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cgroups SEC(".maps");

struct {
	__uint(type, 29); /* BPF_MAP_TYPE_TASK_STORAGE */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} tasks SEC(".maps");

struct {
	__uint(type, 24); /* BPF_MAP_TYPE_SK_STORAGE */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} results SEC(".maps");

volatile const __u32 cpu_target = 0;

static void count(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&counts, &slot);

	if (n)
		__sync_fetch_and_add(n, 1);
}

static void put(__u32 slot, __u64 value)
{
	bpf_map_update_elem(&results, &slot, &value, BPF_ANY);
}

SEC("tc")
int tail_entry(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;

	if (data + 1 > end)
		return 98;
	bpf_tail_call(skb, &jmp_table, *(__u8 *)data);
	return 99;
}

SEC("tc")
int tail_a(struct __sk_buff *skb)
{
	return 10;
}

SEC("tc")
int tail_b(struct __sk_buff *skb)
{
	return 20;
}

SEC("xdp")
int redirect_dev(struct xdp_md *ctx)
{
	return bpf_redirect_map(&devs, 0, XDP_PASS);
}

SEC("xdp")
int redirect_dev_hash(struct xdp_md *ctx)
{
	return bpf_redirect_map(&dev_hash, 7, XDP_PASS);
}

SEC("xdp")
int redirect_cpu(struct xdp_md *ctx)
{
	return bpf_redirect_map(&cpus, cpu_target, XDP_PASS);
}

SEC("xdp")
int redirect_xsk(struct xdp_md *ctx)
{
	return bpf_redirect_map(&xsks, 0, XDP_PASS);
}

SEC("xdp/devmap")
int dev_egress(struct xdp_md *ctx)
{
	count(0);
	return XDP_PASS;
}

SEC("xdp/cpumap")
int cpu_rx(struct xdp_md *ctx)
{
	count(1);
	return XDP_DROP;
}

SEC("xdp")
int rx_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u8 *eth = data;

	if (data + 14 > end)
		return XDP_PASS;
	if (eth[12] != 0x88 || eth[13] != 0xb5)
		return XDP_PASS;
	count(2);
	return XDP_DROP;
}

SEC("raw_tp/sys_enter")
int under_cgroup(void *ctx)
{
	put(0, bpf_current_task_under_cgroup(&cgroups, 0));
	return 0;
}

SEC("raw_tp/sys_enter")
int task_store(void *ctx)
{
	__u64 *v = bpf_task_storage_get(&tasks, bpf_get_current_task_btf(), 0, 1 /* BPF_LOCAL_STORAGE_GET_F_CREATE */);

	if (!v)
		return 1;
	put(1, *v);
	*v += 1;
	return 0;
}

SEC("tc")
int sk_tag(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	__u64 *v;

	if (!sk)
		return TC_ACT_OK;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return TC_ACT_OK;
	v = bpf_sk_storage_get(&socks, sk, 0, 0);
	if (v) {
		put(3, *v);
		*v += 1;
	}
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
