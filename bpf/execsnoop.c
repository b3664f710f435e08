// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * execsnoop.c: the kernel side of examples/execsnoop.ts.
 *
 *   events      BPF_MAP_TYPE_RINGBUF, 256 KiB: one struct event per exec.
 *   handle_exec SEC("tracepoint/sched/sched_process_exec"): pid, ppid (the
 *               real parent's tgid, CO-RE), uid, comm (already the new
 *               program's) and the file name from the tracepoint's
 *               __data_loc field. A full ring drops the event (counted in
 *               .bss dropped).
 */
#include "tsbpf_kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define FILENAME_LEN 128

struct event {
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	char comm[16];
	char filename[FILENAME_LEN];
};

/* /sys/kernel/tracing/events/sched/sched_process_exec/format */
struct sched_process_exec_args {
	__u64 common;
	__u32 filename_loc;
	int pid;
	int old_pid;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 18);
} events SEC(".maps");

__u64 dropped;

SEC("tracepoint/sched/sched_process_exec")
int handle_exec(struct sched_process_exec_args *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return 0;
	}
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (char *)ctx + (ctx->filename_loc & 0xffff));
	bpf_ringbuf_submit(e, 0);
	return 0;
}
