// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * maps_more.c: BPF programs for test/percpu-maps.test.ts and
 * test/lpm-queue-bloom.test.ts, run with BPF_PROG_TEST_RUN (raw tracepoint
 * programs: their test run takes the args as ctx and runs on a chosen CPU
 * with BPF_F_TEST_RUN_ON_CPU).
 *
 *   percpu_count  counts[0]++ in the per-CPU array and hcounts[args[0]]++ in
 *                 the per-CPU hash and the LRU per-CPU hash (inserting 1) on
 *                 the CPU it runs on. Returns bpf_get_smp_processor_id().
 *   lpm_lookup    looks up { 32, args[0] as 4 bytes } in the LPM trie
 *                 `prefixes`. Returns the value found, or 0xffffffff.
 *   queue_push    pushes (u32)args[0] to `fifo` and `lifo` (flags args[1]).
 *                 Returns 0, or the error of the first push that failed.
 *   queue_pop     pops one value from `fifo`. Returns it, or 0xffffffff when empty.
 *   bloom_check   peeks (u32)args[0] in `bloom`. Returns 1 when it may be
 *                 present, 0 when it is certainly absent.
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* enum bpf_map_type values tsbpf_types.h does not list. */
#define MAP_TYPE_LRU_PERCPU_HASH 10
#define MAP_TYPE_LPM_TRIE 11
#define MAP_TYPE_QUEUE 22
#define MAP_TYPE_STACK 23
#define MAP_TYPE_BLOOM_FILTER 30

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

struct lpm_key {
	__u32 prefixlen;
	__u8 data[4];
};

struct {
	__uint(type, MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u32);
} prefixes SEC(".maps");

struct {
	__uint(type, MAP_TYPE_QUEUE);
	__uint(max_entries, 4);
	__type(value, __u32);
} fifo SEC(".maps");

struct {
	__uint(type, MAP_TYPE_STACK);
	__uint(max_entries, 4);
	__type(value, __u32);
} lifo SEC(".maps");

struct {
	__uint(type, MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 64);
	__uint(map_extra, 3);
	__type(value, __u32);
} bloom SEC(".maps");

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

SEC("raw_tp/sys_enter")
int lpm_lookup(struct bpf_raw_tracepoint_args *ctx)
{
	struct lpm_key key = { .prefixlen = 32 };
	__u32 addr = (__u32)ctx->args[0];
	__u32 *v;

	__builtin_memcpy(key.data, &addr, 4);
	v = bpf_map_lookup_elem(&prefixes, &key);
	return v ? *v : 0xffffffff;
}

SEC("raw_tp/sys_enter")
int queue_push(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 value = (__u32)ctx->args[0];
	long err = bpf_map_push_elem(&fifo, &value, ctx->args[1]);

	if (err)
		return err;
	return bpf_map_push_elem(&lifo, &value, ctx->args[1]);
}

SEC("raw_tp/sys_enter")
int queue_pop(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 value;

	if (bpf_map_pop_elem(&fifo, &value))
		return 0xffffffff;
	return value;
}

SEC("raw_tp/sys_enter")
int bloom_check(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 value = (__u32)ctx->args[0];

	return bpf_map_peek_elem(&bloom, &value) == 0;
}
