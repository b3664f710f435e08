// BTF and .BTF.ext parsing (src/obj/btf.ts, src/obj/btf-ext.ts) against real data: every
// object of the cilium/ebpf corpus beside the repository, its vmlinux.btf.gz, and this
// machine's /sys/kernel/btf/vmlinux. Then the semantics of resolve/sizeof/alignof on
// hand-made types, malformed blobs, and a deterministic mutation fuzz in a worker thread
// (so that a hang fails the test instead of blocking it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import path from 'node:path';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { ElfFile, STT_FUNC } from '../src/obj/elf.js';
import { BTF_FUNC_GLOBAL, BTF_FUNC_STATIC, BTF_INT_SIGNED, BTF_VAR_GLOBAL_ALLOCATED, Btf } from '../src/obj/btf.js';
import { loadKernelBtf } from '../src/kernel-btf.js';
import type { BtfKindName, BtfMember, BtfType, BtfTypeOf } from '../src/obj/btf.js';
import { CoreReloKind, coreReloKindName, parseBtfExt } from '../src/obj/btf-ext.js';
import type { BtfExt } from '../src/obj/btf-ext.js';
import { BtfError } from '../src/errors.js';
import { corpusDir, corpusObjects, runInWorker } from './helpers.js';
import { exerciseBtf, newReport, prng, record, type FuzzReport } from './fuzz.js';
import { rawBtf } from './btf-raw.js';

const corpus = corpusDir;
const LOADER = path.join(corpus, 'testdata/loader-clang-22-el.elf');
const RELOCS = path.join(corpus, 'btf/testdata/relocs-el.elf');
const VMLINUX_GZ = path.join(corpus, 'btf/testdata/vmlinux.btf.gz');
const KERNEL_BTF = '/sys/kernel/btf/vmlinux';


interface Obj {
  elf: ElfFile;
  btf: Btf;
  ext?: BtfExt;
}

function load(file: string): Obj {
  const elf = ElfFile.parse(readFileSync(file));
  const btf = Btf.parse(elf.section('.BTF')!.data);
  const extSec = elf.section('.BTF.ext');
  return { elf, btf, ext: extSec ? parseBtfExt(extSec.data, btf) : undefined };
}

function one<K extends BtfKindName>(btf: Btf, name: string, kind: K): BtfTypeOf<K> {
  const found = btf.byName(name, kind);
  assert.equal(found.length, 1, `one ${kind} ${name}`);
  return found[0]!;
}

/**
 * Checks a CO-RE access string against the local BTF: field relocations walk members
 * and array elements from the root type, enum relocations name a value, type
 * relocations are "0".
 */
function checkAccess(btf: Btf, typeId: number, access: string, kind: number): void {
  assert.match(access, /^\d+(:\d+)*$/, `access string ${access}`);
  const idx = access.split(':').map(Number);
  if (kind <= CoreReloKind.FieldRShiftU64) {
    let t = btf.resolve(typeId);
    for (const i of idx.slice(1)) {
      if (t.kind === 'struct' || t.kind === 'union') {
        assert.ok(i < t.members.length, `${access}: member ${i} of ${t.kind} ${t.name} (${t.members.length})`);
        t = btf.resolve(t.members[i]!.type);
      } else if (t.kind === 'array') {
        assert.ok(t.nelems === 0 || i < t.nelems, `${access}: element ${i} of ${t.nelems}`);
        t = btf.resolve(t.type);
      } else assert.fail(`${access}: cannot index into ${t.kind}`);
    }
  } else if (kind === CoreReloKind.EnumvalExists || kind === CoreReloKind.EnumvalValue) {
    const t = btf.resolve(typeId);
    assert.ok(t.kind === 'enum' || t.kind === 'enum64', `enum relocation on ${t.kind}`);
    assert.equal(idx.length, 1);
    assert.ok(idx[0]! < t.values.length);
  } else {
    assert.equal(access, '0');
  }
}

// ---- hand-made BTF -------------------------------------------------------------------

const info = (kind: number, vlen = 0, kflag = false): number => ((kflag ? 0x80000000 : 0) | (kind << 24) | vlen) >>> 0;

// [1] int "int" 4 bytes signed 32 bits
const INT = [1, info(1), 4, (BTF_INT_SIGNED << 24) | 32];

function assertBtfError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BtfError, `expected BtfError, got ${String((err as Error)?.stack ?? err)}`);
    assert.match((err as Error).message, pattern);
    return true;
  });
}

const member = (name: string, type: number, bitOffset: number, bitfieldSize = 0): BtfMember => ({ name, type, bitOffset, bitfieldSize });

// ---- fuzz (worker) ---------------------------------------------------------------------

function fuzzBtf(files: string[], seed: number, flips: number): FuzzReport {
  const report = newReport();
  const run = (label: string, fn: () => void): void => {
    record(report, label, fn);
  };
  const rand = prng(seed);
  for (const file of files) {
    const elf = ElfFile.parse(readFileSync(file));
    const btfBytes = new Uint8Array(elf.section('.BTF')!.data); // copies
    const extBytes = new Uint8Array(elf.section('.BTF.ext')!.data);
    const btf = Btf.parse(btfBytes);
    const name = path.basename(file);
    // Every truncation of both sections.
    for (let n = 0; n < btfBytes.length; n++) run(`${name} .BTF truncated to ${n}`, () => exerciseBtf(Btf.parse(btfBytes.subarray(0, n))));
    for (let n = 0; n < extBytes.length; n++) run(`${name} .BTF.ext truncated to ${n}`, () => parseBtfExt(extBytes.subarray(0, n), btf));
    const hv = new DataView(btfBytes.buffer);
    const typeEnd = 24 + hv.getUint32(12, true);
    const mutate = (orig: Uint8Array, regions: [number, number][]): [Uint8Array, string] => {
      const bytes = orig.slice();
      const desc: string[] = [];
      const changes = 1 + Math.floor(rand() * 3);
      for (let c = 0; c < changes; c++) {
        const [lo, hi] = regions[Math.floor(rand() * regions.length)]!;
        const pos = lo + Math.floor(rand() * (hi - lo));
        const how = rand();
        bytes[pos] = how < 0.5 ? bytes[pos]! ^ (1 << Math.floor(rand() * 8)) : how < 0.6 ? 0xff : how < 0.7 ? 0 : Math.floor(rand() * 256);
        desc.push(`[${pos}]=${bytes[pos]}`);
      }
      return [bytes, desc.join(' ')];
    };
    for (let i = 0; i < flips; i++) {
      // Header, type section (most decisions), string section.
      const [bytes, desc] = mutate(btfBytes, [[0, 24], [24, typeEnd], [24, typeEnd], [typeEnd, btfBytes.length]]);
      run(`${name} .BTF flip #${i} ${desc}`, () => {
        const b = Btf.parse(bytes);
        exerciseBtf(b);
        parseBtfExt(extBytes, b);
      });
    }
    for (let i = 0; i < flips; i++) {
      const [bytes, desc] = mutate(extBytes, [[0, 32], [32, extBytes.length]]);
      run(`${name} .BTF.ext flip #${i} ${desc}`, () => parseBtfExt(bytes, btf));
    }
  }
  return report;
}

if (!isMainThread && (workerData as { fuzz?: string } | null)?.fuzz === 'btf') {
  const { files, seed, flips } = workerData as { files: string[]; seed: number; flips: number };
  parentPort!.postMessage(fuzzBtf(files, seed, flips));
} else {
  defineTests();
}


// ---- tests -----------------------------------------------------------------------------

function defineTests(): void {
  const objects = existsSync(corpus) ? corpusObjects() : [];
  const withBtf = objects.filter((f) => ElfFile.parse(readFileSync(f)).section('.BTF'));

  test('the corpus has BTF objects', () => {
    assert.ok(objects.length >= 50, `only ${objects.length} objects under ${corpus}`);
    assert.ok(withBtf.length >= 50);
    assert.deepEqual(objects.filter((f) => !withBtf.includes(f)).map((f) => path.basename(f)), ['loader_nobtf-el.elf']);
  });

  for (const file of withBtf) {
    test(`BTF of ${path.relative(corpus, file)}: parses, round-trips, .BTF.ext agrees with the ELF`, () => {
      const { elf, btf, ext } = load(file);
      assert.deepEqual(btf.types[0], { id: 0, kind: 'void' });
      btf.types.forEach((t, i) => assert.equal(t.id, i));
      // marshal: same types back; and a second marshal is byte-identical.
      const bytes = btf.marshal();
      const again = Btf.parse(bytes);
      assert.deepStrictEqual(again.types, btf.types);
      assert.deepEqual(again.marshal(), bytes);
      assert.ok(bytes.length <= elf.section('.BTF')!.size, 'the rewritten string section is no larger');
      // Walks never fail with anything but BtfError, and succeed on every sized kind.
      for (const t of btf.types) {
        if (['int', 'ptr', 'struct', 'union', 'enum', 'enum64', 'float'].includes(t.kind)) {
          assert.ok(btf.sizeof(t.id) >= 0);
          assert.ok([1, 2, 4, 8].includes(btf.alignof(t.id)), `alignof ${t.kind} ${t.id}`);
        }
      }
      if (!ext) return;
      // Every function symbol has a func_info naming it at its first instruction.
      for (const sym of elf.symbols.filter((s) => s.type === STT_FUNC)) {
        const sec = elf.sections[sym.section]!;
        const fi = ext.funcInfos.get(sec.name)?.find((f) => f.insnOff * 8 === sym.value);
        assert.ok(fi, `func_info for ${sym.name} in ${sec.name}`);
        const fn = btf.type(fi.typeId);
        assert.equal(fn.kind, 'func');
        assert.equal(fn.kind === 'func' && fn.name, sym.name);
      }
      for (const [secName, lines] of ext.lineInfos) {
        const sec = elf.section(secName);
        assert.ok(sec, `line_info section ${secName} exists`);
        for (const l of lines) {
          assert.ok(l.insnOff < sec.size / 8);
          assert.ok(l.line >= 0 && l.fileName.endsWith('.c'), `${l.fileName}:${l.line}`);
        }
      }
      for (const [secName, relos] of ext.coreRelos) {
        assert.ok(elf.section(secName), `core_relo section ${secName} exists`);
        for (const r of relos) {
          assert.ok(coreReloKindName(r.kind), `kind ${r.kind}`);
          checkAccess(btf, r.typeId, r.accessStr, r.kind);
        }
      }
    });
  }

  test('the corpus covers every CO-RE relocation kind', () => {
    const seen = new Set<number>();
    for (const file of withBtf) for (const relos of load(file).ext?.coreRelos.values() ?? []) for (const r of relos) seen.add(r.kind);
    assert.deepEqual([...seen].sort((a, b) => a - b), Object.values(CoreReloKind));
  });

  test('loader-clang-22-el.elf: types', () => {
    const { btf } = load(LOADER);
    assert.equal(btf.types.length, 98);
    const def = one(btf, 'bpf_map_def', 'struct');
    assert.equal(def.size, 20);
    assert.deepEqual(def.members.map((m) => [m.name, m.bitOffset, m.bitfieldSize, btf.type(m.type).kind === 'int' && (btf.type(m.type) as { name: string }).name]), [
      ['type', 0, 0, 'unsigned int'],
      ['key_size', 32, 0, 'unsigned int'],
      ['value_size', 64, 0, 'unsigned int'],
      ['max_entries', 96, 0, 'unsigned int'],
      ['map_flags', 128, 0, 'unsigned int'],
    ]);
    assert.equal(btf.sizeof(def.id), 20);
    assert.equal(btf.alignof(def.id), 4);
    // A BTF map definition: __uint(type, ...) is a pointer to an array whose length is the value.
    const hashMap = one(btf, 'hash_map', 'var');
    assert.equal(hashMap.linkage, BTF_VAR_GLOBAL_ALLOCATED);
    const def2 = btf.resolve(hashMap.type);
    assert.ok(def2.kind === 'struct');
    assert.equal(def2.name, '');
    assert.deepEqual(def2.members.map((m) => m.name), ['type', 'key', 'value', 'max_entries', 'map_flags']);
    const typeField = btf.type(def2.members[0]!.type);
    assert.ok(typeField.kind === 'ptr');
    const arr = btf.type(typeField.type);
    assert.ok(arr.kind === 'array');
    assert.equal(arr.nelems, 1); // BPF_MAP_TYPE_HASH
    assert.equal(btf.sizeof(hashMap.id), 40);
    // A typedef'd map definition.
    const typedefMap = one(btf, 'btf_typedef_map', 'var');
    assert.equal(btf.type(typedefMap.type).kind, 'typedef');
    assert.equal(btf.resolve(typedefMap.type).kind, 'struct');
    // Modifiers: const volatile uint32_t -> typedef -> unsigned int.
    const arg = one(btf, 'arg', 'var');
    const cv = btf.type(arg.type);
    assert.ok(cv.kind === 'const');
    const v = btf.type(cv.type);
    assert.ok(v.kind === 'volatile');
    assert.deepEqual(btf.type(v.type), { id: 6, kind: 'typedef', name: 'uint32_t', type: 7 });
    assert.deepEqual(btf.resolve(arg.type), { id: 7, kind: 'int', name: 'unsigned int', size: 4, encoding: 0, bitOffset: 0, bits: 32 });
    assert.equal(btf.sizeof(arg.id), 4);
    const int = btf.resolve(one(btf, 'neg', 'var').type);
    assert.deepEqual([int.kind, int.kind === 'int' && int.encoding], ['int', BTF_INT_SIGNED]);
    // Functions.
    const xdp = one(btf, 'xdp_prog', 'func');
    assert.equal(xdp.linkage, BTF_FUNC_GLOBAL);
    const proto = btf.type(xdp.type);
    assert.ok(proto.kind === 'func_proto');
    assert.deepEqual(proto.params, []);
    assert.equal((btf.type(proto.returnType) as { name: string }).name, 'int');
    const staticFn = one(btf, 'static_fn', 'func');
    assert.equal(staticFn.linkage, BTF_FUNC_STATIC);
    const sp = btf.type(staticFn.type);
    assert.deepEqual(sp.kind === 'func_proto' && sp.params.map((p) => [p.name, (btf.type(p.type) as { name: string }).name]), [['arg', 'uint32_t']]);
    assertBtfError(() => btf.sizeof(xdp.id), /func has no size/);
    // Declaration tags on a map.
    const declMap = one(btf, 'btf_decl_map', 'var');
    assert.deepEqual(
      btf.types.filter((t) => t.kind === 'decl_tag' && t.type === declMap.id).map((t) => t.kind === 'decl_tag' && [t.name, t.componentIdx]),
      [['a', -1], ['b', -1]],
    );
    assert.deepEqual(btf.byName('a', 'decl_tag').length, 2);
    assert.deepEqual(btf.byName('a').map((t) => t.kind), ['decl_tag', 'decl_tag']);
    assert.deepEqual(btf.byName('no such type'), []);
  });

  test('loader-clang-22-el.elf: datasecs (as clang leaves them: size 0, offsets of .maps 0)', () => {
    const { btf } = load(LOADER);
    const secs = btf.types.filter((t): t is BtfTypeOf<'datasec'> => t.kind === 'datasec');
    assert.deepEqual(secs.map((s) => s.name), ['.bss', '.data', '.data.test', '.maps', '.rodata', '.rodata.test', 'license', 'maps']);
    const vars = (name: string) => one(btf, name, 'datasec').vars.map((v) => [(btf.type(v.type) as { name: string }).name, v.offset, v.size]);
    assert.deepEqual(vars('.maps'), [
      ['hash_map', 0, 40], ['hash_map2', 0, 32], ['btf_pin', 0, 40], ['btf_outer_map', 0, 24],
      ['btf_outer_map_anon', 0, 24], ['perf_event_array', 0, 24], ['btf_typedef_map', 0, 32], ['btf_decl_map', 0, 32],
    ]);
    assert.deepEqual(vars('.rodata'), [['key3', 0, 4], ['arg', 0, 4], ['uneg', 0, 4], ['neg', 0, 4], ['static_uneg', 16, 4], ['static_neg', 20, 4]]);
    assert.deepEqual(vars('license'), [['__license', 0, 4]]);
    assert.ok(secs.every((s) => s.size === 0));
  });

  test('loader-clang-22-el.elf: .BTF.ext', () => {
    const { btf, ext } = load(LOADER);
    assert.ok(ext);
    const fname = (id: number) => (btf.type(id) as { name: string }).name;
    assert.deepEqual([...ext.funcInfos.keys()], ['static', '.text', 'other', 'xdp', 'socket', 'socket/2', 'socket/3', 'socket/4']);
    assert.deepEqual(ext.funcInfos.get('.text')!.map((f) => [f.insnOff, fname(f.typeId)]), [[0, 'global_fn2'], [3, 'global_fn']]);
    assert.deepEqual(ext.funcInfos.get('xdp')!.map((f) => [f.insnOff, fname(f.typeId)]), [[0, 'xdp_prog']]);
    const xdpLines = ext.lineInfos.get('xdp')!;
    assert.deepEqual(xdpLines[0], { insnOff: 0, fileName: '/ebpf/testdata/loader.c', line: 42, column: 2, lineText: '\tbpf_map_lookup_elem(&hash_map, (void *)&key1);' });
    assert.ok(xdpLines.every((l, i) => i === 0 || l.insnOff >= xdpLines[i - 1]!.insnOff));
    assert.equal([...ext.lineInfos.values()].flat().length, 51);
    assert.equal(ext.coreRelos.size, 0);
  });

  test('relocs-el.elf: CO-RE relocations', () => {
    const { btf, ext } = load(RELOCS);
    assert.ok(ext);
    assert.deepEqual([...ext.coreRelos.keys()], ['socket/type_ids', 'socket/types', 'socket/enums', 'socket/fields', 'socket/err_ambiguous', 'socket/err_ambiguous_flavour']);
    assert.equal([...ext.coreRelos.values()].flat().length, 103);
    const fields = ext.coreRelos.get('socket/fields')!;
    const t = one(btf, 't', 'struct');
    assert.deepEqual(fields.filter((r) => r.typeId === t.id && r.kind === CoreReloKind.FieldExists).map((r) => r.accessStr), ['0:0:0:2:0', '0:0:0:1:1', '0:1:0:0', '0:1:0:1', '1:1:0:1']);
    assert.deepEqual(fields[0], { insnOff: 3, typeId: one(btf, 's', 'struct').id, accessStr: '0:0', kind: CoreReloKind.FieldByteOffset });
    const typeIds = ext.coreRelos.get('socket/type_ids')!;
    assert.ok(typeIds.every((r) => r.accessStr === '0' && (r.kind === CoreReloKind.TypeIdLocal || r.kind === CoreReloKind.TypeIdTarget)));
    const enums = ext.coreRelos.get('socket/enums')!;
    const e = one(btf, 'e', 'enum');
    assert.deepEqual(e.values.map((v) => [v.name, v.value]), [['ZERO', 0n], ['ONE', 1n], ['TWO', 2n]]);
    assert.deepEqual(enums.filter((r) => r.typeId === e.id).map((r) => [r.accessStr, coreReloKindName(r.kind)]), [['1', 'EnumvalExists'], ['0', 'EnumvalValue'], ['2', 'EnumvalValue']]);
    const e64 = one(btf, 'e64', 'enum64');
    assert.deepEqual([e64.size, e64.signed, e64.values], [8, false, [{ name: 'LARGE', value: 0x1ffffffffn }]]);
    assert.deepEqual(ext.coreRelos.get('socket/err_ambiguous_flavour')!.map((r) => (btf.type(r.typeId) as { name: string }).name), ['ambiguous___flavour']);
    // Instruction offsets are instruction indices (bytes / 8).
    assert.ok(fields.every((r) => r.insnOff < ElfFile.parse(readFileSync(RELOCS)).section('socket/fields')!.size / 8));
  });

  test('relocs_read-el.elf: bitfields (kind_flag member offsets)', () => {
    const { btf } = load(path.join(corpus, 'btf/testdata/relocs_read-el.elf'));
    const withBitfields = btf.types.filter((t) => (t.kind === 'struct' || t.kind === 'union') && t.members.some((m) => m.bitfieldSize > 0));
    assert.ok(withBitfields.length > 0);
    for (const s of withBitfields) {
      assert.ok(s.kind === 'struct' || s.kind === 'union');
      for (const m of s.members) assert.ok(m.bitOffset + m.bitfieldSize <= s.size * 8, `${s.name}.${m.name}`);
    }
  });

  test('tags-el.elf: decl_tag component indices', () => {
    const { btf } = load(path.join(corpus, 'btf/testdata/tags-el.elf'));
    const tags = (target: number) => btf.types.filter((t) => t.kind === 'decl_tag' && t.type === target).map((t) => t.kind === 'decl_tag' && `${t.name}@${t.componentIdx}`);
    assert.deepEqual(tags(one(btf, 'normalDecl1', 'func').id), ['b@0', 'c@1', 'e@-1']);
    assert.deepEqual(tags(one(btf, 'fwdDecl', 'func').id), ['c@0', 'd@1', 'a@-1', 'b@-1']);
    assert.equal(one(btf, 'fwdDecl', 'func').linkage, 2); // extern
    assert.deepEqual(tags(one(btf, 's', 'struct').id), ['c@-1', 'a@0', 'b@1']);
    assert.deepEqual(tags(one(btf, 'u', 'union').id), ['c@-1', 'a@0', 'b@1']);
    assert.deepEqual(tags(one(btf, 'td', 'typedef').id), ['b@-1']);
  });

  test('fwd_decl-el.elf and others: fwd, float-free objects round-trip', () => {
    const kinds = new Set<string>();
    for (const file of withBtf) for (const t of load(file).btf.types) kinds.add(t.kind);
    for (const k of ['int', 'ptr', 'array', 'struct', 'union', 'enum', 'enum64', 'fwd', 'typedef', 'volatile', 'const', 'func', 'func_proto', 'var', 'datasec', 'decl_tag']) {
      assert.ok(kinds.has(k), `the corpus objects have ${k}`);
    }
  });

  test('vmlinux.btf.gz (a kernel BTF with the 32-byte header and kind layout section)', (t) => {
    const raw = gunzipSync(readFileSync(VMLINUX_GZ));
    assert.equal(new DataView(raw.buffer, raw.byteOffset).getUint32(4, true), 32);
    const t0 = performance.now();
    const btf = Btf.parse(raw);
    const ms = performance.now() - t0;
    assert.equal(btf.types.length, 103407);
    const ts = one(btf, 'task_struct', 'struct');
    assert.equal(btf.sizeof(ts.id), 5504);
    assert.equal(btf.alignof(ts.id), 8);
    const m = (name: string) => ts.members.find((x) => x.name === name)!;
    assert.deepEqual([m('pid').bitOffset, btf.sizeof(m('pid').type)], [20288, 4]);
    const comm = btf.resolve(m('comm').type);
    assert.deepEqual([comm.kind, comm.kind === 'array' && comm.nelems, comm.kind === 'array' && btf.sizeof(comm.type)], ['array', 16, 1]);
    assert.deepEqual(m('sched_reset_on_fork'), { name: 'sched_reset_on_fork', type: m('sched_reset_on_fork').type, bitOffset: 19680, bitfieldSize: 1 });
    // kind_flag on a type tag: an __attribute__ tag.
    assert.deepEqual(btf.types.filter((t) => t.kind === 'type_tag'), [{ id: 54036, kind: 'type_tag', name: 'address_space(1)', type: 0, attr: true }]);
    // Signed enums, enum64, fwd union, float.
    const signed = btf.types.find((t) => t.kind === 'enum' && t.signed && t.values.some((v) => v.value < 0n));
    assert.ok(signed);
    assert.ok(btf.types.some((t) => t.kind === 'fwd' && t.union));
    assert.deepEqual(one(btf, 'double', 'float'), { id: 65538, kind: 'float', name: 'double', size: 8 });
    const mapType = one(btf, 'bpf_map_type', 'enum');
    assert.deepEqual(mapType.values.slice(0, 3).map((v) => [v.name, v.value]), [['BPF_MAP_TYPE_UNSPEC', 0n], ['BPF_MAP_TYPE_HASH', 1n], ['BPF_MAP_TYPE_ARRAY', 2n]]);
    const percpu = one(btf, '.data..percpu', 'datasec');
    assert.equal(percpu.vars.length, 330);
    assert.equal(btf.sizeof(percpu.id), 184472);
    // Round trip (marshal writes the 24-byte header, no layout section).
    const again = Btf.parse(btf.marshal());
    assert.deepStrictEqual(again.types, btf.types);
    // How fast is bench/'s question, not a test's (it differs by machine and emulator).
    t.diagnostic(`parse took ${ms.toFixed(0)} ms`);
  });

  test(`${KERNEL_BTF}: parses, task_struct has pid and comm`, (t) => {
    const raw = readFileSync(KERNEL_BTF);
    const times: number[] = [];
    let btf: Btf | undefined;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      btf = Btf.parse(raw);
      times.push(performance.now() - t0);
    }
    t.diagnostic(`${raw.length} bytes, ${btf!.types.length} types: parse ${times.map((x) => x.toFixed(0)).join(' / ')} ms`);
    assert.ok(btf!.types.length > 10000);
    const ts = one(btf!, 'task_struct', 'struct');
    const names = ts.members.map((m) => m.name);
    assert.ok(names.includes('pid') && names.includes('comm'));
    assert.ok(btf!.sizeof(ts.id) > 1000);
    const pid = ts.members.find((m) => m.name === 'pid')!;
    const pidT = btf!.resolve(pid.type);
    assert.deepEqual([pidT.kind, btf!.sizeof(pid.type)], ['int', 4]);
    const comm = btf!.resolve(ts.members.find((m) => m.name === 'comm')!.type);
    assert.equal(comm.kind, 'array');
    // loadKernelBtf reads once and caches.
    const t0 = performance.now();
    const k1 = loadKernelBtf();
    const first = performance.now() - t0;
    assert.equal(loadKernelBtf(), k1);
    assert.equal(loadKernelBtf(KERNEL_BTF), k1);
    t.diagnostic(`loadKernelBtf() ${first.toFixed(0)} ms (read + parse), then cached`);
    assert.equal(k1.types.length, btf!.types.length);
    const t1 = performance.now();
    const marshalled = k1.marshal();
    t.diagnostic(`marshal ${(performance.now() - t1).toFixed(0)} ms, ${marshalled.length} bytes`);
    assert.equal(Btf.parse(marshalled).types.length, k1.types.length);
    assertBtfError(() => loadKernelBtf('/nonexistent/vmlinux'), /cannot read kernel BTF from \/nonexistent\/vmlinux/);
  });

  test('split BTF over a base (as kernel modules have over vmlinux)', () => {
    const base = Btf.parse(gunzipSync(readFileSync(VMLINUX_GZ)));
    const ts = one(base, 'task_struct', 'struct');
    const n = base.types.length;
    const types: BtfType[] = [
      ...base.types,
      { id: n, kind: 'ptr', type: ts.id },
      { id: n + 1, kind: 'struct', name: 'mod_state', size: 16, members: [member('task', n, 0), member('flags', one(base, 'long unsigned int', 'int').id, 64)] },
    ];
    const split = Btf.fromTypes(types, base);
    assert.equal(split.firstId, n);
    const bytes = split.marshal();
    assert.ok(bytes.length < 200, 'only the module types are written');
    const parsed = Btf.parse(bytes, base);
    assert.equal(parsed.types.length, n + 2);
    assert.equal(parsed.types[ts.id], ts);
    assert.deepStrictEqual(parsed.types.slice(n), types.slice(n));
    assert.equal(parsed.sizeof(n + 1), 16);
    assert.equal(parsed.alignof(n + 1), 8);
    assert.equal(one(parsed, 'task_struct', 'struct'), ts);
    assert.equal(parsed.byName('mod_state').length, 1);
    // A name offset below the base's string length names a base string.
    const patched = bytes.slice();
    const v = new DataView(patched.buffer);
    v.setUint32(24 + 12, 1, true); // name_off of mod_state
    assert.equal((Btf.parse(patched, base).type(n + 1) as { name: string }).name, base.string(1));
    assert.equal(parsed.string(1), base.string(1));
    assert.equal(parsed.string(base.stringsLength + 1), 'mod_state');
    // Without its base, split BTF refers to types and strings it does not have.
    assertBtfError(() => Btf.parse(bytes), /refers to type|string section/);
    assertBtfError(() => Btf.parse(bytes, 'base' as unknown as Btf), /base must be a Btf/);
  });

  test('resolve, sizeof, alignof: semantics and cycles', () => {
    const types: BtfType[] = [
      { id: 0, kind: 'void' },
      { id: 1, kind: 'int', name: 'int', size: 4, encoding: BTF_INT_SIGNED, bitOffset: 0, bits: 32 },
      { id: 2, kind: 'typedef', name: 'loop_a', type: 3 },
      { id: 3, kind: 'const', name: '', type: 2 },
      { id: 4, kind: 'struct', name: 'selfish', size: 8, members: [member('me', 4, 0)] },
      { id: 5, kind: 'array', type: 1, indexType: 1, nelems: 0x10000000 },
      { id: 6, kind: 'array', type: 5, indexType: 1, nelems: 16 },
      { id: 7, kind: 'struct', name: 'packed', size: 5, members: [member('c', 8, 0), member('i', 1, 8)] },
      { id: 8, kind: 'int', name: 'char', size: 1, encoding: 0, bitOffset: 0, bits: 8 },
      { id: 9, kind: 'fwd', name: 'later', union: false },
      { id: 10, kind: 'func_proto', returnType: 1, params: [{ name: 'x', type: 1 }, { name: '', type: 0 }] },
      { id: 11, kind: 'func', name: 'f', type: 10, linkage: 1 },
      { id: 12, kind: 'volatile', name: '', type: 13 },
      { id: 13, kind: 'array', type: 14, indexType: 1, nelems: 3 },
      { id: 14, kind: 'ptr', type: 9 },
      { id: 15, kind: 'struct', name: 'bits', size: 8, members: [member('a', 1, 0, 3), member('b', 1, 3, 29), member('c', 8, 32)] },
      { id: 16, kind: 'union', name: 'u', size: 8, members: [member('x', 1, 0), member('y', 14, 0)] },
      { id: 17, kind: 'enum', name: 'e', size: 4, signed: true, values: [{ name: 'NEG', value: -5n }, { name: 'POS', value: 7n }] },
      { id: 18, kind: 'enum64', name: 'e64', size: 8, signed: false, values: [{ name: 'BIG', value: 0xfedcba9876543210n }] },
      { id: 19, kind: 'var', name: 'v', type: 12, linkage: 1 },
      { id: 20, kind: 'datasec', name: '.data', size: 24, vars: [{ type: 19, offset: 0, size: 24 }] },
      { id: 21, kind: 'decl_tag', name: 'tag', type: 15, componentIdx: 1, attr: false },
      { id: 22, kind: 'type_tag', name: 'user', type: 1, attr: false },
      { id: 23, kind: 'restrict', name: '', type: 14 },
      { id: 24, kind: 'float', name: 'double', size: 8 },
      { id: 25, kind: 'struct', name: 'outer', size: 16, members: [member('b', 15, 0), member('f', 24, 64)] },
    ];
    const btf = Btf.fromTypes(types);
    assertBtfError(() => btf.resolve(2), /reference cycle/);
    assertBtfError(() => btf.sizeof(3), /reference cycle/);
    assertBtfError(() => btf.alignof(2), /reference cycle/);
    assertBtfError(() => btf.alignof(4), /selfish contains itself/);
    assert.equal(btf.sizeof(4), 8); // its size is given
    assert.equal(btf.sizeof(5), 0x40000000);
    assertBtfError(() => btf.sizeof(6), /size overflows/);
    assert.equal(btf.alignof(7), 1);
    assert.equal(btf.sizeof(7), 5);
    for (const id of [0, 9, 10, 11]) assertBtfError(() => btf.sizeof(id), /has no size/);
    for (const id of [0, 9, 10, 11, 20]) assertBtfError(() => btf.alignof(id), /has no alignment/);
    assert.deepEqual([btf.sizeof(12), btf.alignof(12), btf.resolve(12).kind], [24, 8, 'array']);
    assert.deepEqual([btf.sizeof(15), btf.alignof(15)], [8, 4]);
    assert.deepEqual([btf.sizeof(16), btf.alignof(16)], [8, 8]);
    assert.deepEqual([btf.sizeof(17), btf.sizeof(18), btf.alignof(18)], [4, 8, 8]);
    assert.deepEqual([btf.sizeof(19), btf.sizeof(20), btf.sizeof(21)], [24, 24, 8]);
    assert.deepEqual([btf.sizeof(22), btf.resolve(22).id, btf.resolve(23).kind], [4, 1, 'ptr']);
    assert.deepEqual([btf.sizeof(25), btf.alignof(25)], [16, 8]);
    assert.equal(btf.resolve(1), types[1]);
    for (const bad of [-1, 26, 1.5, NaN]) assertBtfError(() => btf.type(bad), /no BTF type with id/);
    // Everything survives marshal.
    const again = Btf.parse(btf.marshal());
    assert.deepStrictEqual(again.types, types);
    assert.deepEqual(again.byName('e', 'enum').map((t) => t.kind === 'enum' && t.values.map((v) => v.value)), [[-5n, 7n]]);
    // fromTypes checks ids and references.
    assertBtfError(() => Btf.fromTypes([{ id: 0, kind: 'void' }, { id: 2, kind: 'ptr', type: 0 }]), /types\[1\] has id 2/);
    assertBtfError(() => Btf.fromTypes([{ id: 0, kind: 'void' }, { id: 1, kind: 'ptr', type: 9 }]), /refers to type 9/);
    assertBtfError(() => Btf.fromTypes([{ id: 1, kind: 'ptr', type: 0 }]), /type 0 must be void/);
    // marshal refuses what BTF cannot encode.
    const huge = Btf.fromTypes([{ id: 0, kind: 'void' }, { id: 1, kind: 'struct', name: 'x', size: 4, members: Array.from({ length: 70000 }, (_, i) => member(`m${i}`, 0, 0)) }]);
    assertBtfError(() => huge.marshal(), /65535/);
    const wide = Btf.fromTypes([{ id: 0, kind: 'void' }, types[1]!, { id: 2, kind: 'struct', name: 'x', size: 2 ** 22, members: [member('a', 1, 0, 3), member('b', 1, 2 ** 25)] }]);
    assertBtfError(() => wide.marshal(), /offset\/bitfield too large/);
  });

  test('non-ASCII names, unaligned input', () => {
    const types: BtfType[] = [
      { id: 0, kind: 'void' },
      { id: 1, kind: 'int', name: 'größe_t', size: 8, encoding: 0, bitOffset: 0, bits: 64 },
      { id: 2, kind: 'typedef', name: '名前', type: 1 },
    ];
    const bytes = Btf.fromTypes(types).marshal();
    const parsed = Btf.parse(bytes);
    assert.deepStrictEqual(parsed.types, types);
    assert.deepEqual(parsed.byName('名前', 'typedef').map((t) => t.id), [2]);
    // The same bytes at an odd offset of a larger buffer.
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 1);
    assert.deepStrictEqual(Btf.parse(shifted.subarray(1, 1 + bytes.length)).types, types);
    const { elf, btf } = load(LOADER);
    const odd = new Uint8Array(elf.section('.BTF')!.size + 1);
    odd.set(elf.section('.BTF')!.data, 1);
    assert.deepStrictEqual(Btf.parse(odd.subarray(1)).types, btf.types);
    // Invalid UTF-8 decodes with replacement characters rather than failing.
    const bad = rawBtf(INT, '\0iXnt\0', (v) => v.setUint8(24 + INT.length * 4 + 2, 0xff));
    assert.equal((Btf.parse(bad).type(1) as { name: string }).name, 'i\ufffdnt');
  });

  test('malformed BTF is BtfError with a clear message', () => {
    const ok = Btf.parse(rawBtf(INT));
    assert.deepEqual(ok.types[1], { id: 1, kind: 'int', name: 'int', size: 4, encoding: BTF_INT_SIGNED, bitOffset: 0, bits: 32 });
    assertBtfError(() => Btf.parse(new Uint8Array(4)), /too short/);
    assertBtfError(() => Btf.parse(rawBtf(INT, undefined, (v) => v.setUint16(0, 0x1234, true))), /bad BTF magic 0x1234/);
    assertBtfError(() => Btf.parse(rawBtf(INT, undefined, (v) => v.setUint16(0, 0x9feb, true))), /big-endian/);
    assertBtfError(() => Btf.parse(rawBtf(INT, undefined, (v) => v.setUint8(2, 2))), /version 2/);
    assertBtfError(() => Btf.parse(rawBtf(INT, undefined, (v) => v.setUint32(4, 16, true))), /header length 16 is less than 24/);
    assertBtfError(() => Btf.parse(rawBtf(INT, undefined, (v) => v.setUint32(4, 4096, true))), /header length 4096 exceeds/);
    assertBtfError(() => Btf.parse(rawBtf(INT, undefined, (v) => (v.setUint32(4, 28, true), v.setUint8(26, 1)))), /unknown non-zero fields/);
    assertBtfError(() => Btf.parse(rawBtf(INT, undefined, (v) => v.setUint32(12, 4000, true))), /type section \(4000 bytes at 0\) exceeds/);
    assertBtfError(() => Btf.parse(rawBtf(INT, undefined, (v) => v.setUint32(16, 0xffffff00, true))), /string section .* exceeds/);
    assertBtfError(() => Btf.parse(rawBtf(INT, undefined, (v) => v.setUint32(20, 0xffffffff, true))), /string section .* exceeds/);
    assertBtfError(() => Btf.parse(rawBtf(INT, undefined, (v) => (v.setUint32(8, 2, true), v.setUint32(12, 12, true)))), /not 4-byte aligned/);
    assertBtfError(() => Btf.parse(rawBtf(INT, undefined, (v) => v.setUint32(16, 8, true))), /overlap|string section/);
    assertBtfError(() => Btf.parse(rawBtf(INT, '')), /string section is empty/);
    assertBtfError(() => Btf.parse(rawBtf(INT, 'xint\0')), /does not start with the empty string/);
    assertBtfError(() => Btf.parse(rawBtf(INT, '\0int')), /not NUL-terminated/);
    assertBtfError(() => Btf.parse(rawBtf([0, info(20), 0])), /type 1: unknown BTF kind 20/);
    assertBtfError(() => Btf.parse(rawBtf([0, info(0), 0])), /type 1: unknown BTF kind 0/);
    assertBtfError(() => Btf.parse(rawBtf([...INT, 5, info(4, 3), 4, 7, 1, 0])), /type 2: struct record runs past the end/);
    assertBtfError(() => Btf.parse(rawBtf([...INT, 0, info(2), 7])), /type 2: refers to type 7, which does not exist \(3 types\)/);
    assertBtfError(() => Btf.parse(rawBtf([...INT, 0, info(3), 0, 1, 9, 4])), /type 2: refers to type 9/);
    assertBtfError(() => Btf.parse(rawBtf([...INT, 500, info(8), 1])), /type 2: string offset 500 is outside/);
    assertBtfError(() => Btf.parse(rawBtf([...INT, 5, info(4, 1), 4, 500, 1, 0])), /type 2: string offset 500/);
    assertBtfError(() => Btf.parse(rawBtf([1, info(1), 4])), /type 1: int record runs past the end/);
    assertBtfError(() => Btf.parse(rawBtf([1, info(1)])), /type 1: truncated btf_type/);
    // Kind layout section (32-byte header): in range, and agreeing with the kinds parsed.
    const layout = (entries: number[], fix?: (v: DataView) => void) => {
      const words = INT;
      const str = '\0int\0';
      const b = new Uint8Array(32 + words.length * 4 + entries.length * 4 + str.length);
      const v = new DataView(b.buffer);
      v.setUint16(0, 0xeb9f, true);
      v.setUint8(2, 1);
      v.setUint32(4, 32, true);
      v.setUint32(12, words.length * 4, true);
      v.setUint32(16, words.length * 4 + entries.length * 4, true);
      v.setUint32(20, str.length, true);
      v.setUint32(24, words.length * 4, true);
      v.setUint32(28, entries.length * 4, true);
      words.forEach((w, i) => v.setUint32(32 + i * 4, w, true));
      entries.forEach((e, i) => v.setUint32(32 + words.length * 4 + i * 4, e, true));
      b.set(new TextEncoder().encode(str), 32 + words.length * 4 + entries.length * 4);
      fix?.(v);
      return b;
    };
    // info_sz | elem_sz << 8 per kind, 0..19.
    const good = [0, 4, 0, 12, 12 << 8, 12 << 8, 8 << 8, 0, 0, 0, 0, 0, 0, 8 << 8, 4, 12 << 8, 0, 4, 0, 12 << 8];
    assert.equal(Btf.parse(layout(good)).types.length, 2);
    assertBtfError(() => Btf.parse(layout(good.map((e, i) => (i === 4 ? 16 << 8 : e)))), /layout says struct records have 0 \+ vlen \* 16 bytes/);
    assertBtfError(() => Btf.parse(layout(good, (v) => v.setUint32(28, 4000, true))), /kind layout section \(4000 bytes at 16\) exceeds/);
    assertBtfError(() => Btf.parse(layout(good, (v) => v.setUint32(24, 0, true))), /layout section overlaps/);
    assertBtfError(() => Btf.parse('nope' as unknown as Uint8Array), /must be a Uint8Array/);
  });

  test('malformed .BTF.ext is BtfError with a clear message', () => {
    const { elf, btf } = load(LOADER);
    const good = elf.section('.BTF.ext')!.data;
    const patch = (f: (v: DataView) => void): Uint8Array => {
      const b = new Uint8Array(good); // a copy
      f(new DataView(b.buffer));
      return b;
    };
    const hdr = new DataView(good.buffer, good.byteOffset);
    const funcOff = 32 + hdr.getUint32(8, true);
    const lineOff = 32 + hdr.getUint32(16, true);
    assertBtfError(() => parseBtfExt(good.subarray(0, 6), btf), /too short/);
    assertBtfError(() => parseBtfExt(patch((v) => v.setUint16(0, 0xbeef, true)), btf), /bad \.BTF\.ext magic 0xbeef/);
    assertBtfError(() => parseBtfExt(patch((v) => v.setUint8(2, 7)), btf), /version 7/);
    assertBtfError(() => parseBtfExt(patch((v) => v.setUint32(4, 20, true)), btf), /header length 20 is less than 24/);
    assertBtfError(() => parseBtfExt(patch((v) => v.setUint32(12, 0xfffff, true)), btf), /func_info \(1048575 bytes at 0\) exceeds/);
    assertBtfError(() => parseBtfExt(patch((v) => v.setUint32(funcOff, 4, true)), btf), /func_info record size 4 is invalid/);
    assertBtfError(() => parseBtfExt(patch((v) => v.setUint32(lineOff, 18, true)), btf), /line_info record size 18 is invalid/);
    assertBtfError(() => parseBtfExt(patch((v) => v.setUint32(funcOff + 4, 0xffffff, true)), btf), /func_info section name: string offset/);
    assertBtfError(() => parseBtfExt(patch((v) => v.setUint32(funcOff + 8, 0, true)), btf), /func_info of static: no records/);
    assertBtfError(() => parseBtfExt(patch((v) => v.setUint32(funcOff + 8, 1000, true)), btf), /func_info of static: 1000 records of 8 bytes run past the end/);
    assertBtfError(() => parseBtfExt(patch((v) => v.setUint32(funcOff + 12, 3, true)), btf), /func_info of static: instruction offset 3 is not a multiple of 8/);
    assertBtfError(() => parseBtfExt(patch((v) => v.setUint32(funcOff + 16, 5000, true)), btf), /func_info of static: type id 5000 does not exist/);
    assertBtfError(() => parseBtfExt(patch((v) => v.setUint32(lineOff + 16, 0xffffff, true)), btf), /line_info of static: string offset/);
    assertBtfError(() => parseBtfExt(good, Btf.fromTypes([{ id: 0, kind: 'void' }])), /string offset|type id/);
  });

  test('.BTF.ext record sizes larger than the struct are honoured', () => {
    const { elf, btf, ext } = load(LOADER);
    // Rebuild the func_info and line_info subsections with 8 extra bytes per record.
    const good = elf.section('.BTF.ext')!.data;
    const v = new DataView(good.buffer, good.byteOffset, good.byteLength);
    const hdrLen = v.getUint32(4, true);
    const widen = (off: number, len: number): number[] => {
      const rec = v.getUint32(hdrLen + off, true);
      const out = [rec + 8];
      let p = hdrLen + off + 4;
      while (p < hdrLen + off + len) {
        const name = v.getUint32(p, true);
        const n = v.getUint32(p + 4, true);
        out.push(name, n);
        p += 8;
        for (let i = 0; i < n; i++, p += rec) {
          for (let w = 0; w < rec; w += 4) out.push(v.getUint32(p + w, true));
          out.push(0xdeadbeef, 0xcafef00d);
        }
      }
      return out;
    };
    const fi = widen(v.getUint32(8, true), v.getUint32(12, true));
    const li = widen(v.getUint32(16, true), v.getUint32(20, true));
    const words = [0, 24, 0, fi.length * 4, fi.length * 4, li.length * 4, ...fi, ...li];
    const bytes = new Uint8Array(words.length * 4);
    const bv = new DataView(bytes.buffer);
    words.forEach((w, i) => bv.setUint32(i * 4, w >>> 0, true));
    bv.setUint16(0, 0xeb9f, true);
    bv.setUint8(2, 1);
    bv.setUint8(3, 0);
    const wide = parseBtfExt(bytes, btf);
    assert.deepEqual(wide.funcInfos, ext!.funcInfos);
    assert.deepEqual(wide.lineInfos, ext!.lineInfos);
    assert.equal(wide.coreRelos.size, 0); // a 24-byte header has no core_relo fields
  });

  test('CoreReloKind', () => {
    assert.deepEqual(Object.entries(CoreReloKind), [
      ['FieldByteOffset', 0], ['FieldByteSize', 1], ['FieldExists', 2], ['FieldSigned', 3], ['FieldLShiftU64', 4],
      ['FieldRShiftU64', 5], ['TypeIdLocal', 6], ['TypeIdTarget', 7], ['TypeExists', 8], ['TypeSize', 9],
      ['EnumvalExists', 10], ['EnumvalValue', 11], ['TypeMatches', 12],
    ]);
    assert.equal(coreReloKindName(12), 'TypeMatches');
    assert.equal(coreReloKindName(13), undefined);
  });

  test('truncations and random byte changes of .BTF / .BTF.ext give BtfError, never another error or a hang', async (t) => {
    const report = await runInWorker<FuzzReport>(new URL(import.meta.url), { fuzz: 'btf', files: [LOADER, RELOCS], seed: 0xb7f, flips: 300 }, 180_000);
    t.diagnostic(`${report.cases} cases: ${JSON.stringify(report.outcomes)}, slowest ${report.maxMs.toFixed(1)} ms`);
    assert.deepEqual(report.failures, []);
    assert.ok(report.cases > 10000);
    assert.ok((report.outcomes.BtfError ?? 0) > 5000);
    assert.ok((report.outcomes.ok ?? 0) > 100, 'some mutations still parse (and then round-trip)');
    assert.equal(report.outcomes.ParseError, undefined);
    assert.ok(report.maxMs < 2000, `a case took ${report.maxMs} ms`);
  });
}
