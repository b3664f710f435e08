// The class of each program kind (the table the loader uses to type programs by section).
import type { ProgramKind } from '../obj/sections.js';
import { Program, setProgramClasses } from './program.js';
import { SocketFilter } from './socket-filter.js';
import { SkReuseport } from './sk-reuseport.js';
import { KProbe } from './kprobe.js';
import { UProbe } from './uprobe.js';
import { KProbeMulti } from './kprobe-multi.js';
import { UProbeMulti } from './uprobe-multi.js';
import { Usdt } from './usdt.js';
import { SchedClassifier } from './sched-classifier.js';
import { SchedAct } from './sched-act.js';
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
import { LwtSeg6local } from './lwt-seg6local.js';
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

export const programClasses: Record<ProgramKind, typeof Program> = {
  SocketFilter,
  SkReuseport,
  KProbe,
  UProbe,
  KProbeMulti,
  UProbeMulti,
  Usdt,
  SchedClassifier,
  SchedAct,
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
  LwtSeg6local,
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
};

// Program.fromPin / fromId choose the class by program type from this table.
setProgramClasses(programClasses);

export { SocketFilter, SkReuseport, KProbe, UProbe, KProbeMulti, UProbeMulti, Usdt, SchedClassifier, SchedAct, TracePoint, RawTracePoint, RawTracePointWritable, BtfTracePoint, FEntry, FExit, FModRet, Extension, Lsm, LsmCgroup, Iter, Syscall, Xdp, PerfEvent, LwtIn, LwtOut, LwtXmit, LwtSeg6local, SockOps, SkSkb, SkMsg, LircMode2, FlowDissector, CgroupSkb, CgroupSock, CgroupSockAddr, CgroupSysctl, CgroupSockopt, CgroupDevice, StructOps, SkLookup, Netfilter };
