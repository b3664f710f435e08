/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * tsbpf_types.h: the small part of the BPF user-space ABI (UAPI) that tsbpf's
 * own BPF programs use, written out so that the build needs neither kernel
 * headers nor a generated vmlinux.h.
 *
 * Everything here is *stable ABI*: integer typedefs, enum values the kernel
 * has promised never to change, and the layouts of the program contexts
 * (struct __sk_buff, struct xdp_md, ...) as user space sees them (the
 * verifier rewrites context accesses by offset, so these layouts must match
 * include/uapi/linux/bpf.h exactly, and they carry no CO-RE relocations).
 *
 * Kernel-internal types, whose layout changes between kernels, are in
 * tsbpf_kernel.h and use CO-RE instead.
 */
#ifndef TSBPF_TYPES_H
#define TSBPF_TYPES_H

/* ---- integer typedefs (asm-generic/int-ll64.h) ---- */
typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;

typedef __u16 __be16;
typedef __u32 __be32;
typedef __u64 __be64;
typedef __u16 __le16;
typedef __u32 __le32;
typedef __u64 __le64;
typedef __u32 __wsum;

typedef _Bool bool;
#define true 1
#define false 0
#define NULL ((void *)0)

/* ---- map types (enum bpf_map_type, the ones tsbpf's programs use) ---- */
enum bpf_map_type {
	BPF_MAP_TYPE_UNSPEC = 0,
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PROG_ARRAY = 3,
	BPF_MAP_TYPE_PERF_EVENT_ARRAY = 4,
	BPF_MAP_TYPE_PERCPU_HASH = 5,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_ARRAY_OF_MAPS = 12,
	BPF_MAP_TYPE_HASH_OF_MAPS = 13,
	BPF_MAP_TYPE_RINGBUF = 27,
};

/* ---- flags of bpf_map_update_elem() ---- */
enum {
	BPF_ANY = 0,     /* create a new element or update an existing one */
	BPF_NOEXIST = 1, /* create a new element only if it did not exist */
	BPF_EXIST = 2,   /* update an existing element */
};

/* ---- flags of map creation (map_flags) ---- */
enum {
	BPF_F_NO_PREALLOC = (1U << 0),
	BPF_F_RDONLY_PROG = (1U << 7),
};

/* ---- return codes ---- */
enum xdp_action {
	XDP_ABORTED = 0,
	XDP_DROP,
	XDP_PASS,
	XDP_TX,
	XDP_REDIRECT,
};

/* include/uapi/linux/pkt_cls.h */
#define TC_ACT_UNSPEC (-1)
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

/* sk_lookup programs return SK_PASS/SK_DROP */
enum sk_action {
	SK_DROP = 0,
	SK_PASS,
};

/* ---- program contexts (include/uapi/linux/bpf.h) ---- */
#define __bpf_md_ptr(type, name) \
	union {                  \
		type name;       \
		__u64 : 64;      \
	} __attribute__((aligned(8)))

struct bpf_flow_keys;
struct bpf_sock;

/* socket filter, tc (sched_cls/sched_act), cgroup_skb, lwt_* */
struct __sk_buff {
	__u32 len;
	__u32 pkt_type;
	__u32 mark;
	__u32 queue_mapping;
	__u32 protocol;
	__u32 vlan_present;
	__u32 vlan_tci;
	__u32 vlan_proto;
	__u32 priority;
	__u32 ingress_ifindex;
	__u32 ifindex;
	__u32 tc_index;
	__u32 cb[5];
	__u32 hash;
	__u32 tc_classid;
	__u32 data;
	__u32 data_end;
	__u32 napi_id;
	__u32 family;
	__u32 remote_ip4;
	__u32 local_ip4;
	__u32 remote_ip6[4];
	__u32 local_ip6[4];
	__u32 remote_port;
	__u32 local_port;
	__u32 data_meta;
	__bpf_md_ptr(struct bpf_flow_keys *, flow_keys);
	__u64 tstamp;
	__u32 wire_len;
	__u32 gso_segs;
	__bpf_md_ptr(struct bpf_sock *, sk);
	__u32 gso_size;
	__u8 tstamp_type;
	__u32 : 24;
	__u64 hwtstamp;
};

/* xdp */
struct xdp_md {
	__u32 data;
	__u32 data_end;
	__u32 data_meta;
	__u32 ingress_ifindex;
	__u32 rx_queue_index;
	__u32 egress_ifindex;
};

/* raw_tp: the tracepoint's arguments as u64s */
struct bpf_raw_tracepoint_args {
	__u64 args[0];
};

/* sk_lookup */
struct bpf_sk_lookup {
	union {
		__bpf_md_ptr(struct bpf_sock *, sk);
		__u64 cookie;
	};
	__u32 family;
	__u32 protocol;
	__u32 remote_ip4;
	__u32 remote_ip6[4];
	__be16 remote_port;
	__u16 : 16;
	__u32 local_ip4;
	__u32 local_ip6[4];
	__u32 local_port;
	__u32 ingress_ifindex;
};

/*
 * kprobe: the register file as user space (asm/ptrace.h, x86-64) names it.
 * libbpf's bpf_tracing.h uses these names (rdi, rsi, ...) when neither
 * __KERNEL__ nor __VMLINUX_H__ is defined. No preserve_access_index: the
 * layout is ABI and a CO-RE relocation would look for the kernel's names.
 */
struct pt_regs {
	unsigned long r15;
	unsigned long r14;
	unsigned long r13;
	unsigned long r12;
	unsigned long rbp;
	unsigned long rbx;
	unsigned long r11;
	unsigned long r10;
	unsigned long r9;
	unsigned long r8;
	unsigned long rax;
	unsigned long rcx;
	unsigned long rdx;
	unsigned long rsi;
	unsigned long rdi;
	unsigned long orig_rax;
	unsigned long rip;
	unsigned long cs;
	unsigned long eflags;
	unsigned long rsp;
	unsigned long ss;
};

#endif /* TSBPF_TYPES_H */
