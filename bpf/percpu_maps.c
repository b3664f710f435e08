// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * percpu_maps.c: per-CPU maps for test/percpu-maps.test.ts, written by a raw
 * tracepoint program run with BPF_PROG_TEST_RUN on a chosen CPU
 * (BPF_F_TEST_RUN_ON_CPU).
 *
 *   percpu_count  counts[0]++ in the per-CPU array and hcounts[args[0]]++ in
 *                 the per-CPU hash and lrucounts[args[0]]++ in the LRU per-CPU
 *                 hash (inserting 1) on the CPU it runs on. Returns
 *                 bpf_get_smp_processor_id().
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define MAP_TYPE_LRU_PERCPU_HASH 10

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u32);
} hcounts SEC(".maps");

struct {
	__uint(type, MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u32);
} lrucounts SEC(".maps");

static void bump(void *map, __u32 key)
{
	__u32 one = 1;
	__u32 *v = bpf_map_lookup_elem(map, &key);

	if (v)
		*v += 1; /* this CPU's slot: no other CPU writes it */
	else
		bpf_map_update_elem(map, &key, &one, BPF_NOEXIST);
}

SEC("raw_tp/sys_enter")
int percpu_count(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 zero = 0;
	__u64 *c = bpf_map_lookup_elem(&counts, &zero);

	if (c)
		*c += 1;
	bump(&hcounts, (__u32)ctx->args[0]);
	bump(&lrucounts, (__u32)ctx->args[0]);
	return bpf_get_smp_processor_id();
}
