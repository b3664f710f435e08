// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * attach_lsm.c: an LSM program for test/attach-trace.test.ts.
 *
 * .rodata target_tgid: the test's pid; only opens by that process count.
 *
 *   lsm_file_open  SEC("lsm/file_open"): BPF_PROG_TYPE_LSM, BPF_LSM_MAC,
 *                  attach_btf_id = vmlinux FUNC bpf_lsm_file_open. .bss
 *                  opens++. Returns 0 (allows the open). The hook runs only
 *                  where "bpf" is an active LSM (/sys/kernel/security/lsm).
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct file;

const volatile __u32 target_tgid = 0;
__u64 opens;

SEC("lsm/file_open")
int BPF_PROG(lsm_file_open, struct file *file)
{
	if ((bpf_get_current_pid_tgid() >> 32) == target_tgid)
		__sync_fetch_and_add(&opens, 1);
	return 0;
}
