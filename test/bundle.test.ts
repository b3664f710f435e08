// The published entries are bundles of tsc's output (tools/bundle.ts, package.json
// "exports" and "bin"): they must export what dist/src exports, share one copy of each
// module between them (a class, the kernel seam), work on the real kernel, and the bin
// must run. Here 'tsbpf' by name resolves to the bundle through the package's
// self-reference, as in an application; dist/src is imported only to compare names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLE_ENTRIES } from '../tools/bundle.js';
import { fdCount, repoRoot } from './helpers.js';

// By name at run time; typed as the declarations they ship with (tsc's, of dist/src).
const byName = (specifier: string): Promise<unknown> => import(specifier);
const bundled = (await byName('tsbpf')) as typeof import('../src/index.js');
const bundledSys = (await byName('tsbpf/sys')) as typeof import('../src/sys/index.js');
const bundledTesting = (await byName('tsbpf/testing')) as typeof import('../src/testing.js');

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string; bin: { tsbpf: string } };

/** What an export is: a class, a function, an object, or a primitive's type. */
function kind(value: unknown): string {
  if (typeof value === 'function') return /^class\b/.test(Function.prototype.toString.call(value)) ? `class ${value.name}` : `function ${value.name}`;
  if (typeof value === 'object' && value !== null) return `object {${Object.keys(value).sort().join(',')}}`;
  return typeof value;
}

const shape = (ns: object) => Object.fromEntries(Object.entries(ns).map(([name, value]) => [name, kind(value)]));

test('bundle: the entries are rebuilt from the current dist/src (npm run build bundles after tsc)', () => {
  for (const [name, file] of Object.entries(BUNDLE_ENTRIES)) {
    const built = statSync(join(repoRoot, 'dist/bundle', `${name}.js`)).mtimeMs;
    assert.ok(built >= statSync(join(repoRoot, file)).mtimeMs, `dist/bundle/${name}.js is older than ${file}: run npm run build`);
  }
  assert.match(import.meta.resolve('tsbpf'), /\/dist\/bundle\/index\.js$/);
});

test('bundle: tsbpf, tsbpf/sys and tsbpf/testing export the names and kinds of dist/src (class names kept)', async () => {
  const pairs: [string, object, string][] = [
    ['tsbpf', bundled, '../src/index.js'],
    ['tsbpf/sys', bundledSys, '../src/sys/index.js'],
    ['tsbpf/testing', bundledTesting, '../src/testing.js'],
  ];
  for (const [name, ns, source] of pairs) {
    const original = (await import(source)) as object;
    assert.ok(Object.keys(original).length > 0);
    assert.deepEqual(shape(ns), shape(original), name);
  }
  // The check can fail: a renamed class (esbuild renames clashing top-level names) differs.
  assert.notDeepEqual(shape({ A: class B {} }), shape({ A: class A {} }));
  assert.equal(bundled.MapError.name, 'MapError');
});

test('bundle: one copy of each module across the entries (classes, the kernel seam)', () => {
  assert.equal(bundledSys.SyscallError, bundled.SyscallError);
  assert.ok(bundled.MapData.prototype instanceof bundledSys.FdOwner, 'a map of tsbpf is an FdOwner of tsbpf/sys');
  const fds = fdCount();
  const real = bundledSys.kernel;
  // The seam of 'tsbpf/testing' refuses BPF_MAP_CREATE: 'tsbpf' sees it, and 'tsbpf/sys' sees the replacement.
  const restore = bundledTesting.replaceKernel({
    bpf: (cmd, attr, mask, ...bufs) => (cmd === bundledSys.Cmd.MapCreate ? -bundledSys.Errno.EPERM : real.bpf(cmd, attr, mask, ...bufs)),
    bpfIo: (cmd, io, len, mask) => (cmd === bundledSys.Cmd.MapCreate ? -bundledSys.Errno.EPERM : real.bpfIo(cmd, io, len, mask)),
  });
  try {
    assert.notEqual(bundledSys.kernel, real);
    assert.throws(
      () => bundled.HashMap.create(bundled.u32, bundled.u64, { maxEntries: 4 }),
      (err: unknown) => err instanceof bundled.MapError && /EPERM/.test(err.message),
    );
  } finally {
    restore();
  }
  assert.equal(bundledSys.kernel, real);
  const map = bundled.HashMap.create(bundled.u32, bundled.u64, { maxEntries: 4 });
  map.close();
  assert.equal(fdCount(), fds);
});

test('bundle: a map is created and an object loaded through the bundled entry', () => {
  const fds = fdCount();
  const map = bundled.ArrayMap.create(bundled.u32, { maxEntries: 4, name: 'bundle_test' });
  try {
    map.set(2, 42);
    assert.equal(map.get(2), 42);
    assert.equal(map.map.type, bundled.MapType.Array);
  } finally {
    map.close();
  }
  const ebpf = bundled.Ebpf.load(join(repoRoot, 'bpf/globals.o'));
  try {
    const progs = [...ebpf.programs()].map(([, prog]) => prog);
    assert.ok(progs.length > 0);
    for (const prog of progs) {
      assert.ok(prog instanceof bundled.Program);
      assert.ok(prog.fd > 0);
    }
  } finally {
    ebpf.close();
  }
  assert.equal(fdCount(), fds);
});

test('bundle: the bin runs (--version, prog list --json sees a program loaded here)', () => {
  const bin = join(repoRoot, pkg.bin.tsbpf);
  const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 });
  const version = run('--version');
  assert.equal(version.status, 0, version.stderr);
  assert.equal(version.stdout.trim(), pkg.version);

  const ebpf = bundled.Ebpf.load(join(repoRoot, 'bpf/globals.o'));
  try {
    const ids = [...ebpf.programs()].map(([, p]) => p.info().id);
    const list = run('prog', 'list', '--json');
    assert.equal(list.status, 0, list.stderr);
    const progs = JSON.parse(list.stdout) as { id: number; name: string }[];
    for (const id of ids) assert.ok(progs.some((p) => p.id === id), `program ${id} listed`);
  } finally {
    ebpf.close();
  }
  const wrong = run('prog', 'nosuch');
  assert.equal(wrong.status, 2, wrong.stderr);
});
