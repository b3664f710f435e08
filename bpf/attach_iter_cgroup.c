// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * attach_iter_cgroup.c: a cgroup iterator for test/attach-trace.test.ts.
 *
 *   dump_cgroup  SEC("iter/cgroup"): one line "cgroup <seq_num>\n" per cgroup
 *                visited (the walk and its order are chosen at attach).
 *                Returns 0.
 */
#include "tsbpf_iter.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

SEC("iter/cgroup")
int dump_cgroup(struct bpf_iter__cgroup *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	__u64 n = ctx->meta->seq_num;

	if (!ctx->cgroup)
		return 0;
	BPF_SEQ_PRINTF(seq, "cgroup %llu\n", n);
	return 0;
}
