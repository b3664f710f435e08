// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * core.c: CO-RE (Compile Once, Run Everywhere) relocations against the
 * running kernel's task_struct, in programs user space can run on demand.
 *
 * Every program reads the *calling* task: BPF_PROG_TEST_RUN runs syscall and
 * raw_tp programs synchronously in the thread that made the bpf() call, so
 * from Node the results must equal process.pid (tgid; also pid for the main
 * thread) and the main thread's comm (/proc/self/comm, "node" unless
 * process.title or prctl changed it).
 *
 * Relocation kinds exercised (all resolved by the loader from
 * /sys/kernel/btf/vmlinux before BPF_PROG_LOAD):
 *   field byte offset   t->pid, BPF_CORE_READ(t, real_parent, tgid), ...
 *   field exists        bpf_core_field_exists(t->pid) = 1,
 *                       bpf_core_field_exists(struct task_struct___pre514, state) = 0
 *   field byte size     bpf_core_field_size(t->comm) = 16
 *   bitfield            BPF_CORE_READ_BITFIELD(_PROBED)(t, in_execve / in_iowait)
 *                       (byte offset, byte size, signedness, lshift, rshift)
 *   type exists         bpf_core_type_exists(struct task_struct) = 1,
 *                       bpf_core_type_exists(struct tsbpf_no_such_type) = 0
 *   type size           bpf_core_type_size(struct task_struct) (3264 on this 6.18 build)
 *   type id (target)    bpf_core_type_id_kernel(struct task_struct) (!= 0)
 *   enum value          bpf_core_enum_value(enum pid_type, PIDTYPE_TGID) = 1
 *   enum value exists   bpf_core_enum_value_exists(enum pid_type___tsbpf, ...) = 0
 *
 * Programs:
 *   core_task_btf    SEC("syscall"): task from bpf_get_current_task_btf()
 *                    (a trusted BTF pointer: plain loads, BPF_CORE_READ_BITFIELD);
 *                    fills .bss `btf_result` and `facts`, and writes
 *                    pid/tgid/comm into its context (struct core_args,
 *                    24 bytes: ctx_in required; the kernel copies it back
 *                    into the ctx_in buffer, and refuses ctx_out, repeat,
 *                    data_in with EINVAL). Returns tgid.
 *   core_task_probe  SEC("syscall"): task from bpf_get_current_task() (a plain
 *                    u64): every read through bpf_probe_read_kernel via
 *                    BPF_CORE_READ / BPF_CORE_READ_STR_INTO /
 *                    BPF_CORE_READ_BITFIELD_PROBED. Fills .bss `probe_result`.
 *                    Ignores its context (can be run without one). Returns tgid.
 *   core_sys_enter   SEC("raw_tp/sys_enter"): the same probe-read path, for
 *                    attaching (BPF_RAW_TRACEPOINT_OPEN "sys_enter") or for
 *                    test_run with a 16-byte context { u64 regs; u64 id }.
 *                    Records only tasks whose tgid is .rodata `target_tgid`
 *                    (0 = any) into .bss `raw_tp_result`. Returns 0.
 *
 * SEC("syscall") (BPF_PROG_TYPE_SYSCALL, Linux 5.14+) is sleepable: libbpf
 * and tsbpf must load it with BPF_F_SLEEPABLE. On 6.18 it may call
 * bpf_get_current_task_btf, bpf_get_current_task, bpf_get_current_pid_tgid
 * and bpf_probe_read_kernel(_str) (the tracing helper set).
 */
#include "tsbpf_kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* What each program found, one copy per program so the paths can be compared. */
struct task_info {
	__u32 pid;            /* task->pid: the thread id */
	__u32 tgid;           /* task->tgid: the process id (process.pid) */
	__u32 ppid;           /* task->real_parent->tgid (process.ppid) */
	__u32 uid;            /* task->cred->uid.val (process.getuid()) */
	__u32 euid;           /* task->cred->euid.val (process.geteuid()) */
	__u32 state;          /* task->__state (0 = TASK_RUNNING while running) */
	__u32 is_kthread;     /* task->flags & PF_KTHREAD, as 0/1 (0 here) */
	__u32 has_mm;         /* task->mm != NULL (1 for a user process) */
	__u32 in_execve;      /* bitfield, 0 */
	__u32 in_iowait;      /* bitfield, 0 */
	__u64 pid_tgid;       /* bpf_get_current_pid_tgid(): tgid << 32 | pid */
	__u64 runs;           /* incremented on each run */
	char comm[16];        /* task->comm, NUL-terminated */
};

/* Results of relocations that need no task at all, filled by core_task_btf. */
struct core_facts {
	__u32 pid_exists;            /* bpf_core_field_exists(t->pid): 1 */
	__u32 old_state_exists;      /* task_struct___pre514.state: 0 on 5.14+ */
	__u32 new_state_exists;      /* task_struct.__state: 1 on 5.14+ */
	__u32 task_type_exists;      /* 1 */
	__u32 missing_type_exists;   /* struct tsbpf_no_such_type: 0 */
	__u32 comm_size;             /* bpf_core_field_size(t->comm): 16 */
	__u32 pid_offset;            /* bpf_core_field_offset(t->pid) (1264 on this 6.18 build) */
	__u32 task_size;             /* bpf_core_type_size(struct task_struct): 3264 here */
	__u32 task_type_id;          /* bpf_core_type_id_kernel(struct task_struct): != 0 */
	__u32 pidtype_tgid;          /* bpf_core_enum_value(enum pid_type, PIDTYPE_TGID): 1 */
	__u32 pidtype_max;           /* ... PIDTYPE_MAX: 4 on 6.18 */
	__u32 missing_enum_exists;   /* enum pid_type___tsbpf value: 0 */
};

/* The context of core_task_btf (BPF_PROG_TEST_RUN ctx_in, written back in place). */
struct core_args {
	__u32 pid;      /* out */
	__u32 tgid;     /* out */
	char comm[16];  /* out */
};

/* .bss: all zero at load, read back by user space after a run. */
struct task_info btf_result;
struct task_info probe_result;
struct task_info raw_tp_result;
struct core_facts facts;

/* .rodata: set by user space before load; 0 = record every task. */
const volatile __u32 target_tgid = 0;

/* The relocations that depend only on the kernel's types. */
static __always_inline void fill_facts(struct task_struct *t)
{
	facts.pid_exists = bpf_core_field_exists(t->pid);
	facts.old_state_exists = bpf_core_field_exists(struct task_struct___pre514, state);
	facts.new_state_exists = bpf_core_field_exists(struct task_struct, __state);
	facts.task_type_exists = bpf_core_type_exists(struct task_struct);
	facts.missing_type_exists = bpf_core_type_exists(struct tsbpf_no_such_type);
	facts.comm_size = bpf_core_field_size(t->comm);
	facts.pid_offset = bpf_core_field_offset(t->pid);
	facts.task_size = bpf_core_type_size(struct task_struct);
	facts.task_type_id = bpf_core_type_id_kernel(struct task_struct);
	facts.pidtype_tgid = bpf_core_enum_value(enum pid_type, PIDTYPE_TGID);
	facts.pidtype_max = bpf_core_enum_value(enum pid_type, PIDTYPE_MAX);
	facts.missing_enum_exists =
		bpf_core_enum_value_exists(enum pid_type___tsbpf, TSBPF_PIDTYPE_NO_SUCH_VALUE);
}

/*
 * The task's run state, whichever name this kernel gives the field: a read
 * of a field that does not exist is poisoned by the loader, so each read
 * sits behind its own bpf_core_field_exists() and only one survives.
 */
static __always_inline __u32 read_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	if (bpf_core_field_exists(struct task_struct___pre514, state))
		return BPF_CORE_READ((struct task_struct___pre514 *)t, state);
	return 0xffffffff;
}

/* Everything through bpf_probe_read_kernel: works on any task pointer. */
static __always_inline void fill_probed(struct task_info *out, struct task_struct *t)
{
	out->pid = BPF_CORE_READ(t, pid);
	out->tgid = BPF_CORE_READ(t, tgid);
	out->ppid = BPF_CORE_READ(t, real_parent, tgid);  /* a two-step chain */
	out->uid = BPF_CORE_READ(t, cred, uid.val);        /* pointer, then nested struct */
	out->euid = BPF_CORE_READ(t, cred, euid.val);
	out->state = read_state(t);
	out->is_kthread = (BPF_CORE_READ(t, flags) & PF_KTHREAD) != 0;
	out->has_mm = BPF_CORE_READ(t, mm) != NULL;
	out->in_execve = BPF_CORE_READ_BITFIELD_PROBED(t, in_execve);
	out->in_iowait = BPF_CORE_READ_BITFIELD_PROBED(t, in_iowait);
	BPF_CORE_READ_STR_INTO(&out->comm, t, comm);
	out->pid_tgid = bpf_get_current_pid_tgid();
	out->runs++;
}

SEC("syscall")
int core_task_btf(struct core_args *args)
{
	/* A trusted pointer to the current task: the verifier allows plain
	 * loads from it, each still CO-RE relocated through preserve_access_index. */
	struct task_struct *t = bpf_get_current_task_btf();
	struct task_info *out = &btf_result;

	fill_facts(t);

	out->pid = t->pid;
	out->tgid = t->tgid;
	out->ppid = t->real_parent->tgid;   /* pointer chasing without helpers */
	out->uid = t->cred->uid.val;
	out->euid = t->cred->euid.val;
	out->state = read_state(t);
	out->is_kthread = (t->flags & PF_KTHREAD) != 0;
	out->has_mm = t->mm != NULL;
	out->in_execve = BPF_CORE_READ_BITFIELD(t, in_execve);
	out->in_iowait = BPF_CORE_READ_BITFIELD(t, in_iowait);
	bpf_probe_read_kernel_str(out->comm, sizeof(out->comm), t->comm);
	out->pid_tgid = bpf_get_current_pid_tgid();
	out->runs++;

	/* The context is the user's ctx_in buffer, copied in and, after the
	 * run, copied back over ctx_in (SYSCALL programs take no ctx_out).
	 * The verifier records the highest offset touched, and the kernel
	 * refuses a run whose ctx_in is shorter with EINVAL: this program
	 * needs >= sizeof(struct core_args) = 24 bytes. */
	args->pid = out->pid;
	args->tgid = out->tgid;
	__builtin_memcpy(args->comm, out->comm, sizeof(args->comm));
	return out->tgid;
}

SEC("syscall")
int core_task_probe(void *ctx)
{
	/* bpf_get_current_task() returns a plain integer: dereferencing it is
	 * only possible through bpf_probe_read_kernel (BPF_CORE_READ). */
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();

	fill_probed(&probe_result, t);
	return probe_result.tgid;
}

SEC("raw_tp/sys_enter")
int core_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = BPF_CORE_READ(t, tgid);

	if (target_tgid && tgid != target_tgid)
		return 0;
	fill_probed(&raw_tp_result, t);
	return 0;
}
