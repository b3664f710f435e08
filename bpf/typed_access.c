// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * typed_access.c: an object for test/typed-access.test.ts (Ebpf.attachAll, typed
 * Ebpf.program and Ebpf.map).
 *
 * .rodata target_tgid: the test's pid; only calls made by that process count.
 *
 * Programs whose section names the target (attachAll attaches them):
 *   tp_getppid     SEC("tracepoint/syscalls/sys_enter_getppid"): counts[0]++.
 *   raw_getppid    SEC("raw_tp/sys_enter"): counts[1]++ for __NR_getppid (110).
 *   up_getppid     SEC("uprobe/libc.so.6:getppid"): counts[2]++.
 * Programs whose section names none (attachAll skips them):
 *   xdp_pass       SEC("xdp"): XDP_PASS.
 *   skb_pass       SEC("cgroup_skb/ingress"): 1.
 *   sock_filter    SEC("socket"): 0.
 *   up_anywhere    SEC("uprobe"): no binary.
 *   sys_noop       SEC("syscall"): 0.
 * Not loaded by default:
 *   tp_missing     SEC("?tracepoint/tsbpf_none/no_such_event"): a tracepoint no
 *                  kernel has, for attachAll's failure path.
 *
 * Maps: counts (HASH u32 -> u64, 8), slots (ARRAY of u64, 4), events (RINGBUF 4096).
 */
#include "tsbpf_kernel.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define NR_GETPPID 110

const volatile __u32 target_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

static __always_inline int count(__u32 slot)
{
	__u64 one = 1, *n;

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	n = bpf_map_lookup_elem(&counts, &slot);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&counts, &slot, &one, BPF_NOEXIST);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int tp_getppid(void *ctx)
{
	return count(0);
}

SEC("raw_tp/sys_enter")
int raw_getppid(struct bpf_raw_tracepoint_args *ctx)
{
	if (ctx->args[1] != NR_GETPPID)
		return 0;
	return count(1);
}

SEC("uprobe/libc.so.6:getppid")
int up_getppid(void *ctx)
{
	return count(2);
}

SEC("xdp")
int xdp_pass(void *ctx)
{
	return 2;
}

SEC("cgroup_skb/ingress")
int skb_pass(void *ctx)
{
	return 1;
}

SEC("socket")
int sock_filter(void *ctx)
{
	return 0;
}

SEC("uprobe")
int up_anywhere(void *ctx)
{
	return 0;
}

SEC("syscall")
int sys_noop(void *ctx)
{
	return 0;
}

SEC("?tracepoint/tsbpf_none/no_such_event")
int tp_missing(void *ctx)
{
	return count(3);
}
