// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * log_printk.c: bpf_printk output for tracePipe() in test/log.test.ts.
 *
 *   printk  SEC("syscall"), ctx struct printk_args: prints
 *           "tsbpf-printk marker=%u value=%d name=%s" with the ctx's marker and
 *           value and the string "printk" (bpf_trace_printk: at most 3 arguments).
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct printk_args {
	__u32 marker;
	__s32 value;
};

SEC("syscall")
int printk(struct printk_args *args)
{
	bpf_printk("tsbpf-printk marker=%u value=%d name=%s", args->marker, args->value, "printk");
	return 0;
}
