// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * many.c: 25 small programs of 12 program types, for the loader benchmark
 * (parse one ELF, relocate, load everything) and for "every program type
 * that BPF_PROG_TEST_RUN can run" tests.
 *
 * Every program is test-runnable on Linux 6.18:
 *
 *   name               section                  type (BPF_PROG_TYPE_*)  returns
 *   socket_0..3        socket                   SOCKET_FILTER           skb->len
 *   tc_0..2            tc                       SCHED_CLS               TC_ACT_OK (0)
 *   action_0           action                   SCHED_ACT               TC_ACT_OK (0)
 *   xdp_0..3           xdp                      XDP                     XDP_PASS (2)
 *   cgroup_ingress     cgroup_skb/ingress       CGROUP_SKB              1 (allow)
 *   cgroup_egress      cgroup_skb/egress        CGROUP_SKB              1 (allow)
 *   lwt_in_0           lwt_in                   LWT_IN                  BPF_OK (0)
 *   lwt_out_0          lwt_out                  LWT_OUT                 BPF_OK (0)
 *   lwt_xmit_0         lwt_xmit                 LWT_XMIT                BPF_OK (0)
 *   sk_lookup_0        sk_lookup                SK_LOOKUP               SK_PASS (1)
 *   flow_dissector_0   flow_dissector           FLOW_DISSECTOR          BPF_OK (0)
 *   raw_tp_0           raw_tp/sys_enter         RAW_TRACEPOINT          0
 *   raw_tp_1           raw_tp/sys_exit          RAW_TRACEPOINT          0
 *   raw_tp_2           raw_tp/sched_switch      RAW_TRACEPOINT          0
 *   syscall_0..2       syscall                  SYSCALL                 tgid of the caller
 *
 * What test_run needs: packet programs a packet (>= 14 bytes; data_in);
 * sk_lookup a struct bpf_sk_lookup as ctx_in (family AF_INET or AF_INET6,
 * protocol TCP or UDP) and no data; raw_tp and syscall programs no data
 * (raw_tp: ctx_in of u64 args, or none; syscall: none needed here).
 * Packet programs may run with repeat > 1; raw_tp and syscall programs only
 * with repeat 0 (EINVAL otherwise), and syscall programs without ctx_out.
 *
 * Every program calls the subprogram `record` (a static __noinline function
 * in .text: a BPF-to-BPF call the loader must append and relocate), which
 * counts the run in map `counters` (ARRAY u32 -> u64, 32 entries, indexed by
 * the program's number below) and stores the length it saw in map `lens`
 * (HASH u32 -> u32). The task-reading programs (raw_tp_*, syscall_*) also
 * do CO-RE reads of the current task_struct; the packet programs carry a
 * CO-RE type-size relocation each (bpf_core_type_size), so that all 25
 * programs have .BTF.ext CO-RE records to resolve.
 *
 * Globals: .bss `__u64 total_runs` (all programs), `__u32 last_tgid`
 * (task programs); .rodata `const volatile __u32 len_bias = 0` (added to
 * every length recorded in `lens`).
 *
 * Program numbers (index into `counters` and key of `lens`):
 *   socket_0..3 = 0..3, tc_0..2 = 4..6, action_0 = 7, xdp_0..3 = 8..11,
 *   cgroup_ingress = 12, cgroup_egress = 13, lwt_in_0 = 14, lwt_out_0 = 15,
 *   lwt_xmit_0 = 16, sk_lookup_0 = 17, raw_tp_0..2 = 18..20,
 *   syscall_0..2 = 21..23, flow_dissector_0 = 24.
 */
#include "tsbpf_kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* lwt programs return enum bpf_ret_code */
#define BPF_OK 0

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 32);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32);
	__type(key, __u32);
	__type(value, __u32);
} lens SEC(".maps");

const volatile __u32 len_bias = 0;

__u64 total_runs;
__u32 last_tgid;

/*
 * The shared subprogram. __noinline keeps it a real BPF-to-BPF call (a
 * `call` with src_reg = BPF_PSEUDO_CALL into .text), so every program that
 * uses it has to be linked with a copy of .text by the loader.
 */
static __noinline int record(__u32 idx, __u32 len)
{
	__u64 *count = bpf_map_lookup_elem(&counters, &idx);

	if (count)
		__sync_fetch_and_add(count, 1);
	len += len_bias;
	bpf_map_update_elem(&lens, &idx, &len, BPF_ANY);
	total_runs++;
	return 0;
}

/*
 * Packet programs. The CO-RE relocation (a type size, resolved by the
 * loader to the size of the kernel's task_struct) is folded into a value
 * that is always 0, so it changes nothing but must still be relocated.
 */
#define CORE_ZERO() (bpf_core_type_size(struct task_struct) == 0)

#define SKB_PROG(sec, name, idx, ret)                          \
	SEC(sec)                                               \
	int name(struct __sk_buff *skb)                        \
	{                                                      \
		record(idx, skb->len + CORE_ZERO());           \
		return ret;                                    \
	}

#define XDP_PROG(name, idx)                                    \
	SEC("xdp")                                             \
	int name(struct xdp_md *ctx)                           \
	{                                                      \
		__u32 len = ctx->data_end - ctx->data;         \
		record(idx, len + CORE_ZERO());                \
		return XDP_PASS;                               \
	}

/* Socket filters return how many bytes of the packet to keep. */
SEC("socket")
int socket_0(struct __sk_buff *skb)
{
	record(0, skb->len + CORE_ZERO());
	return skb->len;
}
SEC("socket")
int socket_1(struct __sk_buff *skb)
{
	record(1, skb->len + CORE_ZERO());
	return skb->len;
}
SEC("socket")
int socket_2(struct __sk_buff *skb)
{
	record(2, skb->len + CORE_ZERO());
	return skb->len;
}
SEC("socket")
int socket_3(struct __sk_buff *skb)
{
	record(3, skb->len + CORE_ZERO());
	return skb->len;
}

SKB_PROG("tc", tc_0, 4, TC_ACT_OK)
SKB_PROG("tc", tc_1, 5, TC_ACT_OK)
SKB_PROG("tc", tc_2, 6, TC_ACT_OK)
SKB_PROG("action", action_0, 7, TC_ACT_OK)

XDP_PROG(xdp_0, 8)
XDP_PROG(xdp_1, 9)
XDP_PROG(xdp_2, 10)
XDP_PROG(xdp_3, 11)

/* cgroup_skb: 1 lets the packet through, 0 drops it. */
SKB_PROG("cgroup_skb/ingress", cgroup_ingress, 12, 1)
SKB_PROG("cgroup_skb/egress", cgroup_egress, 13, 1)

SKB_PROG("lwt_in", lwt_in_0, 14, BPF_OK)
SKB_PROG("lwt_out", lwt_out_0, 15, BPF_OK)
SKB_PROG("lwt_xmit", lwt_xmit_0, 16, BPF_OK)

/* sk_lookup: no socket is selected, SK_PASS lets the normal lookup go on. */
SEC("sk_lookup")
int sk_lookup_0(struct bpf_sk_lookup *ctx)
{
	record(17, ctx->local_port + CORE_ZERO());
	return SK_PASS;
}

/* flow_dissector: only data, data_end and flow_keys of the context are
 * readable. BPF_OK means "dissected"; test_run then returns flow_keys as
 * ctx_out. Any frame of >= 14 bytes will do. */
SEC("flow_dissector")
int flow_dissector_0(struct __sk_buff *skb)
{
	record(24, skb->data_end - skb->data + CORE_ZERO());
	return BPF_OK;
}

/*
 * Task programs: CO-RE reads of the current task. raw_tp programs go
 * through bpf_probe_read_kernel (BPF_CORE_READ); syscall programs get a
 * trusted BTF pointer and read fields directly.
 */
#define RAW_TP_PROG(sec, name, idx)                                            \
	SEC(sec)                                                               \
	int name(struct bpf_raw_tracepoint_args *ctx)                          \
	{                                                                      \
		struct task_struct *t = (void *)bpf_get_current_task();        \
		__u32 tgid = BPF_CORE_READ(t, tgid);                           \
		__u32 ppid = BPF_CORE_READ(t, real_parent, tgid);              \
		last_tgid = tgid;                                              \
		record(idx, ppid != 0 ? bpf_core_field_size(t->comm) : 0);     \
		return 0;                                                      \
	}

RAW_TP_PROG("raw_tp/sys_enter", raw_tp_0, 18)
RAW_TP_PROG("raw_tp/sys_exit", raw_tp_1, 19)
RAW_TP_PROG("raw_tp/sched_switch", raw_tp_2, 20)

#define SYSCALL_PROG(name, idx)                                                \
	SEC("syscall")                                                         \
	int name(void *ctx)                                                    \
	{                                                                      \
		struct task_struct *t = bpf_get_current_task_btf();            \
		__u32 tgid = t->tgid;                                          \
		last_tgid = tgid;                                              \
		record(idx, t->group_leader->pid == tgid ? 1 : 0);             \
		return tgid;                                                   \
	}

SYSCALL_PROG(syscall_0, 21)
SYSCALL_PROG(syscall_1, 22)
SYSCALL_PROG(syscall_2, 23)
