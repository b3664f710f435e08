// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * attach_unknown_target.c: a BTF-attached program whose target no kernel has,
 * for the loader's UnknownKernelFunction (test/attach-trace.test.ts).
 *
 *   fentry_missing  SEC("fentry/tsbpf_no_such_function"): the loader looks the
 *                   function up in vmlinux BTF before BPF_PROG_LOAD and fails.
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

SEC("fentry/tsbpf_no_such_function")
int BPF_PROG(fentry_missing)
{
	return 0;
}
