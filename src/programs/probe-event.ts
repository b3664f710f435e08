// The perf event behind a kprobe or uprobe, by one of two mechanisms: the kprobe /
// uprobe PMU (perf_event_open with the PMU's dynamic type, the function name or file
// path in config1 and the offset in config2; 4.17+), or the older tracefs interface (a
// probe defined by writing to kprobe_events / uprobe_events, opened as a tracepoint by
// its id, and removed again on detach). The PMU is preferred where its sysfs entry
// exists, as in libbpf and cilium/ebpf; either way the program is attached by
// attachPerfEvent.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { ProgramError } from '../errors.js';
import { Errno, SyscallError } from '../sys/errors.js';
import { PerfType, perfEventOpen } from '../sys/perf.js';
import { attachError, Link } from '../links/link.js';
import { TracefsProbeLink } from '../links/tracefs-probe.js';
import { attachOpenedPerfEvent } from './perf-attach.js';
import { tracefs as tracefsRoot } from './trace-point.js';

/** kprobe or uprobe. */
export type ProbeKind = 'kprobe' | 'uprobe';
/** How a probe is created: the perf PMU (4.17+) or tracefs `kprobe_events`/`uprobe_events`. */
export type ProbeMechanism = 'pmu' | 'tracefs';

export interface ProbeEvent {
  kind: ProbeKind;
  retprobe: boolean;
  /** kprobe: the kernel function; uprobe: the file. */
  target: string;
  /** kprobe: offset into the function; uprobe: offset into the file. */
  offset: bigint;
  /** uprobe: the process to trace (-1: every process). kprobes: -1. */
  pid: number;
  /** Default: the PMU where it exists, tracefs otherwise. */
  mechanism?: ProbeMechanism;
}

const PMU_DIR = '/sys/bus/event_source/devices';
const FEATURE: Record<ProbeKind, string> = { kprobe: 'kprobes', uprobe: 'uprobes' };

/** The PMU's perf type and the config bit that makes a return probe, or undefined without the PMU. */
function pmu(kind: ProbeKind): { type: number; retprobeBit: number } | undefined {
  let type: number;
  try {
    type = Number(readFileSync(`${PMU_DIR}/${kind}/type`, 'utf8').trim());
  } catch {
    return undefined;
  }
  // format/retprobe reads "config:0": the bit of config that selects a return probe.
  let retprobeBit = 0;
  try {
    const m = /^config:(\d+)/.exec(readFileSync(`${PMU_DIR}/${kind}/format/retprobe`, 'utf8').trim());
    if (m) retprobeBit = Number(m[1]);
  } catch {
    // Kernels before the format file used bit 0.
  }
  return { type, retprobeBit };
}

/** The tracefs directory with `<kind>_events`, or undefined (no such probes, or no tracefs). */
function tracefs(kind: ProbeKind): string | undefined {
  let root: string;
  try {
    root = tracefsRoot();
  } catch (err) {
    if (err instanceof ProgramError && err.kind === 'NotSupported') return undefined;
    throw err;
  }
  return existsSync(`${root}/${kind}_events`) ? root : undefined;
}

/** Which mechanisms this kernel offers for `kind` (for tests and diagnostics). */
export function probeMechanisms(kind: ProbeKind): ProbeMechanism[] {
  const out: ProbeMechanism[] = [];
  if (pmu(kind)) out.push('pmu');
  if (tracefs(kind)) out.push('tracefs');
  return out;
}

function notSupported(program: string, e: ProbeEvent, why: string): ProgramError {
  return new ProgramError('NotSupported', `${program}: cannot attach a ${e.kind}: ${why}`, { program, feature: FEATURE[e.kind] });
}

/** Attaches `program` to the probe `e`. The Link removes a tracefs probe again on detach. */
export function attachProbe(program: { fd: number; name: string }, e: ProbeEvent, description: string, cookie?: bigint): Link {
  void program.fd; // ProgramError 'NotLoaded' before anything is created
  const viaPmu = e.mechanism !== 'tracefs' ? pmu(e.kind) : undefined;
  if (e.mechanism === 'pmu' && !viaPmu) throw notSupported(program.name, e, `this kernel has no ${e.kind} PMU (${PMU_DIR}/${e.kind})`);
  if (viaPmu) {
    let perfFd: number;
    try {
      perfFd = perfEventOpen(
        { type: viaPmu.type, config: e.retprobe ? 1n << BigInt(viaPmu.retprobeBit) : 0n, config2: e.offset },
        { pid: e.pid, cpu: e.pid === -1 ? 0 : -1, name: e.target },
      );
    } catch (err) {
      throw attachError(program.name, description, err);
    }
    return attachOpenedPerfEvent(program, perfFd, description, cookie);
  }
  const dir = tracefs(e.kind);
  if (!dir) {
    throw notSupported(program.name, e, e.mechanism === 'tracefs'
      ? `no ${e.kind}_events in tracefs (/sys/kernel/tracing or /sys/kernel/debug/tracing)`
      : `no ${e.kind} PMU and no ${e.kind}_events in tracefs`);
  }
  return attachTracefsProbe(program, e, dir, description, cookie);
}

let tracefsCounter = 0;

/** A tracefs probe's event name: unique per process and call, ≤ 63 characters of [A-Za-z0-9_]. */
function eventName(e: ProbeEvent): string {
  const base = e.target.split('/').pop()!.replace(/[^A-Za-z0-9_]/g, '_');
  return `tsbpf_${process.pid}_${tracefsCounter++}_${base}`.slice(0, 63);
}

const GROUP = 'tsbpf';

/** Writes a probe definition or removal to kprobe_events / uprobe_events (appending, never truncating). */
function writeEvents(dir: string, kind: ProbeKind, line: string): void {
  try {
    appendFileSync(`${dir}/${kind}_events`, `${line}\n`);
  } catch (err) {
    const errno = -((err as NodeJS.ErrnoException).errno ?? -Errno.EIO);
    throw new SyscallError(`write ${dir}/${kind}_events`, errno, line);
  }
}

function attachTracefsProbe(program: { fd: number; name: string }, e: ProbeEvent, dir: string, description: string, cookie?: bigint): Link {
  if (/\s/.test(e.target)) throw attachError(program.name, description, new SyscallError(`write ${dir}/${e.kind}_events`, Errno.EINVAL, 'tracefs probe targets cannot contain white space'));
  const name = eventName(e);
  const where = e.kind === 'uprobe' ? `${e.target}:0x${e.offset.toString(16)}` : e.offset === 0n ? e.target : `${e.target}+${e.offset}`;
  try {
    writeEvents(dir, e.kind, `${e.retprobe ? 'r' : 'p'}:${GROUP}/${name} ${where}`);
  } catch (err) {
    throw attachError(program.name, description, err);
  }
  const remove = () => {
    try {
      writeEvents(dir, e.kind, `-:${GROUP}/${name}`);
    } catch (err) {
      if (!(err instanceof SyscallError) || err.errno !== Errno.ENOENT) throw err;
    }
  };
  let inner: Link;
  try {
    const id = Number(readFileSync(`${dir}/events/${GROUP}/${name}/id`, 'utf8').trim());
    let perfFd: number;
    try {
      perfFd = perfEventOpen({ type: PerfType.Tracepoint, config: id }, { pid: e.pid, cpu: e.pid === -1 ? 0 : -1 });
    } catch (err) {
      throw attachError(program.name, description, err);
    }
    inner = attachOpenedPerfEvent(program, perfFd, description, cookie);
  } catch (err) {
    remove();
    throw err;
  }
  return new TracefsProbeLink(inner, remove, `${description} (tracefs ${GROUP}/${name})`);
}
