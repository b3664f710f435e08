// What the loader does with inputs an attacker or a mistake can give it: files that
// are not object files, sizes no kernel should be asked to allocate, verifier
// rejections, SEC("?...") programs, and globals set with the natural JS values.
// Sizes that could make the kernel allocate much run in a child in a memory cgroup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Ebpf, EbpfLoader, MapData, MapError, MapType, ObjectSpec, ParseError, ProgramError, SyscallError } from '../src/index.js';
import * as sys from '../src/sys/index.js';
import { summariseVerifierLog } from '../src/programs/verifier-log.js';
import { bpfCalls, fdCount, refusedBeforeSyscall, repoRoot, runInWorker, thrown } from './helpers.js';
import { runInMemoryCgroup } from './memcg.js';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';

const obj = (name: string) => resolve(repoRoot, 'bpf', name);
const packet = new Uint8Array(64);
const index = JSON.stringify(resolve(repoRoot, 'dist/src/index.js'));
const sysIndex = JSON.stringify(resolve(repoRoot, 'dist/src/sys/index.js'));
const testingIndex = JSON.stringify(resolve(repoRoot, 'dist/src/testing.js'));

/** In a worker (a read that never ends would hang the test runner): the error of Ebpf.load(path). */
function loadErrorInWorker(): void {
  const { path } = workerData as { path: string };
  const t0 = performance.now();
  try {
    Ebpf.load(path).close();
    parentPort!.postMessage({ name: 'none', ms: performance.now() - t0 });
  } catch (err) {
    const e = err as { constructor?: { name: string }; code?: string; message?: string };
    parentPort!.postMessage({ name: e?.constructor?.name, code: e?.code, message: e?.message, typed: err instanceof ParseError || err instanceof SyscallError, ms: performance.now() - t0 });
  }
}

if (!isMainThread && (workerData as { path?: string } | null)?.path !== undefined) loadErrorInWorker();
else defineTests();

function defineTests(): void {
  test('Ebpf.load reads regular files only: a device, a fifo or a directory is a ParseError, a missing file a SyscallError, at once', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-inputs-'));
    try {
      const fifo = join(dir, 'fifo');
      execFileSync('mkfifo', [fifo]);
      writeFileSync(join(dir, 'text.o'), 'not an object');
      const cases: [string, string, RegExp][] = [
        ['/dev/zero', 'ParseError', /\/dev\/zero is a character device, not a BPF object file/],
        [fifo, 'ParseError', /is a fifo, not a BPF object file/],
        [dir, 'ParseError', /is a directory, not a BPF object file/],
        [join(dir, 'missing.o'), 'SyscallError', /open failed: ENOENT .*missing\.o/],
        [join(dir, 'text.o'), 'ParseError', /not an ELF file/],
        ['', 'ParseError', /is not a file path/],
      ];
      for (const [path, name, message] of cases) {
        // A read of /dev/zero or an open of a fifo that never returns fails here after 20 s.
        const r = await runInWorker<{ name: string; code?: string; message: string; typed: boolean; ms: number }>(new URL(import.meta.url), { path }, 20_000);
        t.diagnostic(`${path || "''"}: ${r.name} in ${r.ms.toFixed(1)} ms`);
        assert.equal(r.name, name, `${path}: ${r.message}`);
        assert.ok(r.typed);
        assert.match(r.message, message);
      }
      const missing = thrown(() => Ebpf.load(join(dir, 'missing.o')));
      assert.equal(missing.code, 'ENOENT');
      assert.equal(missing.call, 'open');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('MapData.create refuses, before any bpf(2) call, an array map past 2^31 entries and a map larger than any memory', () => {
    const prog = refusedBeforeSyscall(() => MapData.create({ type: MapType.ProgArray, keySize: 4, valueSize: 4, maxEntries: 2 ** 31 + 2 }), 'TooLarge');
    assert.match(prog.message, /2147483650 entries, more than an array map can index/);
    assert.equal(prog.maxEntries, 2 ** 31 + 2);
    refusedBeforeSyscall(() => MapData.create({ type: MapType.Array, keySize: 4, valueSize: 8, maxEntries: 2 ** 32 - 1 }), 'TooLarge');
    // 2^28 preallocated elements of 64 KiB: petabytes, on any machine.
    const hash = refusedBeforeSyscall(() => MapData.create({ type: MapType.Hash, keySize: 8, valueSize: 65536, maxEntries: 2 ** 28 }), 'TooLarge');
    assert.match(hash.message, /needs at least \d+ MiB of kernel memory at creation, more than half of the \d+ MiB available/);
    refusedBeforeSyscall(() => MapData.create({ type: MapType.PercpuArray, keySize: 4, valueSize: 32768, maxEntries: 2 ** 30 }), 'TooLarge');
    refusedBeforeSyscall(() => MapData.create({ type: MapType.Queue, keySize: 0, valueSize: 65536, maxEntries: 2 ** 30 }), 'TooLarge');
    // Without preallocation only the buckets count: 2^28 of them, 4 GiB; allowed or refused by what this machine has, never the 16 TiB above.
    const hashNoPrealloc = { type: MapType.Hash, keySize: 8, valueSize: 65536, maxEntries: 2 ** 28, flags: 1 };
    const before = fdCount();
    const calls = bpfCalls(() => {
      try {
        MapData.create(hashNoPrealloc).close();
      } catch (err) {
        assert.ok(err instanceof MapError, String(err));
      }
    });
    // The create itself, and where the kernel refuses it, the hash map probe asking whether the kernel has the type.
    assert.ok(calls.length <= 2 && calls.every((cmd) => cmd === sys.Cmd.MapCreate), String(calls));
    assert.equal(fdCount(), before);
  });

  test('a memory cgroup is room a map must fit in: in a 256 MiB cgroup, 192 MiB (more than half the room) is refused before the kernel is asked, 16 MiB is made', (t) => {
    const script = `const { MapData, MapType } = await import(${index});
      const sys = await import(${sysIndex});
      const { replaceKernel } = await import(${testingIndex});
      let calls = 0; const real = sys.kernel;
      replaceKernel({ bpf: (...a) => (calls++, real.bpf(...a)) });
      const out = {};
      for (const [name, maxEntries] of [['big', 24576], ['small', 2048]]) {
        calls = 0;
        try { MapData.create({ type: MapType.Array, keySize: 4, valueSize: 8192, maxEntries }).close(); out[name] = { created: true, calls }; }
        catch (e) { out[name] = { kind: e.kind, message: e.message, calls }; }
      }
      console.log(JSON.stringify(out));`;
    const r = runInMemoryCgroup(script, 256, 30_000);
    t.diagnostic(`cgroup ${r.cgroup}: ${r.stdout.trim()}`);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.big.kind, 'TooLarge');
    assert.equal(out.big.calls, 0, 'refused before BPF_MAP_CREATE');
    assert.match(out.big.message, /needs at least 192 MiB of kernel memory at creation, more than half of the \d+ MiB available/);
    assert.deepEqual(out.small, { created: true, calls: 1 }, 'created: one BPF_MAP_CREATE');
  });

  test('objects with absurd sizes are refused fast: a 2^31+2 PROG_ARRAY (16 GiB) and a 1.9 GB __kconfig string (run in a 512 MiB memory cgroup)', (t) => {
    const script = `const { Ebpf } = await import(${index});
      const sys = await import(${sysIndex});
      const { replaceKernel } = await import(${testingIndex});
      const out = {};
      for (const name of ['huge_prog_array.o', 'huge_kconfig.o']) {
        const creates = []; const real = sys.kernel;
        const restore = replaceKernel({ bpf: (cmd, attr, ...rest) => { if (cmd === 0) creates.push(new DataView(attr.buffer, attr.byteOffset).getUint32(12, true)); return real.bpf(cmd, attr, ...rest); } });
        const t0 = performance.now();
        try { Ebpf.load(${JSON.stringify(obj(''))} + '/' + name).close(); out[name] = { loaded: true }; }
        catch (e) { out[name] = { name: e.constructor.name, kind: e.kind, message: e.message, creates, ms: performance.now() - t0 }; }
        finally { restore(); }
      }
      console.log(JSON.stringify(out));`;
    const r = runInMemoryCgroup(script, 512, 60_000);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    t.diagnostic(`cgroup ${r.cgroup}: prog array refused in ${out['huge_prog_array.o'].ms.toFixed(1)} ms, kconfig in ${out['huge_kconfig.o'].ms.toFixed(1)} ms`);
    const prog = out['huge_prog_array.o'];
    assert.equal(prog.name, 'MapError');
    assert.equal(prog.kind, 'TooLarge');
    assert.match(prog.message, /BPF_MAP_TYPE_PROG_ARRAY 'jump_table': 2147483650 entries/);
    assert.deepEqual(prog.creates, [], 'no BPF_MAP_CREATE for any map of the object');
    const kconfig = out['huge_kconfig.o'];
    assert.equal(kconfig.name, 'ParseError');
    assert.match(kconfig.message, /__kconfig extern CONFIG_TSBPF_HUGE is a char array of 1979711489 bytes \(at most 65536\)/);
    assert.deepEqual(kconfig.creates, []);
  });

  test('a verifier rejection leads with the reason and the source line, keeps the whole log in verifierLog, and caps the message', () => {
    const before = fdCount();
    const err = thrown(() => new EbpfLoader().setAutoload('optional_bad', true).load(obj('autoload.o')));
    assert.ok(err instanceof ProgramError && err.kind === 'LoadError', String(err));
    assert.equal(err.program, 'optional_bad');
    assert.equal(err.code, 'EACCES');
    const [first, ...rest] = err.message.split('\n');
    assert.equal(first!, "cannot load program optional_bad (?socket): R0 invalid mem access 'map_value_or_null' at autoload.c:51");
    assert.match(rest.join('\n'), /instruction 7: \(61\) r0 = \*\(u32 \*\)\(r0 \+0\)/);
    assert.match(rest.join('\n'), /EACCES; the verifier's log, \d+ lines, is in verifierLog/);
    assert.doesNotMatch(err.message, /permission denied/, 'the errno is not the headline');
    assert.match(err.verifierLog!, /call bpf_map_lookup_elem#1/);
    assert.match(err.verifierLog!, /^processed \d+ insns/m);
    // Level 2 logs every state: the log grows, the message does not.
    const verbose = thrown(() => new EbpfLoader().setAutoload('optional_bad', true).verifierLogLevel(2).load(obj('autoload.o')));
    assert.equal(verbose.message.split('\n')[0], first!);
    assert.ok(verbose.message.length < 1000, `${verbose.message.length} characters`);
    assert.ok(verbose.verifierLog.length >= err.verifierLog!.length);
    assert.equal(fdCount(), before);
  });

  test('summariseVerifierLog: the last line that is not statistics, the source and instruction before it; a BTF complaint keeps its type line', () => {
    const log = [
      'func#0 @0',
      '; int f(void *ctx) @ f.c:3',
      '0: (b7) r0 = 0                        ; R0_w=0',
      '; return *p; @ f.c:9',
      '4: (61) r0 = *(u32 *)(r1 +0)',
      "R1 invalid mem access 'scalar'",
      'verification time 12 usec',
      'stack depth 0',
      'processed 5 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0',
      '',
    ].join('\n');
    assert.deepEqual(summariseVerifierLog(log), {
      reason: "R1 invalid mem access 'scalar'",
      source: 'f.c:9',
      sourceText: 'return *p;',
      instruction: '4: (61) r0 = *(u32 *)(r1 +0)',
      lines: 9,
    });
    const btf = summariseVerifierLog('magic: 0xeb9f\n[13] STRUCT drm_rect size=16 vlen=4\n\tx1 type_id=2 Invalid member\n');
    assert.equal(btf?.reason, '[13] STRUCT drm_rect size=16 vlen=4: x1 type_id=2 Invalid member');
    assert.equal(btf?.source, undefined);
    assert.equal(summariseVerifierLog('processed 1 insns\n\n'), undefined);
    assert.equal(summariseVerifierLog(''), undefined);
    assert.ok(summariseVerifierLog(`x\n${'R0 '.repeat(1000)}\n`)!.reason.length <= 300, 'a line of register dumps is cut');
  });

  test('SEC("?...") programs are not loaded by default; setAutoload switches any program; a program left unloaded says so', () => {
    const before = fdCount();
    {
      using ebpf = Ebpf.load(obj('autoload.o'));
      const states = [...ebpf.programs()].map(([name, p]) => [name, p.loaded, p.autoload]);
      assert.deepEqual(states, [['always', true, true], ['optional_good', false, false], ['optional_bad', false, false], ['readline_ret', false, false]]);
      assert.equal(ebpf.program('always').testRun({ data: packet }).returnValue, 7);
      const unloaded = thrown(() => ebpf.program('optional_good').testRun({ data: packet }));
      assert.ok(unloaded instanceof ProgramError && unloaded.kind === 'NotLoaded', String(unloaded));
      assert.match(unloaded.message, /optional_good is not loaded \(SEC\("\?socket"\) is not loaded by default: load\(\) loads it\)/);
      ebpf.program('optional_good').load();
      assert.equal(ebpf.program('optional_good').testRun({ data: packet }).returnValue, 9);
      // The optional program that fails stays out of the way until asked for.
      assert.equal(thrown(() => ebpf.program('optional_bad').load()).kind, 'LoadError');
      assert.equal(ebpf.program('always').testRun({ data: packet }).returnValue, 7, 'the object stays loaded');
    }
    {
      using ebpf = new EbpfLoader().setAutoload('optional_good', true).setAutoload('always', false).load(obj('autoload.o'));
      assert.deepEqual([...ebpf.programs()].map(([name, p]) => [name, p.loaded]), [['always', false], ['optional_good', true], ['optional_bad', false], ['readline_ret', false]]);
      assert.match(thrown(() => ebpf.program('always').fd).message, /always is not loaded \(Ebpf.load was told not to load it/);
    }
    const unknown = thrown(() => new EbpfLoader().setAutoload('nope', true).load(obj('autoload.o')));
    assert.ok(unknown instanceof ProgramError && unknown.kind === 'InvalidArgument' && /no program named nope/.test(unknown.message), String(unknown));
    assert.equal(thrown(() => new EbpfLoader().setAutoload('always', 'yes' as unknown as boolean)).kind, 'InvalidArgument');
    assert.equal(fdCount(), before);
  });

  test('malformed inputs are typed errors: testRun data of a string, perf event options of the wrong shape, a uretprobe section without a binary, invalid flags', () => {
    const before = fdCount();
    {
      using ebpf = new EbpfLoader().setAutoload('readline_ret', true).load(obj('autoload.o'));
      const always = ebpf.program('always');
      const data = thrown(() => always.testRun({ data: 'abc' as unknown as Uint8Array }));
      assert.ok(data instanceof ProgramError && data.kind === 'InvalidArgument', String(data));
      assert.match(data.message, /always: testRun option data must be a Uint8Array, got "abc"/);
      const repeat = thrown(() => always.testRun({ data: packet, repeat: -1 }));
      assert.ok(repeat instanceof ProgramError && repeat.kind === 'InvalidArgument', 'repeat -1 would be 2^32 runs');
      const readline = ebpf.program('readline_ret');
      assert.equal(readline.section, '?uretprobe/readline');
      const noBinary = thrown(() => (readline as unknown as { attach: () => unknown }).attach());
      assert.ok(noBinary instanceof ProgramError && noBinary.kind === 'InvalidArgument', String(noBinary));
      assert.match(noBinary.message, /attach needs a target/);
      // Invalid flags: MapError InvalidArgument, for MapData and typed maps alike.
      const slots = ebpf.map('slots');
      for (const flags of [-1, 1.5, 2 ** 64, 'x']) {
        const err = thrown(() => slots.update(new Uint8Array(4), new Uint8Array(4), flags as number));
        assert.ok(err instanceof MapError && err.kind === 'InvalidArgument', `${String(flags)}: ${err}`);
      }
    }
    const perfObject = readdirSync(resolve(repoRoot, 'bpf')).find((f) => f.endsWith('.o') && [...ObjectSpec.parse(readFileSync(obj(f))).programs.values()].some((p) => p.kind === 'PerfEvent'));
    assert.ok(perfObject, 'an object of bpf/ has a perf_event program');
    const spec = ObjectSpec.parse(readFileSync(obj(perfObject!)));
    const name = [...spec.programs.values()].find((p) => p.kind === 'PerfEvent')!.name;
    const l = new EbpfLoader();
    for (const other of spec.programs.keys()) l.setAutoload(other, other === name);
    {
      using ebpf = l.load(obj(perfObject!));
      const perf = ebpf.program(name) as unknown as { attach: (o?: unknown) => unknown };
      for (const options of [undefined, null, {}, { type: 'software' }, { type: 'software', config: 0, samplePeriod: 1, scope: 5 }]) {
        const err = thrown(() => perf.attach(options));
        assert.ok(err instanceof ProgramError && err.kind === 'InvalidArgument', `${JSON.stringify(options)}: ${err}`);
      }
    }
    assert.equal(fdCount(), before);
  });

  test('setGlobal takes the natural JS value of each BTF type: bool, signed and unsigned ints, bigint, char array string, array', () => {
    const run = (loader: EbpfLoader): number => {
      using ebpf = loader.load(obj('typed_globals.o'));
      return ebpf.program('typed').testRun({ data: packet }).returnValue;
    };
    assert.equal(run(new EbpfLoader()), 195, 'the initial values');
    const set = new EbpfLoader()
      .setGlobal('enabled', true)
      .setGlobal('tiny', -100)
      .setGlobal('port', 65535)
      .setGlobal('offset', -1)
      .setGlobal('big', 0x5_0000_0000n)
      .setGlobal('tag', 'A')
      .setGlobal('weights', [0, 0, 0, 9]);
    assert.equal(run(set), (1_000_000 - 100 + 65535 - 1 + 5 + 65 + 9) >>> 0);
    assert.equal(run(new EbpfLoader().setGlobal('big', 2 ** 33).setGlobal('weights', new Uint32Array([0, 0, 0, 1]))), 195 - 1 + 2 - 3);
    const refused: [string, unknown, string, RegExp][] = [
      ['enabled', 2, 'InvalidArgument', /number 2 for a bool/],
      ['enabled', 'yes', 'InvalidArgument', /for a bool \(pass true or false\)/],
      ['tiny', 128, 'InvalidArgument', /does not fit a signed 8-bit integer \(-128\.\.127\)/],
      ['port', -1, 'InvalidArgument', /does not fit an unsigned 16-bit integer/],
      ['big', 2 ** 60, 'InvalidArgument', /not a safe integer \(pass a bigint past 2\^53\)/],
      ['offset', 1.5, 'InvalidArgument', /not a safe integer/],
      ['tag', 'eight ch', 'InvalidArgument', /needs 9 with its NUL, and the variable has 8/],
      ['weights', [1, 2, 3], 'InvalidArgument', /an array of 3 for an array of 4/],
      ['weights', 'abc', 'InvalidArgument', /a string fills char arrays/],
      ['tag', new Uint8Array(3), 'InvalidValueSize', /3 bytes for a variable of 8 bytes/],
      ['offset', null, 'InvalidArgument', /null for a 32-bit integer/],
      ['offset', {}, 'InvalidArgument', /object \[object Object\] for a 32-bit integer/],
    ];
    const before = fdCount();
    for (const [name, value, kind, message] of refused) {
      const err = thrown(() => new EbpfLoader().setGlobal(name, value as number).load(obj('typed_globals.o')));
      assert.ok(err instanceof MapError, `${name} = ${String(value)}: ${err}`);
      assert.equal(err.kind, kind, err.message);
      assert.match(err.message, message);
    }
    assert.equal(fdCount(), before, 'a refused value is found before anything is made');
    const calls = bpfCalls(() => thrown(() => new EbpfLoader().setGlobal('tiny', 1000).load(obj('typed_globals.o'))));
    assert.deepEqual(calls, [], 'checked before any bpf(2) call');
  });
}
