// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * globals.c: global variables in every kind of data section, so the loader's
 * handling of them (one single-element ARRAY map per section, created with
 * the section's initial bytes, .rodata* frozen) can be tested from user
 * space by changing a global and watching a program use it.
 *
 * Sections and their globals (little-endian; offsets as clang-19 lays them
 * out, which follows neither declaration order nor size: read them from the
 * symbol table or the BTF DATASEC, never assume):
 *   .data (20 bytes)        __u32 data_a = 1                   offset 0
 *                           __u64 data_b = 0x100000000         offset 8
 *                           static volatile __u32 static_data = 5  offset 16
 *   .rodata (8)             const volatile __u32 ro_a = 10     offset 0
 *                           const volatile __u32 ro_b = 20     offset 4
 *   .bss (20)               __u64 bss_runs                     offset 0
 *                           __u32 bss_last                     offset 8
 *                           struct pair bss_pair {lo, hi}      offset 12
 *   .data.custom (4)        __u32 custom_data = 100            offset 0
 *   .rodata.custom (4)      const volatile __u32 custom_ro = 1000  offset 0
 *
 * static_data is a local (STB_LOCAL) symbol: clang relocates its loads
 * against the .data section symbol with the variable's offset in the
 * instruction's immediate, where globals are relocated against their own
 * symbols. A loader must handle both.
 *
 * Program:
 *   compute  SEC("socket") (BPF_PROG_TYPE_SOCKET_FILTER; test_run with a
 *            packet of >= 14 bytes). Returns
 *              data_a + static_data + ro_a + ro_b + custom_data + custom_ro
 *              + (__u32)(data_b >> 32)
 *            = 1 + 5 + 10 + 20 + 100 + 1000 + 1 = 1137 with the initial values;
 *            writes bss_runs += 1, bss_last = the result, bss_pair = the two
 *            halves of data_b, and data_a += 1 (so .data changes too: the
 *            second run returns 1138).
 *
 * `const volatile` is what keeps .rodata values in the program: without
 * volatile, clang would fold the initial value into the code, and setting
 * the global before load would change nothing. The verifier, seeing a
 * frozen map, treats the loaded values as known constants.
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct pair {
	__u32 lo;
	__u32 hi;
};

/* .data: initialised, writable by programs and user space. */
__u32 data_a = 1;
__u64 data_b = 0x100000000ull;
/* A file-local global: volatile, or clang would fold the constant away. */
static volatile __u32 static_data = 5;

/* .rodata: initialised, read-only for programs once loaded. */
const volatile __u32 ro_a = 10;
const volatile __u32 ro_b = 20;

/* .bss: zero at load. */
__u64 bss_runs;
__u32 bss_last;
struct pair bss_pair;

/* Named sections: each becomes a map of its own (".data.custom",
 * ".rodata.custom"); the .rodata.* one is frozen like .rodata. */
__u32 custom_data SEC(".data.custom") = 100;
const volatile __u32 custom_ro SEC(".rodata.custom") = 1000;

SEC("socket")
int compute(struct __sk_buff *skb)
{
	__u64 b = data_b;
	__u32 result;

	result = data_a + static_data + ro_a + ro_b + custom_data + custom_ro + (__u32)(b >> 32);

	bss_runs++;
	bss_last = result;
	bss_pair.lo = (__u32)b;
	bss_pair.hi = (__u32)(b >> 32);
	data_a++;
	return result;
}
