// Feature probes: does the running kernel have this program type, map type, helper,
// link type? Each probe asks the kernel with the smallest request that can only
// succeed (or fail in a telling way) where the feature exists, as libbpf's
// libbpf_probe_* and cilium/ebpf's features package do, and is cached for the life of
// the process. Attach code chooses between mechanisms with these, never by version.
import { Btf, loadKernelBtf } from './obj/btf.js';
import { Errno, hasBpfCapability, SyscallError } from './sys/errors.js';
import { btfLoad, mapCreate, progLoad } from './sys/bpf.js';
import { clearQueryFields, linkCreate, type LinkCreateAttr, rawTracepointOpen } from './sys/link.js';
import { kernel } from './sys/native.js';
import { MapType } from './maps/map-type.js';
import { AttachType, ProgramType } from './programs/program-type.js';
import { LinkType } from './programs/link.js';

const ENOTSUPP = 524;
const EXIT_0 = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]); // r0 = 0; exit

function cached<K>(probe: (key: K) => boolean): ((key: K) => boolean) & { clear(): void } {
  const results = new Map<K, boolean>();
  return Object.assign(
    (key: K) => {
      let r = results.get(key);
      if (r === undefined) {
        r = probe(key);
        results.set(key, r);
      }
      return r;
    },
    { clear: () => results.clear() },
  );
}

/** Runs `fn`, which makes an fd, and closes the fd: true if it was made. */
function succeeds(fn: () => number): boolean {
  try {
    kernel.close(fn());
    return true;
  } catch (err) {
    if (err instanceof SyscallError && isRefusal(err.errno)) return false;
    throw err;
  }
}

/** Errors that mean "this kernel does not do that" rather than "you may not". */
function isRefusal(errno: number): boolean {
  return errno === Errno.EINVAL || errno === Errno.E2BIG || errno === ENOTSUPP || errno === Errno.EOPNOTSUPP || errno === Errno.EPERM && hasCaps();
}

let caps: boolean | undefined;
function hasCaps(): boolean {
  // EPERM with CAP_BPF/CAP_SYS_ADMIN is the kernel refusing the type (a lockdown or LSM
  // policy); without them it says nothing about the kernel, so the probe throws.
  return (caps ??= hasBpfCapability());
}

interface ProgProbe {
  expectedAttachType?: number;
  attachBtfId?: number;
  progFlags?: number;
  /** The load must fail with this errno for the type to count as present. */
  expectErrno?: number;
  /** ...and the verifier log must contain this. */
  expectLog?: string;
}

// Types that need more than the bare minimum to get past the kernel's first checks.
// Tracing and LSM cannot load without a real target: like libbpf, ask for an invalid
// one and look for the verifier's complaint about it, which only a kernel that knows
// the type makes.
const progProbes: Partial<Record<number, ProgProbe>> = {
  [ProgramType.CgroupSockAddr]: { expectedAttachType: AttachType.CgroupInet4Connect },
  [ProgramType.CgroupSockopt]: { expectedAttachType: AttachType.CgroupGetsockopt },
  [ProgramType.SkLookup]: { expectedAttachType: AttachType.SkLookup },
  [ProgramType.LircMode2]: { expectedAttachType: AttachType.LircMode2 },
  [ProgramType.Netfilter]: { expectedAttachType: AttachType.Netfilter },
  [ProgramType.Syscall]: { progFlags: 1 << 4 /* BPF_F_SLEEPABLE */ },
  [ProgramType.Tracing]: { expectedAttachType: AttachType.TraceFentry, attachBtfId: 1, expectErrno: Errno.EINVAL, expectLog: 'attach_btf_id 1 is not a function' },
  [ProgramType.Lsm]: { expectedAttachType: AttachType.LsmMac, attachBtfId: 1, expectErrno: Errno.EINVAL, expectLog: 'attach_btf_id 1 is not a function' },
  [ProgramType.Ext]: { expectErrno: Errno.EINVAL, expectLog: 'Cannot replace kernel functions' },
  [ProgramType.StructOps]: { expectErrno: ENOTSUPP },
};

const programProbe = cached((key: string): boolean => {
  const [type, attachType] = key.split(':').map((v) => (v === '' ? undefined : Number(v))) as [number, number | undefined];
  const p = progProbes[type] ?? {};
  const expectedAttachType = attachType ?? p.expectedAttachType;
  const log = p.expectLog ? new Uint8Array(4096) : undefined;
  try {
    kernel.close(progLoad({ progType: type, insns: EXIT_0, license: 'GPL', expectedAttachType, attachBtfId: p.attachBtfId, progFlags: p.progFlags, logBuf: log }));
    return p.expectErrno === undefined;
  } catch (err) {
    if (!(err instanceof SyscallError)) throw err;
    if (p.expectErrno !== undefined && err.errno === p.expectErrno) {
      return !p.expectLog || new TextDecoder().decode(log).includes(p.expectLog);
    }
    if (isRefusal(err.errno)) return false;
    throw err;
  }
});

/**
 * True when this kernel loads programs of `type` (BPF_PROG_TYPE_*), for
 * `expectedAttachType` when given (tracing programs differ by it: this kernel loads
 * iterators but refuses fentry). A type the kernel knows but refuses to load (EPERM
 * with the capabilities present, as fentry/fexit/lsm here) counts as unsupported:
 * nothing of that type can run.
 */
export function isProgramTypeSupported(type: number, expectedAttachType?: number): boolean {
  return programProbe(`${type}:${expectedAttachType ?? ''}`);
}

/** key/value sizes and flags that each map type accepts (the default is 4/4, one entry). */
function mapProbeAttr(type: number): Parameters<typeof mapCreate>[0] | undefined {
  const page = 4096;
  const base = { mapType: type, keySize: 4, valueSize: 4, maxEntries: 1 };
  const BPF_F_NO_PREALLOC = 1;
  switch (type) {
    case MapType.Unspec:
      return undefined;
    case MapType.LpmTrie:
      return { ...base, keySize: 8, valueSize: 8, mapFlags: BPF_F_NO_PREALLOC };
    case MapType.StackTrace:
      return { ...base, valueSize: 8 };
    case MapType.Queue:
    case MapType.Stack:
      return { ...base, keySize: 0 };
    case MapType.BloomFilter:
      return { ...base, keySize: 0 };
    case MapType.CgroupStorage:
    case MapType.PercpuCgroupStorage:
      return { ...base, keySize: 16, maxEntries: 0 }; // struct bpf_cgroup_storage_key
    case MapType.Ringbuf:
    case MapType.UserRingbuf:
      return { ...base, keySize: 0, valueSize: 0, maxEntries: page };
    case MapType.Arena:
      return { ...base, keySize: 0, valueSize: 0, maxEntries: 1, mapFlags: 1 << 10 /* BPF_F_MMAPABLE */ };
    case MapType.SkStorage:
    case MapType.InodeStorage:
    case MapType.TaskStorage:
    case MapType.CgrpStorage:
      // Local storage needs BTF for its key and value: added by the caller.
      return { ...base, maxEntries: 0, mapFlags: BPF_F_NO_PREALLOC };
    case MapType.StructOps:
      return { ...base, btfVmlinuxValueTypeId: 1 };
    default:
      return base;
  }
}

/** A BTF object holding `int` (type 1), for probes that need BTF ids. */
function intBtf(): number {
  const btf = Btf.fromTypes([
    { id: 0, kind: 'void' },
    { id: 1, kind: 'int', name: 'int', size: 4, encoding: 1, bitOffset: 0, bits: 32 },
  ]);
  return btfLoad(btf.marshal());
}

/** True when this kernel creates maps of `type` (BPF_MAP_TYPE_*). */
export const isMapTypeSupported = cached((type: number): boolean => {
  const attr = mapProbeAttr(type);
  if (!attr) return false;
  if (type === MapType.ArrayOfMaps || type === MapType.HashOfMaps) {
    const inner = mapCreate({ mapType: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 1 });
    try {
      return succeeds(() => mapCreate({ ...attr, innerMapFd: inner }));
    } finally {
      kernel.close(inner);
    }
  }
  if (type === MapType.StructOps) {
    // Only a kernel with struct_ops maps looks the (bogus) vmlinux value type up: ENOTSUPP.
    try {
      kernel.close(mapCreate(attr));
      return true;
    } catch (err) {
      if (err instanceof SyscallError && err.errno === ENOTSUPP) return true;
      if (err instanceof SyscallError && isRefusal(err.errno)) return false;
      throw err;
    }
  }
  if (attr.mapFlags === 1 && attr.maxEntries === 0 && type !== MapType.LpmTrie) {
    let btf: number;
    try {
      btf = intBtf();
    } catch (err) {
      if (err instanceof SyscallError && isRefusal(err.errno)) return false;
      throw err;
    }
    try {
      return succeeds(() => mapCreate({ ...attr, btfFd: btf, btfKeyTypeId: 1, btfValueTypeId: 1 }));
    } finally {
      kernel.close(btf);
    }
  }
  return succeeds(() => mapCreate(attr));
});

const helperProbe = cached((key: string): boolean => {
  const [progType, helperId] = key.split(':').map(Number) as [number, number];
  if (!isProgramTypeSupported(progType)) return false;
  const insns = new Uint8Array(16);
  insns[0] = 0x85; // call helperId
  new DataView(insns.buffer).setInt32(4, helperId, true);
  insns[8] = 0x95; // exit
  const p = progProbes[progType] ?? {};
  const log = new Uint8Array(4096);
  try {
    kernel.close(progLoad({ progType, insns, license: 'GPL', expectedAttachType: p.expectedAttachType, progFlags: p.progFlags, logBuf: log }));
    return true;
  } catch (err) {
    if (!(err instanceof SyscallError)) throw err;
    return !/invalid func |unknown func |program of this type cannot use helper/.test(new TextDecoder().decode(log));
  }
});

/**
 * True when programs of `progType` may call helper `helperId` (BPF_FUNC_*): the
 * verifier names an unknown or forbidden helper in its log; any other complaint
 * (about the arguments the probe did not set up) means the call itself is allowed.
 */
export function isHelperSupported(progType: number, helperId: number): boolean {
  return helperProbe(`${progType}:${helperId}`);
}

/** Loads a minimal program for a link probe; undefined when the program type is missing. */
function probeProgram(progType: number, expectedAttachType?: number): number | undefined {
  if (!isProgramTypeSupported(progType, expectedAttachType)) return undefined;
  return progLoad({ progType, insns: EXIT_0, license: 'GPL', expectedAttachType });
}

/**
 * A link probe: LINK_CREATE (or another attach call) against a target that cannot
 * exist. A kernel with the link type gets as far as looking the target up and fails
 * with `found`; one without it refuses the attach type with EINVAL.
 */
function linkProbe(progType: number, expectedAttachType: number | undefined, attr: Omit<LinkCreateAttr, 'progFd'>, found: number[]): boolean {
  const prog = probeProgram(progType, expectedAttachType);
  if (prog === undefined) return false;
  try {
    kernel.close(linkCreate({ progFd: prog, ...attr }));
    return true;
  } catch (err) {
    if (err instanceof SyscallError && found.includes(err.errno)) return true;
    if (err instanceof SyscallError && isRefusal(err.errno)) return false;
    throw err;
  } finally {
    kernel.close(prog);
  }
}

const NO_IFINDEX = 0x7fffffff;

/**
 * Link types no request can probe without attaching something: the kernel's own list
 * (enum bpf_link_type in vmlinux BTF), provided the programs such links carry load.
 */
const linkPrograms: Partial<Record<number, [number, number?]>> = {
  [LinkType.Tracing]: [ProgramType.Tracing, AttachType.TraceFentry],
  [LinkType.Iter]: [ProgramType.Tracing, AttachType.TraceIter],
  [LinkType.Netns]: [ProgramType.SkLookup, AttachType.SkLookup],
  [LinkType.StructOps]: [ProgramType.StructOps],
  [LinkType.Netfilter]: [ProgramType.Netfilter, AttachType.Netfilter],
  [LinkType.Sockmap]: [ProgramType.SkMsg, AttachType.SkMsgVerdict],
};

function kernelKnowsLinkType(type: number): boolean {
  const prog = linkPrograms[type];
  if (!prog || !isProgramTypeSupported(...prog)) return false;
  try {
    const e = loadKernelBtf().byName('bpf_link_type', 'enum')[0];
    return e?.kind === 'enum' && e.values.some((v) => Number(v.value) === type);
  } catch {
    return false;
  }
}

const linkProbes: Partial<Record<number, () => boolean>> = {
  [LinkType.RawTracepoint]: () => {
    const prog = probeProgram(ProgramType.RawTracepoint);
    if (prog === undefined) return false;
    try {
      kernel.close(rawTracepointOpen(prog, 'tsbpf_no_such_tracepoint'));
      return true;
    } catch (err) {
      if (err instanceof SyscallError && err.errno === Errno.ENOENT) return true;
      if (err instanceof SyscallError && isRefusal(err.errno)) return false;
      throw err;
    } finally {
      kernel.close(prog);
    }
  },
  // lo has no offload: a kernel with XDP links reaches the driver check (EOPNOTSUPP
  // for hardware mode) without attaching anything.
  [LinkType.Xdp]: () => linkProbe(ProgramType.Xdp, undefined, { target: 1, attachType: AttachType.Xdp, flags: 1 << 3 /* XDP_FLAGS_HW_MODE */ }, [Errno.EOPNOTSUPP]),
  [LinkType.Tcx]: () => linkProbe(ProgramType.SchedCls, undefined, { target: NO_IFINDEX, attachType: AttachType.TcxIngress }, [Errno.ENXIO, Errno.ENODEV]),
  [LinkType.Netkit]: () => linkProbe(ProgramType.SchedCls, undefined, { target: NO_IFINDEX, attachType: AttachType.NetkitPrimary }, [Errno.ENXIO, Errno.ENODEV]),
  // A target fd that is not a perf event / cgroup: looked up only by kernels with the link type.
  [LinkType.PerfEvent]: () => linkProbe(ProgramType.Tracepoint, undefined, { target: 0, attachType: AttachType.PerfEvent }, [Errno.EBADF]),
  [LinkType.Cgroup]: () => linkProbe(ProgramType.CgroupSkb, undefined, { target: 0, attachType: AttachType.CgroupInetIngress }, [Errno.EBADF]),
  // Kernels without fprobe answer EOPNOTSUPP; with it, address 0 is not a function (EINVAL would be ambiguous, ESRCH/ENOENT are not).
  [LinkType.KprobeMulti]: () =>
    linkProbe(ProgramType.Kprobe, AttachType.TraceKprobeMulti, { target: 0, attachType: AttachType.TraceKprobeMulti, extra: { kind: 'kprobeMulti', addrs: new BigUint64Array([1n]), flags: 0 } }, [Errno.ESRCH, Errno.ENOENT, Errno.EFAULT]),
  // "/" is not a regular file: a kernel with uprobe_multi gets as far as checking the path.
  [LinkType.UprobeMulti]: () =>
    linkProbe(ProgramType.Kprobe, AttachType.TraceUprobeMulti, { target: 0, attachType: AttachType.TraceUprobeMulti, extra: { kind: 'uprobeMulti', path: '/', offsets: new BigUint64Array([0n]), flags: 0, pid: 0 } }, [Errno.EBADF, Errno.EISDIR, Errno.ENOENT]),
};

/** True when this kernel has BPF links of `type` (LinkType / BPF_LINK_TYPE_*). */
export const isLinkTypeSupported = cached((type: number): boolean => {
  const probe = linkProbes[type];
  return probe ? probe() : kernelKnowsLinkType(type);
});

/** Forgets every cached answer (tests; a process that changed its privileges). */
export function clearFeatureCache(): void {
  programProbe.clear();
  isMapTypeSupported.clear();
  helperProbe.clear();
  isLinkTypeSupported.clear();
  clearQueryFields();
}
