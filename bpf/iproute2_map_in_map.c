// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * iproute2_map_in_map.c: map-in-map declared the iproute2 way (tc's legacy
 * `struct bpf_elf_map` in section "maps"), as iproute2's
 * examples/bpf/bpf_map_in_map.c does:
 *
 *   map_inner  ARRAY u32 -> u32, 1 entry, id = 7, inner_idx = 0 (the slot of
 *              every outer map whose inner_id is 7 that it is put in)
 *   map_outer  ARRAY_OF_MAPS u32 -> fd, 2 entries, inner_id = 7 (its inner
 *              map template is the map whose id is 7)
 *   map_other  ARRAY u32 -> u32, 1 entry, id = 8, inner_idx = 0xffffffff
 *              (-1: an id but no slot; its outer map is map_outer2)
 *   map_outer2 HASH_OF_MAPS u32 -> fd, 4 entries, inner_id = 8
 *
 * Program lookup_inner SEC("socket"): map_outer[0][0] += 1, returns the new
 * value; 0xfffffff1 when slot 0 is empty, 0xfffffff2 if the inner lookup fails.
 * No BTF map definitions; pinning 0 (none).
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* iproute2's include/bpf_elf.h */
struct bpf_elf_map {
	__u32 type;
	__u32 size_key;
	__u32 size_value;
	__u32 max_elem;
	__u32 flags;
	__u32 id;
	__u32 pinning;
	__u32 inner_id;
	__u32 inner_idx;
};

struct bpf_elf_map SEC("maps") map_inner = {
	.type = BPF_MAP_TYPE_ARRAY,
	.size_key = 4,
	.size_value = 4,
	.max_elem = 1,
	.id = 7,
	.inner_idx = 0,
};

struct bpf_elf_map SEC("maps") map_outer = {
	.type = BPF_MAP_TYPE_ARRAY_OF_MAPS,
	.size_key = 4,
	.size_value = 4,
	.max_elem = 2,
	.inner_id = 7,
};

struct bpf_elf_map SEC("maps") map_other = {
	.type = BPF_MAP_TYPE_ARRAY,
	.size_key = 4,
	.size_value = 4,
	.max_elem = 1,
	.id = 8,
	.inner_idx = 0xffffffff,
};

struct bpf_elf_map SEC("maps") map_outer2 = {
	.type = BPF_MAP_TYPE_HASH_OF_MAPS,
	.size_key = 4,
	.size_value = 4,
	.max_elem = 4,
	.inner_id = 8,
};

SEC("socket")
int lookup_inner(void *ctx)
{
	__u32 key = 0;
	void *inner = bpf_map_lookup_elem(&map_outer, &key);
	if (!inner)
		return 0xfffffff1;
	__u32 *value = bpf_map_lookup_elem(inner, &key);
	if (!value)
		return 0xfffffff2;
	*value += 1;
	return *value;
}
