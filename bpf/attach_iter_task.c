// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * attach_iter_task.c: a task iterator for test/attach-trace.test.ts.
 *
 *   dump_task  SEC("iter/task"): one line "<tgid> <pid> <comm>\n" per task
 *              (per thread) the iterator visits. Returns 0.
 */
#include "tsbpf_iter.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

SEC("iter/task")
int dump_task(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;

	if (!task)
		return 0;
	BPF_SEQ_PRINTF(seq, "%d %d %s\n", task->tgid, task->pid, task->comm);
	return 0;
}
