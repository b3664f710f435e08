// Loader gaps closed after the first loader milestone, against the real kernel:
// extern constants the user sets (setExtern), iproute2's inner_id/inner_idx
// map-in-map, CO-RE against a BTF other than the kernel's, kernel module BTF.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { EbpfLoader, ObjectSpec, ProgramError, sys } from '../src/index.js';
import { corpusDir, fdCount, thrown } from './helpers.js';

const packet = new Uint8Array(64);

/** The instructions of every BPF_PROG_LOAD `fn` makes (copies), by program name order of loading. */
function loadedInsns(fn: () => void): Uint8Array[] {
  const out: Uint8Array[] = [];
  const real = sys.kernel;
  const restore = sys.replaceKernel({
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
  assert.throws(() => new EbpfLoader().setExtern('MY_CONST', 1n << 64n), RangeError);
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
