// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * opensnoop.c: openat(2) calls as they return, through a perf event array, for
 * examples/opensnoop.ts (and test/opensnoop.test.ts).
 *
 *   on_enter  SEC("tracepoint/syscalls/sys_enter_openat"): remembers the filename
 *             pointer and flags by thread in `start`.
 *   on_exit   SEC("tracepoint/syscalls/sys_exit_openat"): writes a struct event
 *             (pid, tid, return value, flags, comm, filename) to `events` with
 *             bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, ...).
 *
 * .rodata targ_tgid: only this process's calls when nonzero.
 */
#include "tsbpf_kernel.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define BPF_F_CURRENT_CPU 0xffffffffULL
#define NAME_LEN 256

/* The tracepoints' records (/sys/kernel/tracing/events/syscalls/sys_{enter,exit}_openat/format). */
struct openat_enter {
	__u64 common;
	__s32 syscall_nr;
	__u32 pad;
	__u64 dfd;
	const char *filename;
	__u64 flags;
	__u64 mode;
};

struct openat_exit {
	__u64 common;
	__s32 syscall_nr;
	__u32 pad;
	__s64 ret;
};

struct start_args {
	const char *filename;
	__s32 flags;
	__u32 pad;
};

struct event {
	__u64 ts_ns;
	__u32 pid;
	__u32 tid;
	__s32 ret;
	__s32 flags;
	char comm[16];
	char filename[NAME_LEN];
};

const volatile __u32 targ_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct start_args);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} events SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int on_enter(struct openat_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct start_args args = {};

	if (targ_tgid && (id >> 32) != targ_tgid)
		return 0;
	args.filename = ctx->filename;
	args.flags = (__s32)ctx->flags;
	bpf_map_update_elem(&start, &tid, &args, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int on_exit(struct openat_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct start_args *args = bpf_map_lookup_elem(&start, &tid);
	struct event ev = {};

	if (!args)
		return 0;
	ev.ts_ns = bpf_ktime_get_ns();
	ev.pid = id >> 32;
	ev.tid = tid;
	ev.ret = (__s32)ctx->ret;
	ev.flags = args->flags;
	bpf_get_current_comm(ev.comm, sizeof(ev.comm));
	bpf_probe_read_user_str(ev.filename, sizeof(ev.filename), args->filename);
	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &ev, sizeof(ev));
	bpf_map_delete_elem(&start, &tid);
	return 0;
}
