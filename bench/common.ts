// What the benchmarks share: finding and building their C side, running it, and the
// figures and tables they print. Each benchmark is bench/<name>.ts against bench/<name>.c.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the directory above this file (src or dist) that holds bench/<name>.c. */
export function repoRoot(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'bench', `${name}.c`))) return dir;
    dir = resolve(dir, '..');
  }
  throw new Error(`bench/${name}.c not found above ${fileURLToPath(import.meta.url)}`);
}

/** Builds bench/<name>.c into bench/out/<name> with gcc -O2 (extra arguments: libraries). */
export function compileC(root: string, name: string, libs: string[] = []): string {
  const out = join(root, 'bench', 'out');
  mkdirSync(out, { recursive: true });
  const exe = join(out, name);
  execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-o', exe, join(root, 'bench', `${name}.c`), ...libs], { stdio: ['ignore', 'inherit', 'inherit'] });
  return exe;
}

/** Runs the C side, which prints one JSON object. */
export function runC<T>(exe: string, args: string[]): T {
  return JSON.parse(execFileSync(exe, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 })) as T;
}

export const best = (xs: number[]): number => Math.min(...xs);

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** A duration for a table: ns, µs or ms (with `msDigits` decimals). */
export function fmtNs(ns: number, msDigits = 2): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(msDigits)} ms`;
  if (ns >= 1e4) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${ns.toFixed(1)} ns`;
}

/** A plain-text table; `right[i]` aligns column i to the right. */
export function table(header: string[], rows: string[][], right: boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A command-line option's value that must be a positive integer. */
export function positiveInt(name: string, v: string | undefined): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} needs a positive integer, got ${String(v)}`);
  return n;
}

// ---- finely interleaved rounds ------------------------------------------------------
// A benchmark compares tsbpf (this process) with C (a child process) round by round:
// one C process stays up and runs each C round when asked (bench/serve.h), so rounds
// can be short and alternate (tsbpf, C, C, tsbpf, ...) many times; both sides can be
// pinned to one CPU, so they run on the same core with the same caches. Each pair of
// neighbouring rounds gives a ratio; noise that lasts longer than a pair falls on both
// sides of it alike.

/** Wall and CPU time of one round, per unit (operation, element), in ns. */
export interface RoundTime {
  wall: number;
  cpu: number;
}

/** The CPU both sides are pinned to by default: the last one (the first takes most interrupts). */
export function defaultPinCpu(): number {
  return Math.max(0, availableParallelism() - 1);
}

/** Pins every thread of this process to `cpu` (taskset). */
export function pinSelf(cpu: number): void {
  execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(process.pid)], { stdio: 'ignore' });
}

/** A C baseline serving rounds (its -S mode), optionally pinned to one CPU. */
export class CServer {
  readonly #dir: string;
  readonly #req: number;
  readonly #resp: number;
  readonly #child: ChildProcess;
  #pending = '';

  constructor(exe: string, args: string[], cpu: number | undefined) {
    this.#dir = mkdtempSync(join(tmpdir(), 'tsbpf-bench-'));
    const req = join(this.#dir, 'req');
    const resp = join(this.#dir, 'resp');
    execFileSync('mkfifo', [req, resp]);
    const argv = [exe, ...args, '-S', `${req},${resp}`];
    this.#child = cpu === undefined ? spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'inherit', 'inherit'] }) : spawn('taskset', ['-c', String(cpu), ...argv], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (this.#child.pid === undefined) throw new Error(`cannot start ${exe}`);
    // The child opens req for reading, then resp for writing: the same order here.
    this.#req = openSync(req, constants.O_WRONLY);
    this.#resp = openSync(resp, constants.O_RDONLY);
  }

  /** One C round of `n` iterations of `name`: time per unit. */
  round(name: string, n: number): RoundTime & { units: number } {
    writeSync(this.#req, `${name} ${n}\n`);
    const line = this.#line();
    const [wall, cpu, units] = line.split(' ').map(Number) as [number, number, number];
    if (!units) throw new Error(`the C side does not know case ${name}`);
    return { wall: wall / units, cpu: cpu / units, units };
  }

  #line(): string {
    const buf = Buffer.alloc(256);
    for (;;) {
      const nl = this.#pending.indexOf('\n');
      if (nl >= 0) {
        const line = this.#pending.slice(0, nl);
        this.#pending = this.#pending.slice(nl + 1);
        return line;
      }
      const got = readSync(this.#resp, buf, 0, buf.length, null);
      if (got === 0) throw new Error('the C side ended (see its error above)');
      this.#pending += buf.toString('latin1', 0, got);
    }
  }

  close(): void {
    closeSync(this.#req);
    closeSync(this.#resp);
    this.#child.kill();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** Times one tsbpf round: `run()` returns the units it did. */
export function timeRound(run: () => number): RoundTime {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const units = run();
  const t1 = process.hrtime.bigint();
  const c1 = process.cpuUsage(c0);
  return { wall: Number(t1 - t0) / units, cpu: ((c1.user + c1.system) * 1000) / units };
}

/**
 * `pairs` pairs of rounds, alternating which side goes first (tsbpf-C, C-tsbpf, ...)
 * so that neither always runs in the other's wake.
 */
export function interleave(pairs: number, ts: () => RoundTime, c: () => RoundTime): { ts: RoundTime[]; c: RoundTime[] } {
  const out = { ts: [] as RoundTime[], c: [] as RoundTime[] };
  for (let p = 0; p < pairs; p++) {
    if (p & 1) {
      out.c.push(c());
      out.ts.push(ts());
    } else {
      out.ts.push(ts());
      out.c.push(c());
    }
  }
  return out;
}

/** Per-pair ratios tsbpf / C: the median and a 95% confidence interval of the median. */
export interface PairStats {
  median: number;
  lo: number;
  hi: number;
  n: number;
}

/**
 * The median of the ratios and its distribution-free 95% interval (order statistics:
 * ranks n/2 ± 0.98·√n, from the binomial distribution of how many ratios fall below the
 * true median; no assumption about the shape of the noise).
 */
export function pairStats(ratios: number[]): PairStats {
  const s = [...ratios].sort((a, b) => a - b);
  const n = s.length;
  const half = 0.98 * Math.sqrt(n);
  const lo = Math.max(0, Math.floor(n / 2 - half));
  const hi = Math.min(n - 1, Math.ceil(n / 2 + half) - 1);
  return { median: median(s), lo: s[lo]!, hi: s[hi]!, n };
}

/** "1.03 [0.99–1.07]". */
export function fmtStats(p: PairStats): string {
  return `${p.median.toFixed(3)} [${p.lo.toFixed(2)}–${p.hi.toFixed(2)}]`;
}
