// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * bloom_filter.c: a bloom filter (5.16+) for test/lpm-queue-bloom.test.ts.
 *
 *   bloom_check  SEC("raw_tp/sys_enter"), run with BPF_PROG_TEST_RUN: peeks
 *                (u32)args[0] in `bloom` (3 hash functions). Returns 1 when
 *                it may be present, 0 when it is certainly absent.
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define MAP_TYPE_BLOOM_FILTER 30

struct {
	__uint(type, MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 64);
	__uint(map_extra, 3);
	__type(value, __u32);
} bloom SEC(".maps");

SEC("raw_tp/sys_enter")
int bloom_check(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 value = (__u32)ctx->args[0];

	return bpf_map_peek_elem(&bloom, &value) == 0;
}
