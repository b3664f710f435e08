// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * attach_trace.c: tracing programs for test/attach-trace.test.ts.
 *
 * .rodata target_tgid: the test's pid; the tracing programs count only calls
 * made by that process. .bss counts[0..3]:
 *
 *   tp_getppid      SEC("tracepoint/syscalls/sys_enter_getppid"): counts[0]++,
 *                   counts[3]++ when running on a CPU other than 0 (the perf
 *                   event is opened on CPU 0 only), and .bss tp_cookie =
 *                   bpf_get_attach_cookie().
 *   raw_sys_enter   SEC("raw_tp/sys_enter"): counts[1]++ when the syscall id
 *                   (args[1]) is __NR_getppid (110 on x86-64).
 *   btf_sys_enter   SEC("tp_btf/sys_enter"): counts[2]++ for id 110.
 *   dump_task       SEC("iter/task"): one line "<tgid> <pid> <comm>\n" per task.
 *   dump_elem       SEC("iter/bpf_map_elem"): "<key>=<value>\n" for a map with
 *                   u32 keys and u64 values (the map is chosen at attach).
 *   dump_cgroup     SEC("iter/cgroup"): one line "cgroup <seq_num>\n" per cgroup
 *                   visited (the walk and its order are chosen at attach).
 *   sys_add         SEC("syscall"): ctx struct cgroup;
struct bpf_iter__cgroup {
	struct bpf_iter_meta *meta;
	struct cgroup *cgroup;
} __attribute__((preserve_access_index));

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

struct add_args { u32 a, b; u64 sum; }:
 *                   writes a + b into sum (copied back into ctx_in) and into
 *                   .bss last_sum; returns a * b.
 *   fmod_ret_test   SEC("fmod_ret/bpf_modify_return_test"): returns 7.
 *   fentry_missing  SEC("fentry/tsbpf_no_such_function"): no kernel has that
 *                   function: the loader's UnknownKernelFunction.
 *
 * fmod_ret_test and fentry_missing cannot load here (EPERM for fmod_ret on the
 * project's kernel; no target for fentry_missing): defer them
 * (EbpfLoader.deferProgram) to load the rest.
 *   target_sub      a global (non-static) function of tc_main, the freplace
 *                   target; tc_main SEC("tc") returns target_sub(skb->len).
 *   new_sub         SEC("freplace/target_sub"): returns 1234.
 */
#include "tsbpf_kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define NR_GETPPID 110

const volatile __u32 target_tgid = 0;
__u64 counts[4];
__u64 tp_cookie;
__u64 last_sum;

static __always_inline bool ours(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int tp_getppid(void *ctx)
{
	if (!ours())
		return 0;
	__sync_fetch_and_add(&counts[0], 1);
	if (bpf_get_smp_processor_id() != 0)
		__sync_fetch_and_add(&counts[3], 1);
	tp_cookie = bpf_get_attach_cookie(ctx);
	return 0;
}

SEC("raw_tp/sys_enter")
int raw_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	if (ours() && ctx->args[1] == NR_GETPPID)
		__sync_fetch_and_add(&counts[1], 1);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(btf_sys_enter, struct pt_regs *regs, long id)
{
	if (ours() && id == NR_GETPPID)
		__sync_fetch_and_add(&counts[2], 1);
	return 0;
}

/* Iterator contexts (include/linux/bpf.h, kernel/bpf/task_iter.c, map_iter.c). */
struct seq_file;
struct bpf_map;
struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
} __attribute__((preserve_access_index));

struct bpf_iter__task {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
} __attribute__((preserve_access_index));

struct bpf_iter__bpf_map_elem {
	struct bpf_iter_meta *meta;
	struct bpf_map *map;
	void *key;
	void *value;
} __attribute__((preserve_access_index));

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

struct cgroup;
struct bpf_iter__cgroup {
	struct bpf_iter_meta *meta;
	struct cgroup *cgroup;
} __attribute__((preserve_access_index));

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

struct add_args {
	__u32 a;
	__u32 b;
	__u64 sum;
};

SEC("syscall")
int sys_add(struct add_args *args)
{
	args->sum = (__u64)args->a + args->b;
	last_sum = args->sum;
	return args->a * args->b;
}

/* int bpf_modify_return_test(int a, int *b) in net/bpf/test_run.c (error-injectable). */
SEC("fmod_ret/bpf_modify_return_test")
int BPF_PROG(fmod_ret_test, int a, int *b, int ret)
{
	return 7;
}

SEC("fentry/tsbpf_no_such_function")
int BPF_PROG(fentry_missing)
{
	return 0;
}

__attribute__((noinline)) int target_sub(__u32 len)
{
	return len + 1;
}

SEC("tc")
int tc_main(struct __sk_buff *skb)
{
	return target_sub(skb->len);
}

SEC("freplace/target_sub")
int new_sub(__u32 len)
{
	return 1234;
}
