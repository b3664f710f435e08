// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * soak.c: one program per attach mechanism the soak cycles (test/soak.ts),
 * each counting its runs, so that an attachment is seen to work; loaded and
 * closed over and over by the soak too. Programs the kernel refuses are
 * deferred by the soak (it asks the feature probes), so one refused type
 * leaves the others running.
 *
 * Maps:
 *   hits     ARRAY u32 -> u64, 4 entries: [0] soak_filter, [1] soak_lookup,
 *            [2] soak_getppid runs
 *   outer    ARRAY_OF_MAPS, 2 entries, inner template struct soak_inner
 *            (ARRAY u32 -> u64, 4 entries); empty at load
 *
 * Globals:
 *   .rodata  const volatile __u32 target_tgid = 0   the process soak_getppid counts
 *
 * Programs:
 *   soak_filter   SEC("socket")          hits[0] += 1; keeps the whole packet
 *   soak_lookup   SEC("sk_lookup")       hits[1] += 1; SK_PASS
 *   soak_getppid  SEC("tracepoint/syscalls/sys_enter_getppid")
 *                                        hits[2] += 1 for getppid(2) calls of
 *                                        target_tgid; returns 0
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

struct soak_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct soak_inner);
} outer SEC(".maps");

const volatile __u32 target_tgid = 0;

static __always_inline void bump(__u32 key)
{
	__u64 *count = bpf_map_lookup_elem(&hits, &key);

	if (count)
		__sync_fetch_and_add(count, 1);
}

SEC("socket")
int soak_filter(struct __sk_buff *skb)
{
	bump(0);
	return skb->len;
}

SEC("sk_lookup")
int soak_lookup(struct bpf_sk_lookup *ctx)
{
	bump(1);
	return SK_PASS;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int soak_getppid(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) == target_tgid)
		bump(2);
	return 0;
}
