// Loader inputs beyond sections and maps, against the real kernel:
// extern constants the user sets (setExtern), iproute2's inner_id/inner_idx
// map-in-map, CO-RE against a BTF other than the kernel's, kernel module BTF.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { ArrayMap, ArrayOfMaps, Btf, Ebpf, EbpfLoader, loadKernelBtf, HashOfMaps, MapType, ObjectSpec, ParseError, Pinning, ProgramError, u32 } from '../src/index.js';
import * as sys from '../src/sys/index.js';
import { replaceKernel } from '../src/testing.js';
import { btfObjects, findInModules, moduleBtfs, moduleNames } from '../src/kernel-btf.js';
import { bpffsDir, corpusDir, fdCount, repoRoot, thrown } from './helpers.js';
import { kfuncHere } from './kernel-features.js';

const packet = new Uint8Array(64);

/** The instructions of every BPF_PROG_LOAD `fn` makes (copies), by program name order of loading. */
function loadedInsns(fn: () => void): Uint8Array[] {
  const out: Uint8Array[] = [];
  const real = sys.kernel;
  const restore = replaceKernel({
    bpf: (cmd, attr, mask, ...buffers) => {
      if (cmd === sys.Cmd.ProgLoad && buffers[0]) out.push((buffers[0] as Uint8Array).slice());
      return real.bpf(cmd, attr, mask, ...buffers);
    },
  });
  try {
    fn();
  } finally {
    restore();
  }
  return out;
}

const asmObjects = ['loader-clang-14-el.elf', 'loader-clang-17-el.elf', 'loader-clang-22-el.elf', 'loader_nobtf-el.elf'].map((f) => resolve(corpusDir, 'testdata', f));

test('ObjectSpec.constantExterns: the inline-asm MY_CONST of the loader objects; kconfig, ksym and kfunc externs are not', () => {
  for (const path of asmObjects) assert.deepEqual(ObjectSpec.parse(readFileSync(path)).constantExterns, ['MY_CONST'], path);
  for (const f of ['kconfig-el.elf', 'ksym-el.elf', 'kfunc-el.elf']) {
    assert.deepEqual(ObjectSpec.parse(readFileSync(resolve(corpusDir, 'testdata', f))).constantExterns, [], f);
  }
});

test('setExtern: the corpus loader objects load whole, and asm_relocation returns the value given', () => {
  const before = fdCount();
  for (const path of asmObjects) {
    for (const value of [42, 7]) {
      using ebpf = new EbpfLoader().setExtern('MY_CONST', value).load(path);
      assert.equal(ebpf.program('asm_relocation').testRun({ data: packet }).returnValue, value, path);
    }
  }
  assert.equal(fdCount(), before);
});

test('setExtern: all 64 bits reach the ld_imm64 (both halves), src_reg 0', () => {
  const path = asmObjects[1];
  const spec = ObjectSpec.parse(readFileSync(path));
  const ref = spec.programs.get('asm_relocation')!.references.find((r) => r.kind === 'extern' && r.name === 'MY_CONST')!;
  const loader = new EbpfLoader().setExtern('MY_CONST', 0x1234_5678_9abc_def0n);
  for (const name of spec.programs.keys()) if (name !== 'asm_relocation') loader.deferProgram(name);
  const [insns] = loadedInsns(() => loader.load(path).close());
  const v = new DataView(insns.buffer);
  const at = ref.insn * 8;
  assert.equal(insns[at], 0x18, 'ld_imm64');
  assert.equal(insns[at + 1] >> 4, 0, 'src_reg 0: a plain constant');
  assert.equal(v.getUint32(at + 4, true), 0x9abc_def0);
  assert.equal(v.getUint32(at + 12, true), 0x1234_5678);
  // Negative values are two's complement.
  new EbpfLoader().setExtern('MY_CONST', -1);
  assert.throws(() => new EbpfLoader().setExtern('MY_CONST', 1n << 64n), (e: unknown) => e instanceof ProgramError && e.kind === 'InvalidArgument');
});

test('setExtern: an extern the object does not have, or one the kernel supplies, is a typed error; without it the error says how to fix it', () => {
  const before = fdCount();
  const path = asmObjects[1];
  let err = thrown(() => new EbpfLoader().setExtern('NOPE', 1).load(path));
  assert.ok(err instanceof ProgramError && err.kind === 'UnresolvedExtern' && /NOPE/.test(err.message), String(err));
  err = thrown(() => new EbpfLoader().setExtern('LINUX_KERNEL_VERSION', 1).load(resolve(corpusDir, 'testdata/kconfig-el.elf')));
  assert.ok(err instanceof ProgramError && err.kind === 'UnresolvedExtern', String(err));
  err = thrown(() => new EbpfLoader().load(path));
  assert.ok(err instanceof ProgramError && err.kind === 'UnresolvedExtern' && /setExtern/.test(err.message), String(err));
  assert.equal(fdCount(), before);
});

test('iproute2 bpf_elf_map: inner_id names the inner template by id, inner_idx puts a map in the outer map\'s slot', () => {
  const path = resolve(repoRoot, 'bpf/iproute2_map_in_map.o');
  const spec = ObjectSpec.parse(readFileSync(path));
  const outer = spec.maps.get('map_outer')!;
  assert.deepEqual(outer.elfMap, { id: 0, innerId: 7, innerIdx: 0 });
  assert.deepEqual([outer.inner?.type, outer.inner?.keySize, outer.inner?.valueSize, outer.inner?.maxEntries], [MapType.Array, 4, 4, 1]);
  assert.deepEqual(outer.contents, [{ index: 0, target: 'map_inner' }]);
  const outer2 = spec.maps.get('map_outer2')!;
  assert.equal(outer2.inner?.maxEntries, 1, 'template: map_other (id 8)');
  assert.deepEqual(outer2.contents, [], 'inner_idx -1: no slot');

  using ebpf = new EbpfLoader().load(path);
  const prog = ebpf.program('lookup_inner');
  assert.equal(prog.testRun({ data: packet }).returnValue, 1, 'map_outer[0] is map_inner');
  assert.equal(prog.testRun({ data: packet }).returnValue, 2);
  const aom = ArrayOfMaps.tryFrom(ebpf.map('map_outer'), ArrayMap.fromMapData(u32));
  assert.equal(aom.getId(0), ebpf.map('map_inner').id);
  assert.equal(ArrayMap.tryFrom(ebpf.map('map_inner'), u32).get(0), 2);
  // map_outer2 takes maps shaped like map_other.
  HashOfMaps.tryFrom(ebpf.map('map_outer2'), u32).insert(5, ebpf.map('map_other'));
});

test('iproute2 bpf_elf_map: an inner_id no map has is a ParseError; the corpus object keeps id/pinning and loads', () => {
  const path = resolve(repoRoot, 'bpf/iproute2_map_in_map.o');
  const bytes = new Uint8Array(readFileSync(path));
  // map_outer's definition: type 12, key 4, value 4, 2 entries, flags 0, id 0, pinning 0, inner_id 7.
  const def = new Uint8Array(new Uint32Array([12, 4, 4, 2, 0, 0, 0, 7, 0]).buffer);
  const at = Buffer.from(bytes).indexOf(Buffer.from(def));
  assert.ok(at > 0);
  bytes[at + 28] = 9;
  const err = thrown(() => ObjectSpec.parse(bytes));
  assert.ok(err instanceof ParseError && /no map has id 9/.test(err.message), String(err));

  const corpusPath = resolve(corpusDir, 'testdata/iproute2_map_compat-el.elf');
  const hash = ObjectSpec.parse(readFileSync(corpusPath)).maps.get('hash_map')!;
  assert.deepEqual(hash.elfMap, { id: 0, innerId: 0, innerIdx: 0 });
  assert.equal(hash.pinning, Pinning.ByName, 'PIN_GLOBAL_NS');
  const dir = bpffsDir('iproute2');
  try {
    using ebpf = new EbpfLoader().mapPinPath(dir).load(corpusPath);
    assert.equal(ebpf.map('hash_map').type, MapType.Hash);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('EbpfLoader.btf(other): CO-RE relocates against the given BTF, not the kernel\'s (task_struct.pid moved onto comm)', () => {
  const vmlinux = loadKernelBtf();
  const task = vmlinux.byName('task_struct', 'struct')[0]!;
  const comm = task.members.find((m) => m.name === 'comm')!;
  const pid = task.members.find((m) => m.name === 'pid')!;
  // The same kernel, except that this BTF says pid lives where comm does.
  const moved = Btf.fromTypes(vmlinux.types.map((t) => (t === task ? { ...task, members: task.members.map((m) => (m === pid ? { ...m, bitOffset: comm.bitOffset } : m)) } : t)));
  const path = resolve(repoRoot, 'bpf/core.o');
  const probeResult = 72; // .bss offset of probe_result (struct task_info, pid first)
  const run = (btf?: Btf) => {
    const loader = new EbpfLoader().deferProgram('core_task_btf').deferProgram('core_sys_enter');
    if (btf) loader.btf(btf);
    let insns: Uint8Array[] = [];
    let pidRead = 0;
    insns = loadedInsns(() => {
      using ebpf = loader.load(path);
      assert.equal(ebpf.program('core_task_probe').testRun().returnValue, process.pid, 'tgid is where both BTFs put it');
      pidRead = new DataView(ebpf.map('.bss').lookup(new Uint8Array(4))!.buffer).getUint32(probeResult, true);
    });
    return { pidRead, insns: insns[0]! };
  };
  const real = run();
  assert.equal(real.pidRead, process.pid, 'against the kernel\'s BTF, pid is the pid');
  const other = run(moved);
  const name = readFileSync('/proc/self/comm');
  assert.equal(other.pidRead, new DataView(name.buffer, name.byteOffset).getUint32(0, true), 'against the given BTF, "pid" is the first 4 bytes of comm');
  // The instructions differ exactly where the pid offset was relocated.
  const imms = (b: Uint8Array) => new Set(Array.from({ length: b.length / 8 }, (_, i) => new DataView(b.buffer, b.byteOffset).getInt32(i * 8 + 4, true)));
  assert.ok(imms(real.insns).has(pid.bitOffset / 8) && !imms(other.insns).has(pid.bitOffset / 8));
  assert.ok(imms(other.insns).has(comm.bitOffset / 8));
});

test('kernel BTF objects: BTF_GET_NEXT_ID finds vmlinux and each loaded module\'s BTF as kernel BTF and an object\'s own BTF as not', (t) => {
  const sizes = (names: string[]) => names.map((n) => readFileSync(`/sys/kernel/btf/${n}`).length).sort((a, b) => a - b);
  const modules = readdirSync('/sys/kernel/btf').filter((n) => n !== 'vmlinux').sort();
  t.diagnostic(`modules with BTF here: ${modules.join(', ') || 'none'}`);
  using ebpf = Ebpf.load(resolve(repoRoot, 'bpf/globals.o'));
  const objects = btfObjects();
  const kernelOnes = objects.filter((o) => o.kernel);
  assert.deepEqual(kernelOnes.map((o) => o.size).sort((a, b) => a - b), sizes(['vmlinux', ...modules]), 'vmlinux and the modules of /sys/kernel/btf');
  const own = ebpf.map('.data').info().btfId;
  assert.ok(own > 0);
  const mine = objects.find((o) => o.id === own);
  assert.ok(mine && !mine.kernel, 'the object\'s uploaded BTF is found, and is not kernel BTF');
  assert.deepEqual(moduleBtfs().map((m) => m.name), modules);
  assert.equal(findInModules(() => true)?.module.name, modules[0]);
});

test('kfuncs in neither vmlinux nor a loaded module (bpf_testmod\'s): ProgramError NotSupported naming the kfunc and the missing module', (t) => {
  const before = fdCount();
  for (const [file, kfunc] of [['kfunc-kmod-el.elf', 'bpf_testmod_test_mod_kfunc'], ['invalid-kfunc-el.elf', 'bpf_kfunc_call_test_mem_len_pass1']]) {
    // Kernels up to 6.1 had the test kfuncs in vmlinux; later ones in bpf_testmod.
    const here = kfuncHere(kfunc);
    t.diagnostic(`${kfunc}: ${here ? 'this kernel has it: no NotSupported naming it' : 'in no BTF here: NotSupported asserted'}`);
    let err: unknown;
    try {
      new EbpfLoader().load(resolve(corpusDir, 'testdata', file)).close();
    } catch (e) {
      err = e;
    }
    const missing = `kfunc ${kfunc} is in neither vmlinux BTF nor the BTF of a loaded kernel module (modules with BTF: ${moduleNames()}); load the kernel module`;
    if (here) {
      assert.ok(!(err instanceof Error && err.message.includes(missing)), String(err));
    } else {
      assert.ok(err instanceof ProgramError && err.kind === 'NotSupported', `${file}: ${err}`);
      assert.ok(err.message.includes(missing), err.message);
    }
  }
  assert.equal(fdCount(), before);
});

test('an attach target in a kernel module that is not loaded: ProgramError NotSupported naming the module', () => {
  // attach_fentry.o with its fentry section renamed (same length) to a module target.
  const bytes = Buffer.from(readFileSync(resolve(repoRoot, 'bpf/attach_fentry.o')));
  const from = Buffer.from('fentry/bpf_fentry_test1');
  const to = Buffer.from('fentry/bpf_testmod:tst1');
  for (let at = bytes.indexOf(from); at >= 0; at = bytes.indexOf(from, at)) to.copy(bytes, at);
  const spec = ObjectSpec.parse(bytes);
  assert.deepEqual(spec.programs.get('on_entry')!.target, { type: 'btf', name: 'tst1', btfName: 'tst1', btfKind: 'func', module: 'bpf_testmod' });
  const loader = new EbpfLoader();
  for (const name of spec.programs.keys()) if (name !== 'on_entry') loader.deferProgram(name);
  const err = thrown(() => loader.load(bytes));
  assert.ok(err instanceof ProgramError && err.kind === 'NotSupported', String(err));
  assert.ok(err.message.includes(`kernel module bpf_testmod is not loaded (no BTF at /sys/kernel/btf/bpf_testmod; modules with BTF: ${moduleNames()})`), err.message);
});
