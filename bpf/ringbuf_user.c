// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * ringbuf_user.c: the kernel side of a BPF_MAP_TYPE_USER_RINGBUF, for
 * test/user-ringbuf.test.ts.
 *
 *   urb      BPF_MAP_TYPE_USER_RINGBUF, 16 KiB.
 *   drain    SEC("syscall"): bpf_user_ringbuf_drain(urb): every sample's first
 *            u64 is added to .bss total, samples counts them, short counts
 *            samples of fewer than 8 bytes. Returns what the helper returned
 *            (the number of samples drained, or -errno).
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct {
	__uint(type, 31 /* BPF_MAP_TYPE_USER_RINGBUF */);
	__uint(max_entries, 1 << 14);
} urb SEC(".maps");

__u64 total;
__u64 samples;
__u64 short_samples;

static long on_sample(struct bpf_dynptr *dynptr, void *ctx)
{
	__u64 v;

	if (bpf_dynptr_read(&v, sizeof(v), dynptr, 0, 0)) {
		short_samples++;
		return 0;
	}
	total += v;
	samples++;
	return 0;
}

SEC("syscall")
int drain(void *ctx)
{
	return bpf_user_ringbuf_drain(&urb, on_sample, NULL, 0);
}
