// tsbpf gen: a module generated for every object of bpf/ and of the corpus type-checks
// under tsc --strict (one tsc run for all of them, beside a file that misuses one and
// must fail with the expected errors), and its load() loads what Ebpf.load loads (or
// fails with the same typed error), with maps, programs and globals whose values have
// the declared types.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import ts from 'typescript';
import { EbpfLoader, ObjectSpec, type Ebpf } from '../src/index.js';
import { generate, mismatch, type Generated } from '../src/gen/index.js';
import { corpusDir, corpusObjects, fdCount, repoRoot } from './helpers.js';

// Inside the package: the modules' `import 'tsbpf'` resolves to it by name, as in an
// application that depends on it, and @types/node is found above.
const dir = join(repoRoot, 'dist', `gen-check-${process.pid}`);
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

interface Case {
  file: string;
  module: string;
  generated: Generated;
  spec: ObjectSpec;
}

const bpfObjects = readdirSync(join(repoRoot, 'bpf')).filter((n) => n.endsWith('.o')).sort().map((n) => join(repoRoot, 'bpf', n));
const cases: Case[] = [];
const unparsable: string[] = [];
for (const path of [...bpfObjects, ...corpusObjects()]) {
  const file = path.startsWith(corpusDir) ? `corpus/${relative(corpusDir, path)}` : relative(repoRoot, path);
  const bytes = new Uint8Array(readFileSync(path));
  let spec: ObjectSpec;
  try {
    spec = ObjectSpec.parse(bytes);
  } catch (err) {
    assert.equal((err as Error).name, 'ParseError', `${file}: ${(err as Error).message}`);
    unparsable.push(file);
    continue;
  }
  const module = file.replace(/[^A-Za-z0-9]+/g, '_');
  // bpf/ objects embedded, corpus objects by path: both ways are checked.
  const corpus = file.startsWith('corpus/');
  const generated = generate(spec, bytes, { source: corpus ? 'path' : 'embed', objectPath: corpus ? path : undefined, objectName: basename(path) });
  writeFileSync(join(dir, `${module}.ts`), generated.code);
  const js = ts.transpileModule(generated.code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  writeFileSync(join(dir, `${module}.js`), js);
  cases.push({ file, module, generated, spec });
}

// An application's use of one module: compiles. And misuse: each line marked
// `// TS<code>` must fail with that error, and nothing else may fail.
writeFileSync(
  join(dir, 'use.ts'),
  `import { load, type RecordStruct } from './bpf_btf_types_o.js';
import { load as loadSnoop } from './bpf_opensnoop_o.js';
const loaded = load({ maxEntries: { by_comm: 16 }, defer: ['fill'] });
try {
  const rec: RecordStruct | undefined = loaded.maps.by_comm.get({ comm: 'tsbpf' });
  if (rec) loaded.maps.records.set(0, { ...rec, hue: 'RED', big: rec.big + 1n });
  const next: RecordStruct | null = loaded.maps.events.next(loaded.codecs.RecordStruct);
  const slots: number = loaded.maps.outer.len();
  void next, slots, loaded.programs.fill.testRun({ data: new Uint8Array(64) }).returnValue;
} finally {
  loaded.close();
}

// The README's example.
const snoop = loadSnoop({ globals: { targ_tgid: process.pid } });
try {
  snoop.programs.on_enter.attach();
  snoop.programs.on_exit.attach();
  for (const [tid, args] of snoop.maps.start) console.log(tid, args.flags);
} finally {
  snoop.close();
}
`,
);
const badLines = [
  ['loaded.maps.by_comn.get({ comm: "x" });', 'TS2551'], // misspelt map: "did you mean by_comm?"
  ['loaded.maps.by_comm.insert({ comm: "x" }, { ...rec, flags: "no" });', 'TS2322'], // a member of the wrong type
  ['loaded.maps.by_comm.insert({ comm: "x" }, { flags: 1 });', 'TS2345'], // a value missing its members
  ['loaded.maps.by_comm.insert({ comm: 1 }, rec);', 'TS2322'], // a key member of the wrong type
  ['loaded.maps.lru.insert(1, "BLUE");', 'TS2345'], // a __u64 key is a bigint
  ['loaded.maps.lru.insert(1n, "PURPLE");', 'TS2345'], // not a name of enum color
  ['loaded.programs.fill.attach("eth0");', 'TS2345'], // a socket filter attaches to a socket, not an interface name
  ['load({ defer: ["fil"] });', 'TS2322'], // misspelt program: '"fil"' is not '"fill"'
  ['load({ globals: { nope: 1 } });', 'TS2322'], // the object has no globals
  ['loadGlobals({ globals: { prot: 81 } });', 'TS2353'], // misspelt global
  ['loadGlobals({ globals: { port: "81" } });', 'TS2322'], // a __u16 takes a number
  ['export const tag: number = loadGlobals().variables.tag.get();', 'TS2322'], // a char[8] global reads as a string
  ['loadSnoop().maps.strat.clear();', 'TS2551'], // the README's misspelt map
  ['loadSnoop().maps.start.insert(1, { flags: 1 });', 'TS2345'], // the README's value missing members
];
writeFileSync(
  join(dir, 'bad.ts'),
  `import { load, type RecordStruct } from './bpf_btf_types_o.js';
import { load as loadGlobals } from './bpf_typed_globals_o.js';
import { load as loadSnoop } from './bpf_opensnoop_o.js';
declare const rec: RecordStruct;
const loaded = load();
${badLines.map(([line, code]) => `${line} // ${code}`).join('\n')}
`,
);
writeFileSync(
  join(dir, 'tsconfig.json'),
  JSON.stringify({
    compilerOptions: {
      strict: true,
      noEmit: true,
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      lib: ['ES2022', 'ESNext.Disposable'],
      types: ['node'],
      skipLibCheck: true,
      noUnusedLocals: true,
      noUnusedParameters: true,
      exactOptionalPropertyTypes: true,
      noImplicitOverride: true,
      noPropertyAccessFromIndexSignature: true,
      noUncheckedIndexedAccess: true,
      noImplicitReturns: true,
      verbatimModuleSyntax: true,
      isolatedModules: true,
    },
    files: [...cases.map((c) => `${c.module}.ts`), 'use.ts', 'bad.ts'],
  }),
);

// One tsc for every module, running while the loads below go on.
const tsc = new Promise<{ code: number | null; out: string; ms: number }>((resolve) => {
  const start = Date.now();
  execFile(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json'), '--pretty', 'false'], { maxBuffer: 1 << 26 }, (err, stdout) => {
    resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, out: stdout, ms: Date.now() - start });
  });
});

test('gen: a module for every object of bpf/ and the corpus that parses', (t) => {
  t.diagnostic(`${cases.length} modules; not parsable (ParseError, as Ebpf.load fails too): ${unparsable.join(', ')}`);
  assert.ok(cases.length >= 80, `${cases.length} modules`);
  assert.ok(cases.some((c) => c.file === 'bpf/btf_types.o'));
  const btfTypes = cases.find((c) => c.file === 'bpf/btf_types.o')!.generated;
  assert.deepEqual(
    btfTypes.maps.map((m) => `${m.name}:${m.className}:${m.via}`),
    [
      '.rodata.str1.1:ArrayMap:bytes', 'inner_a:ArrayMap:typed', 'outer:ArrayOfMaps:typed', 'by_comm:HashMap:typed', 'records:ArrayMap:typed',
      'per_cpu:PerCpuArray:typed', 'lru:HashMap:typed', 'per_cpu_lru:PerCpuHashMap:typed', 'inner_h:HashMap:typed', 'events:RingBuf:class',
      'outer_hash:HashOfMaps:typed', 'legacy:HashMap:bytes',
    ],
  );
  const code = cases.find((c) => c.file === 'bpf/btf_types.o')!.generated.code;
  assert.match(code, /export interface RecordStruct \{\n {2}flags: number;[^}]*tint: Color \| number;[^}]*big: bigint;[^}]*u: \{ word: number; text: string \};[^}]*names: string\[\];/);
  assert.match(code, /export type Color = 'RED' \| 'GREEN' \| 'BLUE';/);
  assert.match(code, /readonly by_comm: tsbpf\.HashMap<CommKey, RecordStruct>;/);
  assert.match(code, /readonly outer_hash: tsbpf\.HashOfMaps<Color \| number, tsbpf\.HashMap<CommKey, number>>;/);
  assert.doesNotMatch(code, /interface InnerArray/, 'map definitions (the .maps section\'s structs) are not data types');
  // Globals: what GlobalVariable.get() gives (src/global-value.ts: enums as numbers).
  const globals = cases.find((c) => c.file === 'bpf/globals.o')!.generated.code;
  assert.match(globals, /readonly bss_pair: tsbpf\.GlobalVariable<Pair>;/);
  assert.match(globals, /readonly data_b: tsbpf\.GlobalVariable<bigint>;/);
  const typedGlobals = cases.find((c) => c.file === 'bpf/typed_globals.o')!.generated.code;
  assert.match(typedGlobals, /tag\?: string \| \(number \| bigint\)\[\] \| Uint8Array;/, 'setGlobal fills a char array from a string or numbers');
  assert.match(typedGlobals, /weights\?: \(number \| bigint\)\[\] \| Uint8Array;/);
  assert.match(typedGlobals, /enabled\?: boolean \| Uint8Array;/);
});

/** 'ok', or the error's name/kind, as Ebpf.load and the generated load() end. */
function outcome(fn: () => { close(): void }): string {
  try {
    fn().close();
    return 'ok';
  } catch (err) {
    const e = err as { name: string; kind?: string };
    return [e.name, e.kind].filter(Boolean).join('/');
  }
}

/** Values of a loaded module's maps and globals that do not have their declared types. */
function wrongValues(c: Case, loaded: { maps: Record<string, unknown>; variables: Record<string, { get(): unknown }> }): string[] {
  const wrong: string[] = [];
  const check = (what: string, value: unknown, type: Parameters<typeof mismatch>[1] | undefined) => {
    if (!type) return;
    const m = mismatch(value, type, c.generated.declarations, what);
    if (m) wrong.push(`${c.file}: ${m}`);
  };
  for (const m of c.generated.maps) {
    if (m.via !== 'typed' && m.via !== 'bytes') continue;
    const map = loaded.maps[m.name] as { entries?(): Iterable<[unknown, unknown]> };
    if (!map.entries || m.className === 'ArrayOfMaps' || m.className === 'HashOfMaps') continue;
    let n = 0;
    for (const [k, v] of map.entries()) {
      if (m.className !== 'ArrayMap' && m.className !== 'PerCpuArray' && m.className !== 'LpmTrie') check(`${m.name} key`, k, m.key);
      if (m.className.startsWith('PerCpu')) for (const x of v as unknown[]) check(`${m.name} value`, x, m.value);
      else check(`${m.name} value`, v, m.value);
      if (++n >= 4) break;
    }
  }
  for (const v of c.generated.variables) check(`global ${v.name}`, loaded.variables[v.name]!.get(), v.type);
  return wrong;
}

test('gen: load() of each module loads what Ebpf.load loads, or fails with its typed error; values have the declared types', async (t) => {
  const fds = fdCount();
  const failures: string[] = [];
  const differ: string[] = [];
  const wrong: string[] = [];
  let loadedCount = 0;
  for (const c of cases) {
    const mod = (await import(join(dir, `${c.module}.js`))) as { load(): { ebpf: Ebpf; maps: Record<string, unknown>; programs: Record<string, unknown>; variables: Record<string, { get(): unknown }>; close(): void } };
    const path = c.file.startsWith('corpus/') ? join(corpusDir, c.file.slice(7)) : join(repoRoot, c.file);
    const plain = outcome(() => new EbpfLoader().load(path));
    let checked: string[] = [];
    const generated = outcome(() => {
      const loaded = mod.load();
      try {
        assert.deepEqual(Object.keys(loaded.maps), [...c.spec.maps.keys()], c.file);
        assert.deepEqual(Object.keys(loaded.programs), [...c.spec.programs.values()].filter((p) => p.kind !== 'Unknown').map((p) => p.name), c.file);
        assert.deepEqual(Object.keys(loaded.variables), [...c.spec.variables.keys()], c.file);
        checked = wrongValues(c, loaded);
      } catch (err) {
        loaded.close();
        throw err;
      }
      loadedCount++;
      return loaded;
    });
    wrong.push(...checked);
    if (generated !== plain) differ.push(`${c.file}: Ebpf.load ${plain}, generated load() ${generated}`);
    if (generated !== 'ok') failures.push(`${c.file}: ${generated}`);
  }
  t.diagnostic(`${loadedCount} of ${cases.length} modules loaded on this kernel; the rest failed as Ebpf.load does`);
  const untyped = failures.filter((f) => !/^(MapError|ProgramError|BtfError|ParseError|PinError)\//.test(f.split(': ')[1]!));
  assert.deepEqual(untyped, [], 'every failure is a typed error with its kind');
  assert.deepEqual(differ, []);
  assert.deepEqual(wrong, []);
  assert.ok(loadedCount >= 40, `${loadedCount} loaded`);
  assert.equal(fdCount(), fds, 'every load, failed or not, released its descriptors');
});

test('gen: btf_types: what its program wrote reads back with the declared types, a ring buffer record through codecs', async () => {
  const mod = await import(join(dir, 'bpf_btf_types_o.js'));
  const c = cases.find((x) => x.file === 'bpf/btf_types.o')!;
  const loaded = mod.load();
  try {
    assert.equal(loaded.programs.fill.testRun({ data: new Uint8Array(64) }).returnValue, 0);
    const rec = loaded.maps.by_comm.get({ comm: 'tsbpf' });
    assert.equal(rec.hue, 'BLUE');
    assert.equal(rec.big, 0xfedcba9876543210n);
    assert.deepEqual(rec.names, ['one', 'two']);
    assert.deepEqual(loaded.maps.records.get(1), rec);
    assert.equal(loaded.maps.lru.get(0x1122334455667788n), 'BLUE');
    assert.deepEqual(loaded.maps.outer.get(0).get(0), { x: 1, y: 2 }, 'inner maps typed too');
    const event = loaded.maps.events.next(loaded.codecs.RecordStruct);
    assert.deepEqual(event, rec);
    assert.deepEqual(wrongValues(c, loaded), []);
    const d = [...c.generated.declarations.values()].find((x) => x.name === 'RecordStruct')!;
    assert.equal(mismatch(event, d.type, c.generated.declarations), '');
    assert.match(mismatch({ ...event, extra: 1 }, d.type, c.generated.declarations), /members the type lacks: extra/, 'the check can fail');
    assert.match(mismatch({ ...event, big: 1 }, d.type, c.generated.declarations), /\$\.big: bigint expected, got number/);
  } finally {
    loaded.close();
  }
});

test('gen: load options: typed globals, deferred programs, max_entries', async () => {
  const fds = fdCount();
  const globals = await import(join(dir, 'bpf_typed_globals_o.js'));
  const packet = { data: new Uint8Array(64) };
  let loaded = globals.load();
  try {
    assert.equal(loaded.programs.typed.testRun(packet).returnValue, 195, 'the initial values');
  } finally {
    loaded.close();
  }
  loaded = globals.load({ globals: { port: 81, tag: 'usbpf', weights: [1, 2, 3, 5] } });
  try {
    assert.equal(loaded.programs.typed.testRun(packet).returnValue, 195 + 1 + 1 + 1);
    assert.equal(loaded.variables.port.get(), 81);
    assert.equal(loaded.variables.tag.get(), 'usbpf');
  } finally {
    loaded.close();
  }
  const btfTypes = await import(join(dir, 'bpf_btf_types_o.js'));
  loaded = btfTypes.load({ defer: ['fill'], maxEntries: { by_comm: 16 } });
  try {
    assert.equal(loaded.programs.fill.loaded, false);
    assert.equal(loaded.maps.by_comm.map.maxEntries, 16);
  } finally {
    loaded.close();
  }
  assert.equal(fdCount(), fds, 'every load released its descriptors');
});

test('gen: the modules type-check under tsc --strict in one run; misuse fails with the expected errors', async (t) => {
  const { code, out, ms } = await tsc;
  t.diagnostic(`tsc --strict --noEmit over ${cases.length + 2} files: ${ms} ms`);
  const diagnostics = out.split('\n').filter((l) => /error TS\d+/.test(l));
  const elsewhere = diagnostics.filter((l) => !l.includes('/bad.ts('));
  assert.deepEqual(elsewhere, [], 'the generated modules and their use compile');
  const got = diagnostics.map((l) => {
    const m = /\/bad\.ts\((\d+),\d+\): error (TS\d+)/.exec(l)!;
    return `${Number(m[1]) - 6}:${m[2]}`;
  });
  assert.deepEqual([...new Set(got)], badLines.map(([, code], i) => `${i}:${code}`), out);
  assert.notEqual(code, 0);
});

/** The built CLI. */
function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(repoRoot, 'dist/src/cli/main.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

test('tsbpf gen: writes the module (embedded or by path), prints it, and fails with exit 1 on a missing or broken object', async () => {
  const obj = join(repoRoot, 'bpf/ringbuf.o');
  const out = join(dir, 'cli-ringbuf.ts');
  const outPath = join(dir, 'cli-ringbuf-path.ts');
  const bytes = new Uint8Array(readFileSync(obj));
  const [written, byPath, printed, json, missing, broken, help] = await Promise.all([
    cli(['gen', obj, '-o', out]),
    cli(['gen', obj, '-o', outPath, '--path']),
    cli(['gen', obj]),
    cli(['gen', obj, '-o', join(dir, 'cli-json.ts'), '--json']),
    cli(['gen', join(dir, 'no-such.o')]),
    cli(['gen', join(repoRoot, 'package.json')]),
    cli(['gen', '--help']),
  ]);
  const other = await cli(['gen', obj, '--import-from', '../lib/tsbpf.js']);
  assert.match(other.stdout, /^import \* as tsbpf from '\.\.\/lib\/tsbpf\.js';$/m, '--import-from names the module imported');
  assert.equal(written.status, 0, written.stderr);
  assert.match(written.stdout, /wrote .*cli-ringbuf\.ts: 3 maps, 1 programs, 1 globals, \d+ types \(object embedded, \d+ bytes\)/);
  const expected = generate(ObjectSpec.parse(bytes), bytes, { objectName: 'ringbuf.o' }).code;
  assert.equal(readFileSync(out, 'utf8'), `${expected}\n`);
  assert.equal(printed.status, 0);
  assert.equal(printed.stdout, `${expected}\n`, 'without -o, the module on stdout');
  assert.equal(byPath.status, 0, byPath.stderr);
  const pathModule = readFileSync(outPath, 'utf8');
  assert.match(pathModule, /fileURLToPath\(new URL\('\.\.\/\.\.\/bpf\/ringbuf\.o', import\.meta\.url\)\)/, 'relative to the module');
  assert.doesNotMatch(pathModule, /const OBJECT =/);
  // The relative path resolves against the module, wherever the process runs.
  writeFileSync(join(dir, 'cli-ringbuf-path.js'), ts.transpileModule(pathModule, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText);
  const loaded = (await import(join(dir, 'cli-ringbuf-path.js'))).load();
  try {
    assert.deepEqual(Object.keys(loaded.maps), ['.bss', 'rb', 'rb2']);
    assert.equal(loaded.maps.rb.constructor.name, 'RingBuf');
  } finally {
    loaded.close();
  }
  assert.equal(json.status, 0);
  const summary = JSON.parse(json.stdout);
  assert.deepEqual(summary.maps.map((m: { class: string }) => m.class), ['ArrayMap', 'RingBuf', 'RingBuf']);
  assert.equal(summary.source, 'embed');
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no-such\.o: no such file/);
  assert.equal(broken.status, 1);
  assert.match(broken.stderr, /tsbpf: error: .*(ELF|object)/i);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--embed/);
  assert.match(help.stdout, /--path \[path\]/);
});
