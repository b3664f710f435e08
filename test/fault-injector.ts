// Fault injection over the whole kernel seam (replaceKernel). A scenario (a load,
// map operations, an attach and detach) is run once to learn the kernel calls it makes;
// then once per call and errno with that call failing (the calls before it real), and
// each run must end in a typed tsbpf error or a correct result, with nothing it made
// left behind: descriptors, BPF mappings, pins, attachments.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AssertionError } from 'node:assert';
import { BtfError, MapError, ParseError, PinError, ProgramError, SyscallError } from '../src/index.js';
import * as sys from '../src/sys/index.js';
import { enumEntries } from '../src/sys/abi/enums.js';
import { clearFeatureCache, replaceKernel } from '../src/testing.js';
import type { Kernel } from '../src/sys/native.js';
import { fdTarget } from './gc.js';

/** The errnos every call is failed with, in turn. */
export const ERRNOS = ['EPERM', 'ENOMEM', 'EINVAL', 'EAGAIN', 'E2BIG', 'EBADF', 'EINTR'] as const;
export type ErrnoName = (typeof ERRNOS)[number];

const errnoValue = (name: string): number => (sys.Errno as Record<string, number>)[name]!;

/** One kernel call: the seam method and what it did ('bpf BPF_MAP_CREATE', 'close', ...). */
export interface KernelCall {
  method: string;
  what: string;
}

const cmdNames = new Map<number, string>();
for (const [name, value] of enumEntries(sys.Cmd)) cmdNames.set(value, `BPF_${name.replace(/[A-Z]/g, (c, i) => (i ? '_' : '') + c).toUpperCase()}`);
const ioctlNames = new Map<number, string>([[0x2400, 'PERF_EVENT_IOC_ENABLE'], [0x2401, 'PERF_EVENT_IOC_DISABLE'], [0x40042408, 'PERF_EVENT_IOC_SET_BPF']]);

function describe(method: string, args: unknown[]): string {
  if (method === 'bpf' || method === 'bpfIo' || method === 'bpfElem') return cmdNames.get(args[0] as number) ?? `bpf cmd ${String(args[0])}`;
  if (method === 'ioctl') return `ioctl ${ioctlNames.get(args[1] as number) ?? String(args[1])}`;
  if (method === 'setsockopt' || method === 'getsockopt') return `${method} ${String(args[1])}/${String(args[2])}`;
  return method;
}

/**
 * Calls that report absence rather than an errno: failing them means "not there".
 * They are failed once (not once per errno).
 */
const LOOKUPS: Record<string, unknown> = { ifNameToIndex: 0, ifIndexToName: undefined };

/** What a failed call returns. close(2) on Linux releases the descriptor even when it reports an error (EINTR included), so a failing close closes for real first. */
function failedResult(real: Kernel, method: string, args: unknown[], errno: number): unknown {
  if (method in LOOKUPS) return LOOKUPS[method];
  if (method === 'close') (real.close as (fd: number) => number)(args[0] as number);
  return -errno;
}

export interface FaultPlan {
  /** 0-based index of the call to fail, counted over every method of the seam. */
  at: number;
  errno: number;
  /** Fail every call from `at` on, not only that one (cleanup paths then fail too). */
  sticky?: boolean;
}

/**
 * Runs `fn` with every seam method wrapped: the calls are recorded, and those `plan`
 * names fail. Returns the calls made (up to and including the failed ones).
 */
export function withSeam<T>(fn: () => T, plan?: FaultPlan): SeamRun<T> {
  const real = sys.kernel;
  const calls: KernelCall[] = [];
  const state: { calls: KernelCall[]; undoAt?: number } = { calls };
  recording = state;
  const overrides: Record<string, unknown> = {};
  for (const method of Object.keys(real)) {
    const original = (real as unknown as Record<string, unknown>)[method];
    if (typeof original !== 'function') continue;
    overrides[method] = (...args: unknown[]) => {
      const index = calls.length;
      calls.push({ method, what: describe(method, args) });
      if (plan && (index === plan.at || (plan.sticky && index > plan.at))) return failedResult(real, method, args, plan.errno);
      return (original as (...a: unknown[]) => unknown).apply(real, args);
    };
  }
  const restore = replaceKernel(overrides as Partial<Kernel>);
  try {
    const value = fn();
    return { calls, value, threw: false, undoAt: state.undoAt };
  } catch (error) {
    return { calls, error, threw: true, undoAt: state.undoAt };
  } finally {
    restore();
    recording = undefined;
  }
}

export interface SeamRun<T> {
  calls: KernelCall[];
  value?: T;
  error?: unknown;
  threw: boolean;
  /** Index of the first call of the undo phase (markUndo), if the run got there. */
  undoAt?: number;
}

let recording: { calls: KernelCall[]; undoAt?: number } | undefined;

/**
 * Marks the start of a scenario's undo phase (closing, detaching, unregistering): a
 * failure there may leave kernel state behind if the library reports it with a typed
 * error (the kernel refused the undo: 'stuck'), never silently.
 */
export function markUndo(): void {
  if (recording && recording.undoAt === undefined) recording.undoAt = recording.calls.length;
}

// ---- what a run may leave behind ---------------------------------------------------

/** The process's descriptors with what they refer to ('3 anon_inode:bpf-map'). */
export function openFds(): string[] {
  return readdirSync('/proc/self/fd').flatMap((name) => {
    const target = fdTarget(Number(name)); // undefined: the descriptor of the listing itself
    return target === undefined ? [] : [`${name} ${target}`];
  }).sort();
}

/** Mappings of BPF objects and perf events (what tsbpf could mmap; the heap's own come and go). */
export function bpfMappings(): string[] {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => /anon_inode:(bpf|\[perf_event\])/.test(l));
}

/** Every path under `dir` (a bpffs directory): the pins. */
export function pinsUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      out.push(p);
      if (statSync(p).isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

export interface Snapshot {
  fds: string[];
  mappings: string[];
  /** Scenario-specific kernel state: pins, attachments, routes, probe definitions. */
  state: string;
}

/** What differs between two snapshots, in words; empty when nothing does. */
export function difference(before: Snapshot, after: Snapshot): string[] {
  const out: string[] = [];
  const setDiff = (what: string, a: string[], b: string[]) => {
    const added = b.filter((x) => !a.includes(x));
    const removed = a.filter((x) => !b.includes(x));
    if (added.length) out.push(`${what} left: ${added.join(', ')}`);
    if (removed.length) out.push(`${what} gone: ${removed.join(', ')}`);
  };
  // An fd number may be reused by another object of the same kind: compare the multiset of targets too.
  setDiff('fd', before.fds, after.fds);
  if (before.fds.length !== after.fds.length) out.push(`fd count ${before.fds.length} -> ${after.fds.length}`);
  setDiff('mapping', before.mappings, after.mappings);
  if (before.state !== after.state) out.push(`kernel state changed:\n--- before\n${before.state}\n--- after\n${after.state}`);
  return out;
}

// ---- outcomes ----------------------------------------------------------------------

/** tsbpf's typed errors of the public API (a bare SyscallError is the raw layer's, never the public API's). */
export function isTypedError(err: unknown): boolean {
  return err instanceof MapError || err instanceof ProgramError || err instanceof PinError || err instanceof ParseError || err instanceof BtfError;
}

export type Outcome =
  /** The failure became a typed error. */
  | 'typed'
  /** The library got past the failure (a retry, a fallback, a probe saying "not supported") and the scenario's result was right. */
  | 'recovered'
  /** An undo call failed (close, detach, unregister) and the typed error says what stays behind. */
  | 'stuck'
  /** Defects: */
  | 'untyped'
  | 'bare-syscall-error'
  | 'wrong-result'
  | 'leak'
  /** The run made another call at that index than the recording: the scenario is not deterministic. */
  | 'diverged';

export interface Injection {
  scenario: string;
  at: number;
  call: KernelCall;
  errno: string;
  sticky: boolean;
  outcome: Outcome;
  detail: string;
}

export interface Scenario<C = unknown> {
  name: string;
  /** In the CI set (the rest run with --all). */
  ci: boolean;
  /** Real kernel, outside injection: objects the runs share (a loaded program, a veth pair). */
  setup?(): Promise<C> | C;
  /** The injected part: synchronous, cleans up what it made on success, asserts its result. */
  run(ctx: C): void;
  /** Kernel state the runs must leave as they found it (attachments, routes, probe events, pins). */
  state?(ctx: C): string;
  teardown?(ctx: C): Promise<void> | void;
  /** Puts the kernel state back after a run that left some (so the next runs start clean). */
  repair?(ctx: C): void;
  /** Why the calls differ from run to run, if they do: a call other than the recorded one failing is then no defect. */
  varies?: string;
  /** In the CI set: at most this many call indices, spread evenly (the rest run with --all). */
  ciMaxCalls?: number;
  /** At most this many call indices even with --all (a walk of every object in the kernel). */
  maxCalls?: number;
  /** Only these calls are failed (default: all); for scenarios whose setup calls are not the point. */
  only?(call: KernelCall): boolean;
}

export interface ScenarioReport {
  name: string;
  calls: KernelCall[];
  injections: Injection[];
  /** The scenario still ran cleanly, with the same calls, after all its injections. */
  cleanAfter: string;
  ms: number;
}

function snapshot<C>(s: Scenario<C>, ctx: C): Snapshot {
  return { fds: openFds(), mappings: bpfMappings(), state: s.state ? s.state(ctx) : '' };
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const e = err as Error & { kind?: string; code?: string; call?: string };
    return `${e.name}${e.kind ? `(${e.kind})` : ''}${e.call ? ` ${e.call}` : ''}${e.code ? ` ${e.code}` : ''}: ${e.message.split('\n')[0]!.slice(0, 200)}`;
  }
  return String(err);
}

function classify(result: { threw: boolean; error?: unknown }): { outcome: Outcome; detail: string } {
  if (!result.threw) return { outcome: 'recovered', detail: '' };
  const err = result.error;
  if (err instanceof AssertionError) return { outcome: 'wrong-result', detail: err.message };
  if (isTypedError(err)) return { outcome: 'typed', detail: describeError(err) };
  if (err instanceof SyscallError) return { outcome: 'bare-syscall-error', detail: describeError(err) };
  return { outcome: 'untyped', detail: `${describeError(err)}\n${(err as Error)?.stack ?? ''}` };
}

export interface RunOptions {
  errnos?: readonly string[];
  /** Also fail every call from the index on (cleanup paths fail too). */
  sticky?: boolean;
  /** At most this many call indices (spread evenly), for a quick run. */
  maxCalls?: number;
  /** Every call of every scenario (else a scenario's ciMaxCalls applies). */
  all?: boolean;
}

/** Records the scenario's calls, then fails each in turn with each errno. */
export async function runScenario<C>(s: Scenario<C>, options: RunOptions = {}): Promise<ScenarioReport> {
  const started = Date.now();
  const errnos = options.errnos ?? ERRNOS;
  const ctx = (s.setup ? await s.setup() : undefined) as C;
  s.repair?.(ctx); // what an earlier, interrupted run may have left
  const injections: Injection[] = [];
  let calls: KernelCall[] = [];
  let cleanAfter = '';
  try {
    // Once to fill the caches (feature probes, kernel BTF), once to record.
    const warm = withSeam(() => s.run(ctx));
    if (warm.threw) throw new Error(`scenario ${s.name} fails without injection: ${describeError(warm.error)}`, { cause: warm.error });
    const base = snapshot(s, ctx);
    const recorded = withSeam(() => s.run(ctx));
    if (recorded.threw) throw new Error(`scenario ${s.name} fails without injection: ${describeError(recorded.error)}`, { cause: recorded.error });
    calls = recorded.calls;
    let indices = calls.map((_, i) => i).filter((i) => !s.only || s.only(calls[i]!));
    const maxCalls = options.maxCalls ?? s.maxCalls ?? (options.all ? undefined : s.ciMaxCalls);
    if (maxCalls && indices.length > maxCalls) {
      const step = indices.length / maxCalls;
      indices = Array.from({ length: maxCalls }, (_, k) => indices[Math.floor(k * step)]!);
    }
    const modes = options.sticky ? [false, true] : [false];
    for (const i of indices) {
      const call = calls[i]!;
      const names = call.method in LOOKUPS ? ['ENOENT'] : errnos;
      for (const sticky of modes) {
        for (const errno of names) {
          const result = withSeam(() => s.run(ctx), { at: i, errno: errnoValue(errno), sticky });
          let { outcome, detail } = classify(result);
          const made = result.calls[i];
          if (!s.varies && (!made || made.what !== call.what)) {
            outcome = 'diverged';
            detail = `call ${i} was ${made ? made.what : 'not made'}, recorded ${call.what}`;
          }
          const now = snapshot(s, ctx);
          const leftover = difference(base, now);
          if (leftover.length && outcome !== 'diverged') {
            // In the undo phase (or when every later call fails too, undoing included) a typed
            // error may leave kernel state it reports, never descriptors.
            const undo = sticky || (recorded.undoAt !== undefined && i >= recorded.undoAt);
            const onlyState = difference({ ...base, state: '' }, { ...now, state: '' }).length === 0;
            const reported = undo && onlyState && outcome === 'typed';
            detail = `${leftover.join('; ')}${detail ? ` (after ${outcome}: ${detail})` : ''}`;
            outcome = reported ? 'stuck' : 'leak';
            s.repair?.(ctx);
          }
          injections.push({ scenario: s.name, at: i, call, errno, sticky, outcome, detail });
          if (sticky) {
            // Every call failing is a kernel that refuses everything: a feature probe run on an
            // error path (the loader asks one when a load fails without a log) rightly caches
            // "unsupported" for it. Back to the real kernel's answers before the next run.
            clearFeatureCache();
            withSeam(() => s.run(ctx));
          }
          if (outcome === 'leak' || outcome === 'stuck') {
            // Later runs are compared with the state as it is now, so one leak is reported once.
            Object.assign(base, snapshot(s, ctx));
          }
        }
      }
    }
    const after = withSeam(() => s.run(ctx));
    if (after.threw) cleanAfter = `fails after the injections: ${describeError(after.error)}`;
    else if (!s.varies && after.calls.map((c) => c.what).join() !== calls.map((c) => c.what).join()) {
      cleanAfter = `makes other calls after the injections (${after.calls.length} instead of ${calls.length}): a cache was changed`;
    }
  } finally {
    await s.teardown?.(ctx);
  }
  return { name: s.name, calls, injections, cleanAfter, ms: Date.now() - started };
}

/** Counts of outcomes. */
export function tally(injections: readonly Injection[]): Record<Outcome, number> {
  const out: Record<Outcome, number> = { typed: 0, recovered: 0, stuck: 0, untyped: 0, 'bare-syscall-error': 0, 'wrong-result': 0, leak: 0, diverged: 0 };
  for (const i of injections) out[i.outcome]++;
  return out;
}

export const DEFECTS: readonly Outcome[] = ['untyped', 'bare-syscall-error', 'wrong-result', 'leak', 'diverged'];

/** One line per defect, grouped by scenario, call and outcome. */
export function defectLines(injections: readonly Injection[]): string[] {
  const groups = new Map<string, { errnos: string[]; detail: string }>();
  for (const i of injections) {
    if (!DEFECTS.includes(i.outcome)) continue;
    const key = `${i.scenario} #${i.at} ${i.call.what}${i.sticky ? ' (sticky)' : ''}: ${i.outcome}`;
    const g = groups.get(key) ?? { errnos: [], detail: i.detail };
    g.errnos.push(i.errno);
    groups.set(key, g);
  }
  return [...groups].map(([k, g]) => `${k} [${g.errnos.join(' ')}]\n    ${g.detail.split('\n').slice(0, 6).join('\n    ')}`);
}
