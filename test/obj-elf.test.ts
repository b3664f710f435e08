// ELF reader (src/obj/elf.ts) against real BPF objects: the cilium/ebpf corpus that sits
// beside the repository (../shared/corpus/cilium-ebpf), cross-checked with readelf (binutils,
// which .ci/run installs), hand-made malformed headers, and a deterministic mutation fuzz run in a
// worker thread so that a hang fails the test instead of blocking it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import {
  ElfFile,
  R_BPF_64_32,
  R_BPF_64_64,
  SHF_ALLOC,
  SHF_EXECINSTR,
  SHF_WRITE,
  SHN_UNDEF,
  SHT_NOBITS,
  SHT_PROGBITS,
  SHT_REL,
  SHT_STRTAB,
  SHT_SYMTAB,
  STB_GLOBAL,
  STB_LOCAL,
  STT_FUNC,
  STT_NOTYPE,
  STT_OBJECT,
  STT_SECTION,
} from '../src/obj/elf.js';
import { Btf } from '../src/obj/btf.js';
import { parseBtfExt } from '../src/obj/btf-ext.js';
import { ParseError } from '../src/errors.js';
import { corpusDir, corpusObjects, runInWorker } from './helpers.js';
import { exerciseBtf, newReport, prng, record, type FuzzReport } from './fuzz.js';

const corpus = corpusDir;
const LOADER = path.join(corpus, 'testdata/loader-clang-22-el.elf');


/** Everything a loader would do with an object's bytes, short of the kernel. */
function fullParse(bytes: Uint8Array): void {
  const elf = ElfFile.parse(bytes);
  elf.relocations();
  elf.section('.text');
  const btfSec = elf.section('.BTF');
  if (!btfSec) return;
  const btf = Btf.parse(btfSec.data);
  exerciseBtf(btf);
  const ext = elf.section('.BTF.ext');
  if (ext) parseBtfExt(ext.data, btf);
}

/** Truncations and random byte changes of `file`; runs in the worker. */
function fuzzElf(file: string, seed: number, flips: number): FuzzReport {
  const original = new Uint8Array(readFileSync(file));
  const elf = ElfFile.parse(original);
  const report = newReport();
  const run = (bytes: Uint8Array, label: string): void => {
    record(report, label, () => fullParse(bytes));
  };

  // Truncations: every length of the header, every section boundary ±1, and a sweep.
  const lengths = new Set<number>();
  for (let n = 0; n <= 80; n++) lengths.add(n);
  for (const s of elf.sections) for (const d of [-1, 0, 1]) lengths.add(s.offset + d).add(s.offset + s.size + d);
  for (let i = 0; i < 100; i++) lengths.add(Math.floor((original.length * i) / 100));
  for (const n of [...lengths].filter((n) => n >= 0 && n < original.length).sort((a, b) => a - b)) {
    run(original.slice(0, n), `truncated to ${n}`);
  }

  // Byte changes, aimed where parsing decisions are made: the ELF header and section
  // header table, the symbol, string and relocation tables, .BTF and .BTF.ext.
  const rand = prng(seed);
  const shoff = Number(new DataView(original.buffer).getBigUint64(40, true));
  const regions: [number, number][] = [
    [0, 64],
    [shoff, original.length],
    ...elf.sections.filter((s) => [SHT_SYMTAB, SHT_STRTAB, SHT_REL].includes(s.type) || s.name.startsWith('.BTF')).map((s): [number, number] => [s.offset, s.offset + s.size]),
    [0, original.length],
  ];
  for (let i = 0; i < flips; i++) {
    const bytes = original.slice();
    const changes = 1 + Math.floor(rand() * 4);
    const desc: string[] = [];
    for (let c = 0; c < changes; c++) {
      const [lo, hi] = regions[Math.floor(rand() * regions.length)]!;
      const pos = lo + Math.floor(rand() * (hi - lo));
      const how = rand();
      const value = how < 0.4 ? bytes[pos]! ^ (1 << Math.floor(rand() * 8)) : how < 0.55 ? 0xff : how < 0.7 ? 0 : Math.floor(rand() * 256);
      bytes[pos] = value;
      desc.push(`[${pos}]=${value}`);
    }
    run(bytes, `flip #${i} ${desc.join(' ')}`);
  }
  return report;
}

if (!isMainThread && (workerData as { fuzz?: string } | null)?.fuzz === 'elf') {
  const { file, seed, flips } = workerData as { file: string; seed: number; flips: number };
  parentPort!.postMessage(fuzzElf(file, seed, flips));
} else {
  defineTests();
}


/** A valid ELF header (64 bytes) for hand-made objects; no sections. */
function header(patch: (v: DataView, b: Uint8Array) => void = () => {}): Uint8Array {
  const b = new Uint8Array(64);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  v.setUint16(16, 1, true); // ET_REL
  v.setUint16(18, 247, true); // EM_BPF
  v.setUint32(20, 1, true);
  v.setUint16(52, 64, true);
  v.setUint16(58, 64, true);
  patch(v, b);
  return b;
}

function assertParseError(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(() => ElfFile.parse(bytes), (err: unknown) => {
    assert.ok(err instanceof ParseError, `expected ParseError, got ${String(err)}`);
    assert.match((err as Error).message, pattern);
    return true;
  });
}

function defineTests(): void {
  const objects = existsSync(corpus) ? corpusObjects() : [];

  test('the corpus is there (../shared/corpus/cilium-ebpf beside the repository)', () => {
    assert.ok(existsSync(corpus), `missing ${corpus}`);
    assert.ok(objects.length >= 50, `only ${objects.length} objects under ${corpus}`);
  });

  for (const file of objects) {
    const rel = path.relative(corpus, file);
    test(`parses ${rel}`, () => {
      const elf = ElfFile.parse(readFileSync(file));
      assert.ok(elf.sections.length > 3);
      assert.equal(elf.sections[0]!.type, 0);
      elf.sections.forEach((s, i) => {
        assert.equal(s.index, i);
        if (i > 0) assert.notEqual(s.name, '', `section ${i} has a name`);
        assert.equal(s.data.length, s.type === SHT_NOBITS || s.type === 0 ? 0 : s.size);
      });
      assert.equal(elf.sections.filter((s) => s.type === SHT_SYMTAB).length, 1);
      assert.ok(elf.symbols.length > 1);
      assert.deepEqual({ ...elf.symbols[0] }, { index: 0, name: '', value: 0, size: 0, bind: 0, type: 0, visibility: 0, section: SHN_UNDEF });
      // Every program section that has relocations has them in its .rel<name> section.
      for (const [target, relocs] of elf.relocations()) {
        const t = elf.sections[target]!;
        const rel = elf.sections.find((s) => s.type === SHT_REL && s.info === target)!;
        assert.equal(rel.name, `.rel${t.name}`);
        assert.equal(relocs.length, rel.size / 16);
        for (const r of relocs) {
          assert.ok(r.symbol < elf.symbols.length);
          assert.ok(r.offset < t.size);
        }
      }
      assert.ok(elf.section('license') ?? elf.section('.BTF') ?? elf.section('.text'));
    });
  }

  test('sections and symbols agree with readelf for every object (binutils: .ci/run installs it)', () => {
    for (const file of objects) {
      const elf = ElfFile.parse(readFileSync(file));
      const secOut = execFileSync('readelf', ['-W', '-S', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const secRows = [...secOut.matchAll(/^\s*\[\s*(\d+)\]\s+(\S*)\s+\S+\s+[0-9a-f]+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)/gm)];
      assert.equal(secRows.length, elf.sections.length, file);
      for (const m of secRows) {
        const s = elf.sections[Number(m[1])]!;
        if (Number(m[1]) === 0) continue;
        assert.equal(s.name, m[2], `${file} section ${m[1]}`);
        assert.equal(s.offset, parseInt(m[3]!, 16), `${file} ${s.name} offset`);
        assert.equal(s.size, parseInt(m[4]!, 16), `${file} ${s.name} size`);
        assert.equal(s.entsize, parseInt(m[5]!, 16), `${file} ${s.name} entsize`);
      }
      const symOut = execFileSync('readelf', ['-W', '-s', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const symRows = [...symOut.matchAll(/^\s*(\d+):\s+([0-9a-f]+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s?(.*)$/gm)];
      assert.equal(symRows.length, elf.symbols.length, file);
      for (const m of symRows) {
        const sym = elf.symbols[Number(m[1])]!;
        assert.equal(sym.value, parseInt(m[2]!, 16), `${file} symbol ${m[1]} value`);
        assert.equal(sym.size, Number(m[3]), `${file} symbol ${m[1]} size`);
        assert.equal(sym.bind, { LOCAL: 0, GLOBAL: 1, WEAK: 2 }[m[5]!], `${file} symbol ${m[1]} bind`);
        const ndx = m[7] === 'UND' ? 0 : m[7] === 'ABS' ? 0xfff1 : m[7] === 'COM' ? 0xfff2 : Number(m[7]);
        assert.equal(sym.section, ndx, `${file} symbol ${m[1]} section`);
        // readelf prints a section symbol's section name; tsbpf leaves st_name ('').
        if (m[4] !== 'SECTION') assert.equal(sym.name, m[8], `${file} symbol ${m[1]} name`);
      }
    }
  });

  test('loader-clang-22-el.elf: sections', () => {
    const elf = ElfFile.parse(readFileSync(LOADER));
    assert.deepEqual(
      elf.sections.map((s) => s.name),
      [
        '', '.strtab', '.text', '.rel.text', 'static', 'other', 'xdp', '.relxdp', 'socket', 'socket/2', '.relsocket/2',
        'socket/3', '.relsocket/3', 'socket/4', '.relsocket/4', 'license', 'maps', '.bss', '.data', '.rodata',
        '.rodata.test', '.maps', '.data.test', '.rodata.cst32', '.BTF', '.rel.BTF', '.BTF.ext', '.rel.BTF.ext',
        '.llvm_addrsig', '.symtab',
      ],
    );
    const xdp = elf.section('xdp')!;
    assert.equal(xdp.type, SHT_PROGBITS);
    assert.equal(xdp.flags, SHF_ALLOC | SHF_EXECINSTR);
    assert.equal(xdp.size, 256);
    assert.equal(xdp.addralign, 8);
    const bss = elf.section('.bss')!;
    assert.equal(bss.type, SHT_NOBITS);
    assert.equal(bss.size, 4);
    assert.equal(bss.data.length, 0);
    assert.equal(elf.section('.data')!.flags, SHF_ALLOC | SHF_WRITE);
    assert.equal(new TextDecoder().decode(elf.section('license')!.data), 'MIT\0');
    assert.equal(elf.section('.rodata.cst32')!.entsize, 32);
    assert.equal(elf.section('.symtab')!.link, elf.section('.strtab')!.index);
    assert.equal(elf.sections[elf.shstrndx]!.name, '.strtab');
    assert.equal(elf.section('nope'), undefined);
  });

  test('loader-clang-22-el.elf: symbols', () => {
    const elf = ElfFile.parse(readFileSync(LOADER));
    assert.equal(elf.symbols.length, 41);
    const sym = (name: string) => elf.symbols.find((s) => s.name === name)!;
    const sec = (name: string) => elf.section(name)!.index;
    assert.deepEqual(sym('xdp_prog'), { index: 17, name: 'xdp_prog', value: 0, size: 256, bind: STB_GLOBAL, type: STT_FUNC, visibility: 0, section: sec('xdp') });
    assert.equal(sym('static_fn').bind, STB_LOCAL);
    assert.equal(sym('static_fn').section, sec('static'));
    assert.equal(sym('global_fn').value, 24); // the second function of .text
    assert.equal(sym('global_fn').size, 96);
    assert.deepEqual([sym('hash_map').type, sym('hash_map').section, sym('hash_map').value], [STT_OBJECT, sec('.maps'), 0]);
    assert.equal(sym('hash_map2').value, 40);
    assert.equal(sym('btf_decl_map').value, 216);
    assert.equal(sym('static_neg').value, 20);
    assert.equal(sym('key1').section, sec('.bss'));
    // An undefined symbol used only from inline asm.
    assert.deepEqual([sym('MY_CONST').type, sym('MY_CONST').bind, sym('MY_CONST').section], [STT_NOTYPE, STB_GLOBAL, SHN_UNDEF]);
    assert.equal(elf.symbols[1]!.type, STT_SECTION);
    assert.equal(elf.symbols[1]!.section, sec('.text'));
  });

  test('loader-clang-22-el.elf: relocations', () => {
    const elf = ElfFile.parse(readFileSync(LOADER));
    const relocs = elf.relocations();
    const names = [...relocs.keys()].map((i) => elf.sections[i]!.name);
    assert.deepEqual(names, ['.text', 'xdp', 'socket/2', 'socket/3', 'socket/4', '.BTF', '.BTF.ext']);
    const xdp = relocs.get(elf.section('xdp')!.index)!;
    assert.equal(xdp.length, 11);
    assert.deepEqual(xdp[0], { offset: 0, symbol: elf.symbols.findIndex((s) => s.name === 'hash_map'), type: R_BPF_64_64 });
    // Map and global loads are R_BPF_64_64 (ld_imm64); the two calls are R_BPF_64_32.
    assert.deepEqual(
      xdp.map((r) => [r.offset, r.type, elf.symbols[r.symbol]!.name]),
      [
        [0, R_BPF_64_64, 'hash_map'], [16, R_BPF_64_64, 'key1'], [40, R_BPF_64_64, 'hash_map2'], [56, R_BPF_64_64, 'key2'],
        [80, R_BPF_64_64, 'hash_map2'], [96, R_BPF_64_64, 'key3'], [120, R_BPF_64_64, 'arg'], [144, R_BPF_64_32, ''],
        [168, R_BPF_64_32, 'global_fn'], [184, R_BPF_64_64, 'arg2'], [216, R_BPF_64_64, 'arg3'],
      ],
    );
    // Calls between functions are R_BPF_64_32 against the callee.
    const text = relocs.get(elf.section('.text')!.index)!;
    assert.deepEqual(text.map((r) => [r.type, elf.symbols[r.symbol]!.name]), [
      [R_BPF_64_32, ''],
      [R_BPF_64_32, 'global_fn2'],
      [R_BPF_64_32, 'global_fn3'],
    ]);
    assert.equal(elf.symbols[text[0]!.symbol]!.section, elf.section('static')!.index);
    // socket/2 loads MY_CONST, an undefined symbol.
    assert.equal(elf.symbols[relocs.get(elf.section('socket/2')!.index)![0]!.symbol]!.name, 'MY_CONST');
    // relocations() hands out copies.
    relocs.get(elf.section('xdp')!.index)!.length = 0;
    assert.equal(elf.relocations().get(elf.section('xdp')!.index)!.length, 11);
  });

  test('malformed headers are ParseError with a clear message', () => {
    const good = readFileSync(LOADER);
    assertParseError(new Uint8Array(0), /bad magic/);
    assertParseError(new Uint8Array([0x7f, 0x45, 0x4c]), /bad magic/);
    assertParseError(new TextEncoder().encode('#!/bin/sh\necho hello, this is not an ELF file at all\n'), /bad magic/);
    assertParseError(good.subarray(0, 40), /truncated ELF header/);
    assertParseError(header((v, b) => (b[4] = 1)), /ELF class 1/);
    assertParseError(header((v, b) => (b[5] = 2)), /big-endian/);
    assertParseError(header((v, b) => (b[6] = 0)), /ELF version/);
    assertParseError(header((v) => v.setUint16(18, 62, true)), /e_machine is 62, not EM_BPF/);
    assertParseError(header((v) => v.setUint16(16, 2, true)), /e_type is 2, not ET_REL/);
    assertParseError(header((v) => v.setBigUint64(40, 1n << 60n, true)), /e_shoff .* too large/);
    assertParseError(header((v) => v.setBigUint64(40, 4096n, true)), /section header table at 4096 is outside the file/);
    assertParseError(header((v) => (v.setUint16(58, 40, true), v.setBigUint64(40, 64n, true))), /e_shentsize is 40, expected 64/);
    assertParseError(header((v) => (v.setUint16(60, 3, true), v.setUint16(58, 40, true), v.setBigUint64(40, 0n, true))), /no section header table/);
    // A header with no sections at all is valid and empty.
    const empty = ElfFile.parse(header());
    assert.equal(empty.sections.length, 0);
    assert.equal(empty.symbols.length, 0);
    assert.equal(empty.relocations().size, 0);
    assert.throws(() => ElfFile.parse('not bytes' as unknown as Uint8Array), ParseError);
  });

  test('malformed section and symbol tables are ParseError naming the culprit', () => {
    const good = new Uint8Array(readFileSync(LOADER));
    const elf = ElfFile.parse(good);
    const shoff = Number(new DataView(good.buffer, good.byteOffset).getBigUint64(40, true));
    const patch = (f: (v: DataView) => void): Uint8Array => {
      const b = good.slice();
      f(new DataView(b.buffer));
      return b;
    };
    const sh = (name: string) => shoff + elf.section(name)!.index * 64;
    assertParseError(patch((v) => v.setUint16(60, 1000, true)), /runs past the end of the file/);
    assertParseError(patch((v) => v.setUint16(62, 200, true)), /e_shstrndx 200 is not a section/);
    assertParseError(patch((v) => v.setUint16(62, elf.section('xdp')!.index, true)), /is not a string table/);
    assertParseError(patch((v) => v.setBigUint64(sh('xdp') + 32, 1n << 20n, true)), /section 6: contents .* run past the end/);
    assertParseError(patch((v) => v.setBigUint64(sh('xdp') + 24, BigInt(good.length), true)), /section 6: contents/);
    assertParseError(patch((v) => v.setUint32(sh('xdp'), 100000, true)), /name of section 6: string offset 100000 outside/);
    assertParseError(patch((v) => v.setBigUint64(sh('.symtab') + 32, 100n, true)), /\.symtab: size 100 is not a multiple of 24/);
    assertParseError(patch((v) => v.setBigUint64(sh('.symtab') + 56, 16n, true)), /\.symtab: sh_entsize is 16/);
    assertParseError(patch((v) => v.setUint32(sh('.symtab') + 40, elf.section('xdp')!.index, true)), /\.symtab: sh_link 6 is not a string table/);
    const symoff = elf.section('.symtab')!.offset;
    assertParseError(patch((v) => v.setUint32(symoff + 24 * 17, 0xfffffff, true)), /\.symtab symbol 17: string offset/);
    assertParseError(patch((v) => v.setUint16(symoff + 24 * 17 + 6, 300, true)), /\.symtab symbol 17: st_shndx 300 is not a section/);
    assertParseError(patch((v) => v.setUint16(symoff + 24 * 17 + 6, 0xffff, true)), /SHN_XINDEX but there is no SHT_SYMTAB_SHNDX/);
    // An unterminated string: the last byte of .strtab made non-zero.
    const strtab = elf.section('.strtab')!;
    assertParseError(patch((v) => v.setUint8(strtab.offset + strtab.size - 1, 0x41)), /not NUL-terminated/);
    const relxdp = elf.section('.relxdp')!;
    assertParseError(patch((v) => v.setUint32(relxdp.offset + 12, 5000, true)), /\.relxdp: relocation 0 refers to symbol 5000 \(41 symbols\)/);
    assertParseError(patch((v) => v.setBigUint64(relxdp.offset, 4096n, true)), /\.relxdp: relocation 0 at offset 4096 is outside xdp \(256 bytes\)/);
    assertParseError(patch((v) => v.setUint32(sh('.relxdp') + 44, 99, true)), /\.relxdp: sh_info 99 is not a section/);
    assertParseError(patch((v) => v.setUint32(sh('.relxdp') + 40, 3, true)), /\.relxdp: sh_link 3 is not the symbol table/);
    assertParseError(patch((v) => v.setBigUint64(sh('.relxdp') + 56, 24n, true)), /\.relxdp: sh_entsize is 24/);
    assertParseError(patch((v) => v.setUint32(sh('.rel.text') + 4, SHT_SYMTAB, true)), /2 symbol tables/);
  });

  test('truncations and random byte changes give ParseError or BtfError, never another error or a hang', async (t) => {
    const report = await runInWorker<FuzzReport>(new URL(import.meta.url), { fuzz: 'elf', file: LOADER, seed: 0x5eed, flips: 400 }, 120_000);
    t.diagnostic(`${report.cases} cases: ${JSON.stringify(report.outcomes)}, slowest ${report.maxMs.toFixed(1)} ms`);
    assert.deepEqual(report.failures, []);
    assert.ok(report.cases > 500);
    assert.ok((report.outcomes.ParseError ?? 0) > 100, 'the mutations reach the ELF checks');
    assert.ok((report.outcomes.BtfError ?? 0) > 10, 'the mutations reach the BTF checks');
    assert.ok(report.maxMs < 2000, `a case took ${report.maxMs} ms`);
  });
}
