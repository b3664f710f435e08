// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * btf_types.c: maps whose keys and values use the C types a BTF-derived
 * codec must lay out (btfCodec, Ebpf.typedMap): a char[16] key, bitfields,
 * a union and an anonymous union, a nested struct, enums, bool, signed and
 * 64-bit integers, a pointer, arrays of integers and of strings.
 *
 * Maps (section ".maps"):
 *   by_comm     HASH struct comm_key -> struct record, 8 entries
 *   records     ARRAY __u32 -> struct record, 4 entries
 *   per_cpu     PERCPU_ARRAY __u32 -> struct point, 2 entries
 *   lru         LRU_HASH __u64 -> enum color, 8 entries
 *   per_cpu_lru LRU_PERCPU_HASH struct comm_key -> __s64, 8 entries
 *   outer       ARRAY_OF_MAPS, 2 entries, inner ARRAY __u32 -> struct point
 *   outer_hash  HASH_OF_MAPS, 2 entries, key enum color, inner HASH
 *               struct comm_key -> __u32; outer_hash[GREEN] = inner_h at load
 *   legacy      a SEC("maps") struct bpf_map_def: no BTF for key or value
 *   events      RINGBUF, 4 KiB: fill outputs one struct record
 *
 * Program fill SEC("socket") (test_run, >= 14 bytes): writes
 *   by_comm["tsbpf"] = rec, records[1] = rec, per_cpu[1] = { 7, -7 } on the
 *   CPU it runs on, lru[0x1122334455667788] = BLUE, per_cpu_lru["x"] = -2,
 *   inner_a[0] = { 1, 2 } (slot 0 of outer), inner_h["ab"] = 42, and
 *   outputs rec to events
 * where rec is the record described beside its fields. Returns 0 when every
 * update worked, else the number of the one that failed.
 */
#include "tsbpf_types.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

enum color { RED = 0, GREEN = 5, BLUE = 6 };
enum wide { WIDE_BIG = 0x100000000ull };

struct comm_key {
	char comm[16];
};

struct point {
	__s32 x;
	__s32 y;
};

struct record {
	__u32 flags : 3;        /* 5 */
	__u32 level : 7;        /* 100 */
	__s32 delta : 5;        /* -3 */
	_Bool on : 1;           /* true */
	enum color tint : 4;    /* GREEN */
	_Bool ready;            /* true */
	__s8 small;             /* -100 */
	enum color hue;         /* BLUE */
	enum color odd;         /* 9: a value the enum does not name */
	__u64 big;              /* 0xfedcba9876543210 */
	__s64 neg;              /* -5 */
	struct point at;        /* { 3, -4 } */
	struct point path[2];   /* { 1, 2 }, { -1, -2 } */
	union {
		__u32 word;         /* 0x64636261 */
		char text[4];       /* "abcd" (no NUL: the array is full) */
	} u;
	union {                 /* anonymous: its members are the record's */
		__u64 id;           /* 0x1234 */
		struct point pt;
	};
	void *ptr;              /* 0xffff888000001000 */
	char names[2][8];       /* "one", "two" */
	__u16 ports[3];         /* 80, 443, 8080 */
	enum wide w;            /* WIDE_BIG */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, struct comm_key);
	__type(value, struct record);
} by_comm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct record);
} records SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct point);
} per_cpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8);
	__type(key, __u64);
	__type(value, enum color);
} lru SEC(".maps");

struct {
	__uint(type, 10); /* BPF_MAP_TYPE_LRU_PERCPU_HASH */
	__uint(max_entries, 8);
	__type(key, struct comm_key);
	__type(value, __s64);
} per_cpu_lru SEC(".maps");

struct inner_array {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct point);
} inner_a SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner_array);
} outer SEC(".maps") = {
	.values = { [0] = &inner_a },
};

struct inner_hash {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, struct comm_key);
	__type(value, __u32);
} inner_h SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, enum color);
	__array(values, struct inner_hash);
} outer_hash SEC(".maps");

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") legacy = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = 4,
	.value_size = 8,
	.max_entries = 4,
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

SEC("socket")
int fill(void *ctx)
{
	struct comm_key k = {};
	struct record rec = {};
	struct point p = { 7, -7 };
	__u32 zero = 0, one = 1, forty_two = 42;
	__u64 lru_key = 0x1122334455667788ull;
	enum color blue = BLUE;
	__s64 minus_two = -2;
	void *inner;

	rec.flags = 5;
	rec.level = 100;
	rec.delta = -3;
	rec.on = 1;
	rec.tint = GREEN;
	rec.ready = 1;
	rec.small = -100;
	rec.hue = BLUE;
	rec.odd = (enum color)9;
	rec.big = 0xfedcba9876543210ull;
	rec.neg = -5;
	rec.at.x = 3;
	rec.at.y = -4;
	rec.path[0].x = 1;
	rec.path[0].y = 2;
	rec.path[1].x = -1;
	rec.path[1].y = -2;
	rec.u.word = 0x64636261;
	rec.id = 0x1234;
	rec.ptr = (void *)0xffff888000001000ull;
	__builtin_memcpy(rec.names[0], "one", 4);
	__builtin_memcpy(rec.names[1], "two", 4);
	rec.ports[0] = 80;
	rec.ports[1] = 443;
	rec.ports[2] = 8080;
	rec.w = WIDE_BIG;

	__builtin_memcpy(k.comm, "tsbpf", 6);
	if (bpf_map_update_elem(&by_comm, &k, &rec, BPF_ANY))
		return 1;
	if (bpf_map_update_elem(&records, &one, &rec, BPF_ANY))
		return 2;
	if (bpf_map_update_elem(&per_cpu, &one, &p, BPF_ANY))
		return 3;
	if (bpf_map_update_elem(&lru, &lru_key, &blue, BPF_ANY))
		return 4;
	__builtin_memset(&k, 0, sizeof(k));
	k.comm[0] = 'x';
	if (bpf_map_update_elem(&per_cpu_lru, &k, &minus_two, BPF_ANY))
		return 5;
	inner = bpf_map_lookup_elem(&outer, &zero);
	if (!inner)
		return 6;
	p.x = 1;
	p.y = 2;
	if (bpf_map_update_elem(inner, &zero, &p, BPF_ANY))
		return 7;
	__builtin_memset(&k, 0, sizeof(k));
	k.comm[0] = 'a';
	k.comm[1] = 'b';
	if (bpf_map_update_elem(&inner_h, &k, &forty_two, BPF_ANY))
		return 8;
	if (bpf_ringbuf_output(&events, &rec, sizeof(rec), 0))
		return 9;
	return 0;
}
