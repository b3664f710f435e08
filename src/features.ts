// Feature probes: does the running kernel load programs of this type, create maps of
// this type, allow this helper, make links of this type? A probe answers by doing what
// the feature needs: a minimal program loaded with the attach type and, where the type
// attaches by BTF, a real target (the kernel's bpf_iter_task, bpf_fentry_test1, a
// bpf_lsm_* hook, a program's global function for freplace); a map created as a user
// would create it (an ARENA with BPF_F_MMAPABLE). What a kernel build refuses (a
// lockdown or LSM policy, a patched kernel) is then refused to the probe too, so a probe
// and a real load agree. Answers are cached for the life of the process; the loader and
// MapData.create ask them when the kernel refuses, to raise a typed NotSupported.
//
// libbpf's libbpf_probe_bpf_prog_type and (before) this file asked for tracing and LSM
// programs with attach_btf_id 1 and took the verifier's "attach_btf_id 1 is not a
// function" as a yes: that shows the kernel knows the type, not that it loads one, and
// says yes on a kernel that refuses every fentry or iterator load. cilium/ebpf loads
// against real targets (bpf_init, file_mprotect, an XDP program for freplace), but
// probes one attach type per program type and reports EPERM as inconclusive.
import { MapError, ProgramError } from './errors.js';
import { kernelSymbolAddress } from './externs.js';
import { Btf } from './obj/btf.js';
import { BPF_F_SLEEPABLE } from './obj/sections.js';
import { loadKernelBtf } from './kernel-btf.js';
import { Capability, Errno, hasCapabilities, SyscallError } from './sys/errors.js';
import { btfLoad, mapCreate, progLoad, type MapCreateAttr, type ProgLoadAttr } from './sys/bpf.js';
import { linkCreate, type LinkCreateAttr, rawTracepointOpen } from './sys/link.js';
import { kernel } from './sys/native.js';
import { AttachType, LinkType, MapType, ProgramType } from './sys/abi/enums.js';
import { attachTypeName, mapTypeName, programTypeName } from './sys/names.js';

const BPF_F_NO_PREALLOC = 1 << 0;
const BPF_F_MMAPABLE = 1 << 10;
const BPF_F_LINK = 1 << 13;
/** An fd number no process has open: a link probe's target that the kernel must look up and fail. */
const NO_FD = 0x7fffffff;
const NO_IFINDEX = 0x7fffffff;

/**
 * A probe whose answers are kept. A failure that answers nothing (EPERM without the
 * capabilities, ENOMEM, EINTR, ...) is not kept: it is thrown as the typed error of the
 * probe's kind, the kernel's SyscallError as its cause.
 */
function cached<K>(probe: (key: K) => boolean, what: 'map' | 'program' | 'link' | 'helper'): ((key: K) => boolean) & {
  /** Forgets the remembered answers (clearFeatureCache). */
  clear(): void;
} {
  const results = new Map<K, boolean>();
  return Object.assign(
    (key: K) => {
      let r = results.get(key);
      if (r === undefined) {
        try {
          r = probe(key);
        } catch (err) {
          const context = `probing ${what} feature ${String(key)}`;
          throw what === 'map' ? MapError.fromSyscall(err, 'SyscallError', context) : ProgramError.fromSyscall(err, context);
        }
        results.set(key, r);
      }
      return r;
    },
    { clear: () => results.clear() },
  );
}

// ---- what an error means ----------------------------------------------------------

/**
 * Errors that mean "this kernel does not do that": EINVAL and E2BIG (an unknown type or
 * attribute), EOPNOTSUPP/ENOTSUPP, and EPERM when the process holds every capability
 * the kernel checks for the request (`caps`): then no privilege is missing, the kernel
 * refuses the feature itself (a lockdown or LSM policy, a patched build). EPERM without
 * them says nothing about the kernel ("you may not"): not a refusal, and the probe throws.
 */
export function isRefusal(errno: number, caps: readonly number[]): boolean {
  if (errno === Errno.EPERM) return hasCapabilities(caps);
  return errno === Errno.EINVAL || errno === Errno.E2BIG || errno === Errno.ENOTSUPP || errno === Errno.EOPNOTSUPP;
}

const NET_ADMIN_PROGRAMS: ReadonlySet<number> = new Set([
  ProgramType.SchedCls, ProgramType.SchedAct, ProgramType.Xdp, ProgramType.LwtIn, ProgramType.LwtOut, ProgramType.LwtXmit,
  ProgramType.LwtSeg6local, ProgramType.SkSkb, ProgramType.SkMsg, ProgramType.LircMode2, ProgramType.FlowDissector,
  ProgramType.CgroupDevice, ProgramType.CgroupSock, ProgramType.CgroupSockAddr, ProgramType.CgroupSockopt,
  ProgramType.CgroupSysctl, ProgramType.SockOps, ProgramType.Ext, ProgramType.Netfilter,
]);
const PERFMON_PROGRAMS: ReadonlySet<number> = new Set([
  ProgramType.Kprobe, ProgramType.Tracepoint, ProgramType.PerfEvent, ProgramType.RawTracepoint, ProgramType.RawTracepointWritable,
  ProgramType.Tracing, ProgramType.Lsm, ProgramType.StructOps, ProgramType.Ext,
]);
const NET_ADMIN_MAPS: ReadonlySet<number> = new Set([MapType.Sockmap, MapType.Sockhash, MapType.Devmap, MapType.DevmapHash, MapType.Xskmap]);

/** The capabilities BPF_PROG_LOAD checks for `type` (kernel/bpf/syscall.c; LIRC and EXT wanted CAP_SYS_ADMIN on some kernels). */
export function programCapabilities(type: number): number[] {
  const caps: number[] = [Capability.BPF];
  if (NET_ADMIN_PROGRAMS.has(type)) caps.push(Capability.NET_ADMIN);
  if (PERFMON_PROGRAMS.has(type)) caps.push(Capability.PERFMON);
  if (type === ProgramType.LircMode2 || type === ProgramType.Ext) caps.push(Capability.SYS_ADMIN);
  return caps;
}

/** The capabilities BPF_MAP_CREATE checks for `type`. */
export function mapCapabilities(type: number): number[] {
  return NET_ADMIN_MAPS.has(type) ? [Capability.BPF, Capability.NET_ADMIN] : [Capability.BPF];
}

/** Runs `make`, which returns an fd, and closes it: true if made, false if refused; other errors are thrown. */
function made(make: () => number, caps: readonly number[], found: readonly number[] = []): boolean {
  try {
    kernel.close(make());
    return true;
  } catch (err) {
    if (!(err instanceof SyscallError)) throw err;
    if (found.includes(err.errno)) return true;
    if (isRefusal(err.errno, caps)) return false;
    throw err;
  }
}

// ---- program types ----------------------------------------------------------------

const P = ProgramType;
const A = AttachType;

/** What a probe load of a program type sets beyond its type and `r0 = <returns>; exit`. */
interface ProgramRow {
  /** expected_attach_type when the caller names none (checked at load for these types). */
  attachType?: number;
  progFlags?: number;
  /** r0 at exit: a value every hook of the type accepts (sock_addr recvmsg/getpeername take only 1). */
  returns?: number;
  /** A target the load cannot do without (struct_ops, freplace). */
  target?: () => Target | undefined;
}

/** Load attributes naming a target, and what to close once the probe is done. */
interface Target {
  attr: Partial<ProgLoadAttr>;
  close(): void;
}

/** Kernel functions (BTF kind, names tried in order) that BTF-attached programs are loaded against, by attach type. */
const kernelTargets: Partial<Record<number, { kind: 'func' | 'typedef'; names: readonly string[] }>> = {
  [A.TraceFentry]: { kind: 'func', names: ['bpf_fentry_test1'] },
  [A.TraceFexit]: { kind: 'func', names: ['bpf_fentry_test1'] },
  // Error-injectable, as fmod_ret requires (net/bpf/test_run.c).
  [A.ModifyReturn]: { kind: 'func', names: ['bpf_modify_return_test'] },
  [A.TraceRawTp]: { kind: 'typedef', names: ['btf_trace_sys_enter', 'btf_trace_sched_switch'] },
  [A.TraceIter]: { kind: 'func', names: ['bpf_iter_task'] },
  [A.LsmMac]: { kind: 'func', names: ['bpf_lsm_file_open', 'bpf_lsm_bpf'] },
  [A.LsmCgroup]: { kind: 'func', names: ['bpf_lsm_socket_bind', 'bpf_lsm_socket_post_create'] },
};

const programRows: Partial<Record<number, ProgramRow>> = {
  [P.CgroupSockAddr]: { attachType: A.CgroupInet4Connect, returns: 1 },
  [P.CgroupSockopt]: { attachType: A.CgroupGetsockopt },
  [P.SkLookup]: { attachType: A.SkLookup },
  [P.LircMode2]: { attachType: A.LircMode2 },
  [P.Netfilter]: { attachType: A.Netfilter },
  [P.Syscall]: { progFlags: BPF_F_SLEEPABLE },
  [P.Tracing]: { attachType: A.TraceFentry },
  [P.Lsm]: { attachType: A.LsmMac },
  [P.StructOps]: { target: structOpsTarget },
  [P.Ext]: { target: extensionTarget },
};

/** `r0 = imm; exit`. */
function exitWith(imm: number): Uint8Array {
  const insns = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
  new DataView(insns.buffer).setInt32(4, imm, true);
  return insns;
}

/** vmlinux BTF, or undefined on a kernel without it (where nothing attaches by BTF). */
function vmlinux(): Btf | undefined {
  try {
    return loadKernelBtf();
  } catch {
    return undefined;
  }
}

/** The attach_btf_id of the named (or the first available) kernel target, or undefined. */
function kernelTarget(attachType: number, attachTo: string | undefined): Target | undefined {
  const row = kernelTargets[attachType];
  const btf = row && vmlinux();
  if (!row || !btf) return undefined;
  for (const name of attachTo !== undefined ? [attachTo] : row.names) {
    const t = btf.byName(name, row.kind)[0];
    if (t) return { attr: { attachBtfId: t.id }, close() {} };
  }
  return undefined;
}

/** A struct_ops program implements a member of a kernel struct: tcp_congestion_ops.ssthresh. */
function structOpsTarget(): Target | undefined {
  const btf = vmlinux();
  const struct = btf?.byName('tcp_congestion_ops', 'struct')[0];
  if (!btf || !struct || !btf.byName('bpf_struct_ops_tcp_congestion_ops', 'struct')[0]) return undefined;
  const member = struct.members.findIndex((m) => m.name === 'ssthresh');
  return member < 0 ? undefined : { attr: { attachBtfId: struct.id, expectedAttachType: member }, close() {} };
}

/**
 * freplace replaces a global function of a loaded program: a socket filter whose only
 * function is `int tsbpf_probe(struct __sk_buff *ctx)` in its BTF, and the probe
 * program with the same BTF (the kernel compares the two prototypes). The context
 * argument matters: a main function whose BTF does not take the program type's context
 * is "unreliable", and the kernel refuses to replace it ("Cannot replace static functions").
 */
function extensionTarget(): Target | undefined {
  const btf = Btf.fromTypes([
    { id: 0, kind: 'void' },
    { id: 1, kind: 'int', name: 'int', size: 4, encoding: 1, bitOffset: 0, bits: 32 },
    { id: 2, kind: 'struct', name: '__sk_buff', size: 0, members: [] },
    { id: 3, kind: 'ptr', type: 2 },
    { id: 4, kind: 'func_proto', returnType: 1, params: [{ name: 'ctx', type: 3 }] },
    { id: 5, kind: 'func', name: 'tsbpf_probe', type: 4, linkage: 1 /* BTF_FUNC_GLOBAL */ },
  ]);
  const funcInfo = new Uint8Array(new Uint32Array([0, 5]).buffer); // insn 0 is function 5
  const btfFd = btfLoad(btf.marshal());
  let target: number;
  try {
    target = progLoad({ progType: P.SocketFilter, insns: exitWith(0), license: 'GPL', progBtfFd: btfFd, funcInfo });
  } catch (err) {
    kernel.close(btfFd);
    throw err;
  }
  return {
    attr: { progBtfFd: btfFd, funcInfo, attachProgFd: target, attachBtfId: 5 },
    close() {
      kernel.close(target);
      kernel.close(btfFd);
    },
  };
}

/** The target a probe of (type, attachType) loads against; null when it needs one and this kernel has none. */
function probeTarget(type: number, attachType: number | undefined, attachTo: string | undefined): Target | undefined | null {
  const row = programRows[type];
  if (row?.target) return row.target() ?? null;
  if ((type === P.Tracing || type === P.Lsm) && attachType !== undefined && kernelTargets[attachType]) return kernelTarget(attachType, attachTo) ?? null;
  return undefined;
}

/** BPF_PROG_LOAD of `insns` as a program of the type, with what it needs: returns the fd (the caller closes it). */
function probeLoad(type: number, attachType: number | undefined, attachTo: string | undefined, insns: Uint8Array, logBuf?: Uint8Array): number | null {
  const row = programRows[type] ?? {};
  const expectedAttachType = attachType ?? row.attachType;
  const target = probeTarget(type, expectedAttachType, attachTo);
  if (target === null) return null;
  try {
    return progLoad({ progType: type, insns, license: 'GPL', expectedAttachType, progFlags: row.progFlags, logBuf, ...target?.attr });
  } finally {
    target?.close();
  }
}

const programProbe = cached((key: string): boolean => {
  const [type, attachType, attachTo] = JSON.parse(key) as [number, number | null, string | null];
  const returns = programRows[type]?.returns ?? 0;
  let fd: number | null = null;
  try {
    fd = probeLoad(type, attachType ?? undefined, attachTo ?? undefined, exitWith(returns));
  } catch (err) {
    if (err instanceof SyscallError && isRefusal(err.errno, programCapabilities(type))) return false;
    throw err;
  }
  if (fd === null) return false;
  kernel.close(fd);
  return true;
}, 'program');

/**
 * True when this kernel loads programs of `type` (BPF_PROG_TYPE_*), with
 * `expectedAttachType` when given (tracing programs differ by it), against the kernel
 * function `attachTo` when given (its vmlinux BTF name: 'bpf_iter_bpf_map_elem',
 * 'bpf_lsm_file_open', 'btf_trace_sys_enter'; default: one every kernel with the
 * attach type has; false where vmlinux BTF has no such function). The answer is that of a real load of a minimal program: a type the
 * kernel knows but refuses to load (EPERM with the capabilities present) is unsupported,
 * since nothing of that type can run. Throws ProgramError 'SyscallError' (the kernel's
 * error as cause) when the answer says nothing about the kernel (EPERM without the
 * capabilities the type needs, ENOMEM, ...). Cached.
 *
 * Without an attach type: CGROUP_SOCK_ADDR probes BPF_CGROUP_INET4_CONNECT,
 * CGROUP_SOCKOPT BPF_CGROUP_GETSOCKOPT, TRACING BPF_TRACE_FENTRY, LSM BPF_LSM_MAC;
 * STRUCT_OPS a tcp_congestion_ops member, EXT a global function of a socket filter.
 */
export function isProgramTypeSupported(type: number, expectedAttachType?: number, attachTo?: string): boolean {
  return programProbe(JSON.stringify([type, expectedAttachType ?? null, attachTo ?? null]));
}

/** 'BPF_PROG_TYPE_TRACING (BPF_TRACE_FENTRY)': a program type with its attach type, as errors name the feature. */
export function programFeatureName(type: number, expectedAttachType?: number): string {
  return programTypeName(type) + (expectedAttachType !== undefined ? ` (${attachTypeName(expectedAttachType)})` : '');
}

/**
 * For a load the kernel refused: the feature it lacks or refuses, named as
 * ProgramError.feature names it, when the probe confirms; undefined when a minimal
 * program of the kind loads (then the program itself is at fault). The target is
 * named only when the kernel loads the kind against other targets.
 */
export function refusedProgramFeature(type: number, expectedAttachType: number | undefined, attachTo?: string): string | undefined {
  try {
    const kind = programFeatureName(type, expectedAttachType);
    if (!isProgramTypeSupported(type, expectedAttachType)) return kind;
    if (attachTo !== undefined && !isProgramTypeSupported(type, expectedAttachType, attachTo)) return `${kind} ${attachTo}`;
  } catch {
    // The probe could not tell (no privilege): the load's own error stands.
  }
  return undefined;
}

// ---- map types --------------------------------------------------------------------

/** BPF_MAP_CREATE attributes that differ from 4-byte keys and values, one entry. */
interface MapRow {
  attr?: Partial<MapCreateAttr>;
  /** Needs BTF for key and value (local storage): a BTF object holding `int` (type 1). */
  btf?: true;
  /** Map-in-map: an inner map template. */
  inner?: true;
  /** struct_ops: the value is a kernel struct_ops type. */
  structOps?: true;
}

const page = 4096;
const mapRows: Partial<Record<number, MapRow>> = {
  [MapType.LpmTrie]: { attr: { keySize: 8, valueSize: 8, mapFlags: BPF_F_NO_PREALLOC } },
  [MapType.StackTrace]: { attr: { valueSize: 8 } },
  [MapType.Queue]: { attr: { keySize: 0 } },
  [MapType.Stack]: { attr: { keySize: 0 } },
  [MapType.BloomFilter]: { attr: { keySize: 0 } },
  // struct bpf_cgroup_storage_key
  [MapType.CgroupStorage]: { attr: { keySize: 16, maxEntries: 0 } },
  [MapType.PercpuCgroupStorage]: { attr: { keySize: 16, maxEntries: 0 } },
  [MapType.Ringbuf]: { attr: { keySize: 0, valueSize: 0, maxEntries: page } },
  [MapType.UserRingbuf]: { attr: { keySize: 0, valueSize: 0, maxEntries: page } },
  // One page, mappable anywhere: what an arena of a real program asks for.
  [MapType.Arena]: { attr: { keySize: 0, valueSize: 0, maxEntries: 1, mapFlags: BPF_F_MMAPABLE } },
  [MapType.SkStorage]: { attr: { maxEntries: 0, mapFlags: BPF_F_NO_PREALLOC }, btf: true },
  [MapType.InodeStorage]: { attr: { maxEntries: 0, mapFlags: BPF_F_NO_PREALLOC }, btf: true },
  [MapType.TaskStorage]: { attr: { maxEntries: 0, mapFlags: BPF_F_NO_PREALLOC }, btf: true },
  [MapType.CgrpStorage]: { attr: { maxEntries: 0, mapFlags: BPF_F_NO_PREALLOC }, btf: true },
  [MapType.ArrayOfMaps]: { inner: true },
  [MapType.HashOfMaps]: { inner: true },
  [MapType.StructOps]: { structOps: true },
};

/** A BTF object holding `int` (type 1), for maps that need BTF ids. */
function intBtf(): number {
  const btf = Btf.fromTypes([
    { id: 0, kind: 'void' },
    { id: 1, kind: 'int', name: 'int', size: 4, encoding: 1, bitOffset: 0, bits: 32 },
  ]);
  return btfLoad(btf.marshal());
}

/** BPF_MAP_CREATE of a map of the type, with the BTF or inner template it needs (closed in any case). */
function mapProbe(type: number, row: MapRow): boolean {
  const caps = mapCapabilities(type);
  const attr: MapCreateAttr = { mapType: type, keySize: 4, valueSize: 4, maxEntries: 1, ...row.attr };
  const fds: number[] = [];
  try {
    if (row.btf || row.structOps) {
      fds.push(intBtf());
      attr.btfFd = fds[0];
    }
    if (row.btf) Object.assign(attr, { btfKeyTypeId: 1, btfValueTypeId: 1 });
    if (row.structOps) {
      // The kernel's value type of a struct it can register: tcp_congestion_ops.
      const value = vmlinux()?.byName('bpf_struct_ops_tcp_congestion_ops', 'struct')[0];
      if (!value) return false;
      Object.assign(attr, { valueSize: value.size, btfVmlinuxValueTypeId: value.id });
    }
    if (row.inner) {
      fds.push(mapCreate({ mapType: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 1 }));
      attr.innerMapFd = fds.at(-1);
    }
    return made(() => mapCreate(attr), caps);
  } catch (err) {
    // BTF or the inner map refused: the kernel cannot have this map type either.
    if (err instanceof SyscallError && isRefusal(err.errno, caps)) return false;
    throw err;
  } finally {
    for (const fd of fds) kernel.close(fd);
  }
}

/**
 * True when this kernel creates maps of `type` (BPF_MAP_TYPE_*), answered by a real
 * BPF_MAP_CREATE: local storage with BTF, struct_ops with the kernel's
 * tcp_congestion_ops value, ARENA with BPF_F_MMAPABLE. EPERM with CAP_BPF (and
 * CAP_NET_ADMIN for socket and device maps) is the kernel refusing the type: false.
 * Throws MapError 'SyscallError' when the answer says nothing about the kernel (EPERM
 * without them, ENOMEM, ...). Cached.
 */
export const isMapTypeSupported = cached((type: number): boolean => {
  if (type === MapType.Unspec) return false;
  return mapProbe(type, mapRows[type] ?? {});
}, 'map');

/** For a create the kernel refused: the map type's name when the probe finds the kernel without it (or refusing it). */
export function refusedMapFeature(type: number): string | undefined {
  try {
    if (!isMapTypeSupported(type)) return mapTypeName(type);
  } catch {
    // The probe could not tell (no privilege): the create's own error stands.
  }
  return undefined;
}

// ---- helpers ----------------------------------------------------------------------

const helperProbe = cached((key: string): boolean => {
  const [progType, helperId] = key.split(':').map(Number) as [number, number];
  if (!isProgramTypeSupported(progType)) return false;
  const insns = new Uint8Array(16);
  insns[0] = 0x85; // call helperId
  new DataView(insns.buffer).setInt32(4, helperId, true);
  insns[8] = 0x95; // exit
  const log = new Uint8Array(4096);
  try {
    const fd = probeLoad(progType, undefined, undefined, insns, log);
    if (fd === null) return false;
    kernel.close(fd);
    return true;
  } catch (err) {
    if (!(err instanceof SyscallError)) throw err;
    if (/invalid func |unknown func |program of this type cannot use helper/.test(new TextDecoder().decode(log))) return false;
    // The verifier complained about something else (the arguments the probe did not set up).
    if (err.errno === Errno.EACCES || err.errno === Errno.EINVAL) return true;
    throw err; // ENOMEM, EINTR, ...: no answer
  }
}, 'helper');

/**
 * True when programs of `progType` may call helper `helperId` (BPF_FUNC_*): the
 * verifier names an unknown or forbidden helper in its log; any other complaint
 * (about the arguments the probe did not set up) means the call itself is allowed.
 * The program is loaded as isProgramTypeSupported(progType) loads it.
 */
export function isHelperSupported(progType: number, helperId: number): boolean {
  return helperProbe(`${progType}:${helperId}`);
}

// ---- link types -------------------------------------------------------------------

/**
 * How a link type is probed: the program it carries, and an attach that either makes a
 * real link (closed at once) or fails where only the link type's own code fails
 * (`found`: looking up a target that cannot exist), while a kernel without the link type
 * refuses the attach type (EINVAL).
 */
interface LinkRow {
  program: [type: number, attachType?: number];
  attach: (progFd: number) => number;
  found?: readonly number[];
}

const link = (attachType: number, target: number, extra?: LinkCreateAttr['extra'], flags?: number) => (progFd: number) =>
  linkCreate({ progFd, target, attachType, extra, flags });
const XDP_FLAGS_HW_MODE = 1 << 3;

const linkRows: Partial<Record<number, LinkRow>> = {
  [LinkType.RawTracepoint]: { program: [P.RawTracepoint], attach: (fd) => rawTracepointOpen(fd, 'tsbpf_no_such_tracepoint'), found: [Errno.ENOENT] },
  // A real fentry attach to bpf_fentry_test1 (called only by test runs), detached at once.
  [LinkType.Tracing]: { program: [P.Tracing, A.TraceFentry], attach: link(A.TraceFentry, 0) },
  [LinkType.Cgroup]: { program: [P.CgroupSkb], attach: link(A.CgroupInetIngress, NO_FD), found: [Errno.EBADF] },
  // A real task iterator link: it runs only when read.
  [LinkType.Iter]: { program: [P.Tracing, A.TraceIter], attach: link(A.TraceIter, 0) },
  [LinkType.Netns]: { program: [P.SkLookup, A.SkLookup], attach: link(A.SkLookup, NO_FD), found: [Errno.EBADF] },
  // lo has no offload: a kernel with XDP links reaches the driver check (EOPNOTSUPP for
  // hardware mode) without attaching anything.
  [LinkType.Xdp]: { program: [P.Xdp], attach: link(A.Xdp, 1, undefined, XDP_FLAGS_HW_MODE), found: [Errno.EOPNOTSUPP] },
  [LinkType.PerfEvent]: { program: [P.Tracepoint], attach: link(A.PerfEvent, NO_FD), found: [Errno.EBADF] },
  // A real kprobe_multi link on bpf_fentry_test1 (called only by test runs), detached at
  // once: a bad address is EINVAL on kernels with fprobe and without alike. No address
  // in kallsyms (restricted): the library cannot attach by name either.
  [LinkType.KprobeMulti]: {
    program: [P.Kprobe, A.TraceKprobeMulti],
    attach: (progFd) => {
      const addr = kernelSymbolAddress('bpf_fentry_test1');
      if (addr === undefined) throw new SyscallError('bpf_link_create', Errno.EINVAL, 'no address of bpf_fentry_test1 in /proc/kallsyms');
      return linkCreate({ progFd, target: 0, attachType: A.TraceKprobeMulti, extra: { kind: 'kprobeMulti', addrs: new BigUint64Array([addr]), flags: 0 } });
    },
  },
  // An unknown netfilter flag: checked by the netfilter link code only (EOPNOTSUPP).
  [LinkType.Netfilter]: {
    program: [P.Netfilter, A.Netfilter],
    attach: link(A.Netfilter, 0, { kind: 'netfilter', pf: 2, hooknum: 3, priority: 1, flags: 0x80000000 }),
    found: [Errno.EOPNOTSUPP],
  },
  [LinkType.Tcx]: { program: [P.SchedCls], attach: link(A.TcxIngress, NO_IFINDEX), found: [Errno.ENXIO, Errno.ENODEV] },
  // "/" is not a regular file: a kernel with uprobe_multi gets as far as checking the path.
  [LinkType.UprobeMulti]: {
    program: [P.Kprobe, A.TraceUprobeMulti],
    attach: link(A.TraceUprobeMulti, 0, { kind: 'uprobeMulti', path: '/', offsets: new BigUint64Array([0n]), flags: 0, pid: 0 }),
    found: [Errno.EBADF, Errno.EISDIR, Errno.ENOENT],
  },
  [LinkType.Netkit]: { program: [P.SchedCls], attach: link(A.NetkitPrimary, NO_IFINDEX), found: [Errno.ENXIO, Errno.ENODEV] },
  [LinkType.Sockmap]: { program: [P.SkMsg, A.SkMsgVerdict], attach: link(A.SkMsgVerdict, NO_FD), found: [Errno.EBADF] },
};


function linkProbe(row: LinkRow): boolean {
  const [type, attachType] = row.program;
  if (!isProgramTypeSupported(type, attachType)) return false;
  const prog = probeLoad(type, attachType, undefined, exitWith(programRows[type]?.returns ?? 0));
  if (prog === null) return false;
  try {
    return made(() => row.attach(prog), programCapabilities(type), row.found);
  } finally {
    kernel.close(prog);
  }
}

/**
 * struct_ops links register a struct (a TCP congestion control, ...) kernel-wide: not
 * something a probe may do. Kernels with them (6.4+) create struct_ops maps with
 * BPF_F_LINK, which older ones refuse (EINVAL); the enum value BPF_LINK_TYPE_STRUCT_OPS
 * is older than that and says nothing.
 */
function structOpsLinks(): boolean {
  return isProgramTypeSupported(P.StructOps) && mapProbe(MapType.StructOps, { ...mapRows[MapType.StructOps], attr: { mapFlags: BPF_F_LINK } });
}

/**
 * True when this kernel makes BPF links of `type` (LinkType / BPF_LINK_TYPE_*): an
 * attach through the link type's own code, with the program it carries loaded as
 * isProgramTypeSupported loads it (so a kernel that refuses the program refuses the
 * link). Iterator and tracing links are made for real and closed. Cached.
 */
export const isLinkTypeSupported = cached((type: number): boolean => {
  if (type === LinkType.StructOps) return structOpsLinks();
  const row = linkRows[type];
  return row ? linkProbe(row) : false;
}, 'link');

/** Forgets every cached answer (tests; a process that changed its privileges). */
export function clearFeatureCache(): void {
  programProbe.clear();
  isMapTypeSupported.clear();
  helperProbe.clear();
  isLinkTypeSupported.clear();
}
