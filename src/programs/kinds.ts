// The class of each program kind: the table the loader uses to type programs by
// section, and programFromPin / programFromId use to type them by program type.
import { openPinned } from '../pin.js';
import { describeValue } from '../describe.js';
import { defaultProgramKind, type ProgramKind } from '../obj/sections.js';
import { adoptProgram, checkProgramId, Program, programFdById, type AdoptedProgram, type ProgramClass } from './program.js';
import { SocketFilter } from './socket-filter.js';
import { SkReuseport } from './sk-reuseport.js';
import { KProbe } from './kprobe.js';
import { UProbe } from './uprobe.js';
import { KProbeMulti } from './kprobe-multi.js';
import { UProbeMulti } from './uprobe-multi.js';
import { SchedClassifier } from './sched-classifier.js';
import { TracePoint } from './trace-point.js';
import { RawTracePoint } from './raw-trace-point.js';
import { RawTracePointWritable } from './raw-trace-point-writable.js';
import { BtfTracePoint } from './btf-trace-point.js';
import { FEntry } from './fentry.js';
import { FExit } from './fexit.js';
import { FModRet } from './fmod-ret.js';
import { Extension } from './extension.js';
import { Lsm } from './lsm.js';
import { LsmCgroup } from './lsm-cgroup.js';
import { Iter } from './iter.js';
import { Syscall } from './syscall.js';
import { Xdp } from './xdp.js';
import { PerfEvent } from './perf-event.js';
import { LwtIn } from './lwt-in.js';
import { LwtOut } from './lwt-out.js';
import { LwtXmit } from './lwt-xmit.js';
import { SockOps } from './sock-ops.js';
import { SkSkb } from './sk-skb.js';
import { SkMsg } from './sk-msg.js';
import { LircMode2 } from './lirc-mode2.js';
import { FlowDissector } from './flow-dissector.js';
import { CgroupSkb } from './cgroup-skb.js';
import { CgroupSock } from './cgroup-sock.js';
import { CgroupSockAddr } from './cgroup-sock-addr.js';
import { CgroupSysctl } from './cgroup-sysctl.js';
import { CgroupSockopt } from './cgroup-sockopt.js';
import { CgroupDevice } from './cgroup-device.js';
import { StructOps } from './struct-ops.js';
import { SkLookup } from './sk-lookup.js';
import { Netfilter } from './netfilter.js';

const classes: (typeof Program)[] = [
  SocketFilter,
  SkReuseport,
  KProbe,
  UProbe,
  KProbeMulti,
  UProbeMulti,
  SchedClassifier,
  TracePoint,
  RawTracePoint,
  RawTracePointWritable,
  BtfTracePoint,
  FEntry,
  FExit,
  FModRet,
  Extension,
  Lsm,
  LsmCgroup,
  Iter,
  Syscall,
  Xdp,
  PerfEvent,
  LwtIn,
  LwtOut,
  LwtXmit,
  SockOps,
  SkSkb,
  SkMsg,
  LircMode2,
  FlowDissector,
  CgroupSkb,
  CgroupSock,
  CgroupSockAddr,
  CgroupSysctl,
  CgroupSockopt,
  CgroupDevice,
  StructOps,
  SkLookup,
  Netfilter,
];

export const programClasses: Readonly<Partial<Record<ProgramKind, typeof Program>>> = Object.freeze(Object.fromEntries(classes.map((c) => [c.programKind, c])));

/** The class of the program's type: tracing programs, whose kind the kernel does not record, as FEntry. */
function classOfType(info: AdoptedProgram): { Cls: ProgramClass<Program>; kind: string } {
  const kind = defaultProgramKind(info.type);
  return { Cls: (kind && programClasses[kind]) || Program, kind: kind ?? 'Unknown' };
}

/**
 * Opens the program pinned at `path` as an instance of the class of its program type
 * (Xdp, SocketFilter, ...; Program for a type without one). Xdp.fromPin and the like
 * open one kind only.
 */
export function programFromPin(path: string): Program {
  return adoptProgram(classOfType, () => openPinned(path), `pinned at ${describeValue(path)}`);
}

/** Opens the loaded program with kernel id `id`, as programFromPin does. */
export function programFromId(id: number): Program {
  checkProgramId(id);
  return adoptProgram(classOfType, () => programFdById(id), `id ${id}`);
}

export { SocketFilter, SkReuseport, KProbe, UProbe, KProbeMulti, UProbeMulti, SchedClassifier, TracePoint, RawTracePoint, RawTracePointWritable, BtfTracePoint, FEntry, FExit, FModRet, Extension, Lsm, LsmCgroup, Iter, Syscall, Xdp, PerfEvent, LwtIn, LwtOut, LwtXmit, SockOps, SkSkb, SkMsg, LircMode2, FlowDissector, CgroupSkb, CgroupSock, CgroupSockAddr, CgroupSysctl, CgroupSockopt, CgroupDevice, StructOps, SkLookup, Netfilter };
