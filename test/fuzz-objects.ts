// Object fuzzing: ObjectSpec.parse, Ebpf.load and the BTF parser on mutations of the
// compatibility corpus and of bpf/*.o, plus random bytes. Every input must end in a
// tsbpf typed error or a load that closes cleanly, within SLOW_MS.
//
// Three layers, so that a hang or a crash is caught and named with its input:
//   parent (runFuzz: the test, or `npm run fuzz`) makes a memory cgroup and runs
//   a child process in it (maps are charged there: a map the library fails to refuse
//   cannot take the machine's memory), whose main thread is a watchdog over
//   a worker thread running the cases.
// Case i of a seed is made from (seed, i) alone, so any input can be made again:
//   npm run fuzz -- --seed S --start I --count 1 --save DIR
//
// Usage: node dist/test/fuzz-objects.js [--count N] [--seed S] [--start I] [--no-load]
//          [--save DIR] [--memory MiB] [--files F...]
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Btf, BtfError, EbpfLoader, MapError, ObjectSpec, ParseError, PinError, ProgramError, SyscallError } from '../src/index.js';
import { parseBtfExt } from '../src/obj/btf-ext.js';
import { ElfFile, SHT_REL, SHT_STRTAB, SHT_SYMTAB } from '../src/obj/elf.js';
import * as sys from '../src/sys/index.js';
import { replaceKernel } from '../src/testing.js';
import { exerciseBtf, prng } from './fuzz.js';
import { bpffsDir, corpusObjects, fdCount, repoRoot } from './helpers.js';
import { enterCgroup, makeMemoryCgroup } from './memcg.js';

/** A case slower than this (less the kernel's map creation and verification) is run again alone; slower again, it fails the run. */
export const SLOW_MS = 1000;
/** A case still running after this is a hang: the worker is stopped and the input reported. */
export const HANG_MS = 10_000;
/** The directory of inputs that once failed; each is replayed by the fuzz test. */
export const REGRESSIONS = resolve(repoRoot, 'test/fuzz-regressions');

// ---- inputs ------------------------------------------------------------------------

interface Source {
  name: string;
  bytes: Uint8Array;
  /** [lo, hi) byte ranges where parsing decisions are made, each equally likely. */
  regions: [number, number][];
  /** File offsets of the u32 fields that set map definitions: BTF array lengths (`__uint`), legacy `maps` words. */
  mapFields: number[];
  btf?: Uint8Array;
  ext?: Uint8Array;
}

export interface FuzzCase {
  index: number;
  /** How the input was made: source and mutations. */
  label: string;
  kind: 'object' | 'btf';
  bytes: Uint8Array;
  /** btf cases: the .BTF.ext parsed against the BTF. */
  ext?: Uint8Array;
}

/** The inputs mutated: every object of the corpus and of bpf/. */
export function fuzzSources(): Source[] {
  const files = [...corpusObjects(), ...readdirSync(resolve(repoRoot, 'bpf')).filter((f) => f.endsWith('.o')).map((f) => resolve(repoRoot, 'bpf', f))];
  return files.map((file) => source(file.startsWith(repoRoot) ? file.slice(repoRoot.length + 1) : basename(file), new Uint8Array(readFileSync(file))));
}

function source(name: string, bytes: Uint8Array): Source {
  const elf = ElfFile.parse(bytes);
  const shoff = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(40, true));
  const regions: [number, number][] = [[0, 64], [shoff, bytes.length], [0, bytes.length]];
  const mapFields: number[] = [];
  for (const s of elf.sections) {
    if (s.size === 0 || s.type === 8) continue;
    const range: [number, number] = [s.offset, s.offset + s.size];
    if ([SHT_SYMTAB, SHT_STRTAB, SHT_REL].includes(s.type) || s.name.startsWith('.BTF') || s.name === '.maps' || s.name === 'maps' || s.executable) regions.push(range);
    if (s.name === 'maps') for (let p = s.offset; p + 4 <= s.offset + s.size; p += 4) mapFields.push(p);
    if (s.name === '.BTF') mapFields.push(...btfArrayLengths(s.data).map((p) => p + s.offset));
  }
  return { name, bytes, regions, mapFields, btf: elf.section('.BTF')?.data.slice(), ext: elf.section('.BTF.ext')?.data.slice() };
}

/** Offsets (in the .BTF section) of every BTF_KIND_ARRAY's nelems: what `__uint(max_entries, N)` compiles to. */
function btfArrayLengths(btf: Uint8Array): number[] {
  const v = new DataView(btf.buffer, btf.byteOffset, btf.byteLength);
  const hdr = v.getUint32(4, true);
  const start = hdr + v.getUint32(8, true);
  const end = start + v.getUint32(12, true);
  const out: number[] = [];
  for (let p = start; p + 12 <= end; ) {
    const info = v.getUint32(p + 4, true);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    if (kind === 3) out.push(p + 20);
    const extra = [1, 14, 17].includes(kind) ? 4 : kind === 3 ? 12 : [4, 5, 15, 19].includes(kind) ? vlen * 12 : [6, 13].includes(kind) ? vlen * 8 : 0;
    p += 12 + extra;
  }
  return out;
}

/** Values that sit on boundaries: sizes, counts, signs, powers of two, the 2^31 of array indexing. */
const INTERESTING = [0, 1, 2, 3, 4, 7, 8, 16, 255, 256, 4095, 4096, 65535, 65536, 0x7fffffff, 0x80000000, 0x80000002, 0xfffffff0, 0xffffffff, 0x10000000, 0x7ffff, 1 << 24];

/** Case `index` of `seed`: made from those two alone. */
export function makeCase(sources: Source[], seed: number, index: number): FuzzCase {
  const rand = prng(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35));
  const int = (n: number): number => Math.floor(rand() * n);
  const pick = <T>(list: readonly T[]): T => list[int(list.length)]!;
  const r = rand();
  if (r < 0.03) {
    // Random bytes, half of them behind a valid ELF header (so the section table is read).
    const bytes = new Uint8Array(int(2048));
    for (let i = 0; i < bytes.length; i++) bytes[i] = int(256);
    const withHeader = rand() < 0.5 && bytes.length >= 64;
    if (withHeader) bytes.set(pick(sources).bytes.subarray(0, 64));
    return { index, kind: 'object', label: `random ${bytes.length} bytes${withHeader ? ' after an ELF header' : ''}`, bytes };
  }
  if (r < 0.13) {
    const src = pick(sources.filter((s) => s.btf));
    const bytes = src.btf!.slice();
    const ext = src.ext && rand() < 0.5 ? src.ext.slice() : src.ext;
    const desc: string[] = [];
    const target = ext && ext !== src.ext && rand() < 0.5 ? ext : bytes;
    for (let n = 1 + int(4); n > 0; n--) desc.push(mutateByte(target, [0, target.length], rand));
    return { index, kind: 'btf', label: `${src.name} ${target === bytes ? '.BTF' : '.BTF.ext'} ${desc.join(' ')}`, bytes, ext };
  }
  const src = pick(sources);
  let bytes = src.bytes.slice();
  const desc: string[] = [];
  for (let n = 1 + int(4); n > 0; n--) {
    const op = rand();
    if (op < 0.25 && src.mapFields.length > 0) {
      const at = pick(src.mapFields);
      if (at + 4 > bytes.length) continue;
      const value = rand() < 0.8 ? pick(INTERESTING) : int(2 ** 32);
      new DataView(bytes.buffer).setUint32(at, value >>> 0, true);
      desc.push(`u32@${at}=${value >>> 0}`);
    } else if (op < 0.4) {
      const [lo, hi] = pick(src.regions);
      const at = (lo + int(Math.max(1, hi - lo))) & ~3;
      if (at + 4 > bytes.length) continue;
      const value = rand() < 0.7 ? pick(INTERESTING) : int(2 ** 32);
      new DataView(bytes.buffer).setUint32(at, value >>> 0, true);
      desc.push(`u32@${at}=${value >>> 0}`);
    } else if (op < 0.85) {
      desc.push(mutateByte(bytes, pick(src.regions), rand));
    } else if (op < 0.93) {
      const len = int(bytes.length);
      bytes = bytes.slice(0, len);
      desc.push(`truncate ${len}`);
    } else {
      const len = 1 + int(64);
      const from = int(Math.max(1, bytes.length - len));
      const to = int(Math.max(1, bytes.length - len));
      bytes.copyWithin(to, from, from + len);
      desc.push(`copy ${len}@${from}->${to}`);
    }
  }
  return { index, kind: 'object', label: `${src.name} ${desc.join(' ')}`, bytes };
}

function mutateByte(bytes: Uint8Array, [lo, hi]: [number, number], rand: () => number): string {
  if (bytes.length === 0) return 'nothing';
  const at = Math.min(bytes.length - 1, lo + Math.floor(rand() * Math.max(1, hi - lo)));
  const how = rand();
  bytes[at] = how < 0.5 ? bytes[at]! ^ (1 << Math.floor(rand() * 8)) : how < 0.6 ? 0xff : how < 0.7 ? 0 : how < 0.8 ? 0x80 : Math.floor(rand() * 256);
  return `[${at}]=${bytes[at]}`;
}

/** A regression file as a case: NAME.o an object, NAME.btf a BTF blob (with NAME.btf.ext beside it, if any). */
export function fileCase(path: string, index: number): FuzzCase {
  const bytes = new Uint8Array(readFileSync(path));
  if (extname(path) === '.btf') {
    let ext: Uint8Array | undefined;
    try {
      ext = new Uint8Array(readFileSync(`${path}.ext`));
    } catch {
      // no .BTF.ext with this one
    }
    return { index, kind: 'btf', label: basename(path), bytes, ext };
  }
  return { index, kind: 'object', label: basename(path), bytes };
}

/** Writes `c` where fileCase reads it back; returns the path. */
export function saveCase(c: FuzzCase, dir: string, name: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.${c.kind === 'btf' ? 'btf' : 'o'}`);
  writeFileSync(path, c.bytes);
  if (c.ext) writeFileSync(`${path}.ext`, c.ext);
  return path;
}

// ---- one case ----------------------------------------------------------------------

/** What an outcome is: 'parsed'/'loaded'/'ok', or a typed error and its kind; 'untyped' is a failure. */
export function classify(err: unknown): string {
  if (err instanceof ParseError) return 'ParseError';
  if (err instanceof BtfError) return 'BtfError';
  if (err instanceof MapError) return `MapError ${err.kind}`;
  if (err instanceof ProgramError) return `ProgramError ${err.kind}`;
  if (err instanceof PinError) return `PinError ${err.kind}`;
  if (err instanceof SyscallError) return `SyscallError ${err.code}`;
  return 'untyped';
}

/** Runs one case; returns its outcome and, for a failure, what was thrown. */
/** Milliseconds this thread spent in BPF_MAP_CREATE and BPF_PROG_LOAD. */
let kernelMs = 0;
let timing = false;

/**
 * Times the kernel's own work through the seam: a mutated max_entries can ask for a
 * per-CPU map the kernel takes seconds to allocate, and a program can take the verifier
 * long. That is the kernel's time; the limit is on the library's.
 */
function timeKernelWork(): void {
  if (timing) return;
  timing = true;
  const real = sys.kernel;
  replaceKernel({
    bpf: (cmd, attr, ...rest) => {
      if (cmd !== sys.Cmd.MapCreate && cmd !== sys.Cmd.ProgLoad) return real.bpf(cmd, attr, ...rest);
      const t0 = performance.now();
      try {
        return real.bpf(cmd, attr, ...rest);
      } finally {
        kernelMs += performance.now() - t0;
      }
    },
    bpfElem: real.bpfElem,
  });
}

/** runCase, with its time less what the kernel spent creating maps and verifying programs. */
function timedCase(c: FuzzCase, pinDir: string, load: boolean): { r: ReturnType<typeof runCase>; ms: number } {
  timeKernelWork();
  const k0 = kernelMs;
  const t0 = performance.now();
  const r = runCase(c, pinDir, load);
  return { r, ms: performance.now() - t0 - (kernelMs - k0) };
}

export function runCase(c: FuzzCase, pinDir: string, load: boolean): { outcome: string; error?: string } {
  try {
    if (c.kind === 'btf') {
      const btf = Btf.parse(c.bytes);
      exerciseBtf(btf);
      if (c.ext) parseBtfExt(c.ext, btf);
      return { outcome: 'ok' };
    }
    const spec = ObjectSpec.parse(c.bytes);
    void spec.constantExterns;
    if (!load) return { outcome: 'parsed' };
    try {
      const ebpf = new EbpfLoader().mapPinPath(pinDir).load(c.bytes);
      ebpf.close();
      return { outcome: 'loaded' };
    } finally {
      // Maps pinned by name: each case starts from an empty directory.
      for (const f of readdirSync(pinDir)) rmSync(join(pinDir, f), { force: true });
    }
  } catch (err) {
    const outcome = classify(err);
    return outcome === 'untyped' ? { outcome, error: (err as Error)?.stack ?? String(err) } : { outcome };
  }
}

// ---- worker: the loop ------------------------------------------------------------------

interface WorkerJob {
  seed: number;
  start: number;
  end: number;
  skip: number[];
  files?: string[];
  load: boolean;
  pinDir: string;
  /** Int32Array over it: [0] current case, [1] 1 while a case runs, [2] its start (ms since `epoch`). */
  state: SharedArrayBuffer;
  epoch: number;
  progressFile: string;
}

/** Lines the child prints (JSON), read by runFuzz. */
type ChildMessage =
  | { type: 'flush'; next: number; outcomes: Record<string, number>; failures: Failure[]; slowest: { index: number; ms: number }; cases?: [number, string, number][] }
  | { type: 'slow'; index: number; ms: number }
  | { type: 'hang'; index: number; ms: number }
  | { type: 'done'; fdsBefore: number; fdsAfter: number; slowConfirmed: { index: number; ms: number[] }[]; slowOnce: number; hangs: number[]; hangsOnce: number[] };

export interface Failure {
  index: number;
  label: string;
  outcome: string;
  detail: string;
}

function workerLoop(job: WorkerJob): void {
  const state = new Int32Array(job.state);
  const progress = openSync(job.progressFile, 'w');
  const sources = job.files ? [] : fuzzSources();
  // Warm up what a process does once (kernel BTF, kallsyms, module BTF, feature probes):
  // every source loaded as it is, so that first-use costs do not count as a slow input.
  for (const s of job.files ? [] : sources) runCase({ index: -1, kind: 'object', label: s.name, bytes: s.bytes }, job.pinDir, job.load);
  const skip = new Set(job.skip);
  const post = (m: ChildMessage) => parentPort!.postMessage(m);
  let outcomes: Record<string, number> = {};
  let failures: Failure[] = [];
  let slowest = { index: -1, ms: 0 };
  // Replaying files: each one's outcome, for a test per file.
  let cases: [number, string, number][] | undefined = job.files ? [] : undefined;
  let lastFlush = performance.now();
  const cell = Buffer.alloc(12);
  for (let i = job.start; i < job.end; i++) {
    if (skip.has(i)) continue;
    // The parent reads this after a crash: which input the process died on.
    cell.fill(0x20).write(String(i));
    writeSync(progress, cell, 0, 12, 0);
    const c = job.files ? fileCase(job.files[i]!, i) : makeCase(sources, job.seed, i);
    Atomics.store(state, 0, i);
    Atomics.store(state, 2, Date.now() - job.epoch);
    Atomics.store(state, 1, 1);
    const { r, ms } = timedCase(c, job.pinDir, job.load);
    Atomics.store(state, 1, 0);
    outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
    if (r.error) failures.push({ index: i, label: c.label, outcome: r.outcome, detail: r.error });
    if (ms > slowest.ms) slowest = { index: i, ms };
    cases?.push([i, r.outcome, ms]);
    const now = performance.now();
    if (now - lastFlush > 250 || i === job.end - 1 || failures.length > 0) {
      post({ type: 'flush', next: i + 1, outcomes, failures, slowest, cases });
      outcomes = {};
      failures = [];
      slowest = { index: -1, ms: 0 };
      cases = cases && [];
      lastFlush = now;
    }
  }
  post({ type: 'flush', next: job.end, outcomes, failures, slowest, cases });
  closeSync(progress);
}

// ---- child: the watchdog ---------------------------------------------------------------

interface ChildArgs {
  seed: number;
  start: number;
  count: number;
  skip: number[];
  files?: string[];
  load: boolean;
  cgroup?: string;
  progressFile: string;
}

const print = (m: ChildMessage): void => {
  process.stdout.write(JSON.stringify(m) + '\n');
};

/** Runs cases [start, end) in a worker; resolves when it finishes, or with the index of a hang once it is stopped. */
function runWorker(job: Omit<WorkerJob, 'state' | 'epoch'>, onMessage: (m: ChildMessage) => void): Promise<{ hang?: number; next: number }> {
  const state = new SharedArrayBuffer(12);
  const s = new Int32Array(state);
  const epoch = Date.now();
  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { ...job, state, epoch } satisfies WorkerJob });
  let next = job.start;
  let hang: number | undefined;
  const slow = new Set<number>();
  return new Promise((resolvePromise, reject) => {
    const timer = setInterval(() => {
      if (Atomics.load(s, 1) !== 1) return;
      const index = Atomics.load(s, 0);
      const ms = Date.now() - epoch - Atomics.load(s, 2);
      if (ms > SLOW_MS && !slow.has(index)) {
        slow.add(index);
        onMessage({ type: 'slow', index, ms });
      }
      if (ms > HANG_MS) {
        clearInterval(timer);
        hang = index;
        onMessage({ type: 'hang', index, ms });
        // A worker stuck in a system call cannot be stopped: then the process goes, and runFuzz restarts it.
        const kill = setTimeout(() => process.exit(3), 2000);
        void worker.terminate().then(() => clearTimeout(kill));
      }
    }, 50);
    worker.on('message', (m: ChildMessage) => {
      if (m.type === 'flush') next = m.next;
      onMessage(m);
    });
    worker.on('error', (err) => {
      clearInterval(timer);
      reject(err);
    });
    worker.on('exit', () => {
      clearInterval(timer);
      resolvePromise({ hang, next });
    });
  });
}

async function childMain(args: ChildArgs): Promise<void> {
  // First of all: into the memory cgroup, before any map is made.
  enterCgroup(args.cgroup);
  const pinDir = bpffsDir(`fuzz-${process.pid}`);
  const fdsBefore = fdCount();
  const end = args.start + args.count;
  const skip = new Set(args.skip);
  const slow: number[] = [];
  const hung: number[] = [];
  let start = args.start;
  const onMessage = (m: ChildMessage): void => {
    if (m.type === 'slow') slow.push(m.index);
    print(m);
  };
  const job = { seed: args.seed, files: args.files, load: args.load, pinDir, progressFile: args.progressFile };
  while (start < end) {
    const r = await runWorker({ ...job, start, end, skip: [...skip] }, onMessage);
    if (r.hang === undefined) break;
    hung.push(r.hang);
    skip.add(r.hang);
    start = r.next;
  }
  // A case stuck on a busy machine may only have waited (for the CPU, or a lock the
  // kernel shares with other processes): run it alone, watched the same way; stuck
  // again, it hangs. One that finishes is counted with its outcome.
  const hangs: number[] = [];
  const hangsOnce: number[] = [];
  for (const index of hung) {
    const r = await runWorker({ ...job, start: index, end: index + 1, skip: [] }, (m) => m.type !== 'hang' && onMessage(m));
    (r.hang === undefined ? hangsOnce : hangs).push(index);
    if (r.hang === undefined) skip.delete(index);
  }
  // A slow case may have met a busy machine: run it alone, twice; slow both times, it is slow.
  const slowConfirmed: { index: number; ms: number[] }[] = [];
  const sources = args.files ? [] : fuzzSources();
  const slowOnly = [...new Set(slow)].filter((i) => !hung.includes(i));
  for (const index of slowOnly) {
    const times: number[] = [];
    for (let k = 0; k < 2; k++) {
      const c = args.files ? fileCase(args.files[index]!, index) : makeCase(sources, args.seed, index);
      times.push(timedCase(c, pinDir, args.load).ms);
    }
    if (times.every((ms) => ms > SLOW_MS)) slowConfirmed.push({ index, ms: times });
  }
  rmSync(pinDir, { recursive: true, force: true });
  print({ type: 'done', fdsBefore, fdsAfter: fdCount(), slowConfirmed, slowOnce: slowOnly.length - slowConfirmed.length, hangs, hangsOnce });
}

// ---- parent: cgroup, child, restarts ---------------------------------------------------

export interface FuzzOptions {
  seed: number;
  count: number;
  start?: number;
  /** Replay these files instead of generated cases. */
  files?: string[];
  /** Load what parses (default true): Ebpf.load reaches the kernel. */
  load?: boolean;
  /** Memory limit of the child's cgroup, MiB (default 384). */
  memoryMiB?: number;
  /** Called about every `progressMs` with the running totals. */
  onProgress?: (s: FuzzSummary) => void;
  progressMs?: number;
}

export interface FuzzSummary {
  inputs: number;
  ms: number;
  outcomes: Record<string, number>;
  failures: Failure[];
  hangs: number[];
  crashes: { index: number; exit: string }[];
  /** Cases slower than SLOW_MS when run again alone (twice). */
  slow: { index: number; ms: number[] }[];
  slowest: { index: number; ms: number };
  /** How many cases passed SLOW_MS once (a busy machine) but not when run alone. */
  slowOnce: number;
  /** How many cases passed HANG_MS once (a busy machine) but finished when run again alone. */
  hangsOnce: number;
  /** Replaying files: each file's outcome and time. */
  cases: { index: number; label: string; outcome: string; ms: number }[];
  fdsBefore: number;
  fdsAfter: number;
  cgroup: string;
}

/** Runs the fuzz in a child in a memory cgroup, restarting it after a crash; totals for the whole run. */
export async function runFuzz(o: FuzzOptions): Promise<FuzzSummary> {
  const start = o.start ?? 0;
  const end = start + (o.files ? o.files.length : o.count);
  const cgroup = makeMemoryCgroup(o.memoryMiB ?? 384, 'fuzz');
  const progressFile = join('/tmp', `tsbpf-fuzz-${process.pid}-${Date.now()}.index`);
  const summary: FuzzSummary = {
    inputs: 0, ms: 0, outcomes: {}, failures: [], hangs: [], crashes: [], slow: [], slowest: { index: -1, ms: 0 },
    slowOnce: 0, hangsOnce: 0, cases: [], fdsBefore: -1, fdsAfter: -1, cgroup: cgroup.text,
  };
  const t0 = performance.now();
  let lastProgress = t0;
  const skip: number[] = [];
  let next = start;
  const pendingHangs: number[] = [];
  const countHang = (index: number): void => {
    summary.hangs.push(index);
    summary.outcomes.hang = (summary.outcomes.hang ?? 0) + 1;
    summary.inputs++;
  };
  try {
    while (next < end) {
      const args: ChildArgs = { seed: o.seed, start: next, count: end - next, skip, files: o.files, load: o.load ?? true, cgroup: cgroup.path, progressFile };
      const exit = await new Promise<{ done: boolean; exit: string }>((resolvePromise, reject) => {
        const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
        let done = false;
        let buffered = '';
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => {
          stderr = (stderr + d.toString()).slice(-4000);
        });
        child.stdout.on('data', (d: Buffer) => {
          buffered += d.toString();
          let nl: number;
          while ((nl = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            let m: ChildMessage;
            try {
              m = JSON.parse(line) as ChildMessage;
            } catch {
              continue;
            }
            if (m.type === 'flush') {
              next = m.next;
              for (const [k, n] of Object.entries(m.outcomes)) {
                summary.outcomes[k] = (summary.outcomes[k] ?? 0) + n;
                summary.inputs += n;
              }
              summary.failures.push(...m.failures);
              for (const [index, outcome, ms] of m.cases ?? []) summary.cases.push({ index, label: basename(o.files![index]!), outcome, ms });
              if (m.slowest.ms > summary.slowest.ms) summary.slowest = m.slowest;
            } else if (m.type === 'hang') {
              // Until the child has run it alone again (done): a hang if the child dies first.
              pendingHangs.push(m.index);
              skip.push(m.index);
            } else if (m.type === 'done') {
              done = true;
              summary.fdsBefore = m.fdsBefore;
              summary.fdsAfter = m.fdsAfter;
              summary.slow.push(...m.slowConfirmed);
              summary.slowOnce += m.slowOnce;
              for (const index of m.hangs) countHang(index);
              summary.hangsOnce += m.hangsOnce.length;
              pendingHangs.length = 0;
            }
            const now = performance.now();
            if (o.onProgress && now - lastProgress > (o.progressMs ?? 10_000)) {
              lastProgress = now;
              summary.ms = now - t0;
              o.onProgress(summary);
            }
          }
        });
        child.on('error', reject);
        child.on('close', (code, signal) => {
          // The child's pin directory (bpffsDir in childMain): gone already unless the child died.
          rmSync(`/sys/fs/bpf/tsbpf-test-fuzz-${child.pid}-${child.pid}`, { recursive: true, force: true });
        });
        child.on('close', (code, signal) => resolvePromise({ done, exit: signal ? `signal ${signal}` : `code ${code}${stderr ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}` }));
      });
      for (const index of pendingHangs.splice(0)) countHang(index);
      if (exit.done) break;
      // The child died (a crash, the cgroup's OOM killer, or a hang it could not stop): the case it was on is named in the progress file.
      let index = next;
      try {
        index = Number(readFileSync(progressFile, 'utf8').trim());
      } catch {
        // died before the first case
      }
      if (!summary.hangs.includes(index)) {
        summary.crashes.push({ index, exit: exit.exit });
        summary.outcomes.crash = (summary.outcomes.crash ?? 0) + 1;
        summary.inputs++;
        skip.push(index);
      }
      if (summary.crashes.length > 20) break;
    }
  } finally {
    const peak = cgroup.peak();
    if (peak !== undefined) summary.cgroup += `, peak use ${(peak / 2 ** 20).toFixed(0)} MiB`;
    cgroup.remove();
    rmSync(progressFile, { force: true });
  }
  summary.ms = performance.now() - t0;
  // Hangs, crashes and slow cases as failures too, each named with its input.
  const sources = o.files ? [] : fuzzSources();
  const label = (index: number): string => (o.files ? basename(o.files[index]!) : makeCase(sources, o.seed, index).label);
  for (const index of summary.hangs) summary.failures.push({ index, label: label(index), outcome: 'hang', detail: `still running after ${HANG_MS} ms` });
  for (const c of summary.crashes) summary.failures.push({ index: c.index, label: label(c.index), outcome: 'crash', detail: c.exit });
  for (const x of summary.slow) summary.failures.push({ index: x.index, label: label(x.index), outcome: 'slow', detail: `${x.ms.map((ms) => ms.toFixed(0)).join(' and ')} ms when run alone` });
  return summary;
}

/** One line: inputs, rate and outcome counts. */
export function formatSummary(s: FuzzSummary): string {
  const rate = s.inputs / (s.ms / 1000);
  const outcomes = Object.entries(s.outcomes).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');
  return `${s.inputs} inputs in ${(s.ms / 1000).toFixed(1)} s (${rate.toFixed(0)}/s): ${outcomes}; slowest ${s.slowest.ms.toFixed(0)} ms (#${s.slowest.index})`;
}

// ---- entry points ------------------------------------------------------------------------

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function cli(args: string[]): Promise<void> {
  const seed = Number(argValue(args, '--seed') ?? 1);
  const count = Number(argValue(args, '--count') ?? 20_000);
  const start = Number(argValue(args, '--start') ?? 0);
  const save = argValue(args, '--save');
  const filesAt = args.indexOf('--files');
  const files = filesAt >= 0 ? args.slice(filesAt + 1).map((f) => resolve(f)) : undefined;
  console.log(`object fuzz: seed ${seed}, ${files ? `${files.length} files` : `cases ${start}..${start + count - 1}`}${args.includes('--no-load') ? ', parse only' : ''}`);
  const summary = await runFuzz({
    seed, count, start, files,
    load: !args.includes('--no-load'),
    memoryMiB: Number(argValue(args, '--memory') ?? 384),
    onProgress: (s) => console.log(`  ${formatSummary(s)}`),
  });
  console.log(`cgroup: ${summary.cgroup}`);
  console.log(formatSummary(summary));
  console.log(`fds in the child: ${summary.fdsBefore} before, ${summary.fdsAfter} after; on a busy machine ${summary.slowOnce} cases were slow once and ${summary.hangsOnce} stuck once, not when run again alone`);
  for (const f of summary.failures) {
    console.log(`FAIL #${f.index} ${f.outcome}: ${f.label}\n  ${f.detail.split('\n').slice(0, 6).join('\n  ')}`);
    if (save && !files) console.log(`  saved as ${saveCase(makeCase(fuzzSources(), seed, f.index), save, `seed${seed}-${f.index}`)}`);
    if (!save && !files) console.log(`  again: npm run fuzz -- --seed ${seed} --start ${f.index} --count 1 --save DIR`);
  }
  const bad = summary.failures.length + (summary.fdsAfter !== summary.fdsBefore ? 1 : 0);
  process.exitCode = bad === 0 ? 0 : 1;
}

if (!isMainThread && (workerData as { progressFile?: string } | null)?.progressFile) {
  workerLoop(workerData as WorkerJob);
} else if (isMainThread && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] === '--child') await childMain(JSON.parse(process.argv[3]!) as ChildArgs);
  else await cli(process.argv.slice(2));
}
