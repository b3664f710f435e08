// Kernel BTF parsed lazily (Btf.parseLazy, what loadKernelBtf does): the same types,
// names and CO-RE candidates as the eager parse, a first load that decodes only what it
// asks for, and malformed input that is BtfError at parse or at the type asked for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import path from 'node:path';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Btf, type BtfKindName, type BtfType } from '../src/obj/btf.js';
import { ObjectSpec } from '../src/obj/spec.js';
import { ElfFile } from '../src/obj/elf.js';
import { applyCoreRelocations, coreEssentialName } from '../src/obj/core.js';
import { BtfError } from '../src/errors.js';
import { corpusDir, corpusObjects, fdCount, repoRoot, runInWorker } from './helpers.js';
import { prng } from './fuzz.js';
import { rawBtf } from './btf-raw.js';

const KERNEL_BTF = '/sys/kernel/btf/vmlinux';
const VMLINUX_GZ = path.join(corpusDir, 'btf/testdata/vmlinux.btf.gz');

interface FirstLoad {
  decoded: number;
  count: number;
  programs: number;
}

// A worker's first load: its own module instances, so loadKernelBtf starts uncached.
async function firstLoad(object: string): Promise<FirstLoad> {
  const { Ebpf } = await import('../src/index.js');
  const { loadKernelBtf } = await import('../src/kernel-btf.js');
  const ebpf = Ebpf.load(path.join(repoRoot, 'bpf', object));
  try {
    const btf = loadKernelBtf();
    return { decoded: btf.decodedCount, count: btf.typeCount, programs: [...ebpf.programs()].length };
  } finally {
    ebpf.close();
  }
}

if (!isMainThread && (workerData as { firstLoad?: string } | null)?.firstLoad) {
  void firstLoad((workerData as { firstLoad: string }).firstLoad).then((r) => parentPort!.postMessage(r));
} else {
  defineTests();
}

function nameOf(t: BtfType): string {
  return 'name' in t ? t.name : '';
}

/** Names to look up: those of `eager` sampled, their prefixes and suffixes (strings inside other strings), absent names. */
function sampleNames(eager: Btf, n: number): string[] {
  const rand = prng(0x1a2b);
  const names = new Set<string>(['task_struct', 'pid', 'id', 'int', 'u32', 'cred', 'bpf_map_type', '.data..percpu', 'bpf_fentry_test1',
    'btf_trace_sched_switch', 'tcp_congestion_ops', 'bpf_struct_ops_tcp_congestion_ops', 'task', 'task_struct___pre514', 'tsbpf_no_such_type', '', 'd', '___']);
  const types = eager.types;
  while (names.size < n) {
    const name = nameOf(types[1 + Math.floor(rand() * (types.length - 1))]!);
    if (name === '') continue;
    names.add(name);
    names.add(name.slice(1));
    names.add(name.slice(0, -1));
  }
  return [...names];
}

/** Lazy and eager parses of `raw` agree on every type, on byName and on what CO-RE's candidate search sees. */
function checkEquivalent(eager: Btf, lazy: Btf, t: { diagnostic(s: string): void }): void {
  assert.equal(lazy.typeCount, eager.typeCount);
  assert.equal(lazy.firstId, eager.firstId);
  assert.equal(lazy.decodedCount, 0, 'parseLazy decodes nothing');
  const names = sampleNames(eager, 300);
  // What CO-RE searched before: every type indexed by essential name.
  const byEssential = new Map<string, number[]>();
  for (const x of eager.types) {
    if (x.id === 0 || nameOf(x) === '') continue;
    const key = coreEssentialName(nameOf(x));
    byEssential.set(key, [...(byEssential.get(key) ?? []), x.id]);
  }
  for (const name of names) {
    assert.deepStrictEqual(lazy.byName(name), eager.byName(name), `byName(${JSON.stringify(name)})`);
    for (const kind of ['struct', 'typedef', 'func', 'enum', 'fwd'] as BtfKindName[]) {
      assert.deepStrictEqual(lazy.byName(name, kind), eager.byName(name, kind), `byName(${JSON.stringify(name)}, ${kind})`);
    }
    const essential = coreEssentialName(name);
    if (essential === '') continue; // CO-RE refuses anonymous types before searching
    const cands = (b: Btf): number[] => b.namedWithFlavours(essential).filter((x) => coreEssentialName(nameOf(x)) === essential).map((x) => x.id);
    const expected = byEssential.get(essential) ?? [];
    assert.deepStrictEqual(cands(lazy), expected, `CO-RE candidates of ${essential}`);
    assert.deepStrictEqual(cands(eager), expected, `CO-RE candidates of ${essential} (eager)`);
  }
  const afterNames = lazy.decodedCount;
  t.diagnostic(`${names.length} names looked up: ${afterNames} of ${lazy.typeCount} types decoded`);
  assert.ok(afterNames < lazy.typeCount / 10, `byName decodes only the types named (${afterNames})`);
  // Every type, one by one, then all at once: equal to the eager parse, the same objects as type() gave.
  const t0 = performance.now();
  const one: BtfType[] = [];
  for (let id = 0; id < lazy.typeCount; id++) one.push(lazy.type(id));
  assert.deepStrictEqual(one, eager.types);
  assert.equal(lazy.decodedCount, lazy.typeCount - lazy.firstId);
  const all = lazy.types;
  assert.equal(all.length, lazy.typeCount);
  for (let id = 0; id < all.length; id++) if (all[id] !== one[id]) assert.fail(`types[${id}] is not the object type(${id}) gave`);
  t.diagnostic(`${lazy.typeCount} types compared in ${(performance.now() - t0).toFixed(0)} ms`);
  // Once `types` was read, the name index answers, the same.
  assert.deepStrictEqual(lazy.byName('task_struct'), eager.byName('task_struct'));
}

function defineTests(): void {
  const fdsAtStart = fdCount();

  test(`${KERNEL_BTF}: lazy and eager parse agree on every type, on byName and on CO-RE candidates`, (t) => {
    assert.ok(existsSync(KERNEL_BTF), 'this kernel exposes its BTF');
    const raw = readFileSync(KERNEL_BTF);
    const t0 = performance.now();
    const lazy = Btf.parseLazy(raw);
    const lazyMs = performance.now() - t0;
    const eager = Btf.parse(raw);
    t.diagnostic(`parseLazy ${lazyMs.toFixed(1)} ms, parse ${(performance.now() - t0 - lazyMs).toFixed(0)} ms`);
    checkEquivalent(eager, lazy, t);
  });

  test('vmlinux.btf.gz (32-byte header, kind layout): lazy and eager parse agree', (t) => {
    const raw = gunzipSync(readFileSync(VMLINUX_GZ));
    checkEquivalent(Btf.parse(raw), Btf.parseLazy(raw), t);
  });

  test('module split BTF over a lazy vmlinux: the module\'s types decoded on their own, the base left lazy', (t) => {
    const raw = readFileSync(KERNEL_BTF);
    const eagerBase = Btf.parse(raw);
    const lazyBase = Btf.parseLazy(raw);
    const modules = readdirSync('/sys/kernel/btf').filter((n) => n !== 'vmlinux');
    t.diagnostic(`modules with BTF: ${modules.length ? modules.join(', ') : 'none'}`);
    // A module of our own (as modules are: new types over vmlinux's, names in either string section).
    const ts = eagerBase.byName('task_struct', 'struct')[0]!;
    const u64 = eagerBase.byName('long long unsigned int', 'int')[0]!;
    const n = eagerBase.typeCount;
    const built = Btf.fromTypes([
      ...eagerBase.types,
      { id: n, kind: 'ptr', type: ts.id },
      { id: n + 1, kind: 'struct', name: 'tsbpf_mod_state', size: 16, members: [{ name: 'task', type: n, bitOffset: 0, bitfieldSize: 0 }, { name: 'flags', type: u64.id, bitOffset: 64, bitfieldSize: 0 }] },
      { id: n + 2, kind: 'struct', name: 'task_struct', size: 8, members: [{ name: 'pid', type: u64.id, bitOffset: 0, bitfieldSize: 0 }] },
      { id: n + 3, kind: 'struct', name: 'task_struct___mod', size: 8, members: [] },
    ], eagerBase);
    const bytes = built.marshal();
    // Type n+2 names itself with vmlinux's own "task_struct" string (below the base's string length).
    const v = new DataView(bytes.buffer, bytes.byteOffset);
    const recordOf = (k: number): number => 24 + [0, 12, 12 + 12 + 24, 12 + 12 + 24 + 12 + 12][k]!;
    assert.equal(v.getUint32(recordOf(2) + 4, true) >>> 24, 4);
    const baseOff = raw.indexOf(Buffer.from('\0task_struct\0')) + 1 - (raw.readUInt32LE(4) + raw.readUInt32LE(16));
    assert.equal(eagerBase.string(baseOff), 'task_struct');
    v.setUint32(recordOf(2), baseOff, true);
    const samples: { name: string; raw: Uint8Array }[] = [{ name: 'built', raw: bytes }];
    for (const m of modules.slice(0, 3)) samples.push({ name: m, raw: readFileSync(`/sys/kernel/btf/${m}`) });
    for (const s of samples) {
      const eager = Btf.parse(s.raw, eagerBase);
      const lazy = Btf.parseLazy(s.raw, lazyBase);
      assert.equal(lazy.typeCount, eager.typeCount, s.name);
      assert.equal(lazy.firstId, lazyBase.typeCount);
      const own = eager.types.slice(eager.firstId);
      for (const x of own) assert.deepStrictEqual(lazy.type(x.id), x, `${s.name}: type ${x.id}`);
      const names = [...new Set(own.map(nameOf).filter((x) => x !== ''))].slice(0, 200).concat(['task_struct', 'pid_type', 'tsbpf_no_such_type']);
      for (const name of names) {
        assert.deepStrictEqual(lazy.byName(name), eager.byName(name), `${s.name}: byName(${name})`);
        assert.deepStrictEqual(lazy.namedWithFlavours(name).map((x) => x.id), eager.namedWithFlavours(name).map((x) => x.id), `${s.name}: namedWithFlavours(${name})`);
      }
      // The base is asked for what it has under those names, never decoded whole.
      assert.ok(lazyBase.decodedCount < lazyBase.typeCount / 20, `${s.name}: the base decoded ${lazyBase.decodedCount} types`);
    }
    const lazy = Btf.parseLazy(bytes, lazyBase);
    assert.deepStrictEqual(lazy.byName('task_struct').map((x) => x.id), [ts.id, n + 2]);
    assert.deepStrictEqual(lazy.namedWithFlavours('task_struct').map((x) => x.id), [ts.id, n + 2, n + 3]);
    assert.equal(lazy.type(ts.id), lazyBase.type(ts.id), 'a base id is the base\'s type');
    assert.deepStrictEqual(lazy.type(n + 1), built.type(n + 1));
    assert.equal(lazy.sizeof(n + 1), 16);
  });

  test('CO-RE relocations against the lazy kernel BTF are those against the eager one (bpf/core.o, corpus objects)', () => {
    const raw = readFileSync(KERNEL_BTF);
    const eager = Btf.parse(raw);
    const lazy = Btf.parseLazy(raw);
    const files = [path.join(repoRoot, 'bpf/core.o'), path.join(repoRoot, 'bpf/many.o'), ...corpusObjects().filter((f) => /relocs|examples|manyprogs/.test(f))];
    let relos = 0;
    for (const file of files) {
      let spec: ObjectSpec;
      try {
        spec = ObjectSpec.parse(readFileSync(file));
      } catch {
        continue; // objects the loader refuses are another test's
      }
      const cacheE = new Map<number, number[]>();
      const cacheL = new Map<number, number[]>();
      for (const [name, prog] of spec.programs) {
        if (!spec.btf || prog.coreRelos.length === 0) continue;
        const e = applyCoreRelocations(prog.instructions, prog.coreRelos, spec.btf, eager, { candidateCache: cacheE });
        const l = applyCoreRelocations(prog.instructions, prog.coreRelos, spec.btf, lazy, { candidateCache: cacheL });
        assert.deepStrictEqual(l, e, `${path.basename(file)} ${name}`);
        relos += prog.coreRelos.length;
      }
      assert.deepStrictEqual([...cacheL], [...cacheE], `${path.basename(file)}: candidates after pruning`);
    }
    assert.ok(relos > 100, `${relos} relocations compared`);
    assert.ok(lazy.decodedCount < lazy.typeCount / 20, `${lazy.decodedCount} of ${lazy.typeCount} kernel types decoded`);
  });

  for (const object of ['core.o', 'many.o']) {
    test(`the first Ebpf.load of bpf/${object} in a fresh module graph decodes a few kernel types, not all`, async (t) => {
      const r = await runInWorker<FirstLoad>(new URL(import.meta.url), { firstLoad: object }, 60_000);
      t.diagnostic(`${r.decoded} of ${r.count} kernel types decoded, ${r.programs} programs loaded`);
      assert.ok(r.programs > 0);
      assert.ok(r.count > 10_000);
      assert.ok(r.decoded < r.count * 0.05, `${r.decoded} of ${r.count} decoded`);
    });
  }

  test('malformed lazy BTF: BtfError at parse for what the walk over records sees, at type() for the rest, never RangeError', () => {
    const info = (kind: number, vlen = 0, kflag = false): number => ((kflag ? 1 : 0) << 31 | (kind << 24) | vlen) >>> 0;
    const INT = [1, info(1), 4, 0x01000020];
    const build = (words: number[], str = '\0int\0s\0'): Uint8Array => rawBtf(words, str);
    const isBtfError = (re: RegExp) => (err: unknown): boolean => err instanceof BtfError && re.test(err.message);
    // Seen by the walk: truncated records, unknown kinds, a type's own name outside the strings.
    assert.throws(() => Btf.parseLazy(build([...INT, 1, info(1)])), isBtfError(/type 2: truncated btf_type/));
    assert.throws(() => Btf.parseLazy(build([...INT, 5, info(4, 3), 4, 7, 1, 0])), isBtfError(/type 2: struct record runs past the end/));
    assert.throws(() => Btf.parseLazy(build([...INT, 0, info(20), 0])), isBtfError(/type 2: unknown BTF kind 20/));
    assert.throws(() => Btf.parseLazy(build([...INT, 500, info(8), 1])), isBtfError(/type 2: string offset 500 is outside/));
    assert.throws(() => Btf.parseLazy(build([...INT, 7, info(4, 1), 4, 5, 1, 0], '\0int\0s\0')), isBtfError(/type 2: string offset 7 is outside the string section \(7 bytes\)/));
    // Seen when the type is decoded: references outside the type count, member names outside the strings.
    const cases: [number[], RegExp][] = [
      [[...INT, 0, info(2), 7], /type 2: refers to type 7, which does not exist \(3 types\)/],
      [[...INT, 0, info(3), 0, 1, 9, 4], /type 2: refers to type 9/],
      [[...INT, 5, info(4, 1), 4, 500, 1, 0], /type 2: string offset 500 is outside/],
      [[...INT, 5, info(4, 1), 4, 5, 3, 0], /type 2: refers to type 3/],
      [[...INT, 5, info(8), 3], /type 2: refers to type 3/],
      [[...INT, 0, info(13, 1), 1, 500, 1], /type 2: string offset 500/],
    ];
    for (const [words, re] of cases) {
      const lazy = Btf.parseLazy(build(words));
      assert.equal(lazy.typeCount, 3);
      assert.deepEqual(lazy.type(1), { id: 1, kind: 'int', name: 'int', size: 4, encoding: 1, bitOffset: 0, bits: 32 });
      assert.throws(() => lazy.type(2), isBtfError(re), `type(2) of ${words}`);
      assert.throws(() => lazy.type(2), isBtfError(re), 'and again (nothing half-decoded is kept)');
      assert.throws(() => lazy.types, isBtfError(re));
      assert.throws(() => lazy.type(3), isBtfError(/no BTF type with id 3 \(3 types\)/));
      assert.deepEqual(lazy.byName('int').map((x) => x.id), [1]);
      assert.throws(() => Btf.parse(build(words)), isBtfError(re), 'the eager parse refuses it at parse');
    }
    // Random truncations and byte flips of a real object's BTF, every type, name and
    // CO-RE lookup of the lazy parse asked for: BtfError or an answer, nothing else.
    const btfSec = ElfFile.parse(readFileSync(path.join(corpusDir, 'btf/testdata/relocs-el.elf'))).section('.BTF')!.data;
    const rand = prng(0x5eed);
    const outcomes = { ok: 0, parse: 0, later: 0 };
    for (let i = 0; i < 1500; i++) {
      const b = btfSec.slice(0, i % 3 === 0 ? Math.floor(rand() * btfSec.length) : btfSec.length);
      for (let f = 0; f < 1 + Math.floor(rand() * 4); f++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      let lazy: Btf;
      try {
        lazy = Btf.parseLazy(b);
      } catch (err) {
        if (!(err instanceof BtfError)) throw err;
        outcomes.parse++;
        continue;
      }
      let failed = false;
      for (let id = 0; id < lazy.typeCount; id++) {
        try {
          lazy.type(id);
        } catch (err) {
          if (!(err instanceof BtfError)) throw err;
          failed = true;
          continue;
        }
        // (BtfError for the kinds without a size or alignment, too.)
        for (const ask of [() => lazy.resolve(id), () => lazy.sizeof(id), () => lazy.alignof(id)]) {
          try {
            ask();
          } catch (err) {
            if (!(err instanceof BtfError)) throw err;
          }
        }
      }
      for (const name of ['int', 'core_reloc_fields', '.bss', 'x']) {
        try {
          lazy.byName(name);
          lazy.namedWithFlavours(name);
        } catch (err) {
          if (!(err instanceof BtfError)) throw err;
          failed = true;
        }
      }
      if (failed) outcomes.later++;
      else outcomes.ok++;
    }
    assert.ok(outcomes.parse > 0 && outcomes.later > 0 && outcomes.ok > 0, JSON.stringify(outcomes));
  });

  test('names inside other strings, short, non-ASCII and after a byte order mark: lazy byName agrees with the eager one', () => {
    // Strings: "" "task_struct" "ab" "é_ü" BOM"bom" "x___y" "a"; names also point inside them.
    const enc = new TextEncoder();
    const parts = ['', 'task_struct', 'ab', 'é_ü', '\uFEFFbom', 'x___y', 'a'];
    const offs: number[] = [];
    const bytes: number[] = [];
    for (const p of parts) {
      offs.push(bytes.length);
      bytes.push(...enc.encode(p), 0);
    }
    const [, task, ab, eu, bom, xy, a] = offs as [number, number, number, number, number, number, number];
    const nameOffs = [task, task + 5, ab, ab + 1, eu, eu + 2, bom, bom + 3, xy, xy + 4, a, task];
    const words: number[] = [1, (1 << 24) >>> 0, 4, 0x01000020]; // int "task_struct"
    for (const off of nameOffs.slice(1)) words.push(off, (8 << 24) >>> 0, 1); // typedefs
    const b = rawBtf(words, Uint8Array.from(bytes));
    const eager = Btf.parse(b);
    const names = eager.types.map(nameOf);
    assert.deepEqual(names, ['', 'task_struct', 'struct', 'ab', 'b', 'é_ü', '_ü', 'bom', 'bom', 'x___y', 'y', 'a', 'task_struct']);
    for (const name of [...new Set(names), 'task', 'é', 'ü', '\uFEFFbom', 'x', 'x___', 'zz', 'struct_', '\uFFFD']) {
      const lazy = Btf.parseLazy(b);
      assert.deepStrictEqual(lazy.byName(name), eager.byName(name), `byName(${JSON.stringify(name)})`);
      assert.deepStrictEqual(lazy.namedWithFlavours(name), eager.namedWithFlavours(name), `namedWithFlavours(${JSON.stringify(name)})`);
    }
    assert.deepEqual(Btf.parseLazy(b).byName('task_struct').map((x) => x.id), [1, 12]);
    assert.deepEqual(Btf.parseLazy(b).byName('bom').map((x) => x.id), [7, 8]);
    assert.deepEqual(Btf.parseLazy(b).namedWithFlavours('x').map((x) => x.id), [9]);
  });

  test('no file descriptor leaked by this file', () => {
    assert.equal(fdCount(), fdsAtStart);
  });
}
