// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * kernel_limits.c: one program of each kind that this project's kernel
 * (Linux 6.18 as configured on the project's machines: BPF_PROG_TYPE_TRACING
 * and BPF_PROG_TYPE_LSM loads refused with EPERM, no CONFIG_KPROBES)
 * refuses, so that tests can assert the typed error tsbpf raises instead of
 * skipping:
 *
 *   fentry_test1  SEC("fentry/bpf_fentry_test1")  BPF_PROG_TYPE_TRACING,
 *                 expected_attach_type BPF_TRACE_FENTRY, attach_btf_id =
 *                 vmlinux FUNC bpf_fentry_test1. BPF_PROG_LOAD: EPERM here.
 *   fexit_test1   SEC("fexit/bpf_fentry_test1")   BPF_PROG_TYPE_TRACING,
 *                 BPF_TRACE_FEXIT, same target. BPF_PROG_LOAD: EPERM here.
 *   lsm_file_open SEC("lsm/file_open")            BPF_PROG_TYPE_LSM,
 *                 BPF_LSM_MAC, attach_btf_id = vmlinux FUNC
 *                 bpf_lsm_file_open. BPF_PROG_LOAD: EPERM here.
 *   kprobe_unlinkat SEC("kprobe/do_unlinkat")     BPF_PROG_TYPE_KPROBE. The
 *                 load itself succeeds; the kernel is built without
 *                 CONFIG_KPROBES, so attaching (perf_event_open on the
 *                 "kprobe" PMU, absent from /sys/bus/event_source/devices)
 *                 fails (libbpf: ENOENT), and BPF_PROG_TEST_RUN is not
 *                 supported for kprobes on any kernel (ENOTSUPP, 524).
 *
 * bpf_fentry_test1 (net/bpf/test_run.c) exists in every kernel with
 * BPF_PROG_TEST_RUN precisely to be a fentry/fexit target; on a kernel that
 * allows tracing programs, running any BPF_PROG_TYPE_TRACING test calls it.
 *
 * All four write to .bss `hits` so they are not empty programs.
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct file;

/* .bss: one counter per program, in the order listed above. */
__u64 hits[4];

/* int bpf_fentry_test1(int a) { return a + 1; } */
SEC("fentry/bpf_fentry_test1")
int BPF_PROG(fentry_test1, int a)
{
	hits[0] += a;
	return 0;
}

/* fexit also sees the return value. */
SEC("fexit/bpf_fentry_test1")
int BPF_PROG(fexit_test1, int a, int ret)
{
	hits[1] += ret;
	return 0;
}

/* LSM hook: 0 allows the open, a negative errno would deny it. */
SEC("lsm/file_open")
int BPF_PROG(lsm_file_open, struct file *file)
{
	hits[2]++;
	return 0;
}

/* int do_unlinkat(int dfd, struct filename *name) */
SEC("kprobe/do_unlinkat")
int BPF_KPROBE(kprobe_unlinkat, int dfd)
{
	hits[3] += dfd;
	return 0;
}
