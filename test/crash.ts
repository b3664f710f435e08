// Crash consistency: a child (test/crash-child.ts) updates maps pinned on bpffs, pins
// new maps, replaces pins and pinned links, acknowledging each operation to this
// process over a pipe before starting the next; it is killed with SIGKILL at a random
// point, again and again. After every kill the pins are read back with MapData.fromPin
// and Link.fromPin and compared with the state the operations imply (test/crash-ops.ts):
//   - every acknowledged operation is there: the state is the one after the last
//     acknowledged operation n, except that the one component operation n+1 touches
//     may show that operation done (it may have completed before its acknowledgement)
//     or, for a pin being replaced, absent;
//   - no pin is half-made: every name in the directory is one the operations make, and
//     each opens as a complete object of its type and sizes (a `-next` pin included);
//   - nothing else changed.
// The next child starts after the last operation found done.
//
// `npm run crash -- --kills 2000` for a longer run; test/crash.test.ts runs 200.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ArrayMap,
  ArrayOfMaps,
  EbpfLoader,
  HashMap,
  Link,
  LinkType,
  MapData,
  Program,
  ProgramType,
  isLinkTypeSupported,
  isProgramTypeSupported,
  u32,
  u64,
  type MapSpec,
} from '../src/index.js';
import { apply, cloneState, COUNTERS, initialState, INNER, opAt, PINS, SHAPES, SLOTS, type Op, type State } from './crash-ops.js';
import { prng as random } from './fuzz.js';
import { bpffsDir, fdCount, repoRoot } from './helpers.js';

export interface CrashOptions {
  kills: number;
  /** Children killed at the same time, each on a directory of its own (default 2). */
  lanes?: number;
  /** Seeds the kill points (the child's operations do not depend on it). */
  seed?: number;
  log?: (line: string) => void;
}

export interface CrashResult {
  kills: number;
  durationMs: number;
  seed: number;
  /** Operations acknowledged over all children. */
  acknowledged: number;
  /** Kills whose in-flight operation was found done / left no trace / found half-way (a `-next` pin, a pin removed and not yet made). */
  inFlightDone: number;
  inFlightNotDone: number;
  inFlightHalfway: number;
  /** Kills before the child acknowledged anything (while it opened its pins). */
  killedBeforeFirstAck: number;
  /** Whether link pins were part of it (the kernel has perf_event links for tracepoints). */
  links: boolean;
  /** Descriptors of this process before and after (each check opens and closes its own). */
  fdsBefore: number;
  fdsAfter: number;
  /** Median time from spawning a child to its first acknowledgement (Node's start, tsbpf's import, opening the pins). */
  childStartMs: number;
  /** CPU time of this process and its children over the run: the wall time on an idle machine of one core (other processes' load inflates durationMs, not this). */
  cpuSeconds: number;
}

/** CPU seconds used so far by this process and its reaped children (/proc/self/stat utime, stime, cutime, cstime). */
function cpuSeconds(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  // After "pid (comm) ", field 3 (state) is index 0: utime..cstime are fields 14..17.
  return fields.slice(11, 15).reduce((a, f) => a + Number(f), 0) / 100;
}

const CHILD = fileURLToPath(new URL('./crash-child.js', import.meta.url));
const SOAK_OBJECT = join(repoRoot, 'bpf/soak.o');
// Where in a child's life it is killed: shortly after its start (while it opens its
// pins), or at a random point of its operations.
const STARTUP_KILLS = 0.15;
const STARTUP_WINDOW_MS = 150;
const RUNNING_WINDOW_MS = 25;
const CHILD_TIMEOUT_MS = 30_000;

/** What one pin holds, as read back. */
interface Observed {
  state: State;
  genNext: { value: bigint; id: number } | undefined;
  linkNext: { id: number } | undefined;
}

export class Inconsistent extends Error {}

function checkShape(map: MapData, shape: MapSpec, name: string): void {
  const info = map.info();
  for (const k of ['type', 'keySize', 'valueSize', 'maxEntries'] as const) {
    if (info[k] !== shape[k]) throw new Inconsistent(`pin ${name}: ${k} ${info[k]}, expected ${shape[k]} (a half-made pin?)`);
  }
}

/** Opens the map pinned at dir/name, checks its type and sizes, runs `read` on it and closes it. */
function readMap<T>(dir: string, name: string, shape: MapSpec, read: (m: MapData) => T): T {
  const m = MapData.fromPin(join(dir, name));
  try {
    checkShape(m, shape, name);
    return read(m);
  } finally {
    m.close();
  }
}

function readLink(dir: string, name: string): { id: number } {
  const link = Link.fromPin(join(dir, name));
  try {
    const info = link.info();
    if (info.type !== LinkType.PerfEvent) throw new Inconsistent(`pin ${name}: a ${info.typeName} link, expected a perf_event link`);
    return { id: info.id };
  } finally {
    link.close(); // pinned: stays attached
  }
}

const genValue = (m: MapData) => ({ value: ArrayMap.tryFrom(m, u64).get(0), id: m.id });

/** Reads everything back; throws Inconsistent for a name the operations never make or an incomplete object. */
export function observe(dir: string, innerIds: number[], links: boolean): Observed {
  const names = new Set(readdirSync(dir));
  const fixed = ['counters', 'table', 'outer', ...innerIds.map((_, i) => `inner${i}`), ...(links ? ['program'] : [])];
  const optional = ['gen', 'gen-next', ...Array.from({ length: PINS }, (_, i) => `p${i}`), ...(links ? ['link', 'link-next'] : [])];
  for (const name of fixed) if (!names.has(name)) throw new Inconsistent(`pin ${name} is missing`);
  for (const name of names) if (!fixed.includes(name) && !optional.includes(name)) throw new Inconsistent(`unexpected pin ${name}`);

  const state = initialState();
  readMap(dir, 'counters', SHAPES.counters!, (m) => {
    for (const [i, v] of ArrayMap.tryFrom(m, u64)) state.counters[i] = v;
  });
  readMap(dir, 'table', SHAPES.table!, (m) => {
    for (const [k, v] of HashMap.tryFrom(m, u32, u64)) state.table.set(k, v);
  });
  readMap(dir, 'outer', SHAPES.outer!, (m) => {
    for (const [slot, id] of ArrayOfMaps.tryFrom(m)) {
      const inner = innerIds.indexOf(id);
      if (inner < 0) throw new Inconsistent(`outer slot ${slot} holds map ${id}, not one of the inner maps`);
      state.slots[slot] = inner;
    }
  });
  innerIds.forEach((_, i) => readMap(dir, `inner${i}`, SHAPES.inner!, () => undefined));
  if (links) {
    const program = Program.fromPin(join(dir, 'program'));
    const type = program.type;
    program.unload();
    if (type !== ProgramType.Tracepoint) throw new Inconsistent(`pin program: type ${type}, expected a tracepoint program`);
  }
  if (names.has('gen')) state.gen = readMap(dir, 'gen', SHAPES.gen!, genValue);
  const genNext = names.has('gen-next') ? readMap(dir, 'gen-next', SHAPES.gen!, genValue) : undefined;
  for (let i = 0; i < PINS; i++) {
    if (!names.has(`p${i}`)) continue;
    state.pins[i] = readMap(dir, `p${i}`, SHAPES.pin!, (m) => {
      const entries = [...HashMap.tryFrom(m, u32, u64)];
      if (entries.length !== 1 || entries[0]![0] !== 1) throw new Inconsistent(`pin p${i}: entries ${JSON.stringify(entries.map(([k, v]) => [k, String(v)]))}, expected only key 1`);
      return entries[0]![1];
    });
  }
  if (names.has('link')) state.link = readLink(dir, 'link');
  const linkNext = names.has('link-next') ? readLink(dir, 'link-next') : undefined;
  return { state, genNext, linkNext };
}

const sameEntries = (a: Map<number, bigint>, b: Map<number, bigint>) => a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);

const show = (x: unknown) => JSON.stringify(x, (_, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Map ? [...v] : v));

/**
 * Compares what was read with the state after `done` (the acknowledged operations) and
 * the in-flight operation `next`. Returns how far `next` got; throws Inconsistent when
 * an acknowledged operation is missing or anything else differs.
 */
export function judge(seen: Observed, done: State, next: Op): { outcome: 'done' | 'not done' | 'halfway'; id: number } {
  const s = seen.state;
  const differ = (what: string, got: unknown, want: unknown) => new Inconsistent(`${what}: found ${show(got)}, expected ${show(want)} (in flight: ${show(next)})`);
  let outcome: 'done' | 'not done' | 'halfway' = 'not done';
  let id = 0;

  for (let i = 0; i < COUNTERS; i++) {
    if (s.counters[i] === done.counters[i]) continue;
    if (next.kind === 'counter' && next.index === i && s.counters[i] === next.value) outcome = 'done';
    else throw differ(`counters[${i}]`, s.counters[i], done.counters[i]);
  }
  if (!sameEntries(s.table, done.table)) {
    const after = cloneState(done);
    apply(after, next, 0);
    if ((next.kind === 'insert' || next.kind === 'remove') && sameEntries(s.table, after.table)) outcome = 'done';
    else throw differ('table', s.table, done.table);
  }
  for (let i = 0; i < SLOTS; i++) {
    if (s.slots[i] === done.slots[i]) continue;
    if (next.kind === 'slot' && next.slot === i && s.slots[i] === next.inner) outcome = 'done';
    else throw differ(`outer slot ${i}`, s.slots[i], done.slots[i]);
  }
  if (show(s.gen) !== show(done.gen)) {
    if (next.kind === 'gen' && s.gen?.value === next.value && s.gen.id !== done.gen?.id) {
      outcome = 'done';
      id = s.gen.id;
    } else throw differ('gen', s.gen, done.gen);
  }
  if (seen.genNext !== undefined) {
    if (next.kind !== 'gen' || seen.genNext.value !== next.value || outcome === 'done') throw differ('gen-next', seen.genNext, undefined);
    outcome = 'halfway';
  }
  for (let i = 0; i < PINS; i++) {
    if (s.pins[i] === done.pins[i]) continue;
    if (next.kind === 'pin' && next.index === i && s.pins[i] === next.value) outcome = 'done';
    else if (next.kind === 'pin' && next.index === i && s.pins[i] === undefined) outcome = 'halfway';
    else throw differ(`p${i}`, s.pins[i], done.pins[i]);
  }
  if (s.link?.id !== done.link?.id) {
    if (next.kind === 'link' && s.link !== undefined) {
      outcome = 'done';
      id = s.link.id;
    } else throw differ('link', s.link, done.link);
  }
  if (seen.linkNext !== undefined) {
    if (next.kind !== 'link' || outcome === 'done') throw differ('link-next', seen.linkNext, undefined);
    outcome = 'halfway';
  }
  return { outcome, id };
}

/** Runs one child from operation `first` and kills it; resolves with the acknowledgements it wrote. */
function killOne(dir: string, first: number, links: boolean, rand: () => number): Promise<{ acks: [number, number][]; beforeFirstAck: boolean; firstAckMs?: number }> {
  return new Promise((resolvePromise, reject) => {
    const spawned = performance.now();
    let firstAckMs: number | undefined;
    // No 'ignore': Node would keep a /dev/null descriptor open from then on.
    const child = spawn(process.execPath, [CHILD, dir, String(first), links ? 'links' : ''], { stdio: ['pipe', 'inherit', 'pipe', 'pipe'] });
    child.stdin!.end();
    let text = '';
    let stderr = '';
    let killed = false;
    const kill = () => {
      if (killed) return;
      killed = true;
      child.kill('SIGKILL');
    };
    const atStartup = rand() < STARTUP_KILLS;
    const startupTimer = atStartup ? setTimeout(kill, rand() * STARTUP_WINDOW_MS) : undefined;
    const watchdog = setTimeout(() => {
      kill();
      reject(new Error(`the child made no acknowledgement within ${CHILD_TIMEOUT_MS} ms`));
    }, CHILD_TIMEOUT_MS);
    let runningTimer: NodeJS.Timeout | undefined;
    const pipe = child.stdio[3] as NodeJS.ReadableStream;
    pipe.setEncoding('utf8');
    pipe.on('data', (chunk: string) => {
      text += chunk;
      firstAckMs ??= performance.now() - spawned;
      if (!atStartup && runningTimer === undefined) runningTimer = setTimeout(kill, rand() * RUNNING_WINDOW_MS);
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => (stderr += chunk));
    child.on('close', (code, signal) => {
      clearTimeout(startupTimer);
      clearTimeout(runningTimer);
      clearTimeout(watchdog);
      if (signal !== 'SIGKILL' || !killed) {
        reject(new Error(`the child ended by itself (code ${code}, signal ${signal}):\n${stderr}`));
        return;
      }
      // The last piece is empty, or a line cut by the kill: not an acknowledgement.
      const acks = text.split('\n').slice(0, -1).map((l) => l.split(' ').map(Number) as [number, number]);
      resolvePromise({ acks, beforeFirstAck: acks.length === 0, firstAckMs });
    });
  });
}

/** Makes the fixed pins of one directory (see test/crash-ops.ts); returns the inner maps' ids. */
export function setUpPins(dir: string, links: boolean): number[] {
  const owned: { close(): void }[] = [];
  try {
    const create = (name: string, spec: MapSpec) => {
      const m = MapData.create(spec);
      owned.push(m);
      m.pin(join(dir, name));
      return m;
    };
    create('counters', SHAPES.counters!);
    create('table', SHAPES.table!);
    const innerIds = Array.from({ length: SLOTS }, (_, i) => create(`inner${i}`, INNER).id);
    create('outer', { ...SHAPES.outer!, innerMap: INNER });
    if (links) {
      const ebpf = new EbpfLoader().deferProgram('soak_filter').deferProgram('soak_lookup').load(SOAK_OBJECT);
      owned.push(ebpf);
      ebpf.program('soak_getppid').pin(join(dir, 'program'));
    }
    return innerIds;
  } finally {
    for (const o of owned) o.close();
  }
}

export async function runCrashConsistency(options: CrashOptions): Promise<CrashResult> {
  const log = options.log ?? (() => {});
  const seed = options.seed ?? (Date.now() & 0x7fffffff);
  const lanes = Math.max(1, Math.min(options.lanes ?? 2, options.kills));
  const rand = random(seed);
  const links = isProgramTypeSupported(ProgramType.Tracepoint) && isLinkTypeSupported(LinkType.PerfEvent);
  // Node keeps a /dev/null descriptor open from its first spawn on: count after one.
  const first = spawn('true', [], { stdio: ['pipe', 'inherit', 'inherit'] });
  first.stdin!.end();
  await once(first, 'close');
  const fdsBefore = fdCount();
  const cpuBefore = cpuSeconds();
  const start = performance.now();
  const result: CrashResult = {
    kills: 0,
    durationMs: 0,
    seed,
    acknowledged: 0,
    inFlightDone: 0,
    inFlightNotDone: 0,
    inFlightHalfway: 0,
    killedBeforeFirstAck: 0,
    links,
    fdsBefore,
    fdsAfter: 0,
    childStartMs: 0,
    cpuSeconds: 0,
  };
  const starts: number[] = [];
  const dirs: string[] = [];
  // One lane: its own directory, model and sequence of operations, `kills` children.
  const lane = async (dir: string, innerIds: number[], kills: number) => {
    let state = initialState();
    let next = 1;
    for (let k = 0; k < kills; k++) {
      const { acks, beforeFirstAck, firstAckMs } = await killOne(dir, next, links, rand);
      if (firstAckMs !== undefined) starts.push(firstAckMs);
      for (const [seq, id] of acks) {
        if (seq !== next) throw new Inconsistent(`${dir}: acknowledgement ${seq}, expected ${next}`);
        apply(state, opAt(seq, links), id);
        next++;
      }
      result.acknowledged += acks.length;
      if (beforeFirstAck) result.killedBeforeFirstAck++;
      const inFlight = opAt(next, links);
      let verdict: ReturnType<typeof judge>;
      try {
        verdict = judge(observe(dir, innerIds, links), state, inFlight);
      } catch (err) {
        if (err instanceof Inconsistent) err.message = `${dir}, kill ${k + 1} (after operation ${next - 1}): ${err.message}`;
        throw err;
      }
      if (verdict.outcome === 'done') {
        state = cloneState(state);
        apply(state, inFlight, verdict.id);
        next++;
        result.inFlightDone++;
      } else if (verdict.outcome === 'halfway') result.inFlightHalfway++;
      else result.inFlightNotDone++;
      result.kills++;
      if (result.kills % 50 === 0 || result.kills === options.kills) {
        log(`  ${result.kills} kills, ${result.acknowledged} operations acknowledged, ${((performance.now() - start) / 1000).toFixed(1)} s`);
      }
    }
  };
  try {
    const work: Promise<void>[] = [];
    for (let i = 0; i < lanes; i++) {
      const dir = bpffsDir(`crash${i}`);
      dirs.push(dir);
      const kills = Math.floor(options.kills / lanes) + (i < options.kills % lanes ? 1 : 0);
      work.push(lane(dir, setUpPins(dir, links), kills));
    }
    log(`crash consistency: ${options.kills} kills in ${lanes} lanes, seed ${seed}; link pins: ${links ? 'yes (tracepoint perf_event links)' : 'no (this kernel has no perf_event links)'}`);
    await Promise.all(work);
  } finally {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
  result.durationMs = performance.now() - start;
  result.cpuSeconds = Math.round((cpuSeconds() - cpuBefore) * 10) / 10;
  starts.sort((a, b) => a - b);
  result.childStartMs = Math.round(starts[starts.length >> 1] ?? 0);
  result.fdsAfter = fdCount();
  return result;
}

function parseArgs(argv: string[]): CrashOptions {
  const o: CrashOptions = { kills: 200 };
  for (let i = 0; i < argv.length; i++) {
    const n = Number(argv[i + 1]);
    switch (argv[i]) {
      case '--kills':
        if (!Number.isInteger(n) || n < 1) throw new Error('--kills needs a positive integer');
        o.kills = n;
        i++;
        break;
      case '--lanes':
        if (!Number.isInteger(n) || n < 1) throw new Error('--lanes needs a positive integer');
        o.lanes = n;
        i++;
        break;
      case '--seed':
        if (!Number.isInteger(n)) throw new Error('--seed needs an integer');
        o.seed = n;
        i++;
        break;
      default:
        throw new Error(`unknown option ${argv[i]} (--kills N, --lanes N, --seed N)`);
    }
  }
  return o;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await runCrashConsistency({ ...parseArgs(process.argv.slice(2)), log: (line) => console.log(line) });
  console.log(
    `${r.kills} kills in ${(r.durationMs / 1000).toFixed(1)} s: ${r.acknowledged} acknowledged operations all found; ` +
      `in flight at the kill: done ${r.inFlightDone}, not done ${r.inFlightNotDone}, half-way ${r.inFlightHalfway}; ` +
      `killed before the first acknowledgement ${r.killedBeforeFirstAck}; a child's start (median) ${r.childStartMs} ms; CPU ${r.cpuSeconds} s; descriptors ${r.fdsBefore} -> ${r.fdsAfter}`,
  );
}
