// The section table: one row per ELF section prefix, in the order libbpf matches them
// (libbpf 1.6 `section_defs` in src/libbpf.c). The object parser types a program by its
// section name here; the row, not a switch elsewhere, says what the section means (type,
// expected attach type, flags, the tsbpf class that wraps it, how the text after the
// prefix names an attach target). Pure data and string matching.
import { AttachType, ProgramType } from '../sys/abi/enums.js';

/** The tsbpf class that wraps a program of this section. */
export type ProgramKind =
  | 'SocketFilter'
  | 'SkReuseport'
  | 'KProbe'
  | 'UProbe'
  | 'KProbeMulti'
  | 'UProbeMulti'
  | 'Usdt'
  | 'SchedClassifier'
  | 'SchedAct'
  | 'TracePoint'
  | 'RawTracePoint'
  | 'RawTracePointWritable'
  | 'BtfTracePoint'
  | 'FEntry'
  | 'FExit'
  | 'FModRet'
  | 'Extension'
  | 'Lsm'
  | 'LsmCgroup'
  | 'Iter'
  | 'Syscall'
  | 'Xdp'
  | 'PerfEvent'
  | 'LwtIn'
  | 'LwtOut'
  | 'LwtXmit'
  | 'LwtSeg6local'
  | 'SockOps'
  | 'SkSkb'
  | 'SkMsg'
  | 'LircMode2'
  | 'FlowDissector'
  | 'CgroupSkb'
  | 'CgroupSock'
  | 'CgroupSockAddr'
  | 'CgroupSysctl'
  | 'CgroupSockopt'
  | 'CgroupDevice'
  | 'StructOps'
  | 'SkLookup'
  | 'Netfilter';

/**
 * What may follow the prefix. libbpf spells it in the pattern:
 * 'xdp' (forbidden: the exact name only), 'kprobe+' (optional: 'kprobe' or
 * 'kprobe/<extras>'), 'type/' (required: 'type/<extras>'; no libbpf 1.x row uses it).
 */
export type SectionArgument = 'forbidden' | 'optional' | 'required';

/** How the text after '<prefix>/' names an attach target. */
export type TargetSyntax =
  | 'kprobe' // function[+offset]
  | 'ksyscall' // syscall name
  | 'kprobeMulti' // glob pattern of kernel functions
  | 'uprobe' // binary:function[+offset]
  | 'uprobeMulti' // binary:glob pattern
  | 'usdt' // binary:provider:name
  | 'tracepoint' // category/name
  | 'rawTracepoint' // name
  | 'btf'; // [module:]name of a BTF function (or typedef, for tp_btf)

/** libbpf's sec_def_flags, by name. */
export interface SectionFlags {
  /** SEC_SLEEPABLE: loaded with BPF_F_SLEEPABLE. */
  readonly sleepable?: true;
  /** SEC_XDP_FRAGS: loaded with BPF_F_XDP_HAS_FRAGS. */
  readonly xdpFrags?: true;
  /** SEC_ATTACH_BTF: the attach target is a BTF id, looked up before BPF_PROG_LOAD. */
  readonly attachBtf?: true;
  /** SEC_EXP_ATTACH_OPT: drop expected_attach_type on kernels that refuse it. */
  readonly expectedAttachOptional?: true;
  /** SEC_ATTACHABLE: attachable with BPF_PROG_ATTACH (libbpf_attach_type_by_name). */
  readonly progAttach?: true;
  /** SEC_USDT: expected_attach_type becomes TraceUprobeMulti where uprobe_multi links exist. */
  readonly usdt?: true;
  /** SEC_SLOPPY_PFX (libbpf 0.x): any name that starts with the pattern matches, unless strict. */
  readonly sloppyPrefix?: true;
}

/**
 * A row of the section-name table (libbpf's section_defs): the program type, expected attach type and
 * flags a section name implies.
 */
export interface SectionDef {
  /** libbpf's spelling: 'kprobe+', 'tc/ingress', 'xdp'. */
  readonly pattern: string;
  /** The pattern without its '+' or '/' marker. */
  readonly prefix: string;
  readonly argument: SectionArgument;
  readonly progType: ProgramType;
  /** undefined where libbpf has 0 for "none" (0 is also CgroupInetIngress). */
  readonly expectedAttachType?: AttachType;
  readonly kind: ProgramKind;
  /** libbpf can attach it from the section name alone (it has an attach handler). */
  readonly attachable: boolean;
  readonly flags: SectionFlags;
  /** How the text after '<prefix>/' is read as a target (of the attach, or of the load for attachBtf). */
  readonly target?: TargetSyntax;
  /** Return probe (kretprobe, uretprobe, kretsyscall, kretprobe.multi, ...). */
  readonly retprobe?: boolean;
  /** Session probe (kprobe.session, uprobe.session). */
  readonly session?: boolean;
}

const P = ProgramType;
const A = AttachType;

interface RowOptions extends SectionFlags {
  target?: TargetSyntax;
  /** false: a target is read (for the load) but libbpf has no attach handler. */
  attachable?: false;
  retprobe?: boolean;
  session?: boolean;
}

function row(
  pattern: string,
  progType: ProgramType,
  expectedAttachType: AttachType | undefined,
  kind: ProgramKind,
  options: RowOptions = {},
): SectionDef {
  const { target, attachable, retprobe, session, ...flags } = options;
  const last = pattern[pattern.length - 1];
  const argument: SectionArgument = last === '+' ? 'optional' : last === '/' ? 'required' : 'forbidden';
  const def: SectionDef = {
    pattern,
    prefix: argument === 'forbidden' ? pattern : pattern.slice(0, -1),
    argument,
    progType,
    ...(expectedAttachType !== undefined ? { expectedAttachType } : {}),
    kind,
    attachable: target !== undefined && attachable !== false,
    flags: Object.freeze(flags),
    ...(target !== undefined ? { target } : {}),
    ...(retprobe !== undefined ? { retprobe } : {}),
    ...(session !== undefined ? { session } : {}),
  };
  return Object.freeze(def);
}

// Flag shorthands, as libbpf writes them.
const sleepable = true as const;
const sloppyPrefix = true as const;
const ATTACHABLE = { progAttach: true } as const;
const ATTACHABLE_OPT = { progAttach: true, expectedAttachOptional: true } as const;
const kprobe = { target: 'kprobe', retprobe: false } as const;
const kretprobe = { target: 'kprobe', retprobe: true } as const;
const uprobe = { target: 'uprobe', retprobe: false } as const;
const uretprobe = { target: 'uprobe', retprobe: true } as const;
const btf = { target: 'btf', attachBtf: true } as const;

/**
 * The section table, in libbpf's matching order (the first row that matches wins).
 * libbpf 1.6's section_defs (libbpf 1.5's plus uprobe.session[.s]); `sloppyPrefix`
 * marks the rows that libbpf 0.x matched by prefix (SEC_SLOPPY_PFX).
 */
export const sectionDefs: readonly SectionDef[] = Object.freeze([
  row('socket', P.SocketFilter, undefined, 'SocketFilter', { sloppyPrefix }),
  row('sk_reuseport/migrate', P.SkReuseport, A.SkReuseportSelectOrMigrate, 'SkReuseport', { ...ATTACHABLE, sloppyPrefix }),
  row('sk_reuseport', P.SkReuseport, A.SkReuseportSelect, 'SkReuseport', { ...ATTACHABLE, sloppyPrefix }),
  row('kprobe+', P.Kprobe, undefined, 'KProbe', kprobe),
  row('uprobe+', P.Kprobe, undefined, 'UProbe', uprobe),
  row('uprobe.s+', P.Kprobe, undefined, 'UProbe', { ...uprobe, sleepable }),
  row('kretprobe+', P.Kprobe, undefined, 'KProbe', kretprobe),
  row('uretprobe+', P.Kprobe, undefined, 'UProbe', uretprobe),
  row('uretprobe.s+', P.Kprobe, undefined, 'UProbe', { ...uretprobe, sleepable }),
  row('kprobe.multi+', P.Kprobe, A.TraceKprobeMulti, 'KProbeMulti', { target: 'kprobeMulti', retprobe: false }),
  row('kretprobe.multi+', P.Kprobe, A.TraceKprobeMulti, 'KProbeMulti', { target: 'kprobeMulti', retprobe: true }),
  row('kprobe.session+', P.Kprobe, A.TraceKprobeSession, 'KProbeMulti', { target: 'kprobeMulti', retprobe: false, session: true }),
  row('uprobe.multi+', P.Kprobe, A.TraceUprobeMulti, 'UProbeMulti', { target: 'uprobeMulti', retprobe: false }),
  row('uretprobe.multi+', P.Kprobe, A.TraceUprobeMulti, 'UProbeMulti', { target: 'uprobeMulti', retprobe: true }),
  row('uprobe.session+', P.Kprobe, A.TraceUprobeSession, 'UProbeMulti', { target: 'uprobeMulti', retprobe: false, session: true }),
  row('uprobe.multi.s+', P.Kprobe, A.TraceUprobeMulti, 'UProbeMulti', { target: 'uprobeMulti', retprobe: false, sleepable }),
  row('uretprobe.multi.s+', P.Kprobe, A.TraceUprobeMulti, 'UProbeMulti', { target: 'uprobeMulti', retprobe: true, sleepable }),
  row('uprobe.session.s+', P.Kprobe, A.TraceUprobeSession, 'UProbeMulti', { target: 'uprobeMulti', retprobe: false, session: true, sleepable }),
  row('ksyscall+', P.Kprobe, undefined, 'KProbe', { target: 'ksyscall', retprobe: false }),
  row('kretsyscall+', P.Kprobe, undefined, 'KProbe', { target: 'ksyscall', retprobe: true }),
  row('usdt+', P.Kprobe, undefined, 'Usdt', { target: 'usdt', usdt: true }),
  row('usdt.s+', P.Kprobe, undefined, 'Usdt', { target: 'usdt', usdt: true, sleepable }),
  row('tc/ingress', P.SchedCls, A.TcxIngress, 'SchedClassifier'), // alias for tcx
  row('tc/egress', P.SchedCls, A.TcxEgress, 'SchedClassifier'), // alias for tcx
  row('tcx/ingress', P.SchedCls, A.TcxIngress, 'SchedClassifier'),
  row('tcx/egress', P.SchedCls, A.TcxEgress, 'SchedClassifier'),
  row('tc', P.SchedCls, undefined, 'SchedClassifier'), // legacy (netlink tc)
  row('classifier', P.SchedCls, undefined, 'SchedClassifier', { sloppyPrefix }), // legacy
  row('action', P.SchedAct, undefined, 'SchedAct', { sloppyPrefix }), // legacy
  row('netkit/primary', P.SchedCls, A.NetkitPrimary, 'SchedClassifier'),
  row('netkit/peer', P.SchedCls, A.NetkitPeer, 'SchedClassifier'),
  row('tracepoint+', P.Tracepoint, undefined, 'TracePoint', { target: 'tracepoint' }),
  row('tp+', P.Tracepoint, undefined, 'TracePoint', { target: 'tracepoint' }),
  row('raw_tracepoint+', P.RawTracepoint, undefined, 'RawTracePoint', { target: 'rawTracepoint' }),
  row('raw_tp+', P.RawTracepoint, undefined, 'RawTracePoint', { target: 'rawTracepoint' }),
  row('raw_tracepoint.w+', P.RawTracepointWritable, undefined, 'RawTracePointWritable', { target: 'rawTracepoint' }),
  row('raw_tp.w+', P.RawTracepointWritable, undefined, 'RawTracePointWritable', { target: 'rawTracepoint' }),
  row('tp_btf+', P.Tracing, A.TraceRawTp, 'BtfTracePoint', btf),
  row('fentry+', P.Tracing, A.TraceFentry, 'FEntry', btf),
  row('fmod_ret+', P.Tracing, A.ModifyReturn, 'FModRet', btf),
  row('fexit+', P.Tracing, A.TraceFexit, 'FExit', btf),
  row('fentry.s+', P.Tracing, A.TraceFentry, 'FEntry', { ...btf, sleepable }),
  row('fmod_ret.s+', P.Tracing, A.ModifyReturn, 'FModRet', { ...btf, sleepable }),
  row('fexit.s+', P.Tracing, A.TraceFexit, 'FExit', { ...btf, sleepable }),
  row('freplace+', P.Ext, undefined, 'Extension', btf),
  row('lsm+', P.Lsm, A.LsmMac, 'Lsm', btf),
  row('lsm.s+', P.Lsm, A.LsmMac, 'Lsm', { ...btf, sleepable }),
  row('lsm_cgroup+', P.Lsm, A.LsmCgroup, 'LsmCgroup', { ...btf, attachable: false }), // attached to a cgroup fd
  row('iter+', P.Tracing, A.TraceIter, 'Iter', btf),
  row('iter.s+', P.Tracing, A.TraceIter, 'Iter', { ...btf, sleepable }),
  row('syscall', P.Syscall, undefined, 'Syscall', { sleepable }),
  row('xdp.frags/devmap', P.Xdp, A.XdpDevmap, 'Xdp', { xdpFrags: true }),
  row('xdp/devmap', P.Xdp, A.XdpDevmap, 'Xdp', ATTACHABLE),
  row('xdp.frags/cpumap', P.Xdp, A.XdpCpumap, 'Xdp', { xdpFrags: true }),
  row('xdp/cpumap', P.Xdp, A.XdpCpumap, 'Xdp', ATTACHABLE),
  row('xdp.frags', P.Xdp, A.Xdp, 'Xdp', { xdpFrags: true }),
  row('xdp', P.Xdp, A.Xdp, 'Xdp', { ...ATTACHABLE_OPT, sloppyPrefix }),
  row('perf_event', P.PerfEvent, undefined, 'PerfEvent', { sloppyPrefix }),
  row('lwt_in', P.LwtIn, undefined, 'LwtIn', { sloppyPrefix }),
  row('lwt_out', P.LwtOut, undefined, 'LwtOut', { sloppyPrefix }),
  row('lwt_xmit', P.LwtXmit, undefined, 'LwtXmit', { sloppyPrefix }),
  row('lwt_seg6local', P.LwtSeg6local, undefined, 'LwtSeg6local', { sloppyPrefix }),
  row('sockops', P.SockOps, A.CgroupSockOps, 'SockOps', { ...ATTACHABLE_OPT, sloppyPrefix }),
  row('sk_skb/stream_parser', P.SkSkb, A.SkSkbStreamParser, 'SkSkb', { ...ATTACHABLE_OPT, sloppyPrefix }),
  row('sk_skb/stream_verdict', P.SkSkb, A.SkSkbStreamVerdict, 'SkSkb', { ...ATTACHABLE_OPT, sloppyPrefix }),
  row('sk_skb/verdict', P.SkSkb, A.SkSkbVerdict, 'SkSkb', ATTACHABLE_OPT),
  row('sk_skb', P.SkSkb, undefined, 'SkSkb', { sloppyPrefix }),
  row('sk_msg', P.SkMsg, A.SkMsgVerdict, 'SkMsg', { ...ATTACHABLE_OPT, sloppyPrefix }),
  row('lirc_mode2', P.LircMode2, A.LircMode2, 'LircMode2', { ...ATTACHABLE_OPT, sloppyPrefix }),
  row('flow_dissector', P.FlowDissector, A.FlowDissector, 'FlowDissector', { ...ATTACHABLE_OPT, sloppyPrefix }),
  row('cgroup_skb/ingress', P.CgroupSkb, A.CgroupInetIngress, 'CgroupSkb', { ...ATTACHABLE_OPT, sloppyPrefix }),
  row('cgroup_skb/egress', P.CgroupSkb, A.CgroupInetEgress, 'CgroupSkb', { ...ATTACHABLE_OPT, sloppyPrefix }),
  row('cgroup/skb', P.CgroupSkb, undefined, 'CgroupSkb', { sloppyPrefix }),
  row('cgroup/sock_create', P.CgroupSock, A.CgroupInetSockCreate, 'CgroupSock', { ...ATTACHABLE, sloppyPrefix }),
  row('cgroup/sock_release', P.CgroupSock, A.CgroupInetSockRelease, 'CgroupSock', { ...ATTACHABLE, sloppyPrefix }),
  row('cgroup/sock', P.CgroupSock, A.CgroupInetSockCreate, 'CgroupSock', { ...ATTACHABLE_OPT, sloppyPrefix }),
  row('cgroup/post_bind4', P.CgroupSock, A.CgroupInet4PostBind, 'CgroupSock', { ...ATTACHABLE, sloppyPrefix }),
  row('cgroup/post_bind6', P.CgroupSock, A.CgroupInet6PostBind, 'CgroupSock', { ...ATTACHABLE, sloppyPrefix }),
  row('cgroup/bind4', P.CgroupSockAddr, A.CgroupInet4Bind, 'CgroupSockAddr', { ...ATTACHABLE, sloppyPrefix }),
  row('cgroup/bind6', P.CgroupSockAddr, A.CgroupInet6Bind, 'CgroupSockAddr', { ...ATTACHABLE, sloppyPrefix }),
  row('cgroup/connect4', P.CgroupSockAddr, A.CgroupInet4Connect, 'CgroupSockAddr', { ...ATTACHABLE, sloppyPrefix }),
  row('cgroup/connect6', P.CgroupSockAddr, A.CgroupInet6Connect, 'CgroupSockAddr', { ...ATTACHABLE, sloppyPrefix }),
  row('cgroup/connect_unix', P.CgroupSockAddr, A.CgroupUnixConnect, 'CgroupSockAddr', ATTACHABLE),
  row('cgroup/sendmsg4', P.CgroupSockAddr, A.CgroupUdp4Sendmsg, 'CgroupSockAddr', { ...ATTACHABLE, sloppyPrefix }),
  row('cgroup/sendmsg6', P.CgroupSockAddr, A.CgroupUdp6Sendmsg, 'CgroupSockAddr', { ...ATTACHABLE, sloppyPrefix }),
  row('cgroup/sendmsg_unix', P.CgroupSockAddr, A.CgroupUnixSendmsg, 'CgroupSockAddr', ATTACHABLE),
  row('cgroup/recvmsg4', P.CgroupSockAddr, A.CgroupUdp4Recvmsg, 'CgroupSockAddr', { ...ATTACHABLE, sloppyPrefix }),
  row('cgroup/recvmsg6', P.CgroupSockAddr, A.CgroupUdp6Recvmsg, 'CgroupSockAddr', { ...ATTACHABLE, sloppyPrefix }),
  row('cgroup/recvmsg_unix', P.CgroupSockAddr, A.CgroupUnixRecvmsg, 'CgroupSockAddr', ATTACHABLE),
  row('cgroup/getpeername4', P.CgroupSockAddr, A.CgroupInet4Getpeername, 'CgroupSockAddr', { ...ATTACHABLE, sloppyPrefix }),
  row('cgroup/getpeername6', P.CgroupSockAddr, A.CgroupInet6Getpeername, 'CgroupSockAddr', { ...ATTACHABLE, sloppyPrefix }),
  row('cgroup/getpeername_unix', P.CgroupSockAddr, A.CgroupUnixGetpeername, 'CgroupSockAddr', ATTACHABLE),
  row('cgroup/getsockname4', P.CgroupSockAddr, A.CgroupInet4Getsockname, 'CgroupSockAddr', { ...ATTACHABLE, sloppyPrefix }),
  row('cgroup/getsockname6', P.CgroupSockAddr, A.CgroupInet6Getsockname, 'CgroupSockAddr', { ...ATTACHABLE, sloppyPrefix }),
  row('cgroup/getsockname_unix', P.CgroupSockAddr, A.CgroupUnixGetsockname, 'CgroupSockAddr', ATTACHABLE),
  row('cgroup/sysctl', P.CgroupSysctl, A.CgroupSysctl, 'CgroupSysctl', { ...ATTACHABLE, sloppyPrefix }),
  row('cgroup/getsockopt', P.CgroupSockopt, A.CgroupGetsockopt, 'CgroupSockopt', { ...ATTACHABLE, sloppyPrefix }),
  row('cgroup/setsockopt', P.CgroupSockopt, A.CgroupSetsockopt, 'CgroupSockopt', { ...ATTACHABLE, sloppyPrefix }),
  row('cgroup/dev', P.CgroupDevice, A.CgroupDevice, 'CgroupDevice', { ...ATTACHABLE_OPT, sloppyPrefix }),
  row('struct_ops+', P.StructOps, undefined, 'StructOps'),
  row('struct_ops.s+', P.StructOps, undefined, 'StructOps', { sleepable }),
  row('sk_lookup', P.SkLookup, A.SkLookup, 'SkLookup', { ...ATTACHABLE, sloppyPrefix }),
  row('netfilter', P.Netfilter, A.Netfilter, 'Netfilter'),
]);

/**
 * The class a program of each type gets when nothing but its type is known (a program
 * opened by pin or id: the kernel records no section). Where one type has several kinds
 * (kprobe/uprobe, fentry/fexit/fmod_ret/tp_btf/iter) this is the first; ask for another
 * with that class's fromPin / fromId.
 */
export const defaultKinds: Readonly<Record<Exclude<ProgramType, 0>, ProgramKind>> = Object.freeze({
  [P.SocketFilter]: 'SocketFilter',
  [P.Kprobe]: 'KProbe',
  [P.SchedCls]: 'SchedClassifier',
  [P.SchedAct]: 'SchedAct',
  [P.Tracepoint]: 'TracePoint',
  [P.Xdp]: 'Xdp',
  [P.PerfEvent]: 'PerfEvent',
  [P.CgroupSkb]: 'CgroupSkb',
  [P.CgroupSock]: 'CgroupSock',
  [P.LwtIn]: 'LwtIn',
  [P.LwtOut]: 'LwtOut',
  [P.LwtXmit]: 'LwtXmit',
  [P.SockOps]: 'SockOps',
  [P.SkSkb]: 'SkSkb',
  [P.CgroupDevice]: 'CgroupDevice',
  [P.SkMsg]: 'SkMsg',
  [P.RawTracepoint]: 'RawTracePoint',
  [P.CgroupSockAddr]: 'CgroupSockAddr',
  [P.LwtSeg6local]: 'LwtSeg6local',
  [P.LircMode2]: 'LircMode2',
  [P.SkReuseport]: 'SkReuseport',
  [P.FlowDissector]: 'FlowDissector',
  [P.CgroupSysctl]: 'CgroupSysctl',
  [P.RawTracepointWritable]: 'RawTracePointWritable',
  [P.CgroupSockopt]: 'CgroupSockopt',
  [P.Tracing]: 'FEntry',
  [P.StructOps]: 'StructOps',
  [P.Ext]: 'Extension',
  [P.Lsm]: 'Lsm',
  [P.SkLookup]: 'SkLookup',
  [P.Syscall]: 'Syscall',
  [P.Netfilter]: 'Netfilter',
});

/** The default kind of a program type (defaultKinds); undefined for a type this library does not know. */
export function defaultProgramKind(type: number): ProgramKind | undefined {
  return (defaultKinds as Record<number, ProgramKind | undefined>)[type];
}

/** The program types a kind's sections load as (from the section table; Usdt: Kprobe, LsmCgroup: Lsm, ...). */
export function programTypesOfKind(kind: ProgramKind): number[] {
  return [...new Set(sectionDefs.filter((d) => d.kind === kind).map((d) => d.progType))];
}

/** An attach target read from the section name, as libbpf's attach handlers read it. */
export type AttachTarget =
  /** kprobe/<function>[+<offset>], kretprobe/<function> */
  | { readonly type: 'kprobe'; readonly function: string; readonly offset: number }
  /** ksyscall/<name>: libbpf probes __<arch>_sys_<name> (or __se_sys_<name>). */
  | { readonly type: 'ksyscall'; readonly syscall: string }
  /** kprobe.multi/<pattern>, kretprobe.multi/<pattern>, kprobe.session/<pattern> (glob with * and ?) */
  | { readonly type: 'kprobeMulti'; readonly pattern: string }
  /** uprobe/<binary>:<function>[+<offset>] */
  | { readonly type: 'uprobe'; readonly binaryPath: string; readonly function: string; readonly offset: number }
  /** uprobe.multi/<binary>:<pattern> */
  | { readonly type: 'uprobeMulti'; readonly binaryPath: string; readonly pattern: string }
  /** usdt/<binary>:<provider>:<name> */
  | { readonly type: 'usdt'; readonly binaryPath: string; readonly provider: string; readonly name: string }
  /** tracepoint/<category>/<name> */
  | { readonly type: 'tracepoint'; readonly category: string; readonly name: string }
  /** raw_tp/<name> */
  | { readonly type: 'rawTracepoint'; readonly name: string }
  /**
   * fentry/<name>, lsm/<hook>, tp_btf/<tracepoint>, iter/<target>, freplace/<function>:
   * `btfName` is what BTF is searched for (libbpf's btf_trace_, bpf_lsm_ and bpf_iter_
   * prefixes), a `btfKind` entry of vmlinux or of `module` ('<module>:<name>'); for
   * freplace, of the target program's BTF.
   */
  | {
      readonly type: 'btf';
      readonly name: string;
      readonly module?: string;
      readonly btfName: string;
      readonly btfKind: 'func' | 'typedef';
    };

/** What `programTypeForSection` found for a section name. */
export interface SectionMatch {
  /** The section name matched, without a leading '?'. */
  readonly section: string;
  /** The table row. */
  readonly def: SectionDef;
  readonly progType: ProgramType;
  /** undefined: none (load with 0). */
  readonly expectedAttachType: AttachType | undefined;
  readonly kind: ProgramKind;
  readonly sleepable: boolean;
  readonly xdpFrags: boolean;
  /** prog_flags for BPF_PROG_LOAD: BPF_F_SLEEPABLE (16), BPF_F_XDP_HAS_FRAGS (32). */
  readonly loadFlags: number;
  /** false for SEC("?..."): libbpf's "do not load by default". */
  readonly autoload: boolean;
  /** Matched only as a legacy prefix (libbpf 0.x SEC_SLOPPY_PFX), e.g. 'socket/1', 'xdp_prog'. */
  readonly sloppy: boolean;
  /** The text after '<prefix>/', when the section has one ('do_unlinkat', 'syscalls/sys_enter_openat'). */
  readonly attachTarget?: string;
  /** attachTarget parsed by the row's target syntax, when well formed. */
  readonly target?: AttachTarget;
  /** Why attachTarget cannot be used to attach (libbpf fails auto-attach with EINVAL). */
  readonly targetError?: string;
  /** The section alone says where to attach (attachable row and a well-formed target). */
  readonly autoAttach: boolean;
  /** For probe rows: a return probe. */
  readonly retprobe?: boolean;
  /** For kprobe.session / uprobe.session. */
  readonly session?: boolean;
}

/** Options of `programTypeForSection`. */
export interface SectionMatchOptions {
  /**
   * libbpf 1.x matching only (its LIBBPF_STRICT_SEC_NAME): no legacy prefix matches.
   * Default false: rows marked sloppyPrefix also match any name they start, as libbpf
   * 0.x and cilium/ebpf do ('socket/2', 'sk_lookup/', 'xdp_prog').
   */
  readonly strict?: boolean;
}

export const BPF_F_SLEEPABLE = 1 << 4;
export const BPF_F_XDP_HAS_FRAGS = 1 << 5;

/** How `def` matches `name`: 'exact' (libbpf 1.x rules), 'sloppy' (legacy prefix), or undefined. */
function matches(def: SectionDef, name: string, sloppy: boolean): 'exact' | 'sloppy' | undefined {
  switch (def.argument) {
    case 'required':
      return name.startsWith(def.pattern) ? 'exact' : undefined;
    case 'optional':
      if (!name.startsWith(def.prefix)) return undefined;
      return name.length === def.prefix.length || name[def.prefix.length] === '/' ? 'exact' : undefined;
    case 'forbidden':
      if (name === def.pattern) return 'exact';
      return sloppy && def.flags.sloppyPrefix && name.startsWith(def.pattern) ? 'sloppy' : undefined;
  }
}

/**
 * The program type of an ELF section, by libbpf's rules: the first row of
 * `sectionDefs` that matches, where 'name' matches only itself, 'name+' matches
 * 'name' and 'name/...', and 'name/' matches 'name/...'. A leading '?' (not loaded
 * by default) is ignored for matching. undefined for a section no row matches.
 */
export function programTypeForSection(section: string, options: SectionMatchOptions = {}): SectionMatch | undefined {
  const autoload = !section.startsWith('?');
  const name = autoload ? section : section.slice(1);
  const sloppy = !options.strict;
  for (const def of sectionDefs) {
    const how = matches(def, name, sloppy);
    if (how === undefined) continue;
    const rest = name.length > def.prefix.length ? name.slice(def.prefix.length) : undefined;
    const attachTarget = rest !== undefined && rest.startsWith('/') ? rest.slice(1) : undefined;
    const parsed = def.target !== undefined && how === 'exact' ? parseTarget(def, attachTarget) : {};
    const sleepable = def.flags.sleepable === true;
    const xdpFrags = def.flags.xdpFrags === true;
    return {
      section: name,
      def,
      progType: def.progType,
      expectedAttachType: def.expectedAttachType,
      kind: def.kind,
      sleepable,
      xdpFrags,
      loadFlags: (sleepable ? BPF_F_SLEEPABLE : 0) | (xdpFrags ? BPF_F_XDP_HAS_FRAGS : 0),
      autoload,
      sloppy: how === 'sloppy',
      ...(attachTarget !== undefined ? { attachTarget } : {}),
      ...parsed,
      autoAttach: def.attachable && parsed.target !== undefined,
      ...(def.retprobe !== undefined ? { retprobe: def.retprobe } : {}),
      ...(def.session !== undefined ? { session: def.session } : {}),
    };
  }
  return undefined;
}

const matchCache = new Map<string, SectionMatch | undefined>();

/**
 * programTypeForSection(section) memoised (a parse asks for every program's section,
 * and a loader parses the same few sections on every load). The result is shared: read
 * it, do not change it. @internal
 */
export function sectionMatch(section: string): SectionMatch | undefined {
  let match = matchCache.get(section);
  if (match === undefined && !matchCache.has(section)) {
    match = programTypeForSection(section);
    // Bounded: section names come from the objects parsed.
    if (matchCache.size >= 4096) matchCache.clear();
    matchCache.set(section, match);
  }
  return match;
}

type Parsed = { target?: AttachTarget; targetError?: string };

/** C's strtol(s, &end, 0) as sscanf("%li") reads it: the value and how many characters. */
function parseCLong(s: string): { value: number; length: number } | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)/.exec(s);
  if (!m) return undefined;
  const digits = m[2]!;
  const magnitude = /^0[xX]/.test(digits)
    ? parseInt(digits.slice(2), 16)
    : digits.length > 1 && digits[0] === '0'
      ? parseInt(digits, 8)
      : parseInt(digits, 10);
  return { value: m[1] === '-' ? -magnitude : magnitude, length: m[0].length };
}

const BTF_PREFIX: Partial<Record<AttachType, string>> = {
  [A.TraceRawTp]: 'btf_trace_',
  [A.LsmMac]: 'bpf_lsm_',
  [A.LsmCgroup]: 'bpf_lsm_',
  [A.TraceIter]: 'bpf_iter_',
};

/** The target after '<prefix>/', read the way libbpf's attach handler for the row reads it. */
function parseTarget(def: SectionDef, text: string | undefined): Parsed {
  // No '/...' part: valid, but nothing to attach to by name (libbpf skips auto-attach).
  if (text === undefined) return {};
  const retprobe = def.retprobe === true;
  switch (def.target) {
    case 'kprobe': {
      // sscanf("%m[a-zA-Z0-9_.]+%li"): trailing text is ignored.
      const fn = /^[A-Za-z0-9_.]+/.exec(text)?.[0];
      if (fn === undefined) return { targetError: `kprobe name is invalid: '${text}'` };
      const offset = text[fn.length] === '+' ? parseCLong(text.slice(fn.length + 1))?.value ?? 0 : 0;
      if (retprobe && offset !== 0) return { targetError: 'kretprobes do not support offset specification' };
      return { target: { type: 'kprobe', function: fn, offset } };
    }
    case 'ksyscall':
      if (text === '') return { targetError: 'no syscall name' };
      return { target: { type: 'ksyscall', syscall: text } };
    case 'kprobeMulti': {
      const pattern = /^[A-Za-z0-9_.*?]+/.exec(text)?.[0];
      if (pattern === undefined) return { targetError: `kprobe multi pattern is invalid: '${text}'` };
      return { target: { type: 'kprobeMulti', pattern } };
    }
    case 'uprobe':
    case 'uprobeMulti': {
      // sscanf("%m[^/]/%m[^:]:%m[^\n]") over the whole name: an empty binary reads as
      // SEC("uprobe") (no auto-attach), a binary without ':function' is an error.
      const line = text.split('\n', 1)[0]!;
      const colon = line.indexOf(':');
      const binaryPath = colon < 0 ? line : line.slice(0, colon);
      if (binaryPath === '') return {};
      const spec = colon < 0 ? '' : line.slice(colon + 1);
      if (spec === '') return { targetError: `section '${def.prefix}/${text}' missing ':function' specification` };
      if (def.target === 'uprobeMulti') return { target: { type: 'uprobeMulti', binaryPath, pattern: spec } };
      // '+offset' only when it runs to the end: 'f+0x10' is f at 16, 'f+x' is the symbol 'f+x'.
      let fn = spec;
      let offset = 0;
      const plus = spec.lastIndexOf('+');
      if (plus >= 0) {
        const n = parseCLong(spec.slice(plus + 1));
        if (n !== undefined && plus + 1 + n.length === spec.length) {
          fn = spec.slice(0, plus);
          offset = n.value;
        }
      }
      if (retprobe && offset !== 0) return { targetError: 'uretprobes do not support offset specification' };
      if (fn === '') return { targetError: `no function in '${text}'` };
      return { target: { type: 'uprobe', binaryPath, function: fn, offset } };
    }
    case 'usdt': {
      // sscanf("usdt/%m[^:]:%m[^:]:%m[^:]"): three non-empty parts; text after a
      // fourth ':' is ignored. 'usdt.s/...' is read the same way (libbpf 1.5's handler
      // only knew 'usdt/', so it could not auto-attach a sleepable USDT).
      const [binaryPath = '', provider = '', name = ''] = text.split(':');
      if (binaryPath === '' || provider === '' || name === '')
        return { targetError: `invalid section '${def.prefix}/${text}', expected ${def.prefix}/<path>:<provider>:<name>` };
      return { target: { type: 'usdt', binaryPath, provider, name } };
    }
    case 'tracepoint': {
      const slash = text.indexOf('/');
      if (slash <= 0 || slash === text.length - 1)
        return { targetError: `expected ${def.prefix}/<category>/<name>, got '${def.prefix}/${text}'` };
      return { target: { type: 'tracepoint', category: text.slice(0, slash), name: text.slice(slash + 1) } };
    }
    case 'rawTracepoint':
      if (text === '') return { targetError: 'no raw tracepoint name' };
      return { target: { type: 'rawTracepoint', name: text } };
    case 'btf': {
      if (text === '') return { targetError: 'no BTF-based attach target is specified' };
      // find_kernel_btf_id: '<module>:<name>'; freplace names a function of another program.
      const colon = def.progType === P.Ext ? -1 : text.indexOf(':');
      const name = colon < 0 ? text : text.slice(colon + 1);
      const module = colon < 0 ? undefined : text.slice(0, colon);
      const at = def.expectedAttachType;
      const prefix = at === undefined ? '' : BTF_PREFIX[at] ?? '';
      return {
        target: {
          type: 'btf',
          name,
          ...(module !== undefined ? { module } : {}),
          btfName: prefix + name,
          btfKind: at === A.TraceRawTp ? 'typedef' : 'func',
        },
      };
    }
    default:
      return {};
  }
}
