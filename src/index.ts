// The public surface of tsbpf. Nothing else is exported.
export { BtfError, MapError, ParseError, PinError, ProgramError, SyscallError } from './errors.js';
export type { MapErrorKind, PinErrorKind, ProgramErrorKind } from './errors.js';
export { MapType, mapTypeInfo, mapTypeName, possibleCpus } from './maps/map-type.js';
export type { MapTypeInfo } from './maps/map-type.js';
export { MapData, MapFlags, ElemFlags } from './maps/map-data.js';
export type { MapSpec, MapInfo } from './maps/map-data.js';
export { u8, u16, u32, u64, i8, i16, i32, i64, bytes, array, struct } from './codec/index.js';
export type { Codec, Decoded, Scratch } from './codec/index.js';
export { TypedMap, IndexedMap, KeyedMap } from './maps/typed-map.js';
export type { TryFromOptions, MapCreateOptions, InnerMap, FromMapData } from './maps/typed-map.js';
export { ArrayMap } from './maps/array.js';
export { HashMap } from './maps/hash-map.js';
export { ArrayOfMaps } from './maps/array-of-maps.js';
export type { MapOfMapsCreateOptions } from './maps/of-maps.js';
export { HashOfMaps } from './maps/hash-of-maps.js';
export { StructOpsMap } from './maps/struct-ops.js';
export { ProgramType, AttachType, programTypeName, attachTypeName } from './programs/program-type.js';
export { programTypeForSection, sectionDefs } from './obj/sections.js';
export type {
  AttachTarget,
  ProgramKind,
  SectionArgument,
  SectionDef,
  SectionFlags,
  SectionMatch,
  SectionMatchOptions,
  TargetSyntax,
} from './obj/sections.js';
export * as sys from './sys/index.js';
export { Ebpf, EbpfLoader } from './loader/index.js';
export type { GlobalOptions } from './loader/index.js';
export type { GlobalValue } from './global-value.js';
export { ObjectSpec, Pinning } from './obj/spec.js';
export type { MapDefinition, ProgramSpec, VariableSpec, Reference } from './obj/spec.js';
export { Btf, kernelBtfTarget } from './obj/btf.js';
export { loadKernelBtf } from './kernel-btf.js';
export { Program } from './programs/program.js';
export * from './programs/kinds.js';
export type { TestRunOptions, TestRunResult } from './programs/program.js';
// Links and feature probes (attach milestone).
export { Link, FdLink, LinkType, linkTypeName, decodeLinkInfo } from './links/link.js';
export type { LinkInfo } from './links/link.js';
export { isProgramTypeSupported, isMapTypeSupported, isHelperSupported, isLinkTypeSupported, clearFeatureCache } from './features.js';
// Tracing programs (trace branch): perf-event attachment, tracing links, iterators, freplace targets.
export { attachPerfEvent, perfAttachMechanism } from './programs/perf-attach.js';
export { PerfEventIoctlLink, PerfEventLinks } from './links/perf-event.js';
export type { PerfAttachMechanism } from './programs/perf-attach.js';
export { attachTracing, tracingAttachMechanism } from './programs/tracing-attach.js';
export type { TracingAttachOptions, TracingAttachMechanism, TracingTarget } from './programs/tracing-attach.js';
export { CgroupIterOrder } from './programs/iter.js';
export { IterLink } from './links/iter.js';
export type { IterAttachOptions } from './programs/iter.js';
export { programFunctionBtfId } from './programs/extension.js';
export type { ExtensionLoadOptions, ExtensionTargetProgram } from './programs/extension.js';
export { tracepointId } from './programs/trace-point.js';
export type { TracePointAttachOptions } from './programs/trace-point.js';
export type { RawTracePointAttachOptions } from './programs/raw-trace-point.js';
// XDP and tc attachment (net).
export { XdpNetlinkLink, XdpFlags } from './links/xdp.js';
export type { XdpMode } from './links/xdp.js';
export type { XdpAttachOptions } from './programs/xdp.js';
export { ClsBpfLink } from './links/cls-bpf.js';
export type { TcDirection } from './links/cls-bpf.js';
export type { TcAttachOptions, TcxAttachOptions, ClsBpfAttachOptions, TcxAnchor, TcxEntry } from './programs/sched-classifier.js';
// Socket, cgroup and namespace attachments (branch sock).
export { SockMap } from './maps/sock-map.js';
export type { SockMapCreateOptions } from './maps/sock-map.js';
export { SockHash } from './maps/sock-hash.js';
export type { SocketLike } from './socket-fd.js';
export { ProgAttachLink } from './links/prog-attach.js';
export type { SockMapLike } from './programs/attach-point.js';
export { queryCgroup } from './programs/cgroup-attach.js';
export type { CgroupAttachMode, CgroupAttachOptions, CgroupQueryOptions } from './programs/cgroup-attach.js';
export { SocketOptionLink } from './links/socket-option.js';
export type { SkSkbKind } from './programs/sk-skb.js';
// uprobes, kprobes, perf events
export { PerfType, HardwareEvent, SoftwareEvent } from './sys/perf.js';
export type { UProbeAttachOptions } from './programs/uprobe.js';
export type { UProbeMultiAttachOptions } from './programs/uprobe-multi.js';
export type { KProbeAttachOptions } from './programs/kprobe.js';
export type { KProbeMultiAttachOptions } from './programs/kprobe-multi.js';
export type { PerfEventAttachOptions, PerfEventTypeName } from './programs/perf-event.js';
export type { ProbeMechanism } from './programs/probe-event.js';
// Netfilter, sk_reuseport, lightweight tunnels, LIRC, cgroup LSM (lead).
export { LwtRouteLink } from './links/lwt-route.js';
export type { LwtAttachOptions, LwtHook } from './programs/lwt-route.js';
export type { NetfilterAttachOptions } from './programs/netfilter.js';
// Introspection, statistics and program info (intro)
export { loadedPrograms, loadedMaps, loadedLinks, enableStats, Stats } from './info.js';
export type { StatsType } from './info.js';
export type { ProgramInfo } from './programs/program-info.js';
export type { ProgramClass } from './programs/program.js';
export { defaultKinds, defaultProgramKind, programTypesOfKind } from './obj/sections.js';
