// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * typed_globals.c: `const volatile` globals of the types a JS caller sets
 * naturally (EbpfLoader.setGlobal): bool, signed and unsigned integers of
 * every width, a char array and an array of u32.
 *
 * .rodata globals (initial values):
 *   bool  enabled   = false
 *   __s8  tiny      = -1
 *   __u16 port      = 80
 *   __s32 offset    = -5
 *   __u64 big       = 0x100000000
 *   char  tag[8]    = "tsbpf"
 *   __u32 weights[4] = { 1, 2, 3, 4 }
 *
 * Program:
 *   typed  SEC("socket") (test_run with >= 14 bytes). Returns, as a u32,
 *            (enabled ? 1000000 : 0) + tiny + port + offset + (big >> 32)
 *            + tag[0] + weights[3]
 *          = 0 - 1 + 80 - 5 + 1 + 't' (116) + 4 = 195 with the initial values.
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile _Bool enabled = 0;
const volatile __s8 tiny = -1;
const volatile __u16 port = 80;
const volatile __s32 offset = -5;
const volatile __u64 big = 0x100000000ull;
const volatile char tag[8] = "tsbpf";
const volatile __u32 weights[4] = { 1, 2, 3, 4 };

SEC("socket")
int typed(void *ctx)
{
	__u32 sum = (enabled ? 1000000 : 0) + tiny + port + offset + (__u32)(big >> 32);

	return sum + tag[0] + weights[3];
}
