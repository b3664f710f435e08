// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * attach_probe.c: programs for test/attach-probe.test.ts (uprobes, uretprobes,
 * uprobe_multi, kprobes, kprobe_multi, perf_event sampling).
 *
 * Map `counters` (ARRAY, 16 x u64), slots:
 *   0 CALLS      on_target: calls of tsbpf_target seen
 *   1 ARG_SUM    on_target: sum of its first argument (PT_REGS_PARM1)
 *   2 COOKIE     on_target: bpf_get_attach_cookie of the last call
 *   3 TGID       on_target: tgid of the last caller
 *   4 RET_SUM    on_return: sum of tsbpf_target's return values (PT_REGS_RC)
 *   5 RET_CALLS  on_return: returns seen
 *   6 LIB_CALLS  on_getpid: calls of libc getpid seen
 *   7 MULTI_CALLS  on_multi: calls seen through the uprobe_multi link
 *   8 MULTI_COOKIES on_multi: sum of the cookies of those calls
 *   9 SAMPLES    on_sample: perf_event samples
 *  10 PERIOD     on_sample: sample_period of the last sample
 *  11 KPROBE     on_kprobe / on_kretprobe / on_kprobe_multi (do_nanosleep runs)
 *
 * Programs:
 *   on_target        SEC("uprobe")          slots 0-3
 *   on_return        SEC("uretprobe")       slots 4-5
 *   on_getpid        SEC("uprobe/libc.so.6:getpid") slot 6
 *   on_multi         SEC("uprobe.multi")    slots 7-8
 *   on_sample        SEC("perf_event")      slots 9-10
 *   on_kprobe        SEC("kprobe/do_nanosleep")
 *   on_kretprobe     SEC("kretprobe/do_nanosleep")
 *   on_kprobe_multi  SEC("kprobe.multi/do_nanosleep")
 * All return 0.
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* include/uapi/linux/bpf_perf_event.h (x86-64: bpf_user_pt_regs_t is pt_regs). */
struct bpf_perf_event_data {
	struct pt_regs regs;
	__u64 sample_period;
	__u64 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void add(__u32 slot, __u64 v)
{
	__u64 *p = bpf_map_lookup_elem(&counters, &slot);
	if (p)
		__sync_fetch_and_add(p, v);
}

static __always_inline void set(__u32 slot, __u64 v)
{
	__u64 *p = bpf_map_lookup_elem(&counters, &slot);
	if (p)
		*p = v;
}

SEC("uprobe")
int on_target(struct pt_regs *ctx)
{
	add(0, 1);
	add(1, (int)PT_REGS_PARM1(ctx));
	set(2, bpf_get_attach_cookie(ctx));
	set(3, bpf_get_current_pid_tgid() >> 32);
	return 0;
}

SEC("uretprobe")
int on_return(struct pt_regs *ctx)
{
	add(4, (int)PT_REGS_RC(ctx));
	add(5, 1);
	return 0;
}

SEC("uprobe/libc.so.6:getpid")
int on_getpid(struct pt_regs *ctx)
{
	add(6, 1);
	return 0;
}

SEC("uprobe.multi")
int on_multi(struct pt_regs *ctx)
{
	add(7, 1);
	add(8, bpf_get_attach_cookie(ctx));
	return 0;
}

SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx)
{
	add(9, 1);
	set(10, ctx->sample_period);
	return 0;
}

SEC("kprobe/do_nanosleep")
int on_kprobe(struct pt_regs *ctx)
{
	add(11, 1);
	return 0;
}

SEC("kretprobe/do_nanosleep")
int on_kretprobe(struct pt_regs *ctx)
{
	add(11, 1);
	return 0;
}

SEC("kprobe.multi/do_nanosleep")
int on_kprobe_multi(struct pt_regs *ctx)
{
	add(11, 1);
	return 0;
}
