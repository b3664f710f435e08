// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * lpm_trie.c: an LPM trie for test/lpm-queue-bloom.test.ts.
 *
 *   lpm_lookup  SEC("raw_tp/sys_enter"), run with BPF_PROG_TEST_RUN: looks up
 *               { 32, args[0] as 4 bytes } in `prefixes`. Returns the value
 *               found, or 0xffffffff.
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define MAP_TYPE_LPM_TRIE 11

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
