// The public surface of tsbpf (the package's main entry). The raw layer is the
// 'tsbpf/sys' entry (src/sys/index.ts), the test seams 'tsbpf/testing' (src/testing.ts);
// api/*.api.md record all three (npm run api).

// Errors.
export { BtfError, MapError, NotSupportedError, ParseError, PinError, ProgramError, SyscallError, isNotSupported } from './errors.js';
export type { BtfErrorKind, MapErrorDetails, MapErrorKind, ParseErrorKind, PinErrorKind, ProgramErrorKind } from './errors.js';

// Maps.
export { MapType, mapTypeInfo, mapTypeName } from './maps/map-type.js';
export type { FdValue, MapTypeInfo } from './maps/map-type.js';
export { possibleCpus } from './sys/cpus.js';
export { MapData, MapFlags, ElemFlags } from './maps/map-data.js';
export type { MapSpec, MapInfo } from './maps/map-data.js';
export type { FdOwner } from './sys/fd.js';
export { u8, u16, u32, u64, i8, i16, i32, i64, bytes, array, struct } from './codec/index.js';
export type { Codec, Decoded, Scratch, StructValue } from './codec/index.js';
export { cstring, btfCodec, btfCodecOf } from './codec/index.js';
export type { BtfValue } from './codec/index.js';
export { TypedMap } from './maps/typed-map.js';
export type { IndexedMap, KeyedMap, TryFromOptions, MapCreateOptions, InnerMap, FromMapData } from './maps/typed-map.js';
export { ArrayMap } from './maps/array.js';
export { HashMap } from './maps/hash-map.js';
export { ArrayOfMaps } from './maps/array-of-maps.js';
export type { MapOfMapsCreateOptions } from './maps/of-maps.js';
export { HashOfMaps } from './maps/hash-of-maps.js';
export { StructOpsMap } from './maps/struct-ops.js';
export { SockMap } from './maps/sock-map.js';
export type { SockMapCreateOptions } from './maps/sock-map.js';
export { SockHash } from './maps/sock-hash.js';
export type { SocketLike } from './socket-fd.js';
export { ProgramArray } from './maps/prog-array.js';
export type { ProgramLike } from './maps/prog-array.js';
export { DevMap, DevMapHash, CpuMap } from './maps/dev-map.js';
export type { TargetMapCreateOptions, DevMapValue, DevMapEntry, CpuMapValue, CpuMapEntry } from './maps/dev-map.js';
export { XskMap, CgroupArray } from './maps/fd-arrays.js';
export type { CgroupLike } from './maps/fd-arrays.js';
export { ReusePortSockArray } from './maps/reuseport-sock-array.js';
export { SkStorage, TaskStorage, InodeStorage, CgrpStorage } from './maps/local-storage.js';
export type { LocalStorage, LocalStorageCreateOptions, TaskLike } from './maps/local-storage.js';
export { Pidfd, openPidfd } from './maps/pidfd.js';
export { Arena } from './maps/arena.js';
export type { ArenaCreateOptions } from './maps/arena.js';

// Objects and loading.
export { Ebpf, EbpfLoader } from './loader/index.js';
export type { GlobalOptions } from './loader/index.js';
export type { BtfMapClass, BtfMapOf, BtfTypedMap } from './loader/index.js';
export type { GlobalValue } from './global-value.js';
export { ObjectSpec, Pinning } from './obj/spec.js';
export type { MapDefinition, ProgramSpec, VariableSpec, Reference } from './obj/spec.js';
export { Btf, kernelBtfTarget } from './obj/btf.js';
export { loadKernelBtf } from './kernel-btf.js';
export type { BtfEnumValue, BtfKindName, BtfMember, BtfParam, BtfType, BtfTypeOf, BtfVarSecinfo } from './obj/btf.js';
export type { BtfExt, CoreRelo, FuncInfo, LineInfo } from './obj/btf-ext.js';
export type { KsymDeclaration } from './obj/externs.js';

// Program and attach types, section names.
export { ProgramType, AttachType, programTypeName, attachTypeName } from './programs/program-type.js';
export { programTypeForSection } from './obj/sections.js';
export type { AttachTarget, ProgramKind, SectionArgument, SectionDef, SectionFlags, SectionMatch, SectionMatchOptions, TargetSyntax } from './obj/sections.js';

// Programs: the base class and one class per kind.
export { Program } from './programs/program.js';
export type { ProgramClass, TestRunOptions, TestRunResult } from './programs/program.js';
export {
  SocketFilter, SkReuseport, KProbe, UProbe, KProbeMulti, UProbeMulti, SchedClassifier, TracePoint, RawTracePoint, RawTracePointWritable,
  BtfTracePoint, FEntry, FExit, FModRet, Extension, Lsm, LsmCgroup, Iter, Syscall, Xdp, PerfEvent, LwtIn, LwtOut, LwtXmit, SockOps, SkSkb,
  SkMsg, LircMode2, FlowDissector, CgroupSkb, CgroupSock, CgroupSockAddr, CgroupSysctl, CgroupSockopt, CgroupDevice, StructOps, SkLookup, Netfilter,
  programFromPin, programFromId,
} from './programs/kinds.js';

// Links.
export { Link, FdLink, LinkType, linkTypeName, decodeLinkInfo } from './links/link.js';
export type { LinkInfo } from './links/link.js';

// Feature probes.
export { isProgramTypeSupported, isMapTypeSupported, isHelperSupported, isLinkTypeSupported } from './features.js';

// Tracing: perf-event attachment, tracing links, iterators, freplace targets.
export { attachPerfEvent } from './programs/perf-attach.js';
export { PerfEventIoctlLink, PerfEventLinks } from './links/perf-event.js';
export type { PerfAttachMechanism } from './programs/perf-attach.js';
export { attachTracing } from './programs/tracing-attach.js';
export type { BtfTracingProgram, TracingAttachOptions, TracingAttachMechanism, TracingTarget } from './programs/tracing-attach.js';
export { CgroupIterOrder } from './programs/iter.js';
export { IterLink } from './links/iter.js';
export type { IterAttachOptions } from './programs/iter.js';
export { programFunctionBtfId } from './programs/extension.js';
export type { ExtensionLoadOptions, ExtensionTargetProgram } from './programs/extension.js';
export { tracepointId } from './programs/trace-point.js';
export type { TracePointAttachOptions } from './programs/trace-point.js';
export type { RawTracePointAttachOptions } from './programs/raw-trace-point.js';

// XDP and tc.
export { XdpNetlinkLink, XdpFlags } from './links/xdp.js';
export type { XdpMode } from './links/xdp.js';
export type { XdpAttachOptions } from './programs/xdp.js';
export { ClsBpfLink } from './links/cls-bpf.js';
export type { TcDirection } from './links/cls-bpf.js';
export type { TcAttachOptions, TcxAttachOptions, ClsBpfAttachOptions, TcxAnchor, TcxEntry } from './programs/sched-classifier.js';

// Sockets, cgroups and namespaces.
export { ProgAttachLink } from './links/prog-attach.js';
export type { SockMapLike } from './programs/attach-point.js';
export { queryCgroup } from './programs/cgroup-attach.js';
export type { CgroupAttachMode, CgroupAttachOptions, CgroupQueryOptions } from './programs/cgroup-attach.js';
export type { ProgQueryResult } from './sys/link.js';
export { SocketOptionLink } from './links/socket-option.js';
export type { SkSkbKind } from './programs/sk-skb.js';

// uprobes, kprobes and perf events.
export { PerfType, HardwareEvent, SoftwareEvent } from './sys/perf.js';
export type { UProbeAttachOptions } from './programs/uprobe.js';
export type { UProbeMultiAttachOptions } from './programs/uprobe-multi.js';
export type { KProbeAttachOptions } from './programs/kprobe.js';
export type { KProbeMultiAttachOptions } from './programs/kprobe-multi.js';
export type { PerfEventAttachOptions, PerfEventTypeName } from './programs/perf-event.js';
export type { ProbeMechanism } from './programs/probe-event.js';

// Netfilter, lightweight tunnels.
export { LwtRouteLink } from './links/lwt-route.js';
export type { LwtAttachOptions, LwtHook } from './programs/lwt-route.js';
export type { NetfilterAttachOptions, NetfilterFamily, NetfilterHook } from './programs/netfilter.js';

// Introspection and statistics.
export { loadedPrograms, loadedMaps, loadedLinks, enableStats, Stats } from './info.js';
export type { StatsType } from './info.js';
export type { ProgramInfo } from './programs/program-info.js';

// Ring buffers: BPF_MAP_TYPE_RINGBUF read from the mapped ring, BPF_MAP_TYPE_USER_RINGBUF written to it.
export { RingBuf, RingBufPoller } from './events/ringbuf.js';
export type { RingBufCallback, RingBufRawCallback, DrainOptions, RecordsOptions } from './events/ringbuf.js';
export { UserRingBuf } from './events/user-ringbuf.js';
export type { UserRingBufSample } from './events/user-ringbuf.js';
// Batches, memory-mapped arrays, global variables after load.
export { MapBatchCursor } from './maps/batch.js';
export type { BatchEntries } from './maps/typed-map.js';
export type { MapMemory, ArrayMemory } from './maps/mapped.js';
export type { GlobalVariable } from './loader/variable.js';
export type { GlobalData } from './global-value.js';
// Perf buffers (BPF_MAP_TYPE_PERF_EVENT_ARRAY).
export { PerfEventArray } from './events/perf-event-array.js';
export type { PerfEventArrayCreateOptions } from './events/perf-event-array.js';
export { PerfReader } from './events/perf-reader.js';
export type { PerfReaderOptions, PerfRecord, PerfSampleCallback, PerfRawSampleCallback, PerfLostCallback } from './events/perf-reader.js';

// The other map kinds: per-CPU, LPM trie, queue and stack, bloom filter, stack traces (and their symbols).
export { PerCpuArray, PerCpuHashMap } from './maps/per-cpu.js';
export type { PerCpuInput } from './maps/per-cpu.js';
export { LpmTrie } from './maps/lpm-trie.js';
export type { LpmKey } from './maps/lpm-trie.js';
export { Queue, Stack } from './maps/queue-stack.js';
export type { ValueStore } from './maps/queue-stack.js';
export { BloomFilter } from './maps/bloom-filter.js';
export type { BloomFilterCreateOptions } from './maps/bloom-filter.js';
export { StackTraceMap } from './maps/stack-trace.js';
export type { StackTraceCreateOptions, BuildIdFrame } from './maps/stack-trace.js';
export { KernelSymbols, ProcessSymbols, formatSymbol } from './symbols.js';
export type { ResolvedSymbol } from './symbols.js';

// AF_XDP: a socket that receives what an XDP program redirects through an XskMap.
export { XdpSocket } from './xsk/xdp-socket.js';
export type { XdpSocketOptions, XdpSocketStatistics } from './xsk/xdp-socket.js';
export { XdpSocketError } from './errors.js';
export type { XdpSocketErrorKind } from './errors.js';

// Typed access without casts: ebpf.program(name, Class), ebpf.map(name, Class, ...shape), ebpf.attachAll().
export { AttachedLinks } from './programs/attach-all.js';
export type { MapClass, MapShapeOf, MapInstanceOf, MapTyping } from './maps/typed-map.js';
export type { NetnsTarget } from './programs/attach-point.js';

// The Prometheus exporter: a config names an object, its programs and how maps become metrics.
export { exportMetrics, MetricsExporter, ExporterConfigError, checkExporterConfig, loadExporterConfig, parseExporterConfig } from './exporter/index.js';
export type { ExporterConfig, ExporterConfigErrorKind, MetricConfig, MetricBaseConfig, CounterConfig, GaugeConfig, HistogramConfig, BucketConfig, LabelConfig } from './exporter/index.js';
// Logging from BPF: tsbpf_log.h's log_info(...) records formatted into a logger; bpf_printk's trace_pipe lines.
export { attachLogger, BpfLogger } from './log/logger.js';
export type { AttachLoggerOptions, BpfLogTarget } from './log/logger.js';
export type { BpfLogLevel, BpfLogRecord, BpfLogArg } from './log/format.js';
export { tracePipe, TracePipe, parseTracePipeLine } from './log/trace-pipe.js';
export type { TracePipeLine, TracePipeOptions } from './log/trace-pipe.js';
