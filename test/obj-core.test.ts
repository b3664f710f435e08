// The CO-RE relocation engine (src/obj/core.ts) against real data: the cilium/ebpf
// corpus objects relocated against their own BTF, relocs_read_tgt's BTF, the corpus's
// vmlinux.btf.gz and this machine's /sys/kernel/btf/vmlinux; where the kernel lets us,
// the relocated socket filters are loaded and run (they return 0, or a source line
// number for the first check that failed). Then hand-made BTF for what the corpus
// covers thinly: bitfields, load sizes that must change, ambiguity, enums, TypeMatches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Btf, BTF_INT_SIGNED, type BtfType } from '../src/obj/btf.js';
import { CoreReloKind, type CoreRelo } from '../src/obj/btf-ext.js';
import { ObjectSpec, type ProgramSpec } from '../src/obj/spec.js';
import {
  applyCoreRelocations, coreEssentialName, CORE_POISON_HELPER, formatCoreResults, type CoreResult,
} from '../src/obj/core.js';
import {
  assemble, BPF_ALU, BPF_ALU64, BPF_B, BPF_DW, BPF_H, BPF_K, BPF_LDX, BPF_MEM, BPF_MOV, BPF_ST, BPF_STX, BPF_W, BPF_X,
  decode, exit, ldImm64, mov64Imm, ProgType, type Insn, type Reg,
} from './asm.js';
import { Prog } from './prog.js';
import { corpusDir, fdCount } from './helpers.js';

const fdsAtStart = fdCount();

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const corpus = corpusDir;
const RELOCS = path.join(corpus, 'btf/testdata/relocs-el.elf');
const RELOCS_READ = path.join(corpus, 'btf/testdata/relocs_read-el.elf');
const RELOCS_READ_TGT = path.join(corpus, 'btf/testdata/relocs_read_tgt-el.elf');
const RELOCS_ENUM = path.join(corpus, 'btf/testdata/relocs_enum-el.elf');
const ERRORS = path.join(corpus, 'testdata/errors-el.elf');
const MANYPROGS = path.join(corpus, 'testdata/manyprogs-el.elf');
const VMLINUX_GZ = path.join(corpus, 'btf/testdata/vmlinux.btf.gz');
const KERNEL_BTF = '/sys/kernel/btf/vmlinux';
const CORE_O = path.join(repoRoot, 'bpf/core.o');

const K = CoreReloKind;

// ---- helpers ---------------------------------------------------------------------------

const specCache = new Map<string, ObjectSpec>();
function parse(file: string): ObjectSpec {
  let spec = specCache.get(file);
  if (!spec) specCache.set(file, (spec = ObjectSpec.parse(readFileSync(file))));
  return spec;
}

let vmlinux: Btf | undefined;
function vmlinuxBtf(): Btf {
  return (vmlinux ??= Btf.parse(gunzipSync(readFileSync(VMLINUX_GZ))));
}

let kernel: Btf | undefined;
function kernelBtf(): Btf {
  // Parsed here rather than with loadKernelBtf so that this file needs nothing cached.
  return (kernel ??= Btf.parse(readFileSync(KERNEL_BTF)));
}

function exampleObjects(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.o')) out.push(p);
    }
  };
  walk(path.join(corpus, 'examples'));
  return out.sort();
}

interface Relocated {
  prog: ProgramSpec;
  out: Uint8Array;
  results: CoreResult[];
}

function relocate(spec: ObjectSpec, target: Btf): Map<string, Relocated> {
  const map = new Map<string, Relocated>();
  for (const [name, prog] of spec.programs) {
    const before = prog.instructions.slice();
    const { instructions, results } = applyCoreRelocations(prog.instructions, prog.coreRelos, spec.btf!, target);
    assert.deepEqual(prog.instructions, before, `${name}: the input instructions are not modified`);
    assert.equal(results.length, prog.coreRelos.length);
    checkPatched(name, prog.instructions, instructions, results);
    map.set(name, { prog, out: instructions, results });
  }
  return map;
}

function isPoison(insns: Uint8Array, i: number): boolean {
  const d = decode(insns, i);
  return d.code === 0x85 && d.dst === 0 && d.src === 0 && d.off === 0 && d.imm === CORE_POISON_HELPER;
}

function ld64(insns: Uint8Array, i: number): bigint {
  const v = new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
  return (BigInt(v.getUint32(i * 8 + 12, true)) << 32n) | BigInt(v.getUint32(i * 8 + 4, true));
}

/** Every result is reflected in the instructions: poisoned, or holding newValue. */
function checkPatched(name: string, before: Uint8Array, after: Uint8Array, results: CoreResult[]): void {
  for (const r of results) {
    const where = `${name} insn #${r.insnOff} (${r.accessStr})`;
    const orig = decode(before, r.insnOff);
    if (r.poisoned) {
      assert.ok(isPoison(after, r.insnOff), `${where}: poisoned`);
      if (orig.code === 0x18) assert.ok(isPoison(after, r.insnOff + 1), `${where}: second ld_imm64 slot poisoned`);
      assert.equal(r.newValue, undefined);
      assert.ok(r.reason, `${where}: a poisoned relocation says why`);
      continue;
    }
    assert.ok(r.ok, `${where}: ${r.reason}`);
    const now = decode(after, r.insnOff);
    const cls = orig.code & 7;
    if (cls === BPF_ALU || cls === BPF_ALU64) assert.equal(BigInt(now.imm), BigInt.asIntN(32, BigInt(r.newValue!)), where);
    else if (cls === BPF_LDX || cls === BPF_ST || cls === BPF_STX) assert.equal(now.off, Number(r.newValue), where);
    else if (orig.code === 0x18) assert.equal(ld64(after, r.insnOff), BigInt.asUintN(64, BigInt(r.newValue!)), where);
    else assert.fail(`${where}: unexpected instruction class ${cls}`);
  }
}

/** Names / indices of an access string over the local type, for an independent walk. */
type Step = { name: string } | { index: number };

function accessPath(btf: Btf, typeId: number, access: string): { steps: Step[]; bitfield: boolean } {
  const idx = access.split(':').map(Number);
  const steps: Step[] = [{ index: idx[0]! }];
  let t = btf.resolve(typeId);
  let bitfield = false;
  for (const i of idx.slice(1)) {
    if (t.kind === 'struct' || t.kind === 'union') {
      const m = t.members[i]!;
      if (m.name) steps.push({ name: m.name });
      bitfield = m.bitfieldSize > 0;
      t = btf.resolve(m.type);
    } else if (t.kind === 'array') {
      steps.push({ index: i });
      t = btf.resolve(t.type);
    } else assert.fail(`access ${access} walks into a ${t.kind}`);
  }
  return { steps, bitfield };
}

/** Finds member `name` in a struct/union by name alone, through anonymous members. */
function findMember(btf: Btf, t: BtfType, name: string): { bitOffset: number; type: number; bitfieldSize: number } | undefined {
  if (t.kind !== 'struct' && t.kind !== 'union') return undefined;
  for (const m of t.members) {
    if (m.name === name) return m;
    if (m.name === '') {
      const inner = findMember(btf, btf.resolve(m.type), name);
      if (inner) return { ...inner, bitOffset: inner.bitOffset + m.bitOffset };
    }
  }
  return undefined;
}

/** Offset (bits), final type and bitfield size of `steps` in target type `rootId`. */
function walkTarget(btf: Btf, rootId: number, steps: Step[]): { bitOffset: number; typeId: number; bitfieldSize: number } {
  let t = btf.resolve(rootId);
  let off = (steps[0] as { index: number }).index * btf.sizeof(t.id) * 8;
  let bitfieldSize = 0;
  for (const s of steps.slice(1)) {
    if ('name' in s) {
      const m = findMember(btf, t, s.name);
      assert.ok(m, `target ${t.kind} has member ${s.name}`);
      off += m.bitOffset;
      bitfieldSize = m.bitfieldSize;
      t = btf.resolve(m.type);
    } else {
      assert.equal(t.kind, 'array');
      t = btf.resolve((t as { type: number }).type);
      off += s.index * btf.sizeof(t.id) * 8;
      bitfieldSize = 0;
    }
  }
  return { bitOffset: off, typeId: t.id, bitfieldSize };
}

function targetId(r: CoreResult): number {
  const m = /^\[(\d+)\]/.exec(r.targetType ?? '');
  assert.ok(m, `result names its target type: ${r.targetType}`);
  return Number(m[1]);
}

/**
 * Cross-checks offsets and sizes of non-bitfield field relocations against a walk of
 * the target by member names only. Returns how many were checked.
 */
function crossCheckFields(local: Btf, target: Btf, relocated: Map<string, Relocated>): number {
  let checked = 0;
  for (const [name, { prog, results }] of relocated) {
    results.forEach((r, i) => {
      if (r.poisoned || !r.targetType || (r.kind !== K.FieldByteOffset && r.kind !== K.FieldByteSize)) return;
      const relo = prog.coreRelos[i]!;
      const { steps, bitfield } = accessPath(local, relo.typeId, relo.accessStr);
      if (bitfield) return;
      const w = walkTarget(target, targetId(r), steps);
      if (w.bitfieldSize) return;
      const want = r.kind === K.FieldByteOffset ? w.bitOffset / 8 : target.sizeof(w.typeId);
      assert.equal(r.newValue, want, `${name} #${r.insnOff} ${r.localType} ${r.accessStr}`);
      checked++;
    });
  }
  return checked;
}

let bpfUsable: boolean | undefined;
/** Whether this process may load and test-run socket filters. */
function canRunBpf(): boolean {
  if (bpfUsable === undefined) {
    try {
      using p = Prog.load(ProgType.SocketFilter, assemble([mov64Imm(0, 0), exit()]), 'core_probe');
      bpfUsable = p.run(64) === 0;
    } catch {
      bpfUsable = false;
    }
  }
  return bpfUsable;
}

/** Loads and runs a relocated socket filter: its return value, or the load error. */
function run(insns: Uint8Array, name: string): number | Error {
  try {
    using p = Prog.load(ProgType.SocketFilter, insns, name.slice(0, 15));
    return p.run(64);
  } catch (err) {
    return err as Error;
  }
}

const POISON_VERIFIER = /invalid func unknown#195896080/;

// ---- the corpus against its own BTF ----------------------------------------------------------

test('every corpus relocation resolves to its local value when the target is the object\'s own BTF', () => {
  const files = [RELOCS, RELOCS_READ, RELOCS_ENUM, ERRORS, MANYPROGS, CORE_O, ...exampleObjects()];
  let total = 0;
  for (const file of files) {
    const spec = parse(file);
    if (!spec.btf) continue;
    for (const [name, { prog, out, results }] of relocate(spec, spec.btf)) {
      // The only ones that cannot resolve: two flavours of one struct give two ids.
      if (name.startsWith('err_ambiguous')) {
        assert.equal(results.length, 1);
        assert.equal(results[0]!.ok, false);
        assert.match(results[0]!.reason!, /relocation decision ambiguity/);
        continue;
      }
      // Bitfield offsets, sizes and left shifts are not checked against the
      // instruction (clang may choose another load), so those may be rewritten.
      const rewritable = new Set<number>();
      results.forEach((r, i) => {
        assert.ok(r.ok && !r.poisoned, `${path.basename(file)} ${name} #${r.insnOff}: ${r.reason}`);
        assert.equal(r.newValue, r.localValue, `${name} #${r.insnOff}`);
        if (r.kind !== K.TypeIdLocal) assert.ok(r.targetType, 'a target type matched');
        const relo = prog.coreRelos[i]!;
        if (r.kind <= K.FieldRShiftU64 && accessPath(spec.btf!, relo.typeId, relo.accessStr).bitfield) rewritable.add(r.insnOff);
        total++;
      });
      for (let i = 0; i < out.length / 8; i++) {
        if (!rewritable.has(i)) assert.deepEqual(decode(out, i), decode(prog.instructions, i), `${path.basename(file)} ${name} insn #${i} unchanged`);
      }
    }
  }
  assert.ok(total > 300, `${total} relocations checked`);
});

test('relocs-el.elf: err_ambiguous programs are refused (poisoned, ok: false) and the rest run', (t) => {
  const spec = parse(RELOCS);
  const relocated = relocate(spec, spec.btf!);
  for (const name of ['err_ambiguous', 'err_ambiguous_flavour']) {
    const { out, results } = relocated.get(name)!;
    const [r] = results;
    assert.equal(r!.kind, K.TypeIdTarget);
    assert.equal(r!.ok, false);
    assert.equal(r!.poisoned, true);
    assert.match(r!.reason!, /\[32\] struct ambiguous gives 32 but \[35\] struct ambiguous___flavour gives 35/);
    assert.ok(isPoison(out, 0) && isPoison(out, 1), 'both ld_imm64 slots');
  }
  // With the object's own BTF as target, target ids equal local ids.
  for (const [i, r] of relocated.get('type_ids')!.results.entries()) {
    const relo = relocated.get('type_ids')!.prog.coreRelos[i]!;
    assert.equal(r.newValue, relo.typeId);
  }
  assert.ok(canRunBpf(), 'this machine loads and runs BPF programs (root, CAP_BPF)');
  for (const name of ['types', 'enums', 'fields']) assert.equal(run(relocated.get(name)!.out, name), 0, name);
  for (const name of ['err_ambiguous', 'err_ambiguous_flavour']) {
    const res = run(relocated.get(name)!.out, name);
    assert.ok(res instanceof Error && POISON_VERIFIER.test(res.message), String(res));
  }
  // type_ids checks that kernel and local ids differ ("target_and_local_id_dont_match"),
  // which they do not here: it returns the line of the first such check.
  const typeIds = relocated.get('type_ids')!;
  const line = typeIds.prog.lineInfos.find((l) => l.lineText.includes('target_and_local_id_dont_match(struct s)'))!.line;
  assert.equal(run(typeIds.out, 'type_ids'), line);
});

/** A copy of `btf` with every type id moved up by `by` (dummy ints first). */
function shifted(btf: Btf, by: number): Btf {
  const m = (id: number): number => (id === 0 ? 0 : id + by);
  const types: BtfType[] = [btf.types[0]!];
  for (let i = 1; i <= by; i++) types.push({ id: i, kind: 'int', name: `pad${i}`, size: 4, encoding: 0, bitOffset: 0, bits: 32 });
  for (const t of btf.types.slice(1)) {
    const id = m(t.id);
    switch (t.kind) {
      case 'ptr': case 'typedef': case 'volatile': case 'const': case 'restrict': case 'type_tag':
      case 'func': case 'var': case 'decl_tag':
        types.push({ ...t, id, type: m(t.type) } as BtfType);
        break;
      case 'array':
        types.push({ ...t, id, type: m(t.type), indexType: m(t.indexType) });
        break;
      case 'struct': case 'union':
        types.push({ ...t, id, members: t.members.map((x) => ({ ...x, type: m(x.type) })) });
        break;
      case 'func_proto':
        types.push({ ...t, id, returnType: m(t.returnType), params: t.params.map((p) => ({ ...p, type: m(p.type) })) });
        break;
      case 'datasec':
        types.push({ ...t, id, vars: t.vars.map((v) => ({ ...v, type: m(v.type) })) });
        break;
      default:
        types.push({ ...t, id } as BtfType);
    }
  }
  return Btf.fromTypes(types);
}

test('relocs-el.elf against a renumbered copy of its BTF: target ids move, everything else stays, all programs return 0', (t) => {
  const spec = parse(RELOCS);
  const target = shifted(spec.btf!, 3);
  const relocated = relocate(spec, target);
  for (const [name, { prog, results }] of relocated) {
    if (name.startsWith('err_')) {
      assert.match(results[0]!.reason!, /ambiguity/);
      continue;
    }
    results.forEach((r, i) => {
      assert.ok(r.ok && !r.poisoned, `${name} #${r.insnOff}: ${r.reason}`);
      const relo = prog.coreRelos[i]!;
      if (r.kind === K.TypeIdTarget) assert.equal(r.newValue, relo.typeId + 3);
      else assert.equal(r.newValue, r.localValue);
    });
  }
  assert.ok(canRunBpf(), 'this machine loads and runs BPF programs (root, CAP_BPF)');
  for (const name of ['type_ids', 'types', 'enums', 'fields']) assert.equal(run(relocated.get(name)!.out, name), 0, name);
});

// ---- relocs_read against relocs_read_tgt -------------------------------------------------------

test('relocs_read-el.elf against relocs_read_tgt-el.elf: reordered fields, changed bitfields, missing types', (t) => {
  const spec = parse(RELOCS_READ);
  const target = parse(RELOCS_READ_TGT).btf!;
  const { prog, out, results } = relocate(spec, target).get('reads')!;
  const byKey = new Map<string, CoreResult>();
  results.forEach((r, i) => {
    assert.ok(r.ok && !r.poisoned, `#${r.insnOff}: ${r.reason}`);
    const relo = prog.coreRelos[i]!;
    byKey.set(`${spec.btf!.type(relo.typeId).kind === 'struct' ? (spec.btf!.type(relo.typeId) as { name: string }).name : '?'} ${relo.accessStr} ${r.kind}`, r);
  });
  const v = (type: string, access: string, kind: number): number | bigint | undefined => byKey.get(`${type} ${access} ${kind}`)?.newValue;
  // struct s { char a; char b; } in the target (b before a locally).
  assert.equal(v('s', '0:1', K.FieldByteOffset), 0); // a
  assert.equal(v('s', '0:0', K.FieldByteOffset), 1); // b
  // The target's struct bits (relocs_read_tgt.c):
  //   u8 b:2 (bit 0), a:4 (bit 2); my_u32 d:2 (bit 6); u16 c:1 (bit 8);
  //   enum e:1 (bit 9, 4 bytes); u16 f (bit 16, not a bitfield); u32 g:30 (bit 32).
  // Local access strings: 0:1 a, 0:2 b, 0:3 c, 0:4 d, 0:5 e, 0:6 f, 0:7 g.
  // byte offset / size: the smallest aligned load covering the bits; lshift =
  // 64 - (bit end - load start); rshift = 64 - width.
  const expect: Record<string, [number, number, number, number]> = {
    '0:1': [0, 1, 58, 60], // a: bits 2..6 of a u8
    '0:2': [0, 1, 62, 62], // b: bits 0..2
    '0:3': [0, 2, 55, 63], // c: bit 8 of a u16
    '0:4': [0, 4, 56, 62], // d: bits 6..8 of a u32
    '0:5': [0, 4, 54, 63], // e: bit 9 of a 4-byte enum
    '0:6': [2, 2, 48, 48], // f: a plain u16 at byte 2
    '0:7': [4, 4, 34, 34], // g: bits 32..62, a u32 at byte 4
  };
  for (const [access, [off, size, lshift, rshift]] of Object.entries(expect)) {
    assert.equal(v('bits', access, K.FieldByteOffset), off, `${access} offset`);
    assert.equal(v('bits', access, K.FieldByteSize), size, `${access} size`);
    assert.equal(v('bits', access, K.FieldLShiftU64), lshift, `${access} lshift`);
    assert.equal(v('bits', access, K.FieldRShiftU64), rshift, `${access} rshift`);
    assert.equal(v('bits', access, K.FieldSigned), 0, `${access} unsigned`);
  }
  // struct nonexist and enum nonexist_enum are not in the target: existence checks
  // give 0, nothing is poisoned, and the result says why.
  const missing = results.filter((r) => r.kind === K.TypeExists || r.kind === K.FieldExists || r.kind === K.EnumvalExists);
  assert.equal(missing.length, 3);
  for (const r of missing) {
    assert.equal(r.newValue, 0);
    assert.equal(r.localValue, 1);
    assert.match(r.reason!, /no type named nonexist(_enum)? \(of a compatible kind\) in the target BTF/);
  }
  assert.ok(canRunBpf(), 'this machine loads and runs BPF programs (root, CAP_BPF)');
  assert.equal(run(out, 'reads'), 0, 'every check of relocs_read.c passes');
  // Against its own BTF the same program fails its first check (the fields are in the
  // "wrong" order on purpose): `if (core_access(foo.a) == 0)` is followed by the line
  // `return __LINE__;`.
  const own = relocate(spec, spec.btf!).get('reads')!;
  const firstCheck = own.prog.lineInfos.find((l) => l.lineText.includes('core_access(foo.a)'))!.line;
  assert.equal(run(own.out, 'reads'), firstCheck + 1);
});

// ---- enum relocations on ld_imm64 ----------------------------------------------------------------

test('relocs_enum-el.elf: ld_imm64 enum value, resolved locally and poisoned (both slots) against vmlinux', (t) => {
  const spec = parse(RELOCS_ENUM);
  const own = relocate(spec, spec.btf!).get('core_ld64imm')!;
  assert.deepEqual(own.results.map((r) => [r.kind, r.newValue]), [[K.EnumvalExists, 1], [K.EnumvalValue, 1]]);
  assert.equal(decode(own.out, 3).code, 0x18);
  assert.equal(ld64(own.out, 3), 1n);

  const targets: [string, () => Btf][] = [['vmlinux.btf.gz', vmlinuxBtf]];
  if (existsSync(KERNEL_BTF)) targets.push(['kernel', kernelBtf]);
  for (const [what, btf] of targets) {
    const { out, results } = relocate(spec, btf()).get('core_ld64imm')!;
    const [exists, value] = results;
    assert.equal(exists!.newValue, 0, what);
    assert.equal(exists!.poisoned, false);
    assert.match(exists!.reason!, /enum cgroup_subsys_id has no enumerator cpuset_cgrp_id_lublub/);
    assert.equal(value!.ok, true, 'poisoning is not an error');
    assert.equal(value!.poisoned, true);
    assert.ok(isPoison(out, 3) && isPoison(out, 4), `${what}: both slots of the ld_imm64 poisoned`);
    assert.equal(run(out, 'core_ld64imm'), 0, `${what}: the poisoned load is dead code`);
  }
  assert.equal(run(own.out, 'core_ld64imm'), 0);
});

// ---- errors-el.elf -------------------------------------------------------------------------------

test('errors-el.elf against vmlinux.btf.gz: unsatisfiable relocations poison their instructions and say why', (t) => {
  const spec = parse(ERRORS);
  const relocated = relocate(spec, vmlinuxBtf());
  const single = relocated.get('poisoned_single')!;
  assert.deepEqual(single.results.map((r) => [r.insnOff, r.kind, r.ok, r.poisoned]), [[1, K.TypeIdLocal, true, false], [6, K.FieldByteOffset, true, true]]);
  assert.match(single.results[1]!.reason!, /nonexist\.non_exist .*no type named nonexist .*instruction #6 poisoned/);
  assert.ok(isPoison(single.out, 6));
  assert.ok(!isPoison(single.out, 7), 'not an ld_imm64: one slot');

  const double = relocated.get('poisoned_double')!;
  assert.deepEqual(double.results.map((r) => [r.insnOff, r.kind, r.ok, r.poisoned]), [[1, K.TypeIdLocal, true, false], [4, K.EnumvalValue, true, true]]);
  assert.equal(decode(double.prog.instructions, 4).code, 0x18);
  assert.ok(isPoison(double.out, 4) && isPoison(double.out, 5), 'both ld_imm64 slots');
  assert.match(double.results[1]!.reason!, /nonexist_enum::NON_EXIST/);
  const text = formatCoreResults([...single.results, ...double.results]);
  assert.equal(text.split('\n').length, 2);
  assert.match(text, /^insn #6: FieldByteOffset/);

  assert.ok(canRunBpf(), 'this machine loads and runs BPF programs (root, CAP_BPF)');
  for (const name of ['poisoned_single', 'poisoned_double']) {
    const res = run(relocated.get(name)!.out, name);
    assert.ok(res instanceof Error && POISON_VERIFIER.test(res.message), `${name}: the verifier reaches the poisoned call: ${res}`);
  }
});

// ---- bpf/core.o against the running kernel -----------------------------------------------------------

test('bpf/core.o against /sys/kernel/btf/vmlinux: task_struct offsets, sizes, bitfields, ids and enums are the kernel\'s', (t) => {
  assert.ok(existsSync(KERNEL_BTF), 'this kernel exposes its BTF');
  const spec = parse(CORE_O);
  const local = spec.btf!;
  const target = kernelBtf();
  const relocated = relocate(spec, target);
  const task = target.byName('task_struct', 'struct');
  assert.equal(task.length, 1);
  const taskId = task[0]!.id;
  const member = (name: string) => findMember(target, task[0]!, name);
  const hasOldState = member('state') !== undefined;

  /** Results keyed "kind path", e.g. "FieldByteOffset task_struct.pid". */
  const find = (prog: string, kind: number, typeName: string, access: string): CoreResult[] => {
    const { prog: p, results } = relocated.get(prog)!;
    return results.filter((r, i) => {
      const relo = p.coreRelos[i]!;
      return r.kind === kind && relo.accessStr === access && (local.type(relo.typeId) as { name?: string }).name === typeName;
    });
  };
  const memberIndex = (typeName: string, name: string): number => {
    const s = local.byName(typeName, 'struct')[0]!;
    return s.members.findIndex((m) => m.name === name);
  };

  for (const [name, { results }] of relocated) {
    for (const r of results) {
      // The only poisoned loads are the pre-5.14 'state' reads, guarded by field_exists.
      const pre514 = r.localType.endsWith('task_struct___pre514');
      assert.ok(r.ok, `${name} #${r.insnOff}: ${r.reason}`);
      assert.equal(r.poisoned, pre514 && !hasOldState && r.kind !== K.FieldExists, `${name} #${r.insnOff} ${r.localType} ${r.reason}`);
    }
  }

  // facts.pid_offset = bpf_core_field_offset(t->pid): the kernel's offset, e.g. 1264.
  const pidOffset = member('pid')!.bitOffset / 8;
  const pid = find('core_task_btf', K.FieldByteOffset, 'task_struct', `0:${memberIndex('task_struct', 'pid')}`);
  assert.ok(pid.length >= 2);
  for (const r of pid) assert.equal(r.newValue, pidOffset);
  t.diagnostic(`task_struct.pid is at ${pidOffset} in this kernel; task_struct is ${target.sizeof(taskId)} bytes, id ${taskId}`);
  // The plain load `out->pid = t->pid` now reads at the kernel's offset, as a u32.
  const { prog, out } = relocated.get('core_task_btf')!;
  const ldx = pid.find((r) => (decode(prog.instructions, r.insnOff).code & 7) === BPF_LDX)!;
  assert.deepEqual({ ...decode(out, ldx.insnOff), off: 0 }, { ...decode(prog.instructions, ldx.insnOff), off: 0 });
  assert.equal(decode(out, ldx.insnOff).off, pidOffset);

  assert.deepEqual(find('core_task_btf', K.TypeSize, 'task_struct', '0').map((r) => r.newValue), [target.sizeof(taskId)]);
  assert.deepEqual(find('core_task_btf', K.TypeIdTarget, 'task_struct', '0').map((r) => r.newValue), [taskId]);
  assert.deepEqual(find('core_task_btf', K.TypeExists, 'task_struct', '0').map((r) => r.newValue), [1]);
  assert.deepEqual(find('core_task_btf', K.TypeExists, 'tsbpf_no_such_type', '0').map((r) => r.newValue), [0]);
  assert.deepEqual(find('core_task_btf', K.FieldByteSize, 'task_struct', `0:${memberIndex('task_struct', 'comm')}`).map((r) => r.newValue), [16]);
  assert.deepEqual(find('core_task_btf', K.FieldExists, 'task_struct___pre514', '0:0').map((r) => r.newValue), [hasOldState ? 1 : 0]);
  const pidType = target.byName('pid_type', 'enum')[0]!;
  const enumValues = find('core_task_btf', K.EnumvalValue, 'pid_type', '1').concat(find('core_task_btf', K.EnumvalValue, 'pid_type', '4'));
  assert.equal(enumValues.length, 2);
  for (const r of enumValues) {
    const localName = (local.byName('pid_type', 'enum')[0]!).values[Number(r.accessStr)]!.name;
    assert.equal(BigInt(r.newValue!), pidType.values.find((x) => x.name === localName)!.value, localName);
  }
  assert.deepEqual(find('core_task_btf', K.EnumvalExists, 'pid_type___tsbpf', '0').map((r) => r.newValue), [0]);

  // Bitfields in_execve / in_iowait: the load, shifts and sign extract exactly the member's bits.
  for (const field of ['in_execve', 'in_iowait']) {
    const access = `0:${memberIndex('task_struct', field)}`;
    const get = (kind: number): number => {
      const rs = find('core_task_probe', kind, 'task_struct', access);
      assert.ok(rs.length >= 1, `${field} ${kind}`);
      return Number(rs[0]!.newValue);
    };
    const m = member(field)!;
    assert.ok(m.bitfieldSize > 0, `${field} is a bitfield in this kernel`);
    const [off, size, lshift, rshift] = [get(K.FieldByteOffset), get(K.FieldByteSize), get(K.FieldLShiftU64), get(K.FieldRShiftU64)];
    assert.ok([1, 2, 4, 8].includes(size) && off % size === 0, `${field}: aligned load of ${size} at ${off}`);
    assert.ok(off * 8 <= m.bitOffset && m.bitOffset + m.bitfieldSize <= (off + size) * 8, `${field}: the load covers the bits`);
    assert.equal(lshift, 64 - (m.bitOffset + m.bitfieldSize - off * 8));
    assert.equal(rshift, 64 - m.bitfieldSize);
    assert.equal(get(K.FieldSigned), 0);
  }
  assert.ok(crossCheckFields(local, target, relocated) > 30);
});

// ---- manyprogs and the examples against vmlinux.btf.gz -------------------------------------------------

test('manyprogs-el.elf and examples/* against vmlinux.btf.gz (and the running kernel): every relocation resolves', () => {
  const targets: [string, Btf][] = [['vmlinux.btf.gz', vmlinuxBtf()]];
  if (existsSync(KERNEL_BTF)) targets.push(['kernel', kernelBtf()]);
  for (const [what, target] of targets) {
    let relos = 0;
    let checked = 0;
    for (const file of [MANYPROGS, ...exampleObjects()]) {
      const spec = parse(file);
      if (!spec.btf) continue;
      const relocated = relocate(spec, target);
      for (const [name, { results }] of relocated) {
        for (const r of results) {
          assert.ok(r.ok && !r.poisoned, `${what} ${path.relative(corpus, file)} ${name} #${r.insnOff}: ${r.reason}`);
          relos++;
        }
      }
      checked += crossCheckFields(spec.btf, target, relocated);
    }
    assert.ok(relos >= 100 && checked === relos, `${what}: ${relos} relocations, ${checked} cross-checked by name`);
  }
  // manyprogs reads task->nsproxy->mnt_ns->ns.inum: known offsets in the corpus's vmlinux.
  const spec = parse(MANYPROGS);
  const { results } = relocate(spec, vmlinuxBtf()).get('kprobe_execve0')!;
  assert.deepEqual(results.map((r) => r.newValue), [3096, 24, 88]);
});

// ---- hand-made BTF ----------------------------------------------------------------------------------

type NoId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** A little BTF builder: ids in order of add(). */
class Types {
  readonly list: BtfType[] = [{ id: 0, kind: 'void' } as BtfType];
  add(t: NoId<BtfType>): number {
    const id = this.list.length;
    this.list.push({ ...t, id } as BtfType);
    return id;
  }
  int(name: string, size: number, signed = false): number {
    return this.add({ kind: 'int', name, size, encoding: signed ? BTF_INT_SIGNED : 0, bitOffset: 0, bits: size * 8 });
  }
  /** members: [name, type, bitOffset, bitfieldSize?] */
  struct(name: string, size: number, members: [string, number, number, number?][], kind: 'struct' | 'union' = 'struct'): number {
    return this.add({ kind, name, size, members: members.map(([n, type, bitOffset, bitfieldSize = 0]) => ({ name: n, type, bitOffset, bitfieldSize })) });
  }
  array(type: number, nelems: number): number {
    return this.add({ kind: 'array', type, indexType: 0, nelems });
  }
  ptr(type: number): number {
    return this.add({ kind: 'ptr', type });
  }
  enum(name: string, size: number, values: [string, bigint][], kind: 'enum' | 'enum64' = 'enum', signed = false): number {
    return this.add({ kind, name, size, signed, values: values.map(([n, value]) => ({ name: n, value })) });
  }
  btf(base?: Btf): Btf {
    return Btf.fromTypes(this.list, base);
  }
}

const relo = (kind: number, typeId: number, accessStr: string, insnOff: number): CoreRelo => ({ kind, typeId, accessStr, insnOff });

const raw = (code: number, dst: Reg, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });
/** dst = imm (ALU64 mov) */
const movImm = (imm: number): Insn => mov64Imm(1, imm);
const mem = (cls: number, size: number, off: number, imm = 0): Insn => raw(cls | BPF_MEM | size, 1, 2, off, imm);

/** Reads `size` bytes little-endian at `off` of `bytes`, applies lshift then rshift (arithmetic if signed). */
function extract(bytes: Uint8Array, off: number, size: number, lshift: number, rshift: number, signed: boolean): bigint {
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[off + i]!);
  v = BigInt.asUintN(64, v << BigInt(lshift));
  return signed ? BigInt.asIntN(64, v) >> BigInt(rshift) : v >> BigInt(rshift);
}

/** Writes `value` into bits [bitOff, bitOff + width) of `bytes` (little endian). */
function deposit(bytes: Uint8Array, bitOff: number, width: number, value: bigint): void {
  for (let i = 0; i < width; i++) {
    const bit = (BigInt.asUintN(width, value) >> BigInt(i)) & 1n;
    const at = bitOff + i;
    if (bit) bytes[at >> 3]! |= 1 << (at & 7);
    else bytes[at >> 3]! &= ~(1 << (at & 7));
  }
}

test('bitfields: offsets, sizes, shifts and signedness follow the target layout, widening the load when needed', () => {
  const L = new Types();
  const u32 = L.int('unsigned int', 4);
  const s32 = L.int('int', 4, true);
  // struct bf { unsigned int x; unsigned int a:3; int b:7; unsigned int c:4; };
  const lbf = L.struct('bf', 12, [['x', u32, 0], ['a', u32, 32, 3], ['b', s32, 35, 7], ['c', u32, 42, 4]]);
  const T = new Types();
  const tu8 = T.int('unsigned char', 1);
  const ts16 = T.int('short', 2, true);
  const tlong = T.int('long', 8, true);
  // struct bf { long pad; short b:7 (bit 70); unsigned char a:3 (bit 77); unsigned char c:4 (bit 94); } (packed, 16 bytes)
  T.struct('bf', 16, [['pad', tlong, 0], ['b', ts16, 70, 7], ['a', tu8, 77, 3], ['c', tu8, 94, 4]]);
  const local = L.btf();
  const target = T.btf();

  // Local values (validated for signedness and right shifts only).
  const fields = { a: { access: '0:1', signed: 0, rshift: 61 }, b: { access: '0:2', signed: 1, rshift: 57 }, c: { access: '0:3', signed: 0, rshift: 60 } };
  const kinds = [K.FieldByteOffset, K.FieldByteSize, K.FieldLShiftU64, K.FieldRShiftU64, K.FieldSigned];
  const insns: Insn[] = [];
  const relos: CoreRelo[] = [];
  for (const f of Object.values(fields)) {
    for (const kind of kinds) {
      relos.push(relo(kind, lbf, f.access, insns.length));
      // Bitfield byte offset, size and left shift are not checked: any value will do.
      insns.push(movImm(kind === K.FieldSigned ? f.signed : kind === K.FieldRShiftU64 ? f.rshift : 99));
    }
  }
  insns.push(exit());
  const { instructions, results } = applyCoreRelocations(assemble(insns), relos, local, target);
  checkPatched('bitfields', assemble(insns), instructions, results);
  const value = (field: string, kind: number): number => Number(results.find((r) => r.accessStr === fields[field as 'a'].access && r.kind === kind)!.newValue);
  const got: Record<string, number[]> = Object.fromEntries(Object.keys(fields).map((f) => [f, kinds.map((k) => value(f, k))]));
  assert.deepEqual(got, {
    a: [9, 1, 56, 61, 0], // bits 77..80: byte 9
    b: [8, 2, 51, 57, 1], // bits 70..77: a short at byte 8
    c: [8, 8, 30, 60, 0], // bits 94..98 cross bytes 11/12, and 2- and 4-byte loads: an 8-byte load at 8
  });
  // The local values, computed the same way over the local layout.
  assert.deepEqual(results.slice(0, 5).map((r) => r.localValue), [4, 4, 61, 61, 0]);

  // Reading the target's bytes with those values extracts the fields.
  const bytes = new Uint8Array(16).fill(0xa5);
  deposit(bytes, 77, 3, 5n);
  deposit(bytes, 70, 7, -3n);
  deposit(bytes, 94, 4, 9n);
  for (const [f, v] of [['a', 5n], ['b', -3n], ['c', 9n]] as const) {
    const [off, size, lshift, rshift, signed] = got[f] as [number, number, number, number, number];
    assert.equal(extract(bytes, off, size, lshift, rshift, signed === 1), v, f);
  }
});

test('bitfields: a field no 64-bit load can cover is an error; a wrong right shift is an unexpected value', () => {
  const L = new Types();
  const u32 = L.int('unsigned int', 4);
  const lbf = L.struct('wide', 4, [['d', u32, 0, 8]]);
  const local = L.btf();
  const T = new Types();
  const tu32 = T.int('unsigned int', 4);
  T.struct('wide', 17, [['d', tu32, 124, 8]]); // packed: bits 124..132 straddle two 8-byte words
  const wide = applyCoreRelocations(assemble([movImm(0), exit()]), [relo(K.FieldByteOffset, lbf, '0:0', 0)], local, T.btf());
  assert.equal(wide.results[0]!.ok, false);
  assert.match(wide.results[0]!.reason!, /bitfield d cannot be read with one 64-bit load/);
  assert.ok(isPoison(wide.instructions, 0));

  const T2 = new Types();
  const t2u32 = T2.int('unsigned int', 4);
  T2.struct('wide', 4, [['d', t2u32, 8, 8]]);
  const { results } = applyCoreRelocations(
    assemble([movImm(99), movImm(55), movImm(56), exit()]),
    [relo(K.FieldLShiftU64, lbf, '0:0', 0), relo(K.FieldRShiftU64, lbf, '0:0', 1), relo(K.FieldRShiftU64, lbf, '0:0', 2)],
    local, T2.btf(),
  );
  assert.deepEqual(results.map((r) => [r.ok, r.newValue]), [[true, 48], [false, undefined], [true, 56]], 'the left shift is not checked, the right one is');
  assert.match(results[1]!.reason!, /unexpected value in instruction #1 \(ALU\/ALU64\): got 55, expected 56 -> 56/);
});

test('load/store size: adjusted for unsigned integers, poisoned for signed ones, errors when the instruction disagrees', () => {
  const L = new Types();
  const u32 = L.int('unsigned int', 4);
  const s32 = L.int('int', 4, true);
  const u16 = L.int('unsigned short', 2);
  // struct st { unsigned int len; int cnt; unsigned short port; };
  const lst = L.struct('st', 12, [['len', u32, 0], ['cnt', s32, 32], ['port', u16, 64]]);
  const T = new Types();
  const tu64 = T.int('unsigned long', 8);
  const ts64 = T.int('long', 8, true);
  const tu8 = T.int('unsigned char', 1);
  // struct st { unsigned long pad; unsigned long len; long cnt; unsigned char port; }
  T.struct('st', 32, [['pad', tu64, 0], ['len', tu64, 64], ['cnt', ts64, 128], ['port', tu8, 192]]);
  const local = L.btf();
  const target = T.btf();
  const insns = [
    mem(BPF_LDX, BPF_W, 0), // 0: r1 = *(u32 *)(r2 + 0)   len
    mem(BPF_STX, BPF_W, 0), // 1: *(u32 *)(r1 + 0) = r2    len
    mem(BPF_ST, BPF_W, 0, 7), // 2: *(u32 *)(r1 + 0) = 7   len
    mem(BPF_LDX, BPF_W, 4), // 3: cnt: signed, size change → poisoned
    mem(BPF_LDX, BPF_H, 8), // 4: port: u16 → u8
    mem(BPF_LDX, BPF_B, 0), // 5: len with a 1-byte load: the instruction disagrees with the BTF
    raw(BPF_ALU64 | 0x00 | BPF_K, 1, 0, 0, 0), // 6: r1 += offsetof(len): ALU, no size to adjust
    mem(BPF_LDX, BPF_W, 3), // 7: len, but the offset is not the local one
    exit(),
  ];
  const relos = [
    relo(K.FieldByteOffset, lst, '0:0', 0), relo(K.FieldByteOffset, lst, '0:0', 1), relo(K.FieldByteOffset, lst, '0:0', 2),
    relo(K.FieldByteOffset, lst, '0:1', 3), relo(K.FieldByteOffset, lst, '0:2', 4), relo(K.FieldByteOffset, lst, '0:0', 5),
    relo(K.FieldByteOffset, lst, '0:0', 6), relo(K.FieldByteOffset, lst, '0:0', 7),
  ];
  const before = assemble(insns);
  const { instructions, results } = applyCoreRelocations(before, relos, local, target);
  const d = (i: number) => decode(instructions, i);
  assert.deepEqual(d(0), raw(BPF_LDX | BPF_MEM | BPF_DW, 1, 2, 8, 0), 'LDX W → DW at the new offset');
  assert.deepEqual(d(1), raw(BPF_STX | BPF_MEM | BPF_DW, 1, 2, 8, 0));
  assert.deepEqual(d(2), raw(BPF_ST | BPF_MEM | BPF_DW, 1, 2, 8, 7));
  assert.deepEqual([results[3]!.ok, results[3]!.poisoned], [true, true], 'libbpf poisons an unsafe size change');
  assert.match(results[3]!.reason!, /4-byte to a 8-byte one .*\(only pointers and unsigned integers can\); instruction #3 poisoned/);
  assert.ok(isPoison(instructions, 3));
  assert.deepEqual(d(4), raw(BPF_LDX | BPF_MEM | BPF_B, 1, 2, 24, 0), 'LDX H → B');
  assert.equal(results[5]!.ok, false);
  assert.match(results[5]!.reason!, /unexpected memory size: got 1, expected 4/);
  assert.deepEqual(d(6), raw(BPF_ALU64 | BPF_K, 1, 0, 0, 8));
  assert.equal(results[7]!.ok, false);
  assert.match(results[7]!.reason!, /unexpected value in instruction #7 \(LDX\/ST\/STX\): got offset 3, expected 0 -> 8/);
  assert.ok(isPoison(instructions, 7), 'errors poison too');
  checkPatched('sizes', before, instructions, results.filter((r) => r.ok));

  // An offset past s16.
  const T2 = new Types();
  const t2u8 = T2.int('unsigned char', 1);
  const t2u32 = T2.int('unsigned int', 4);
  T2.struct('st', 40008, [['big', T2.array(t2u8, 40000), 0], ['len', t2u32, 320000], ['cnt', t2u32, 320032]]);
  const far = applyCoreRelocations(assemble([mem(BPF_LDX, BPF_W, 0), raw(BPF_ALU64 | BPF_K, 1, 0, 0, 0), exit()]),
    [relo(K.FieldByteOffset, lst, '0:0', 0), relo(K.FieldByteOffset, lst, '0:0', 1)], local, T2.btf());
  assert.equal(far.results[0]!.ok, false);
  assert.match(far.results[0]!.reason!, /offset 40000 is too big/);
  assert.equal(far.results[1]!.newValue, 40000, 'an ALU immediate holds it');
});

test('ambiguity: flavours that disagree are an error, flavours that agree are not, and matches prune candidates', () => {
  const L = new Types();
  const int = L.int('int', 4, true);
  const lamb = L.struct('amb', 8, [['x', int, 0], ['y', int, 32]]);
  const T = new Types();
  const tint = T.int('int', 4, true);
  const c1 = T.struct('amb', 8, [['x', tint, 0], ['y', tint, 32]]);
  const c2 = T.struct('amb___v2', 8, [['y', tint, 0], ['x', tint, 32]]);
  T.struct('amb___same', 8, [['x', tint, 0], ['y', tint, 32]]);
  const local = L.btf();
  const target = T.btf();
  const prog = assemble([movImm(0), movImm(8), movImm(1), ldImm64(1, BigInt(lamb)), exit()]);
  const relos = [relo(K.FieldByteOffset, lamb, '0:0', 0), relo(K.TypeSize, lamb, '0', 1), relo(K.FieldExists, lamb, '0:1', 2), relo(K.TypeIdTarget, lamb, '0', 3)];
  const { results } = applyCoreRelocations(prog, relos, local, target);
  assert.equal(results[0]!.ok, false);
  assert.match(results[0]!.reason!, new RegExp(`field offset ambiguity: \\[${c1}\\] struct amb gives amb.x \\(0:0 @ offset 0\\) but \\[${c2}\\] struct amb___v2 gives amb___v2.x \\(0:1 @ offset 4\\)`));
  assert.deepEqual([results[1]!.ok, results[1]!.newValue], [true, 8], 'every flavour is 8 bytes');
  // As in libbpf, candidates must agree on the field's offset even for an existence check.
  assert.equal(results[2]!.ok, false);
  assert.match(results[2]!.reason!, /field offset ambiguity/);
  assert.equal(results[3]!.ok, false);
  assert.match(results[3]!.reason!, new RegExp(`relocation decision ambiguity: \\[${c1}\\] struct amb gives ${c1} but \\[${c2}\\]`));

  // Two flavours with the same layout agree.
  const T2 = new Types();
  const t2int = T2.int('int', 4, true);
  T2.struct('amb', 8, [['x', t2int, 0], ['y', t2int, 32]]);
  T2.struct('amb___dup', 8, [['x', t2int, 0], ['y', t2int, 32]]);
  const ok = applyCoreRelocations(prog, relos.slice(0, 3), local, T2.btf());
  assert.deepEqual(ok.results.map((r) => [r.ok, r.newValue]), [[true, 0], [true, 8], [true, 1]]);

  // Pruning: only `pr` has field b; once b matched, a resolves against `pr` alone.
  const L3 = new Types();
  const l3int = L3.int('int', 4, true);
  const lpr = L3.struct('pr', 8, [['a', l3int, 0], ['b', l3int, 32]]);
  const T3 = new Types();
  const t3int = T3.int('int', 4, true);
  T3.struct('pr___old', 4, [['a', t3int, 0]]);
  T3.struct('pr', 8, [['b', t3int, 0], ['a', t3int, 32]]);
  const [l3, t3] = [L3.btf(), T3.btf()];
  const two = assemble([movImm(4), movImm(0), exit()]);
  const bThenA = applyCoreRelocations(two, [relo(K.FieldByteOffset, lpr, '0:1', 0), relo(K.FieldByteOffset, lpr, '0:0', 1)], l3, t3);
  assert.deepEqual(bThenA.results.map((r) => [r.ok, r.newValue]), [[true, 0], [true, 4]]);
  const aThenB = applyCoreRelocations(two, [relo(K.FieldByteOffset, lpr, '0:0', 1), relo(K.FieldByteOffset, lpr, '0:1', 0)], l3, t3);
  assert.equal(aThenB.results[0]!.ok, false, 'a first: both candidates have it at different offsets');
  // The cache carries the pruning from one call (program) to the next.
  const candidateCache = new Map<number, number[]>();
  applyCoreRelocations(two, [relo(K.FieldByteOffset, lpr, '0:1', 0)], l3, t3, { candidateCache });
  const later = applyCoreRelocations(two, [relo(K.FieldByteOffset, lpr, '0:0', 1)], l3, t3, { candidateCache });
  assert.deepEqual(later.results.map((r) => [r.ok, r.newValue]), [[true, 4]]);
});

test('unexpected instructions: wrong value, register operand, an instruction that cannot hold a value, out of range', () => {
  const L = new Types();
  const int = L.int('int', 4, true);
  const ls = L.struct('s', 8, [['a', int, 0], ['b', int, 32]]);
  const T = new Types();
  const tint = T.int('int', 4, true);
  T.struct('s', 12, [['pad', tint, 0], ['a', tint, 32], ['b', tint, 64]]);
  const prog = assemble([
    movImm(5), // 0: expected 4
    raw(BPF_ALU64 | BPF_MOV | BPF_X, 1, 2, 0, 4), // 1: register source
    raw(0x05, 0, 0, 0, 4), // 2: a jump
    ldImm64(1, 4n), // 3-4
    exit(),
  ]);
  const relos = [
    relo(K.FieldByteOffset, ls, '0:1', 0), relo(K.FieldByteOffset, ls, '0:1', 1), relo(K.FieldByteOffset, ls, '0:1', 2),
    relo(K.FieldByteOffset, ls, '0:1', 3), relo(K.FieldByteOffset, ls, '0:1', 99),
  ];
  const { instructions, results } = applyCoreRelocations(prog, relos, L.btf(), T.btf());
  assert.deepEqual(results.map((r) => r.ok), [false, false, false, true, false]);
  assert.match(results[0]!.reason!, /unexpected value in instruction #0 \(ALU\/ALU64\): got 5, expected 4 -> 8/);
  assert.match(results[1]!.reason!, /register operand/);
  assert.match(results[2]!.reason!, /cannot relocate instruction #2 \(code 0x5\)/);
  assert.equal(ld64(instructions, 3), 8n, 'ld_imm64 patched');
  assert.match(results[4]!.reason!, /instruction #99 is outside the program \(6 instructions\)/);
  assert.equal(results[4]!.poisoned, false);
  assert.ok(isPoison(instructions, 0) && isPoison(instructions, 1) && isPoison(instructions, 2));
});

test('enums: 32- and 64-bit values through ALU and ld_imm64, enum ~ enum64, flavoured enumerator names, missing values', () => {
  const L = new Types();
  const le64 = L.enum('e64', 8, [['SMALL', 1n], ['BIG', 0x1ffffffffn]], 'enum64');
  const ls = L.enum('sgn', 4, [['NEG', -2n]], 'enum', true);
  const lu = L.enum('uns', 4, [['HI', 0xfffffff0n], ['GONE', 3n]]);
  const lmix = L.enum('mix', 4, [['A___old', 1n]]);
  const T = new Types();
  T.enum('e64', 8, [['OTHER', 5n], ['BIG', 0x300000005n], ['SMALL', 2n]], 'enum64');
  T.enum('sgn', 4, [['NEG', -7n]], 'enum', true);
  T.enum('uns', 4, [['HI', 0xfffffff1n]]);
  T.enum('mix', 8, [['A', 0x100000000n]], 'enum64');
  const prog = assemble([
    ldImm64(1, 0x1ffffffffn), // 0-1: BIG
    movImm(1), // 2: SMALL
    movImm(-2), // 3: NEG
    raw(BPF_ALU | BPF_MOV | BPF_K, 1, 0, 0, -16), // 4: w1 = HI (0xfffffff0)
    ldImm64(1, 1n), // 5-6: A___old
    movImm(3), // 7: GONE: poisoned
    movImm(1), // 8: GONE exists → 0
    movImm(1), // 9: A___old into an ALU: target value does not fit in 32 bits
    exit(),
  ]);
  const relos = [
    relo(K.EnumvalValue, le64, '1', 0), relo(K.EnumvalValue, le64, '0', 2), relo(K.EnumvalValue, ls, '0', 3),
    relo(K.EnumvalValue, lu, '0', 4), relo(K.EnumvalValue, lmix, '0', 5), relo(K.EnumvalValue, lu, '1', 7),
    relo(K.EnumvalExists, lu, '1', 8), relo(K.EnumvalValue, lmix, '0', 9),
  ];
  const { instructions, results } = applyCoreRelocations(prog, relos, L.btf(), T.btf());
  assert.deepEqual(results.map((r) => [r.ok, r.poisoned, r.newValue]), [
    [true, false, 0x300000005],
    [true, false, 2],
    [true, false, -7],
    [true, false, 0xfffffff1],
    [true, false, 0x100000000],
    [true, true, undefined],
    [true, false, 0],
    [false, true, undefined],
  ]);
  assert.equal(ld64(instructions, 0), 0x300000005n);
  assert.equal(decode(instructions, 3).imm, -7);
  assert.equal(decode(instructions, 4).imm, -15, 'w1 = 0xfffffff1');
  assert.equal(ld64(instructions, 5), 0x100000000n);
  assert.match(results[5]!.reason!, /\[\d+\] enum uns has no enumerator GONE/);
  assert.match(results[7]!.reason!, /does not fit in a 32-bit immediate/);
  checkPatched('enums', prog, instructions, results.filter((r) => r.ok));
});

test('TypeMatches is stricter than TypeExists: sizes, signedness, members, enumerators, fwd behind pointers', () => {
  const L = new Types();
  const int = L.int('int', 4, true);
  const inner = L.struct('inner', 4, [['v', int, 0]]);
  const ltm = L.struct('tm', 16, [['a', int, 0], ['p', L.ptr(inner), 64]]);
  const le = L.enum('col', 4, [['RED', 0n], ['BLUE', 1n]]);
  const local = L.btf();
  const prog = assemble([movImm(1), movImm(1), movImm(1), movImm(1), exit()]);
  const relos = [relo(K.TypeMatches, ltm, '0', 0), relo(K.TypeExists, ltm, '0', 1), relo(K.TypeMatches, le, '0', 2), relo(K.TypeExists, le, '0', 3)];
  const check = (build: (T: Types) => void): (number | bigint | undefined)[] => {
    const T = new Types();
    build(T);
    const { results } = applyCoreRelocations(prog, relos, local, T.btf());
    for (const r of results) assert.ok(r.ok, r.reason);
    return results.map((r) => r.newValue);
  };
  const same = (T: Types, aSize = 4, aSigned = true, fwd = false, extra = false): void => {
    const tint = T.int('int', aSize, aSigned);
    const target = fwd ? T.add({ kind: 'fwd', name: 'inner', union: false }) : T.struct('inner', 4, [['v', tint, 0]]);
    const members: [string, number, number][] = [['p', T.ptr(target), 64], ['a', tint, 0]];
    if (extra) members.push(['z', tint, 96]);
    T.struct('tm', 16, members);
  };
  assert.deepEqual(check((T) => { same(T); T.enum('col', 4, [['BLUE', 7n], ['RED', 9n], ['GREEN', 3n]]); }), [1, 1, 1, 1], 'names matter, values and order do not');
  assert.deepEqual(check((T) => { same(T, 8); T.enum('col', 8, [['RED', 0n], ['BLUE', 1n]]); }), [0, 1, 0, 1], 'int and enum sizes');
  assert.deepEqual(check((T) => { same(T, 4, false); T.enum('col', 4, [['RED', 0n]]); }), [0, 1, 0, 1], 'signedness; a missing enumerator');
  assert.deepEqual(check((T) => { same(T, 4, true, true, true); T.enum('col___x', 4, [['RED', 0n], ['BLUE', 1n]], 'enum64'); }), [1, 1, 1, 1], 'fwd behind a pointer, extra members, enum64, flavours');
  assert.deepEqual(check((T) => { T.struct('tm', 16, [['a', T.int('int', 4, true), 0]]); T.struct('col', 4, []); }), [0, 1, 0, 0], 'a missing member; a struct is no candidate for an enum');
});

test('fields: anonymous members, arrays, flexible arrays, root indexing, incompatible types', () => {
  const L = new Types();
  const int = L.int('int', 4, true);
  const anon = L.struct('', 4, [['y', int, 0]]);
  const arr4 = L.array(int, 4);
  const flex = L.array(int, 0);
  // struct an { int x; struct { int y; }; int a[4]; int flex[]; };
  const lan = L.struct('an', 24, [['x', int, 0], ['', anon, 32], ['a', arr4, 64], ['flex', flex, 192]]);
  const lfi = L.struct('fi', 4, [['a', int, 0]]);
  const T = new Types();
  const tint = T.int('int', 4, true);
  const tlong = T.int('long', 8, true);
  const tin = T.struct('', 12, [['pad', tlong, 0], ['y', tint, 64]]);
  const tun = T.struct('', 12, [['', tin, 0]], 'union');
  // struct an { union { struct { long pad; int y; }; }; int x; int a[3]; int flex[]; };
  T.struct('an', 32, [['', tun, 0], ['x', tint, 96], ['a', T.array(tint, 3), 128], ['flex', T.array(tint, 0), 224]]);
  T.struct('fi', 8, [['a', T.struct('other', 8, []), 0]]);
  const prog = assemble([movImm(4), movImm(16), movImm(20), movImm(1), movImm(36), movImm(44), movImm(4), movImm(0), movImm(1), movImm(4), movImm(0), exit()]);
  const relos = [
    relo(K.FieldByteOffset, lan, '0:1:0', 0), // y through the anonymous struct: 4 → 8
    relo(K.FieldByteOffset, lan, '0:2:2', 1), // a[2]: 16 → 16 + 8
    relo(K.FieldByteOffset, lan, '0:2:3', 2), // a[3]: out of the target's bounds
    relo(K.FieldExists, lan, '0:2:3', 3), // → 0
    relo(K.FieldByteOffset, lan, '0:3:3', 4), // flex[3]: 24 + 12 → 28 + 12
    relo(K.FieldByteOffset, lan, '1:3:5', 5), // (&an)[1].flex[5]: 24 + 24 + 20 = 68 → 32 + 28 + 20 = 80, but the instruction holds 44
    relo(K.FieldByteSize, lan, '1:0', 6), // sizeof an[1].x
    relo(K.FieldByteOffset, lfi, '0:0', 7), // int vs struct: incompatible → poisoned
    relo(K.FieldExists, lfi, '0:0', 8), // → 0
    relo(K.FieldByteSize, lan, '0:2:1', 9), // sizeof a[1]
    relo(K.FieldSigned, lan, '0:2:1', 10), // signedness of an array element: an error
  ];
  const { instructions, results } = applyCoreRelocations(prog, relos, L.btf(), T.btf());
  const summary = results.map((r) => [r.ok, r.poisoned, r.localValue, r.newValue]);
  assert.deepEqual(summary, [
    [true, false, 4, 8],
    [true, false, 16, 24],
    [true, true, 20, undefined],
    [true, false, 1, 0],
    [true, false, 36, 40],
    [false, true, 68, undefined], // the instruction holds 44, not the local 68
    [true, false, 4, 4],
    [true, true, 0, undefined],
    [true, false, 1, 0],
    [true, false, 4, 4],
    [false, true, undefined, undefined],
  ]);
  assert.match(results[2]!.reason!, /index 3 is out of the bounds of \[\d+\] array <anon> \(3 elements\)/);
  assert.match(results[5]!.reason!, /got 44, expected 68 -> 80/);
  assert.match(results[7]!.reason!, /member a of \[\d+\] struct fi is \[\d+\] struct other, incompatible with the local \[\d+\] int int/);
  assert.match(results[10]!.reason!, /FieldSigned cannot be applied to an array element access/);
  assert.ok(isPoison(instructions, 2) && isPoison(instructions, 7));
});

test('type relocations: typedef roots, ids, sizes, missing types, anonymous and malformed relocations', () => {
  const L = new Types();
  const int = L.int('int', 4, true);
  const ls = L.struct('s', 8, [['a', int, 0], ['b', int, 32]]);
  const lt = L.add({ kind: 'typedef', name: 's_t', type: ls });
  const lanon = L.struct('', 4, [['a', int, 0]]);
  const lmissing = L.struct('gone', 4, [['a', int, 0]]);
  const T = new Types();
  const tint = T.int('int', 4, true);
  const ts = T.struct('s', 12, [['a', tint, 0], ['b', tint, 32], ['c', tint, 64]]);
  const tt = T.add({ kind: 'typedef', name: 's_t', type: ts });
  T.add({ kind: 'typedef', name: 'gone', type: tint }); // same name, but a typedef: no candidate for a struct
  const prog = assemble([movImm(8), movImm(8), ldImm64(1, 0n), movImm(1), movImm(4), movImm(lanon), movImm(4), movImm(1), movImm(0), movImm(0), exit()]);
  const relos = [
    relo(K.TypeSize, ls, '0', 0), relo(K.TypeSize, lt, '0', 1), relo(K.TypeIdTarget, lt, '0', 2), relo(K.TypeExists, lmissing, '0', 4),
    relo(K.TypeSize, lmissing, '0', 5), relo(K.TypeIdLocal, lanon, '0', 6), relo(K.TypeSize, lanon, '0', 7), relo(K.TypeExists, ls, '1', 8),
    relo(K.FieldByteOffset, ls, '0:x', 9), relo(99, ls, '0', 10),
  ];
  const { results } = applyCoreRelocations(prog, relos, L.btf(), T.btf());
  assert.deepEqual(results.map((r) => [r.ok, r.poisoned, r.newValue]), [
    [true, false, 12], [true, false, 12], [true, false, tt], [true, false, 0], [true, false, 0], [true, false, lanon],
    [false, true, undefined], [false, true, undefined], [false, true, undefined], [false, true, undefined],
  ]);
  assert.equal(results[2]!.targetType, `[${tt}] typedef s_t`);
  assert.equal(results[0]!.localType, `[${ls}] struct s`);
  assert.match(results[6]!.reason!, /relocations of anonymous types are not supported/);
  assert.match(results[7]!.reason!, /type relocation with access string '1'/);
  assert.match(results[8]!.reason!, /malformed access string '0:x'/);
  assert.match(results[9]!.reason!, /unknown relocation kind 99/);
});

test('flavours: essential names, and split BTF searches the base first', () => {
  assert.equal(coreEssentialName('task_struct___pre514'), 'task_struct');
  assert.equal(coreEssentialName('foo___bar___baz'), 'foo___bar');
  assert.equal(coreEssentialName('foo___'), 'foo___');
  assert.equal(coreEssentialName('___foo'), '___foo');
  assert.equal(coreEssentialName('a____b'), 'a____b');
  assert.equal(coreEssentialName('a___b'), 'a');
  assert.equal(coreEssentialName('plain'), 'plain');

  const L = new Types();
  const int = L.int('int', 4, true);
  const lsp = L.struct('sp___mine', 4, [['a', int, 0]]);
  const local = L.btf();
  const B = new Types();
  const bint = B.int('int', 4, true);
  B.struct('sp', 4, [['a', bint, 0]]);
  const base = B.btf();
  const split = (withBaseType: boolean): Btf => {
    const types = base.types.slice();
    if (!withBaseType) types[2] = { id: 2, kind: 'struct', name: 'unrelated', size: 4, members: [] };
    const baseBtf = Btf.fromTypes(types);
    const all = baseBtf.types.slice();
    all.push({ id: all.length, kind: 'struct', name: 'sp___mod', size: 12, members: [{ name: 'pad', type: 1, bitOffset: 0, bitfieldSize: 0 }, { name: 'a', type: 1, bitOffset: 64, bitfieldSize: 0 }] });
    return Btf.fromTypes(all, baseBtf);
  };
  const prog = assemble([movImm(0), exit()]);
  const r = (target: Btf): CoreResult => applyCoreRelocations(prog, [relo(K.FieldByteOffset, lsp, '0:0', 0)], local, target).results[0]!;
  assert.deepEqual([r(split(true)).newValue, r(split(true)).targetType], [0, '[2] struct sp'], 'the base\'s candidate, without ambiguity');
  assert.deepEqual([r(split(false)).newValue, r(split(false)).targetType], [8, '[3] struct sp___mod'], 'the module\'s when the base has none');
});

test('applyCoreRelocations checks its input and never throws for a relocation', () => {
  const L = new Types();
  const int = L.int('int', 4, true);
  L.struct('s', 4, [['a', int, 0]]);
  const local = L.btf();
  assert.throws(() => applyCoreRelocations(new Uint8Array(7), [], local, local), TypeError);
  assert.throws(() => applyCoreRelocations([] as unknown as Uint8Array, [], local, local), TypeError);
  // A relocation naming a type that does not exist in the local BTF.
  const { results } = applyCoreRelocations(assemble([movImm(0), exit()]), [relo(K.TypeSize, 1234, '0', 0)], local, local);
  assert.equal(results[0]!.ok, false);
  assert.match(results[0]!.reason!, /no BTF type with id 1234/);
  assert.equal(results[0]!.localType, '[1234] <no such type>');
});

test('no file descriptor leaked by this file', () => {
  assert.equal(fdCount(), fdsAtStart);
});
