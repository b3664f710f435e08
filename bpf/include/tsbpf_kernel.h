/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * tsbpf_kernel.h: the few kernel-internal types tsbpf's BPF programs read,
 * declared by hand for CO-RE (Compile Once, Run Everywhere).
 *
 * Instead of a 3 MB vmlinux.h generated from one kernel, each struct below
 * lists only the fields the programs touch, in any order, and carries
 * __attribute__((preserve_access_index)). clang then records every access
 * as a CO-RE relocation (a path of field names in .BTF.ext) rather than a
 * fixed offset, and the loader patches the real offset, size or existence
 * from the running kernel's BTF (/sys/kernel/btf/vmlinux) before loading.
 *
 * Names ending in ___<flavour> are "flavours": the loader matches them
 * against the kernel type without the suffix, so one program can describe
 * several historical layouts of the same struct.
 */
#ifndef TSBPF_KERNEL_H
#define TSBPF_KERNEL_H

#include "tsbpf_types.h"

typedef int pid_t;
typedef unsigned int uid_t;
typedef unsigned int gid_t;

/* include/linux/uidgid_types.h: a struct wrapping the id (a nested read). */
typedef struct {
	uid_t val;
} kuid_t;

typedef struct {
	gid_t val;
} kgid_t;

struct cred {
	kuid_t uid;
	kgid_t gid;
	kuid_t euid;
} __attribute__((preserve_access_index));

struct mm_struct;

/*
 * include/linux/sched.h. The real struct has a few hundred fields (3 KB here);
 * only these are used. in_execve and in_iowait are 1-bit bitfields, read
 * with BPF_CORE_READ_BITFIELD*; the declared widths and order need not match
 * the kernel's (the relocations carry byte offset, size and shifts).
 */
struct task_struct {
	unsigned int __state;
	unsigned int flags;
	struct mm_struct *mm;
	unsigned int in_execve : 1;
	unsigned int in_iowait : 1;
	pid_t pid;
	pid_t tgid;
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	const struct cred *real_cred;
	const struct cred *cred;
	char comm[16];
} __attribute__((preserve_access_index));

/*
 * Before Linux 5.14 task_struct had `volatile long state` instead of
 * `unsigned int __state`. This flavour lets a program test for the old field
 * with bpf_core_field_exists() (false on 6.18) and read it on old kernels.
 */
struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

/* include/linux/pid.h */
enum pid_type {
	PIDTYPE_PID,
	PIDTYPE_TGID,
	PIDTYPE_PGID,
	PIDTYPE_SID,
	PIDTYPE_MAX,
};

/*
 * A type that no kernel has: bpf_core_type_exists() on it is false, and an
 * enumerator that no kernel has: bpf_core_enum_value_exists() is false.
 */
struct tsbpf_no_such_type {
	int unused;
} __attribute__((preserve_access_index));

enum pid_type___tsbpf {
	TSBPF_PIDTYPE_NO_SUCH_VALUE = 42,
};

/* include/linux/sched.h: task->flags bit of kernel threads. A #define in
 * the kernel, so not in BTF and not relocatable: it has been stable since
 * 2.6. */
#define PF_KTHREAD 0x00200000

#endif /* TSBPF_KERNEL_H */
