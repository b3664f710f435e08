// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * autoload.c: libbpf's SEC("?...") prefix (a program not loaded by default) and
 * a verifier rejection with line info, for the loader's autoload switch and
 * for how a verifier failure is reported.
 *
 * Map:
 *   slots   ARRAY u32 -> u32, 4 entries
 *
 * Programs (all BPF_PROG_TYPE_SOCKET_FILTER; test_run with >= 14 bytes):
 *   always        SEC("socket")   returns 7
 *   optional_good SEC("?socket")  returns 9
 *   optional_bad  SEC("?socket")  rejected by the verifier: it reads the value
 *                 bpf_map_lookup_elem returns without a NULL check, so the
 *                 log ends with "R0 invalid mem access 'map_value_or_null'"
 *                 at the line marked BAD below.
 *   readline_ret  SEC("?uretprobe/readline") (BPF_PROG_TYPE_KPROBE): a section
 *                 that names a function but no binary, so attach() needs a
 *                 target; returns 0
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} slots SEC(".maps");

SEC("socket")
int always(void *ctx)
{
	return 7;
}

SEC("?socket")
int optional_good(void *ctx)
{
	return 9;
}

SEC("?socket")
int optional_bad(void *ctx)
{
	__u32 key = 1;
	__u32 *value = bpf_map_lookup_elem(&slots, &key);

	return *value; /* BAD */
}

SEC("?uretprobe/readline")
int readline_ret(void *ctx)
{
	return 0;
}
