// The seams tests reach for ('tsbpf/testing'): replacing kernel calls to inject faults,
// forgetting what the feature probes learnt, and which mechanism an attach would use.
// Not for production code: these change or reveal process-wide state.
export { replaceKernel } from './sys/native.js';
export type { Kernel, Watch } from './sys/native.js';
export { clearFeatureCache } from './features.js';
export { perfAttachMechanism } from './programs/perf-attach.js';
export type { PerfAttachMechanism } from './programs/perf-attach.js';
export { tracingAttachMechanism } from './programs/tracing-attach.js';
export type { TracingAttachMechanism } from './programs/tracing-attach.js';
export { probeMechanisms } from './programs/probe-event.js';
export type { ProbeKind, ProbeMechanism } from './programs/probe-event.js';
