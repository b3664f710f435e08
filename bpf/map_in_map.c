// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * map_in_map.c: BTF-defined maps of maps and a program array, all with
 * static initialisation, and socket-filter programs that use them.
 *
 * Maps (section ".maps"):
 *   inner_a     ARRAY u32 -> u64, 8 entries (struct inner_map)
 *   inner_b     ARRAY u32 -> u64, 8 entries (struct inner_map)
 *   outer       ARRAY_OF_MAPS, 4 entries, key u32, inner template struct
 *               inner_map; slot 1 = inner_a at load, slots 0, 2, 3 empty
 *   outer_hash  HASH_OF_MAPS, 4 entries, key u32, inner template struct
 *               inner_map; key 2 = inner_b at load
 *   jump_table  PROG_ARRAY, 4 entries, key u32; slot 0 = tail_target at load
 *
 * The `.values = { [i] = &x }` initialisers are not data: clang emits a
 * zero-filled .maps section plus relocations (.rel.maps) against the
 * symbols of x, placed at the offset of values[i]; the loader creates the
 * maps, loads the programs, then stores the fds with BPF_MAP_UPDATE_ELEM.
 *
 * Globals:
 *   .rodata  const volatile __u32 slot = 1       outer index used by lookup_outer
 *   .rodata  const volatile __u32 hash_key = 2   outer_hash key used by lookup_outer_hash
 *   .data    __u32 key = 3                       inner key used by both lookups
 *   .data    __u32 tail_slot = 0                 jump_table index used by tail_caller
 *                                                (SEC(".data") keeps it out of .bss)
 *   .bss     __u64 tail_calls                    incremented by tail_target
 *
 * Programs (all SEC("socket"), BPF_PROG_TYPE_SOCKET_FILTER, runnable with
 * BPF_PROG_TEST_RUN and any packet of >= 14 bytes):
 *   lookup_outer       outer[slot][key] += 1, returns the new value's low
 *                      32 bits; 0xfffffff1 if outer[slot] is empty,
 *                      0xfffffff2 if the inner lookup fails (key >= 8).
 *   lookup_outer_hash  the same on outer_hash[hash_key][key].
 *   tail_caller        tail-calls jump_table[tail_slot]; returns 0xfffffff3
 *                      only if that slot is empty (the tail call fell through).
 *   tail_target        tail_calls += 1, returns 0x7a11.
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* What the programs return when a lookup comes back empty. */
#define NO_INNER_MAP 0xfffffff1u   /* the outer slot holds no map */
#define NO_INNER_VALUE 0xfffffff2u /* the inner map has no such key */
#define TAIL_CALL_MISSED 0xfffffff3u
#define TAIL_TARGET_RET 0x7a11u

/*
 * The inner map type: a named struct, so that the outer maps can refer to
 * it in __array(values, ...) and the loader can take the inner map's
 * definition (type, key/value size, max_entries) from BTF.
 */
struct inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner_map);
} outer SEC(".maps") = {
	.values = { [1] = &inner_a },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner_map);
} outer_hash SEC(".maps") = {
	.values = { [2] = &inner_b },
};

/* Declared before jump_table so its initialiser can take its address. */
int tail_target(struct __sk_buff *skb);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	/* int() is "a function returning int": the values are programs. */
	__array(values, int());
} jump_table SEC(".maps") = {
	.values = { [0] = &tail_target },
};

/* .rodata: fixed at load time (the map is frozen before verification, so
 * the verifier may treat these as constants). */
const volatile __u32 slot = 1;
const volatile __u32 hash_key = 2;

/* .data: user space may change these between runs. */
__u32 key = 3;
__u32 tail_slot SEC(".data") = 0; /* explicit: a zero would go to .bss */

/* .bss */
__u64 tail_calls;

/* inner[key] += 1 and return it, shared by both lookups. */
static __always_inline __u32 bump(void *inner)
{
	__u32 k = key;
	__u64 *value;

	if (!inner)
		return NO_INNER_MAP;
	value = bpf_map_lookup_elem(inner, &k);
	if (!value)
		return NO_INNER_VALUE;
	/* Not atomic: test_run is one CPU at a time, and an atomic fetch-add
	 * whose result is used needs -mcpu=v3. */
	*value += 1;
	return (__u32)*value;
}

SEC("socket")
int lookup_outer(struct __sk_buff *skb)
{
	__u32 s = slot;

	return bump(bpf_map_lookup_elem(&outer, &s));
}

SEC("socket")
int lookup_outer_hash(struct __sk_buff *skb)
{
	__u32 h = hash_key;

	return bump(bpf_map_lookup_elem(&outer_hash, &h));
}

SEC("socket")
int tail_caller(struct __sk_buff *skb)
{
	/* On success bpf_tail_call does not return: tail_target's return
	 * value becomes this program's. */
	bpf_tail_call(skb, &jump_table, tail_slot);
	return TAIL_CALL_MISSED;
}

SEC("socket")
int tail_target(struct __sk_buff *skb)
{
	tail_calls++;
	return TAIL_TARGET_RET;
}
