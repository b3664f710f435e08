// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * ringbuf.c: a ring buffer producer run by BPF_PROG_TEST_RUN, for
 * test/ringbuf.test.ts and bench/ringbuf.{ts,c}.
 *
 *   rb, rb2   BPF_MAP_TYPE_RINGBUF, 64 KiB each (resized by the loader).
 *   produce   SEC("syscall"), ctx struct produce_args: writes `count` records
 *             of `size` bytes (at most 4096) with bpf_ringbuf_output into rb
 *             (ring 0) or rb2 (ring 1). Record i holds u32 seq + i, then u32
 *             size, then bytes of .bss payload. With discard_every = n, every
 *             n-th record is instead a 16-byte reservation that is discarded.
 *             `written` and `failed` (ring full) come back in the ctx. `flags`
 *             go to bpf_ringbuf_output; with WAKE_LAST in them, every record but
 *             the run's last is written with BPF_RB_NO_WAKEUP and the last with
 *             BPF_RB_FORCE_WAKEUP: one wakeup a run, however fast the consumer
 *             (libbpf's ring buffer benchmark samples its wakeups the same way).
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} rb2 SEC(".maps");

#define PAYLOAD 4096
#define RB_NO_WAKEUP 1		/* BPF_RB_NO_WAKEUP */
#define RB_FORCE_WAKEUP 2	/* BPF_RB_FORCE_WAKEUP */
#define WAKE_LAST (1u << 31)

struct produce_args {
	__u32 count;
	__u32 size;
	__u32 seq;
	__u32 discard_every;
	__u32 ring;
	__u32 flags;
	__u32 written;
	__u32 failed;
};

char payload[PAYLOAD];

static long one(__u32 i, struct produce_args *a)
{
	__u32 size = a->size;
	__u64 flags = a->flags;
	long err;

	if (a->discard_every && i % a->discard_every == a->discard_every - 1) {
		__u32 *r = a->ring ? bpf_ringbuf_reserve(&rb2, 16, 0) : bpf_ringbuf_reserve(&rb, 16, 0);
		if (!r) {
			a->failed++;
			return 0;
		}
		r[0] = 0xdeadbeef;
		bpf_ringbuf_discard(r, 0);
		return 0;
	}
	if (size > PAYLOAD)
		return 1;
	*(__u32 *)&payload[0] = a->seq + i;
	*(__u32 *)&payload[4] = size;
	if (flags & WAKE_LAST)
		flags = i == a->count - 1 ? RB_FORCE_WAKEUP : RB_NO_WAKEUP;
	if (a->ring)
		err = bpf_ringbuf_output(&rb2, payload, size, flags);
	else
		err = bpf_ringbuf_output(&rb, payload, size, flags);
	if (err)
		a->failed++;
	else
		a->written++;
	return 0;
}

SEC("syscall")
int produce(struct produce_args *ctx)
{
	struct produce_args a = *ctx;

	a.written = 0;
	a.failed = 0;
	/* A 32-bit load of its own: the struct copy reads count and size as one u64,
	 * and the inlined bpf_loop checks all 64 bits of nr_loops. */
	bpf_loop(ctx->count, one, &a, 0);
	ctx->written = a.written;
	ctx->failed = a.failed;
	return 0;
}
