// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * perf_output.c: records through a perf event array, for test/perf-buffer.test.ts
 * and bench/perfbuf.ts. Both programs do the same, run by PROG_TEST_RUN:
 *
 *   emit_xdp  SEC("xdp"): test-run with repeat (the benchmark); returns XDP_PASS.
 *   emit_raw  SEC("raw_tp/sys_enter"), never attached: test-run with
 *             BPF_F_TEST_RUN_ON_CPU to write into a chosen CPU's buffer.
 *
 * Each run writes config.count records (at most 256) of config.size bytes (8..4096)
 * with bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, ...): the bytes of
 * payload[0], with the first u32 replaced by config.seq (incremented per record)
 * and the second by the CPU it runs on.
 */
#include "tsbpf_kernel.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define BPF_F_CURRENT_CPU 0xffffffffULL
#define PAYLOAD_MAX 4096

struct config {
	__u32 size;
	__u32 count;
	__u32 seq;
	__u32 pad;
};

struct payload {
	__u8 bytes[PAYLOAD_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct payload);
} payload SEC(".maps");

/* max_entries 0: one slot per possible CPU (set by the loader, as libbpf does). */
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} events SEC(".maps");

static __always_inline int emit(void *ctx)
{
	__u32 zero = 0;
	struct config *c = bpf_map_lookup_elem(&config, &zero);
	struct payload *p = bpf_map_lookup_elem(&payload, &zero);

	if (!c || !p)
		return 0;
	for (__u32 i = 0; i < 256; i++) {
		__u32 size = c->size;

		if (i >= c->count)
			break;
		if (size < 8 || size > PAYLOAD_MAX)
			break;
		*(__u32 *)p->bytes = c->seq++;
		*(__u32 *)(p->bytes + 4) = bpf_get_smp_processor_id();
		bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, p->bytes, size);
	}
	return 0;
}

SEC("xdp")
int emit_xdp(struct xdp_md *ctx)
{
	emit(ctx);
	return XDP_PASS;
}

SEC("raw_tp/sys_enter")
int emit_raw(void *ctx)
{
	return emit(ctx);
}
