// Error kinds across classes: NotSupportedError catches "this kernel lacks it" whatever
// raised it (ProgramError, MapError, BtfError), and ParseError and BtfError say by
// their kind what is wrong with an object or BTF.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Btf, BtfError, Ebpf, isNotSupported, loadKernelBtf, MapError, NotSupportedError, ObjectSpec, ParseError, PinError, ProgramError, SyscallError, u32, ArrayMap } from '../src/index.js';
import { repoRoot, thrown } from './helpers.js';

const obj = (name: string) => resolve(repoRoot, 'bpf', name);

test('NotSupportedError: a test run the kernel cannot do (tracepoint, ENOTSUPP) is caught as NotSupported and stays a ProgramError', () => {
  using ebpf = Ebpf.load(obj('attach_tracepoint.o'));
  const err = thrown(() => ebpf.program('tp_getppid').testRun({}));
  assert.ok(err instanceof NotSupportedError, String(err));
  assert.ok(isNotSupported(err));
  assert.ok(err instanceof ProgramError && !(err instanceof MapError));
  assert.equal(err.kind, 'NotSupported');
  assert.equal(err.name, 'ProgramError');
  assert.equal(err.feature, 'test run of BPF_PROG_TYPE_TRACEPOINT');
  assert.equal(err.code, 'ENOTSUPP');
});

test('NotSupportedError: other kinds, other errors and look-alikes are not NotSupported', () => {
  using map = ArrayMap.create(u32, { maxEntries: 2 });
  const oob = thrown(() => map.get(5));
  assert.ok(oob instanceof MapError && oob.kind === 'OutOfBounds');
  assert.equal(oob instanceof NotSupportedError, false);
  for (const value of [new SyscallError('bpf_map_create', 524), new PinError('InvalidPinPath', '/x', 'x'), new ParseError('Malformed', 'x'),
    Object.assign(new Error('x'), { kind: 'NotSupported' }), { kind: 'NotSupported' }, null, undefined, 'NotSupported']) {
    assert.equal(value instanceof NotSupportedError, false, String(value));
    assert.equal(isNotSupported(value), false);
  }
  // Errors made by another copy of the package carry the same Symbol.for brand.
  const other = Object.assign(new Error('x'), { kind: 'NotSupported', [Symbol.for('tsbpf.MapError')]: true });
  assert.ok(other instanceof NotSupportedError && other instanceof MapError);
  assert.ok(new BtfError('NotSupported', 'x') instanceof NotSupportedError);
  assert.ok(new MapError('NotSupported', 'x', { feature: 'BPF_MAP_TYPE_ARENA' }) instanceof NotSupportedError);
});

test('BtfError NotSupported: a kernel without /sys/kernel/btf/vmlinux (hidden in a mount namespace) has no BTF of its own; another path that cannot be read is ReadError', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-nobtf-'));
  try {
    const script = `const { loadKernelBtf, NotSupportedError } = await import(${JSON.stringify(resolve(repoRoot, 'dist/src/index.js'))});
      try { loadKernelBtf(); console.log(JSON.stringify({ loaded: true })); }
      catch (e) { console.log(JSON.stringify({ name: e.name, kind: e.kind, feature: e.feature, notSupported: e instanceof NotSupportedError, cause: e.cause?.code })); }`;
    const out = execFileSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs none /sys/kernel/btf && exec "$0" --input-type=module -e "$1"`, process.execPath, script], { encoding: 'utf8', cwd: dir });
    assert.deepEqual(JSON.parse(out), { name: 'BtfError', kind: 'NotSupported', feature: 'vmlinux BTF (CONFIG_DEBUG_INFO_BTF)', notSupported: true, cause: 'ENOENT' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const err = thrown(() => loadKernelBtf('/nonexistent/vmlinux'));
  assert.ok(err instanceof BtfError && err.kind === 'ReadError', String(err));
  assert.equal(err instanceof NotSupportedError, false);
  assert.ok(loadKernelBtf().types.length > 1000, 'this kernel has BTF');
});

test('BtfError kinds: InvalidArgument, Malformed, UnsupportedFormat, TypeNotFound, InvalidType', () => {
  const kind = (fn: () => unknown) => {
    const err = thrown(fn);
    assert.ok(err instanceof BtfError, String(err));
    return err.kind;
  };
  assert.equal(kind(() => Btf.parse('x' as unknown as Uint8Array)), 'InvalidArgument');
  assert.equal(kind(() => Btf.parse(new Uint8Array([0x9f, 0xeb, 1, 0]))), 'Malformed');
  assert.equal(kind(() => Btf.parse(new Uint8Array([0x12, 0x34, 1, 0, 24, 0, 0, 0]))), 'Malformed');
  assert.equal(kind(() => Btf.parse(new Uint8Array([0xeb, 0x9f, 1, 0, 24, 0, 0, 0]))), 'UnsupportedFormat'); // big-endian
  assert.equal(kind(() => Btf.parse(new Uint8Array([0x9f, 0xeb, 9, 0, 24, 0, 0, 0]))), 'UnsupportedFormat'); // version 9
  const vmlinux = loadKernelBtf();
  assert.equal(kind(() => vmlinux.type(vmlinux.types.length)), 'TypeNotFound');
  const fn = vmlinux.types.findIndex((t) => t.kind === 'func');
  assert.equal(kind(() => vmlinux.sizeof(fn)), 'InvalidType'); // a function has no size
});

test('ParseError kinds: InvalidArgument, InvalidFile, Malformed, UnsupportedFormat', () => {
  const kind = (fn: () => unknown) => {
    const err = thrown(fn);
    assert.ok(err instanceof ParseError, String(err));
    return err.kind;
  };
  assert.equal(kind(() => ObjectSpec.parse(42 as unknown as Uint8Array)), 'InvalidArgument');
  assert.equal(kind(() => Ebpf.load(42 as unknown as string)), 'InvalidArgument');
  assert.equal(kind(() => Ebpf.load(repoRoot)), 'InvalidFile'); // a directory
  assert.equal(kind(() => ObjectSpec.parse(new Uint8Array(64))), 'Malformed'); // no ELF magic
  const elf32 = new Uint8Array(64);
  elf32.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  assert.equal(kind(() => ObjectSpec.parse(elf32)), 'UnsupportedFormat');
  const bigEndian = new Uint8Array(64);
  bigEndian.set([0x7f, 0x45, 0x4c, 0x46, 2, 2, 1]);
  assert.equal(kind(() => ObjectSpec.parse(bigEndian)), 'UnsupportedFormat');
});
