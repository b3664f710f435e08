// What the benchmarks share: finding and building their C side, running it, and the
// figures and tables they print. Each benchmark is bench/<name>.ts against bench/<name>.c.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
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
