// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * attach_iter_map.c: a map element iterator for test/attach-trace.test.ts.
 *
 *   dump_elem  SEC("iter/bpf_map_elem"): "<key>=<value>\n" for a map with u32
 *              keys and u64 values, chosen at attach. Returns 0.
 */
#include "tsbpf_iter.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

SEC("iter/bpf_map_elem")
int dump_elem(struct bpf_iter__bpf_map_elem *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	__u32 *key = ctx->key;
	__u64 *value = ctx->value;

	if (!key || !value)
		return 0;
	BPF_SEQ_PRINTF(seq, "%u=%llu\n", *key, *value);
	return 0;
}
