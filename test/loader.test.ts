// Ebpf.load on our own objects (bpf/), against the real kernel: global data,
// map-in-map and PROG_ARRAY static initialisation, BTF upload, rollback, ownership.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArrayMap, ArrayOfMaps, Ebpf, EbpfLoader, HashOfMaps, loadKernelBtf, MapData, MapError, MapType, NotSupportedError, ObjectSpec, ProgramError, RawTracePoint, SchedClassifier, SocketFilter, Syscall, u32, u64, Xdp } from '../src/index.js';
import * as sys from '../src/sys/index.js';
import { clearFeatureCache, replaceKernel } from '../src/testing.js';
import { bpffsDir, bpfFds, corpusDir, fdCount, thrown } from './helpers.js';
import { kernelConfig } from '../src/externs.js';
import { kconfigLayout } from '../src/obj/externs.js';
import { branch } from './kernel-features.js';
import { memlockCharged } from '../src/loader/index.js';
import { execFileSync } from 'node:child_process';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const obj = (name: string) => resolve(root, 'bpf', name);
const packet = new Uint8Array(64);
const fdsAtStart = fdCount();

test('globals.o: .data/.rodata/.bss and named sections become maps; the program reads them', () => {
  using ebpf = Ebpf.load(obj('globals.o'));
  assert.deepEqual([...ebpf.maps()].map(([n]) => n).sort(), ['.bss', '.data', '.data.custom', '.rodata', '.rodata.custom']);
  const compute = ebpf.program('compute');
  assert.equal(compute.kind, 'SocketFilter');
  assert.equal(compute.testRun({ data: packet }).returnValue, 1137);
  assert.equal(compute.testRun({ data: packet }).returnValue, 1138, 'the program increments data_a');
  // .rodata is frozen before the programs load: user space cannot write it.
  const rodata = ebpf.map('.rodata');
  assert.equal(rodata.info().flags & (1 << 7), 1 << 7, 'BPF_F_RDONLY_PROG');
  assert.throws(() => rodata.update(new Uint8Array(4), new Uint8Array(rodata.valueSize)), (e: unknown) => e instanceof MapError && e.code === 'EPERM');
  // Globals are readable and writable after load through the data maps.
  const data = ebpf.map('.data');
  const bytes = data.lookup(new Uint8Array(4))!;
  const v = new DataView(bytes.buffer);
  assert.equal(v.getUint32(0, true), 3, 'data_a: 1, incremented by two runs');
  v.setUint32(0, 100, true);
  data.update(new Uint8Array(4), bytes);
  assert.equal(compute.testRun({ data: packet }).returnValue, 1137 + 99, 'the program sees a global written by user space');
  const bss = new DataView(ebpf.map('.bss').lookup(new Uint8Array(4))!.buffer);
  assert.equal(bss.getBigUint64(0, true), 3n, 'bss_runs counts the runs');
});

test('setGlobal writes initial values by name; unknown names and wrong sizes are typed errors', () => {
  {
    using ebpf = new EbpfLoader().setGlobal('ro_a', 11).setGlobal('data_a', 2).setGlobal('custom_ro', new Uint8Array([0xe9, 3, 0, 0])).load(obj('globals.o'));
    assert.equal(ebpf.program('compute').testRun({ data: packet }).returnValue, 1137 + 1 + 1 + 1);
  }
  const before = fdCount();
  assert.equal(thrown(() => new EbpfLoader().setGlobal('nope', 1).load(obj('globals.o'))).kind, 'InvalidArgument');
  {
    using ebpf = new EbpfLoader().setGlobal('nope', 1, { mustExist: false }).load(obj('globals.o'));
    assert.equal(ebpf.program('compute').testRun({ data: packet }).returnValue, 1137);
  }
  assert.equal(thrown(() => new EbpfLoader().setGlobal('data_a', new Uint8Array(3)).load(obj('globals.o'))).kind, 'InvalidValueSize');
  assert.equal(thrown(() => new EbpfLoader().setGlobal('data_a', 2 ** 40).load(obj('globals.o'))).kind, 'InvalidArgument');
  assert.equal(fdCount(), before, 'a failed load closes what it made');
});

test('map_in_map.o: static initialisation of ARRAY_OF_MAPS, HASH_OF_MAPS and PROG_ARRAY; values flow both ways', () => {
  using ebpf = Ebpf.load(obj('map_in_map.o'));
  const lookup = ebpf.program('lookup_outer');
  // outer[slot=1] is inner_a; key=3; the program increments and returns the value.
  assert.equal(lookup.testRun({ data: packet }).returnValue, 1);
  assert.equal(lookup.testRun({ data: packet }).returnValue, 2);
  const outer = ArrayOfMaps.tryFrom(ebpf.map('outer'), ArrayMap.fromMapData(u64));
  assert.equal(outer.getId(1), ebpf.map('inner_a').id, 'slot 1 holds inner_a');
  assert.throws(() => outer.getId(0), (e: unknown) => e instanceof MapError && e.kind === 'KeyNotFound');
  {
    using inner = outer.get(1);
    assert.equal(inner.get(3), 2n, 'user space reads what the program wrote');
    inner.set(3, 41n);
  }
  assert.equal(lookup.testRun({ data: packet }).returnValue, 42, 'the program reads what user space wrote');
  // Swap slot 1 to inner_b: the program now counts there.
  outer.set(1, ebpf.map('inner_b'));
  assert.equal(lookup.testRun({ data: packet }).returnValue, 1);
  const hom = HashOfMaps.tryFrom(ebpf.map('outer_hash'), u32);
  assert.equal(hom.getId(2), ebpf.map('inner_b').id);
  assert.equal(ebpf.program('lookup_outer_hash').testRun({ data: packet }).returnValue, 2);
  // The tail-call table: slot 0 = tail_target.
  assert.equal(ebpf.program('tail_caller').testRun({ data: packet }).returnValue, 0x7a11);
  assert.equal(ebpf.map('jump_table').info().type, MapType.ProgArray);
});

test('ownership: map() is a view, takeMap() hands the map over, close() releases everything', () => {
  const before = bpfFds().length;
  const ebpf = Ebpf.load(obj('map_in_map.o'));
  const taken = ebpf.takeMap('inner_a');
  assert.throws(() => ebpf.map('inner_a'), MapError);
  ebpf.close();
  assert.equal(bpfFds().length, before + 1, 'only the taken map is still open');
  assert.equal(ArrayMap.tryFrom(taken, u64).len(), 8);
  taken.close();
  assert.equal(bpfFds().length, before);
  assert.throws(() => ebpf.program('lookup_outer'), ProgramError);
});

test('replaceMap uses the caller map; setMaxEntries changes a size', () => {
  using mine = ArrayMap.create(u64, { maxEntries: 8, name: 'mine' });
  mine.set(3, 10n);
  {
    using ebpf = new EbpfLoader().replaceMap('inner_a', mine.map).setMaxEntries('inner_b', 8).load(obj('map_in_map.o'));
    assert.equal(ebpf.program('lookup_outer').testRun({ data: packet }).returnValue, 11);
  }
  assert.equal(mine.get(3), 11n, 'the replaced map stays open and holds the program write');
  assert.equal(thrown(() => new EbpfLoader().setMaxEntries('inner_b', 9).load(obj('map_in_map.o'))).kind, 'SyscallError', 'inner_b no longer matches the template');
});

test('pinning by name: created and pinned when missing, reused when present, refused when incompatible', () => {
  const dir = bpffsDir('loader');
  const corpusObject = resolve(corpusDir, 'testdata/loader-clang-22-el.elf');
  // Maps only: the test is about pinned maps, and the programs need the externs of loader-externs.test.ts.
  const loader = () => {
    const l = new EbpfLoader().mapPinPath(dir);
    for (const p of ['xdp_prog', 'no_relocation', 'asm_relocation', 'data_sections', 'anon_const']) l.deferProgram(p);
    return l;
  };
  try {
    let id: number;
    {
      using ebpf = loader().load(corpusObject);
      id = ebpf.map('btf_pin').id;
      assert.ok(existsSync(`${dir}/btf_pin`), 'created and pinned');
      assert.equal(ebpf.map('perf_event_array').info().keySize, 4, 'perf event array key/value fixed to 4');
    }
    {
      using ebpf = loader().load(corpusObject);
      assert.equal(ebpf.map('btf_pin').id, id, 'reused from the pin');
    }
    rmSync(`${dir}/btf_pin`);
    const other = MapData.create({ type: MapType.Hash, keySize: 4, valueSize: 16, maxEntries: 1 });
    other.pin(`${dir}/btf_pin`);
    other.close();
    const before = fdCount();
    const err = thrown(() => loader().load(corpusObject));
    assert.ok(err instanceof MapError && /differs in valueSize/.test(err.message), String(err));
    assert.equal(fdCount(), before);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** kinds.o with only `name` loaded. */
function loadKind(name: string): Ebpf {
  const loader = new EbpfLoader();
  for (const other of ObjectSpec.parse(readFileSync(obj('kinds.o'))).programs.keys()) if (other !== name) loader.deferProgram(other);
  return loader.load(obj('kinds.o'));
}

/** Runs `fn` with BPF_PROG_LOAD / BPF_MAP_CREATE answering `errno` where `refuse(attr)` says so, the probe cache cold before and after. */
function refusing(cmd: number, refuse: (attr: DataView) => boolean, errno: number, fn: () => void): void {
  clearFeatureCache();
  const real = sys.kernel;
  const restore = replaceKernel({
    bpf: (c, attr, mask, ...b) => (c === cmd && refuse(new DataView(attr.buffer, attr.byteOffset, attr.byteLength)) ? -errno : real.bpf(c, attr, mask, ...b)),
  });
  try {
    fn();
  } finally {
    restore();
    clearFeatureCache();
  }
}

const XDP = 6;
const named = (v: DataView, at: number) => v.getUint8(at) !== 0; // the probes load and create nameless

test('a program kind the kernel refuses (EPERM, EINVAL) is ProgramError NotSupported naming it; a program refused where a minimal one of its kind loads is LoadError', () => {
  const before = fdCount();
  for (const [errno, code] of [[1, 'EPERM'], [22, 'EINVAL']] as const) {
    // Every XDP load refused, the probe's too: the kernel refuses the kind.
    refusing(5, (v) => v.getUint32(0, true) === XDP, errno, () => {
      const err = thrown(() => loadKind('k_xdp'));
      assert.ok(err instanceof ProgramError, String(err));
      assert.equal(err.kind, 'NotSupported', err.message);
      assert.equal(err.program, 'k_xdp');
      assert.equal(err.feature, 'BPF_PROG_TYPE_XDP (BPF_XDP)');
      assert.equal(err.code, code);
      assert.match(err.message, /this kernel refuses BPF_PROG_TYPE_XDP \(BPF_XDP\) programs/);
    });
    // Only the program's own load refused (it has a name; the probe's has none): LoadError.
    refusing(5, (v) => v.getUint32(0, true) === XDP && named(v, 48), errno, () => {
      const err = thrown(() => loadKind('k_xdp'));
      assert.ok(err instanceof ProgramError, String(err));
      assert.equal(err.kind, 'LoadError', err.message);
      assert.equal(err.code, code);
    });
  }
  // The same for maps, through MapData.create (the loader's maps, ArrayMap.create, ...).
  const queue = { type: MapType.Queue, keySize: 0, valueSize: 4, maxEntries: 4, name: 'q' };
  refusing(0, (v) => v.getUint32(0, true) === MapType.Queue, 1, () => {
    const err = thrown(() => MapData.create(queue));
    assert.ok(err instanceof MapError && err.kind === 'NotSupported', String(err));
    assert.ok(err instanceof NotSupportedError, 'caught as NotSupportedError too');
    assert.equal(err.feature, 'BPF_MAP_TYPE_QUEUE');
    assert.equal(err.code, 'EPERM');
  });
  refusing(0, (v) => v.getUint32(0, true) === MapType.Queue && named(v, 28), 1, () => {
    const err = thrown(() => MapData.create(queue));
    assert.ok(err instanceof MapError && err.kind === 'CreateError', String(err));
    assert.equal(err.code, 'EPERM');
  });
  // An error that is no refusal (EFAULT) is never taken for one.
  refusing(5, (v) => v.getUint32(0, true) === XDP, 14, () => {
    assert.equal(thrown(() => loadKind('k_xdp')).kind, 'LoadError');
  });
  assert.equal(fdCount(), before);
  // fwd_decl-el.elf calls a function that is never defined: not weak, so it is named.
  const fwd = thrown(() => Ebpf.load(resolve(corpusDir, 'testdata/fwd_decl-el.elf')));
  assert.ok(fwd instanceof ProgramError && fwd.kind === 'UnresolvedExtern' && /fwd/.test(fwd.message), String(fwd));
});

test('kconfig externs: LINUX_KERNEL_VERSION and CONFIG_* from the running kernel', async (t) => {
  const path = resolve(corpusDir, 'testdata/kconfig-el.elf');
  await branch(t, 'a readable kernel configuration (/proc/config.gz or /boot/config-<release>)', kernelConfig().size > 0, () => kconfigValues(path), () => {
    const err = thrown(() => Ebpf.load(path));
    assert.ok(err instanceof ProgramError && err.kind === 'UnresolvedExtern', String(err));
    assert.match(err.message, /__kconfig extern CONFIG_\w+ is not set in this kernel's configuration/);
  });
});

function kconfigValues(path: string): void {
  using ebpf = Ebpf.load(path);
  const kconfig = ebpf.map('.kconfig');
  assert.ok(kconfig.info().flags & (1 << 7), 'read-only for programs');
  const value = new DataView(kconfig.lookup(new Uint8Array(4))!.buffer);
  const layout = kconfigLayout(ebpf.spec.btf);
  const at = layout.offsets.get('LINUX_KERNEL_VERSION')!.offset;
  const [major, minor] = readFileSync('/proc/sys/kernel/osrelease', 'utf8').split('.').map(Number);
  const version = value.getUint32(at, true);
  assert.equal(version >> 16, major);
  assert.equal((version >> 8) & 0xff, minor);
  // A tristate: CONFIG_BPF_SYSCALL is built in (y = 1) on every kernel that runs this test.
  const syscall = layout.offsets.get('CONFIG_BPF_SYSCALL');
  if (syscall) assert.equal(value.getUint8(syscall.offset), 1);
  assert.equal(typeof ebpf.program('kconfig').testRun({ data: packet }).returnValue, 'number');
}

test('CO-RE: core.o reads task_struct fields relocated to the running kernel (pid, tgid, comm)', () => {
  using ebpf = Ebpf.load(obj('core.o'));
  const ctx = new Uint8Array(24);
  const run = ebpf.program('core_task_btf').testRun({ ctx });
  assert.equal(run.returnValue, process.pid, 'returns the tgid');
  const comm = readFileSync('/proc/self/comm', 'utf8').trim();
  const c = new DataView(ctx.buffer);
  assert.equal(c.getUint32(0, true), process.pid, 'pid (this is the main thread)');
  assert.equal(c.getUint32(4, true), process.pid, 'tgid');
  assert.equal(new TextDecoder().decode(ctx.subarray(8, 8 + comm.length)), comm);
  // The same through .bss, and facts the relocations computed from the kernel's BTF.
  const bss = ebpf.map('.bss').lookup(new Uint8Array(4))!;
  const b = new DataView(bss.buffer);
  assert.equal(b.getUint32(0, true), process.pid);
  assert.equal(new TextDecoder().decode(bss.subarray(56, 56 + comm.length)), comm);
  const task = loadKernelBtf().byName('task_struct', 'struct')[0]!;
  const facts = 216;
  assert.equal(b.getUint32(facts + 0, true), 1, 'pid exists');
  assert.equal(b.getUint32(facts + 4, true), 0, 'task_struct.state (before 5.14) does not');
  assert.equal(b.getUint32(facts + 20, true), 16, 'sizeof(comm)');
  assert.equal(b.getUint32(facts + 24, true), task.members.find((m) => m.name === 'pid')!.bitOffset / 8, 'offsetof(pid) in this kernel');
  assert.equal(b.getUint32(facts + 28, true), task.size, 'sizeof(task_struct) in this kernel');
  // The probe-read variant agrees.
  assert.equal(ebpf.program('core_task_probe').testRun().returnValue, process.pid);
});

test('many.o: 25 programs of 13 types with a shared subprogram and CO-RE load and run', () => {
  using ebpf = Ebpf.load(obj('many.o'));
  assert.equal([...ebpf.programs()].length, 25);
  assert.equal(ebpf.program('socket_0').testRun({ data: packet }).returnValue, 50);
  assert.equal(ebpf.program('xdp_1').testRun({ data: packet }).returnValue, 2);
  assert.equal(ebpf.program('syscall_0').testRun().returnValue, process.pid);
  const counters = ArrayMap.tryFrom(ebpf.map('counters'), u64);
  assert.equal(counters.get(0), 1n, 'the shared subprogram counted socket_0');
  assert.equal(counters.get(9), 1n, 'and xdp_1');
});

test('programs are typed by their section; a deferred program loads on demand', () => {
  using ebpf = new EbpfLoader().deferProgram('xdp_1').load(obj('many.o'));
  assert.ok(ebpf.program('xdp_0') instanceof Xdp);
  assert.ok(ebpf.program('socket_0') instanceof SocketFilter);
  assert.ok(ebpf.program('tc_0') instanceof SchedClassifier);
  assert.ok(ebpf.program('raw_tp_0') instanceof RawTracePoint);
  assert.ok(ebpf.program('syscall_0') instanceof Syscall);
  const deferred = ebpf.program('xdp_1');
  assert.equal(deferred.loaded, false);
  assert.throws(() => deferred.fd, (e: unknown) => e instanceof ProgramError && e.kind === 'NotLoaded');
  deferred.load();
  assert.equal(deferred.loaded, true);
  assert.equal(deferred.testRun({ data: packet }).returnValue, 2);
  deferred.unload();
  assert.throws(() => deferred.testRun({ data: packet }), (e: unknown) => e instanceof ProgramError && e.kind === 'NotLoaded');
  deferred.load();
  assert.equal(deferred.testRun({ data: packet }).returnValue, 2, 'loads again');
});

test('a verifier rejection names the C source lines and the unsatisfied CO-RE relocation', () => {
  const loader = new EbpfLoader().deferProgram('poisoned_double').deferProgram('poisoned_kfunc');
  const err = thrown(() => loader.load(resolve(corpusDir, 'testdata/errors-el.elf')));
  assert.ok(err instanceof ProgramError && err.kind === 'LoadError', String(err));
  assert.equal(err.program, 'poisoned_single');
  // The source line as line info gave it ("@ file:line" only from kernels after 6.1).
  assert.match(err.verifierLog!, /; return core_access\(ne\.non_exist\);( @ errors\.c:20)?\n/, 'line info reached the kernel');
  assert.match(err.message, /unsatisfied CO-RE relocations:\n.*nonexist\.non_exist/);
});

test('RLIMIT_MEMLOCK is raised only on kernels that charge it (before 5.11)', () => {
  assert.equal(memlockCharged([4, 19, 0]), true);
  assert.equal(memlockCharged([5, 10, 200]), true);
  assert.equal(memlockCharged([5, 11, 0]), false);
  assert.equal(memlockCharged([6, 18, 44]), false);
  // This kernel (6.18): a load in a fresh process never touches the limit.
  const script = `import { Ebpf } from ${JSON.stringify(resolve(root, 'dist/src/index.js'))};
import { replaceKernel } from ${JSON.stringify(resolve(root, 'dist/src/testing.js'))};
let calls = 0; replaceKernel({ setrlimit: () => (calls++, 0) });
Ebpf.load(${JSON.stringify(obj('globals.o'))}).close(); console.log(calls);`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(out.trim(), '0');
});

test('no file descriptor leaked by this file', () => {
  assert.equal(fdCount(), fdsAtStart);
});
