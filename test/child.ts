// Running small ESM scripts in child node processes against the compiled library.
import { spawnSync, type SpawnSyncOptions, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Absolute path of the compiled dist/src/index.js (this file runs from dist/test/). */
export const distIndex = fileURLToPath(new URL('../src/index.js', import.meta.url));

export interface ChildResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The last stdout line parsed as JSON, when it is JSON. */
  json: unknown;
}

/**
 * Writes `body` to a temporary .mjs file whose first lines import `lib` (the library's
 * index.js, absolute path) as `tsbpf` and the raw layer beside it (sys/index.js) as
 * `sys`, runs it with node and returns what happened.
 */
export function runScript(body: string, options: SpawnSyncOptions & { lib?: string; dir?: string; args?: string[]; prefix?: string[] } = {}): ChildResult {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'tsbpf-child-'));
  const file = join(dir, `script-${process.pid}-${Math.random().toString(36).slice(2)}.mjs`);
  const lib = pathToFileURL(options.lib ?? distIndex).href;
  const sys = new URL('sys/index.js', lib).href;
  writeFileSync(file, `import * as tsbpf from ${JSON.stringify(lib)};\nimport * as sys from ${JSON.stringify(sys)};\n${body}\n`, { mode: 0o644 });
  try {
    // prefix: a command that runs node, e.g. ['unshare', '-m', 'sh', '-c', '... exec "$0" "$@"'].
    const { lib: _lib, dir: _dir, args = [], prefix = [], ...spawnOptions } = options;
    const argv = [...prefix, process.execPath, file, ...args];
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 60_000, ...spawnOptions }) as SpawnSyncReturns<string>;
    if (r.error) throw r.error;
    const lines = r.stdout.trim().split('\n');
    let json: unknown;
    try {
      json = JSON.parse(lines[lines.length - 1] ?? '');
    } catch {
      json = undefined;
    }
    return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, json };
  } finally {
    rmSync(file, { force: true });
    if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
  }
}

/** A readable description of a child run for assertion messages. */
export function describe(r: ChildResult): string {
  return `status ${r.status} signal ${r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}
