// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * syscall_top.c: the kernel side of examples/syscall-top.ts (`npm start`).
 *
 *   st_counts0, st_counts1  HASH {tgid, nr} -> {count, comm}: the two halves of a
 *                           double buffer, 10240 entries each.
 *   st_slots                ARRAY_OF_MAPS of 2: slot i = st_counts<i> at load.
 *   active                  .bss: the slot the programs count into. User space
 *                           flips it every second, then re-stores the other slot
 *                           (an update of a map of maps returns only after an RCU
 *                           grace period: no program still counts into it) and
 *                           reads and empties it at leisure.
 *   st_execs                RINGBUF, 256 KiB: one struct exec_event per exec.
 *   count_syscall           SEC("tracepoint/raw_syscalls/sys_enter"): every system
 *                           call of every task, counted per process and number.
 *   record_exec             SEC("tracepoint/sched/sched_process_exec"): pid, comm
 *                           (the new program's) and file name.
 *   lost_counts, lost_execs .bss: a full hash map or ring drops the record.
 *
 * No kernel-internal types: no CO-RE, so loading needs no kernel BTF.
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define TASK_COMM_LEN 16
#define FILENAME_LEN 128
#define MAX_KEYS 10240

struct key {
	__u32 tgid;
	__u32 nr;
};

struct counter {
	__u64 count;
	char comm[TASK_COMM_LEN]; /* the thread that made the first call in this second */
};

struct exec_event {
	__u32 pid;
	char comm[TASK_COMM_LEN];
	char filename[FILENAME_LEN];
};

/* /sys/kernel/tracing/events/raw_syscalls/sys_enter/format */
struct sys_enter_args {
	__u64 common;
	long id;
	unsigned long args[6];
};

/* /sys/kernel/tracing/events/sched/sched_process_exec/format */
struct sched_process_exec_args {
	__u64 common;
	__u32 filename_loc; /* __data_loc: offset in the low 16 bits, length in the high */
	int pid;
	int old_pid;
};

struct counts_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_KEYS);
	__type(key, struct key);
	__type(value, struct counter);
} st_counts0 SEC(".maps"), st_counts1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct counts_map);
} st_slots SEC(".maps") = {
	.values = { [0] = &st_counts0, [1] = &st_counts1 },
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 18);
} st_execs SEC(".maps");

__u32 active;
__u64 lost_counts;
__u64 lost_execs;

SEC("tracepoint/raw_syscalls/sys_enter")
int count_syscall(struct sys_enter_args *ctx)
{
	__u32 slot = active;
	struct key k = { .tgid = bpf_get_current_pid_tgid() >> 32, .nr = (__u32)ctx->id };
	struct counter *c, init = { .count = 1 };
	void *counts;

	counts = bpf_map_lookup_elem(&st_slots, &slot);
	if (!counts)
		return 0;
	c = bpf_map_lookup_elem(counts, &k);
	if (c) {
		__sync_fetch_and_add(&c->count, 1);
		return 0;
	}
	bpf_get_current_comm(init.comm, sizeof(init.comm));
	if (bpf_map_update_elem(counts, &k, &init, BPF_NOEXIST) == 0)
		return 0;
	/* Another CPU inserted the key first, or the map is full. */
	c = bpf_map_lookup_elem(counts, &k);
	if (c)
		__sync_fetch_and_add(&c->count, 1);
	else
		__sync_fetch_and_add(&lost_counts, 1);
	return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int record_exec(struct sched_process_exec_args *ctx)
{
	struct exec_event *e = bpf_ringbuf_reserve(&st_execs, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&lost_execs, 1);
		return 0;
	}
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (char *)ctx + (ctx->filename_loc & 0xffff));
	bpf_ringbuf_submit(e, 0);
	return 0;
}
