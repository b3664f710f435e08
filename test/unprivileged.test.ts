// Without CAP_BPF (uid 65534, kernel.unprivileged_bpf_disabled != 0) every map
// creation fails with a typed EPERM error that says what is missing; nothing crashes.
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, distIndex, runScript } from './child.js';

const NOBODY = 65534;
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** True when every directory on the way to `path` is searchable and `path` readable by "other". */
function readableByOthers(path: string): boolean {
  let p = resolve(path);
  if ((statSync(p).mode & 0o004) === 0) return false;
  for (p = dirname(p); ; p = dirname(p)) {
    if ((statSync(p).mode & 0o001) === 0) return false;
    if (p === '/') return true;
  }
}

/** Is every file below `dir` readable and every directory searchable by "other"? */
function treeReadableByOthers(dir: string): boolean {
  if (!readableByOthers(dir) || (statSync(dir).mode & 0o005) !== 0o005) return false;
  return readdirSync(dir, { withFileTypes: true }).every((entry) => {
    const p = join(dir, entry.name);
    return entry.isDirectory() ? treeReadableByOthers(p) : (statSync(p).mode & 0o004) !== 0;
  });
}

/**
 * The library as uid 65534 can load it: the repository in place when it is readable by
 * "other", else a copy (dist/src, the addon, package.json) in a temporary directory.
 */
function libraryForNobody(t: { after(fn: () => void): void }, forceCopy = false): { lib: string; dir: string } {
  const addon = join(root, 'build/Release/tsbpf.node');
  const inPlace = [distIndex, addon, join(root, 'package.json')].every(readableByOthers) && treeReadableByOthers(join(root, 'dist/src'));
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-nobody-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  if (inPlace && !forceCopy) return { lib: distIndex, dir };
  cpSync(join(root, 'dist/src'), join(dir, 'dist/src'), { recursive: true });
  mkdirSync(join(dir, 'build/Release'), { recursive: true });
  cpSync(addon, join(dir, 'build/Release/tsbpf.node'));
  cpSync(join(root, 'package.json'), join(dir, 'package.json'));
  // The addon's loader (a dependency of the package).
  cpSync(join(root, 'node_modules/node-gyp-build'), join(dir, 'node_modules/node-gyp-build'), { recursive: true });
  chmodTree(dir);
  return { lib: join(dir, 'dist/src/index.js'), dir };
}

function chmodTree(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) chmodTree(p);
    else chmodSync(p, 0o644);
  }
}

const SCRIPT = `
const { ArrayOfMaps, MapData, MapError, MapType, SyscallError, HashMap, u32, isMapTypeSupported, isProgramTypeSupported, ProgramType } = tsbpf;
function probe(fn) {
  try {
    return String(fn());
  } catch (err) {
    return err.code ?? String(err);
  }
}
function describe(fn) {
  try {
    fn();
    return { threw: false };
  } catch (err) {
    return {
      threw: true,
      isMapError: err instanceof MapError,
      name: err.name, kind: err.kind, code: err.code, errno: err.errno, call: err.call, message: err.message,
      causeIsSyscallError: err.cause instanceof SyscallError,
      causeCall: err.cause?.call,
    };
  }
}
const results = {
  uid: process.getuid(),
  mapData: describe(() => MapData.create({ type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 4 })),
  arrayOfMaps: describe(() => ArrayOfMaps.create({ maxEntries: 4, innerMap: { type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 4 } })),
  hashMap: describe(() => HashMap.create(u32, u32, { maxEntries: 16 })),
  fromId: describe(() => MapData.fromId(1)),
  probes: { xdp: probe(() => isProgramTypeSupported(ProgramType.Xdp)), hash: probe(() => isMapTypeSupported(MapType.Hash)) },
};
console.log(JSON.stringify(results));
`;

interface Failure {
  threw: boolean;
  isMapError: boolean;
  name: string;
  kind: string;
  code: string;
  errno: number;
  call: string;
  message: string;
  causeIsSyscallError: boolean;
  causeCall: string;
}

for (const forceCopy of [false, true]) {
  test(`uid 65534 gets typed EPERM errors naming CAP_BPF, and exits normally${forceCopy ? ' (library copied to a temp dir)' : ''}`, (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('needs root to switch to uid 65534');
      return;
    }
    const level = readFileSync('/proc/sys/kernel/unprivileged_bpf_disabled', 'utf8').trim();
    const { lib, dir } = libraryForNobody(t, forceCopy);
    if (forceCopy) assert.notEqual(lib, distIndex);
    const r = runScript(SCRIPT, { lib, dir, uid: NOBODY, gid: NOBODY, cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir } });
    assert.equal(r.signal, null, describe(r));
    assert.equal(r.status, 0, describe(r));
    const results = r.json as { uid: number; mapData: Failure; arrayOfMaps: Failure; hashMap: Failure; fromId: Failure; probes: Record<string, string> };
    assert.equal(results.uid, NOBODY);

    for (const name of ['mapData', 'arrayOfMaps', 'hashMap'] as const) {
      const f = results[name];
      assert.equal(f.threw, true, `${name} must fail without CAP_BPF`);
      assert.equal(f.isMapError, true, `${name}: ${f.message}`);
      assert.equal(f.name, 'MapError');
      assert.equal(f.kind, 'CreateError', name);
      assert.equal(f.code, 'EPERM', name);
      assert.equal(f.errno, 1, name);
      assert.equal(f.call, 'bpf_map_create', name);
      assert.equal(f.causeIsSyscallError, true, name);
      assert.equal(f.causeCall, 'bpf_map_create', name);
      assert.match(f.message, /CAP_BPF/, name);
      assert.match(f.message, /uid 65534/, name);
      if (level !== '0') assert.match(f.message, new RegExp(`unprivileged_bpf_disabled=${level}`), name);
    }
    // A command other than creation: the same typed EPERM.
    assert.equal(results.fromId.threw, true);
    assert.equal(results.fromId.kind, 'SyscallError');
    assert.equal(results.fromId.code, 'EPERM');
    assert.equal(results.fromId.call, 'bpf_map_get_fd_by_id');
    assert.match(results.fromId.message, /CAP_BPF/);
    // EPERM without the capabilities says nothing about the kernel: the feature probes
    // throw it rather than answer "unsupported" (an unprivileged hash map is allowed
    // where kernel.unprivileged_bpf_disabled is 0).
    assert.deepEqual(results.probes, { xdp: 'EPERM', hash: level === '0' ? 'true' : 'EPERM' });
  });
}

test('CAP_BPF without CAP_PERFMON: a tracepoint program\'s LoadError names the missing capability, not the verifier', () => {
  if (process.getuid?.() !== 0) return;
  const script = `const { EbpfLoader, MapData } = await import(${JSON.stringify(distIndex)});
    const out = {};
    try { new EbpfLoader().load(${JSON.stringify(resolve(root, 'bpf/tutorial.o'))}).close(); out.load = 'loaded'; }
    catch (e) { out.load = { name: e.constructor.name, kind: e.kind, message: e.message }; }
    try { MapData.fromId(1); out.fromId = 'opened'; } catch (e) { out.fromId = e.message; }
    console.log(JSON.stringify(out));`;
  const drop = '-sys_admin,-perfmon,-net_admin';
  const r = spawnSync('setpriv', [`--bounding-set=${drop}`, `--inh-caps=${drop}`, process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { load: { name: string; kind: string; message: string }; fromId: string };
  assert.equal(out.load.name, 'ProgramError');
  assert.equal(out.load.kind, 'LoadError');
  assert.equal(out.load.message, 'cannot load program count_openat (tracepoint/syscalls/sys_enter_openat): EPERM: this process lacks CAP_PERFMON, which BPF_PROG_TYPE_TRACEPOINT programs need');
  assert.match(out.fromId, /EPERM .*the process has CAP_BPF but not CAP_SYS_ADMIN: .*objects reached by id \(prog\/map\/link list\) CAP_SYS_ADMIN/);
});
