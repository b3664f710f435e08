// The layers only look down: each folder of src/ may import only the folders and leaf
// modules listed for it, and no module imports itself back through others.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** Leaf modules at the top of src/ that any layer may use. */
const leaves = ['errors.ts', 'describe.ts'];
/** What each folder may import besides itself and the leaves. */
const allowed: Record<string, string[]> = {
  'sys/abi': ['sys'],
  sys: ['sys/abi'],
  obj: ['sys/abi/enums.ts'],
  codec: ['sys', 'obj'],
  links: ['sys', 'sys/abi', 'pin.ts', 'socket-fd.ts'],
  maps: ['sys', 'sys/abi', 'codec', 'obj', 'links', 'features.ts', 'pin.ts', 'socket-fd.ts'],
  programs: ['sys', 'sys/abi', 'codec', 'obj', 'links', 'maps', 'features.ts', 'file.ts', 'pin.ts', 'socket-fd.ts'],
  events: ['sys', 'sys/abi', 'codec', 'maps', 'features.ts'],
  xsk: ['sys', 'sys/abi'],
  loader: ['sys', 'sys/abi', 'codec', 'obj', 'maps', 'programs', 'features.ts', 'file.ts', 'externs.ts', 'kernel-btf.ts', 'global-value.ts'],
  // tsbpf gen: reads an object's spec and BTF, names the library's classes.
  gen: ['codec', 'obj', 'maps', 'programs', 'global-value.ts'],
  exporter: ['sys', 'sys/abi', 'codec', 'obj', 'links', 'maps', 'programs', 'loader', 'features.ts', 'symbols.ts'],
  // Logging from BPF: the log ring buffer of a loaded object, trace_pipe (found through programs' tracefs).
  log: ['sys', 'events', 'programs', 'loader'],
  // The command line sits on top: the public surface (index.ts) and, for what it does not export, any layer.
  cli: ['index.ts', 'sys', 'sys/abi', 'codec', 'obj', 'links', 'maps', 'programs', 'events', 'xsk', 'loader', 'features.ts', 'file.ts', 'pin.ts', 'socket-fd.ts', 'externs.ts', 'kernel-btf.ts', 'global-value.ts', 'info.ts', 'symbols.ts', 'gen'],
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : name.endsWith('.ts') ? [path] : [];
  });
}

/** The src/ modules `file` imports (relative imports only), as paths relative to src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^(?:import|export)\b[^;]*?from '(\.[^']+)'/gms)].map((m) => relative(src, resolve(dirname(file), m[1]!)).replace(/\.js$/, '.ts'));
}

const folderOf = (path: string): string => (path.startsWith('sys/abi/') ? 'sys/abi' : path.includes('/') ? path.slice(0, path.indexOf('/')) : '');

const graph = new Map(sources(src).map((file) => [relative(src, file), importsOf(file)]));

test('layers: every folder of src/ imports only the layers below it', () => {
  const wrong: string[] = [];
  for (const [file, imports] of graph) {
    const folder = folderOf(file);
    const rules = allowed[folder];
    if (!rules) continue;
    for (const target of imports) {
      const ok = folderOf(target) === folder || leaves.includes(target) || rules.includes(target) || rules.includes(folderOf(target));
      if (!ok) wrong.push(`${file} imports ${target}`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('layers: no import cycles in src/', () => {
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (file: string, path: string[]): void => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'open') {
      cycles.push([...path.slice(path.indexOf(file)), file].join(' -> '));
      return;
    }
    state.set(file, 'open');
    for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
    state.set(file, 'done');
  };
  for (const file of graph.keys()) visit(file, []);
  assert.ok(graph.size > 100, `${graph.size} modules read`);
  assert.deepEqual(cycles, []);
});
