// What the running kernel offers, as tsbpf's own probes answer it, and which attach
// mechanism tsbpf then chooses: printed as one JSON line (a FeatureRecord). run.ts runs
// this inside each guest (and on the host) and tabulates kernel × feature. XDP and tc are
// also attached for real on `lo`, so the table shows the class the library returned,
// not only what the probe predicts.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  AttachType,
  ClsBpfLink,
  Ebpf,
  FdLink,
  isLinkTypeSupported,
  isMapTypeSupported,
  isProgramTypeSupported,
  LinkType,
  MapType,
  ProgramType,
  XdpNetlinkLink,
  type Link,
  type SchedClassifier,
  type Xdp,
} from '../../src/index.js';
import { perfAttachMechanism, probeMechanisms, tracingAttachMechanism } from '../../src/testing.js';

/** true / false, or the error a probe threw instead of answering. */
export type Answer = boolean | string;

export interface FeatureRecord {
  t: 'features';
  release: string;
  programTypes: Record<string, Answer>;
  mapTypes: Record<string, Answer>;
  linkTypes: Record<string, Answer>;
  /** How tsbpf attaches each kind here: the mechanism name, or the error. */
  mechanisms: Record<string, string>;
}

function answer(fn: () => boolean): Answer {
  try {
    return fn();
  } catch (err) {
    return `error: ${err instanceof Error ? err.message : String(err)}`.slice(0, 300);
  }
}

function mechanism(fn: () => string): string {
  try {
    return fn();
  } catch (err) {
    return `error: ${err instanceof Error ? `${err.name}${'kind' in err ? ` ${String(err.kind)}` : ''}: ${err.message}` : String(err)}`.slice(0, 300);
  }
}

// Tracing programs differ by attach type (a kernel may load iterators but refuse fentry).
const tracingVariants: Record<string, number> = {
  'Tracing/fentry': AttachType.TraceFentry,
  'Tracing/fexit': AttachType.TraceFexit,
  'Tracing/fmod_ret': AttachType.ModifyReturn,
  'Tracing/iter': AttachType.TraceIter,
  'Tracing/tp_btf': AttachType.TraceRawTp,
};

const NET_OBJECT = fileURLToPath(new URL('../../../bpf/attach_net.o', import.meta.url));

/** Attaches `attach()`'s program for real and names what came back. */
function attachedClass(attach: () => Link): string {
  const link = attach();
  try {
    if (link instanceof XdpNetlinkLink) return 'netlink';
    if (link instanceof ClsBpfLink) return 'cls_bpf (netlink)';
    if (link instanceof FdLink) return `link (${link.info().typeName})`;
    return link.constructor.name;
  } finally {
    link.detach();
  }
}

function mechanisms(): Record<string, string> {
  const out: Record<string, string> = {};
  let net: Ebpf | undefined;
  try {
    net = Ebpf.load(NET_OBJECT);
  } catch (err) {
    out['bpf/attach_net.o'] = mechanism(() => { throw err; });
  }
  if (net) {
    const obj = net;
    out['XDP on lo (default)'] = mechanism(() => attachedClass(() => (obj.program('xdp_pass') as Xdp).attach('lo', { mode: 'skb' })));
    out['tc ingress on lo (default)'] = mechanism(() => attachedClass(() => (obj.program('tc_pass') as SchedClassifier).attach('lo', 'ingress')));
    obj.close();
  }
  out['tracepoint / kprobe / uprobe / perf event'] = mechanism(() => (perfAttachMechanism() === 'link' ? 'perf_event link' : 'PERF_EVENT_IOC_SET_BPF'));
  out['fentry / fexit / lsm'] = mechanism(() =>
    !isProgramTypeSupported(ProgramType.Tracing, AttachType.TraceFentry) ? 'none (programs refused)' : tracingAttachMechanism(AttachType.TraceFentry) === 'link' ? 'tracing link' : 'RAW_TRACEPOINT_OPEN');
  out['cgroup (multi)'] = mechanism(() => (isLinkTypeSupported(LinkType.Cgroup) ? 'cgroup link' : 'PROG_ATTACH'));
  out['sk_lookup / flow dissector'] = mechanism(() => (isLinkTypeSupported(LinkType.Netns) ? 'netns link' : 'PROG_ATTACH (own netns only)'));
  out['sk_msg / sk_skb'] = mechanism(() => (isLinkTypeSupported(LinkType.Sockmap) ? 'sockmap link' : 'PROG_ATTACH'));
  out.kprobe = mechanism(() => probeMechanisms('kprobe').join(', ') || 'none');
  out.uprobe = mechanism(() => probeMechanisms('uprobe').join(', ') || 'none');
  return out;
}

function table(names: object, probe: (type: number) => boolean): Record<string, Answer> {
  const out: Record<string, Answer> = {};
  for (const [name, type] of Object.entries(names) as [string, number][]) if (name !== 'Unspec') out[name] = answer(() => probe(type));
  return out;
}

const programTypes = table(ProgramType, (t) => isProgramTypeSupported(t));
for (const [name, attachType] of Object.entries(tracingVariants)) programTypes[name] = answer(() => isProgramTypeSupported(ProgramType.Tracing, attachType));

const record: FeatureRecord = {
  t: 'features',
  release: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
  programTypes,
  mapTypes: table(MapType, (t) => isMapTypeSupported(t)),
  linkTypes: table(LinkType, (t) => isLinkTypeSupported(t)),
  mechanisms: mechanisms(),
};
process.stdout.write(`${JSON.stringify(record)}\n`);
