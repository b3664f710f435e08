// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * exporter_example.c: maps for the Prometheus exporter (examples/metrics.yaml,
 * test/exporter.test.ts), filled from tracepoints only.
 *
 *   count_write   SEC("tracepoint/syscalls/sys_enter_write"): per process name
 *                 (comm) calls{comm, OP_WRITE}++, write_bytes_log2 and
 *                 write_bytes_linear histograms of the byte count, last_write
 *                 = the byte count, op_stats[OP_WRITE] += { 1, byte count }.
 *   count_getppid SEC("tracepoint/syscalls/sys_enter_getppid"):
 *                 calls{comm, OP_GETPPID}++, op_stats[OP_GETPPID].calls++.
 *   count_timer   SEC("tracepoint/timer/timer_start"): timers[function]++ in a
 *                 per-CPU hash, keyed by the kernel address of the timer's
 *                 callback (a label through kernel symbols).
 *
 * Histogram maps hold a count per bucket, as ebpf_exporter's do: the key's
 * `slot` is the bucket whose upper bound is the smallest at or above the
 * value; slot MAX + 1 holds the sum of the values. write_bytes_log2 counts
 * bytes (bound 2^slot); write_bytes_linear counts whole KiB rounded up
 * (bound slot KiB, and its sum in KiB: the config's multiplier 1024 scales
 * both back to bytes).
 */
#include "tsbpf_kernel.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define LOG2_MAX 26   /* 64 MiB */
#define LINEAR_MAX 16 /* 16 KiB in 1 KiB steps */

enum op {
	OP_WRITE = 1,
	OP_GETPPID = 2,
};

struct call_key {
	char comm[16];
	enum op op;
};

struct slot_key {
	char comm[16];
	__u32 slot;
};

struct comm_key {
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct call_key);
	__type(value, __u64);
} calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct slot_key);
	__type(value, __u64);
} write_bytes_log2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct slot_key);
	__type(value, __u64);
} write_bytes_linear SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct comm_key);
	__type(value, __u64);
} last_write SEC(".maps");

/* Per operation (an array indexed by enum op): calls and bytes. */
struct op_stats {
	__u64 calls;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, struct op_stats);
} op_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u64);
} timers SEC(".maps");

/* The tracepoint records (their format files under /sys/kernel/tracing/events). */
struct sys_enter_write_args {
	__u64 common;
	__s32 syscall_nr;
	__u64 fd;
	__u64 buf;
	__u64 count;
};

struct timer_start_args {
	__u64 common;
	__u64 timer;
	__u64 function;
};

static __always_inline void add(void *map, const void *key, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(map, key);
	if (v) {
		__sync_fetch_and_add(v, n);
		return;
	}
	if (bpf_map_update_elem(map, key, &n, BPF_NOEXIST) == 0)
		return;
	/* Another CPU created it first: add to theirs. */
	v = bpf_map_lookup_elem(map, key);
	if (v)
		__sync_fetch_and_add(v, n);
}

/* The smallest s with 2^s >= n (0 for 0 and 1). */
static __always_inline __u32 log2_slot(__u64 n)
{
	__u32 s = 0;
	__u64 v = n > 1 ? n - 1 : 0;
	while (v && s < 64) {
		v >>= 1;
		s++;
	}
	return s;
}

static __always_inline void count_call(enum op op, __u64 bytes)
{
	struct call_key key = { .op = op };
	__u32 index = op;
	struct op_stats *stats = bpf_map_lookup_elem(&op_stats, &index);

	bpf_get_current_comm(key.comm, sizeof(key.comm));
	add(&calls, &key, 1);
	if (stats) {
		__sync_fetch_and_add(&stats->calls, 1);
		__sync_fetch_and_add(&stats->bytes, bytes);
	}
}

static __always_inline void histogram(void *map, const char *comm, __u32 slot, __u32 max, __u64 value)
{
	struct slot_key key = {};
	__builtin_memcpy(key.comm, comm, sizeof(key.comm));
	key.slot = slot > max ? max : slot;
	add(map, &key, 1);
	key.slot = max + 1;
	add(map, &key, value);
}

SEC("tracepoint/syscalls/sys_enter_write")
int count_write(struct sys_enter_write_args *ctx)
{
	struct comm_key who = {};
	__u64 n = ctx->count, kib;

	count_call(OP_WRITE, n);
	bpf_get_current_comm(who.comm, sizeof(who.comm));
	histogram(&write_bytes_log2, who.comm, log2_slot(n), LOG2_MAX, n);
	kib = (n + 1023) / 1024;
	histogram(&write_bytes_linear, who.comm, kib > LINEAR_MAX ? LINEAR_MAX : (__u32)kib, LINEAR_MAX, kib);
	bpf_map_update_elem(&last_write, &who, &n, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int count_getppid(void *ctx)
{
	count_call(OP_GETPPID, 0);
	return 0;
}

SEC("tracepoint/timer/timer_start")
int count_timer(struct timer_start_args *ctx)
{
	__u64 fn = ctx->function;
	add(&timers, &fn, 1);
	return 0;
}
