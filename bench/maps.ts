// npm run bench: tsbpf's map operations against the same bpf(2) system calls made
// from C (bench/maps.c, compiled here with gcc -O2), on the real kernel.
//
// Each case runs in C (one child process serving rounds, bench/serve.h) and through
// tsbpf's public API (this process), in many short rounds that alternate between the
// sides (tsbpf, C, C, tsbpf, ...), both pinned to one CPU, after a warm-up of both.
// Each pair of neighbouring rounds gives a ratio tsbpf / C, in wall time and in CPU
// time (user + system: tsbpf's whole process, whose other threads idle; the C
// process); the table shows the median ratio with its 95% confidence interval, and
// the ratio of the best rounds. Before the table, the system calls of one operation
// of each case are recorded on both sides, under strace when it is installed (else at
// tsbpf's native seam and by the C program itself), in child processes, and compared.
//
// Options: --ops N     (operations per round of the fast cases, default 10000)
//          --sets N    (iterations per round of the map-in-map updates, default 100)
//          --pairs N   (pairs of rounds per case, default 30)
//          --pin CPU   (the CPU both sides run on; default the last one)  --no-pin
//          --case a,b  (only these cases)   --quick (small counts, a smoke test)
//          --json      (also print the figures as JSON)
//          --no-strace (compare system calls at the native seam even if strace is installed)
import { execFileSync } from 'node:child_process';
import { accessSync, readFileSync } from 'node:fs';
import { loadavg, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { best, compileC, CServer, defaultPinCpu, fmtNs, fmtStats, interleave, median, pairStats, pinSelf, positiveInt, repoRoot, runC, table, timeRound, type PairStats, type RoundTime } from './common.js';
import { ArrayMap, ArrayOfMaps, HashMap, MapType, u32, u64 } from '../src/index.js';
import * as sys from '../src/sys/index.js';
import { replaceKernel } from '../src/testing.js';
import { elemBuffer } from '../src/sys/native.js';

// ---- options ---------------------------------------------------------------------

interface Options {
  ops: number;
  sets: number;
  pairs: number;
  /** The CPU both sides are pinned to; undefined: not pinned. */
  pin: number | undefined;
  only: string[] | undefined;
  json: boolean;
  /** Internal: print the system calls of one operation of each case as JSON, and exit. */
  trace: boolean;
  /** Compare the system calls at the native seam even when strace is installed. */
  noStrace: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { ops: 10_000, sets: 100, pairs: 30, pin: defaultPinCpu(), only: undefined, json: false, trace: false, noStrace: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--ops': o.ops = positiveInt(a, argv[++i]); break;
      case '--sets': o.sets = positiveInt(a, argv[++i]); break;
      case '--pairs': o.pairs = positiveInt(a, argv[++i]); break;
      case '--pin': o.pin = Number(argv[++i]); if (!Number.isInteger(o.pin) || o.pin < 0) throw new Error('--pin needs a CPU number'); break;
      case '--no-pin': o.pin = undefined; break;
      case '--case': o.only = (argv[++i] ?? '').split(',').filter(Boolean); break;
      case '--quick': Object.assign(o, { ops: 2_000, sets: 4, pairs: 4 }); break;
      case '--json': o.json = true; break;
      case '--trace': o.trace = true; break;
      case '--no-strace': o.noStrace = true; break;
      default: throw new Error(`unknown option ${a} (--ops N --sets N --pairs N --pin CPU --no-pin --case a,b --quick --json --no-strace)`);
    }
  }
  return o;
}

// ---- the C side ------------------------------------------------------------------

/** The repository root: the first parent of this file holding bench/maps.c (dist/bench/ or bench/). */
// ---- the tsbpf side: the same maps, keys and values as bench/maps.c ----------------

const NKEYS = 1024;
const NSLOTS = 4;
const NINNER = 8;

const arr = ArrayMap.create(u32, { maxEntries: NKEYS });
const hash = HashMap.create(u32, u64, { maxEntries: NKEYS });
const hashVals: bigint[] = [];
for (let k = 0; k < NKEYS; k++) {
  hashVals.push((BigInt(k) << 32n) | BigInt(Math.imul(k, 2654435761) >>> 0));
  hash.insert(k, hashVals[k]);
}
const aom = ArrayOfMaps.create({ maxEntries: 16, innerMap: { type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 4 } });
const inners = Array.from({ length: NINNER }, () => ArrayMap.create(u32, { maxEntries: 4 }));
for (let s = 0; s < NSLOTS; s++) aom.set(s, inners[s]);
// Iteration i of the setMany/4×set cases stores inner maps 0..3 (even i) or 4..7 (odd i).
const batches = [0, 1].map((half) => inners.slice(half * NSLOTS, half * NSLOTS + NSLOTS).map((m, s) => [s, m] as const));

// The floor: BPF_MAP_LOOKUP_ELEM on the array with a flag no kernel knows (bit 62),
// through the raw native seam with the buffers of a real lookup. The addon does all
// its work for an element command; the kernel answers EINVAL at its flags check,
// before it looks at the map.
const einvalAttr = new Uint8Array(32);
const einvalKey = new Uint8Array(4);
const einvalValue = new Uint8Array(4);
const KEY_VALUE = sys.ptrWords(8, 16);
{
  const v = new DataView(einvalAttr.buffer);
  v.setUint32(0, arr.fd, true);
  v.setBigUint64(24, 1n << 62n, true);
}

// One function per case, each with its own loop: no call site of a loop is shared
// between cases (those inside tsbpf are, as in any program using several maps).
function arrayGet(n: number): number {
  let acc = 0;
  for (let i = 0; i < n; i++) acc += arr.get(i & (NKEYS - 1));
  return acc;
}
function arraySet(n: number): number {
  for (let i = 0; i < n; i++) arr.set(i & (NKEYS - 1), i >>> 0);
  return n;
}
function hashGet(n: number): number {
  let last = 0n;
  for (let i = 0; i < n; i++) last = hash.get(i & (NKEYS - 1));
  return Number(last & 1n);
}
function hashSet(n: number): number {
  for (let i = 0; i < n; i++) hash.insert(i & (NKEYS - 1), hashVals[i & (NKEYS - 1)]);
  return n;
}
function hashDelete(n: number): number {
  for (let i = 0; i < n; i++) {
    const k = i & (NKEYS - 1);
    hash.remove(k);
    hash.insert(k, hashVals[k]);
  }
  return n;
}
// MapData: bytes in, a copy of the value out (no codec).
// Views into one buffer each, as C's keys and values sit in one array: 1024 separate
// ArrayBuffers would put each key on a page of its own, and every page touched after a
// system call costs a TLB refill on this VM (README, "The call into the kernel").
const rawKeyStore = new Uint32Array(NKEYS).map((_, k) => k);
const rawValStore = BigUint64Array.from(hashVals);
const rawKeys = Array.from({ length: NKEYS }, (_, k) => new Uint8Array(rawKeyStore.buffer, 4 * k, 4));
const rawVals = hashVals.map((_, k) => new Uint8Array(rawValStore.buffer, 8 * k, 8));
function rawGet(n: number): number {
  let acc = 0;
  for (let i = 0; i < n; i++) acc += arr.map.lookup(rawKeys[i & (NKEYS - 1)])![0];
  return acc;
}
function rawSet(n: number): number {
  for (let i = 0; i < n; i++) hash.map.update(rawKeys[i & (NKEYS - 1)], rawVals[i & (NKEYS - 1)]);
  return n;
}
function aomGet(n: number): number {
  let acc = 0;
  for (let i = 0; i < n; i++) {
    const m = aom.get(i & (NSLOTS - 1));
    acc += m.fd;
    m.close();
  }
  return acc;
}
function aomGetId(n: number): number {
  let acc = 0;
  for (let i = 0; i < n; i++) acc += aom.getId(i & (NSLOTS - 1));
  return acc;
}
function aomSet(n: number): number {
  for (let i = 0; i < n; i++) aom.set(i & (NSLOTS - 1), inners[i & (NINNER - 1)]);
  return n;
}
function aomSetMany4(n: number): number {
  for (let i = 0; i < n; i++) aom.setMany(batches[i & 1]);
  return n;
}
function aomSet4(n: number): number {
  for (let i = 0; i < n; i++) {
    const base = (i & 1) * NSLOTS;
    for (let s = 0; s < NSLOTS; s++) aom.set(s, inners[base + s]);
  }
  return n;
}
function bpfEinval(n: number): number {
  let acc = 0;
  for (let i = 0; i < n; i++) {
    einvalKey[0] = i & 0xff;
    acc += sys.kernel.bpf(sys.Cmd.MapLookupElem, einvalAttr, KEY_VALUE, einvalKey, einvalValue);
  }
  if (acc !== -sys.Errno.EINVAL * n) throw new Error('a lookup with flag bit 62 should fail with EINVAL');
  return acc;
}

// The same floor through the element path (kernel.bpfElem over a registered buffer).
const einvalIo = elemBuffer(48);
{
  const v = new DataView(einvalIo.buffer);
  v.setUint32(0, arr.fd, true);
  v.setUint32(8, 32, true);
  v.setUint32(16, 40, true);
  v.setBigUint64(24, 1n << 62n, true);
}
const einvalKeyByte = new Uint8Array(einvalIo.buffer, 32, 1);
function elemEinval(n: number): number {
  let acc = 0;
  for (let i = 0; i < n; i++) {
    einvalKeyByte[0] = i & 0xff;
    acc += sys.kernel.bpfElem(sys.Cmd.MapLookupElem, einvalIo.handle, 32, KEY_VALUE);
  }
  if (acc !== -sys.Errno.EINVAL * n) throw new Error('a lookup with flag bit 62 should fail with EINVAL');
  return acc;
}

interface Case {
  name: string;
  label: string;
  /** A map-in-map update (RCU grace period): runs --sets iterations. */
  slow: boolean;
  /** Not a tsbpf API: shown apart, as the floor of one call. */
  diagnostic?: boolean;
  /** The ratio to C this case must stay within (TARGET when absent). */
  target?: number;
  run: (n: number) => number;
}

// Element operations: within 1.10 of C; ArrayOfMaps.get + close (three calls and a MapData): 1.15.
const ELEM_TARGET = 1.1;
const CASES: Case[] = [
  { name: 'array_get', label: 'ArrayMap.get (u32)', slow: false, run: arrayGet, target: ELEM_TARGET },
  { name: 'array_set', label: 'ArrayMap.set (u32)', slow: false, run: arraySet, target: ELEM_TARGET },
  { name: 'hash_get', label: 'HashMap.get (u32→u64)', slow: false, run: hashGet, target: ELEM_TARGET },
  { name: 'hash_set', label: 'HashMap.insert (u32→u64)', slow: false, run: hashSet, target: ELEM_TARGET },
  { name: 'hash_delete', label: 'HashMap.remove + insert', slow: false, run: hashDelete, target: ELEM_TARGET },
  { name: 'raw_get', label: 'MapData.lookup (array, bytes)', slow: false, run: rawGet, target: ELEM_TARGET },
  { name: 'raw_set', label: 'MapData.update (hash, bytes)', slow: false, run: rawSet, target: ELEM_TARGET },
  { name: 'aom_get', label: 'ArrayOfMaps.get + close', slow: false, run: aomGet, target: 1.15 },
  { name: 'aom_get_id', label: 'ArrayOfMaps.getId', slow: false, run: aomGetId, target: ELEM_TARGET },
  { name: 'aom_set', label: 'ArrayOfMaps.set', slow: true, run: aomSet },
  { name: 'aom_set_many4', label: 'ArrayOfMaps.setMany (4 slots)', slow: true, run: aomSetMany4 },
  { name: 'aom_set4', label: '4 × ArrayOfMaps.set', slow: true, run: aomSet4 },
  { name: 'bpf_einval', label: 'floor: raw lookup, bad flag → EINVAL', slow: false, diagnostic: true, run: bpfEinval },
  { name: 'elem_einval', label: 'the same through kernel.bpfElem', slow: false, diagnostic: true, run: elemEinval },
];

// ---- the syscalls of one operation, both sides -----------------------------------
// Two ways to see them. At the native seam: tsbpf's calls through sys.kernel, and the
// C program's own record (-t). Under strace, when it is installed: every system call
// of the main thread, so that calls made inside the addon count too. Each side runs
// an operation once untraced, then calls access() on a marker path naming the case,
// runs the traced operation, and calls access() on the marker path ".../end"; the
// markers cut the strace log by case.

const MARKER = '/nonexistent/tsbpf-bench-marker/';
// What V8 and libuv do on the main thread now and then, unrelated to the operation.
const STRACE_IGNORED = new Set(['mmap', 'munmap', 'mprotect', 'madvise', 'brk', 'futex', 'rt_sigprocmask', 'getpid']);

function mark(name: string): void {
  try {
    accessSync(MARKER + name);
  } catch {
    // ENOENT: the call is the point.
  }
}

const CMD_NAMES: Record<number, string> = {
  [sys.Cmd.MapLookupElem]: 'MAP_LOOKUP_ELEM',
  [sys.Cmd.MapUpdateElem]: 'MAP_UPDATE_ELEM',
  [sys.Cmd.MapDeleteElem]: 'MAP_DELETE_ELEM',
  [sys.Cmd.MapGetFdById]: 'MAP_GET_FD_BY_ID',
  [sys.Cmd.MapUpdateBatch]: 'MAP_UPDATE_BATCH',
};

// Replacing the kernel makes the `kernel.bpf` call sites of src/sys/bpf.ts see a second
// receiver and target; optimised code built on that feedback calls the addon more
// slowly. So this runs only in a child process (--trace), never before the timings.
function traceTs(c: Case): string[] {
  c.run(1);
  mark(c.name);
  const calls: string[] = [];
  const real = sys.kernel;
  const restore = replaceKernel({
    bpf: (cmd, attr, ptrMask, ...buffers) => {
      calls.push(`${CMD_NAMES[cmd] ?? `CMD_${cmd}`}/${attr.length}`);
      return real.bpf(cmd, attr, ptrMask, ...buffers);
    },
    bpfIo: (cmd, io, attrLen, ptrMask) => {
      calls.push(`${CMD_NAMES[cmd] ?? `CMD_${cmd}`}/${attrLen}`);
      return real.bpfIo(cmd, io, attrLen, ptrMask);
    },
    bpfElem: (cmd, handle, attrLen, ptrMask) => {
      calls.push(`${CMD_NAMES[cmd] ?? `CMD_${cmd}`}/${attrLen}`);
      return real.bpfElem(cmd, handle, attrLen, ptrMask);
    },
    close: (fd) => {
      calls.push('close');
      return real.close(fd);
    },
  });
  try {
    c.run(1);
  } finally {
    restore();
    mark('end');
  }
  return calls;
}

function haveStrace(): boolean {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The calls of the main thread between markers, by case: "MAP_LOOKUP_ELEM/32" for bpf, else the name. */
function parseStrace(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  let main: string | undefined;
  let current: string[] | undefined;
  for (const line of text.split('\n')) {
    const m = /^(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, pid, call] = m;
    main ??= pid;
    if (pid !== main) continue;
    const at = call.indexOf(MARKER);
    if (at >= 0) {
      const name = call.slice(at + MARKER.length).split('"')[0];
      current = name === 'end' ? undefined : (out[name] = []);
      continue;
    }
    if (!current || call.startsWith('<...') || call.startsWith('---') || call.startsWith('+++')) continue;
    const name = /^(\w+)\(/.exec(call)?.[1];
    if (!name || STRACE_IGNORED.has(name)) continue;
    if (name === 'bpf') {
      const cmd = /^bpf\(BPF_(\w+)/.exec(call)?.[1] ?? '?';
      const sizes = [...call.matchAll(/(\d+)(?:\)\s*=|\s*<unfinished)/g)];
      current.push(`${cmd}/${sizes.length ? sizes[sizes.length - 1][1] : '?'}`);
    } else {
      current.push(name);
    }
  }
  return out;
}

function straceRun(log: string, argv: string[]): Record<string, string[]> {
  execFileSync('strace', ['-f', '-qq', '-o', log, ...argv], { stdio: ['ignore', 'ignore', 'inherit'] });
  return parseStrace(readFileSync(log, 'utf8'));
}

/** The calls of one operation of each case on both sides, and how they were seen. */
function traceBoth(root: string, exe: string, names: string, useStrace: boolean): { how: string; ts: Record<string, string[]>; c: Record<string, string[]> } {
  const tsArgv = [process.execPath, fileURLToPath(import.meta.url), '--trace', '--case', names];
  if (useStrace && haveStrace()) {
    const out = join(root, 'bench', 'out');
    return {
      how: 'strace, all system calls of the main thread (V8 memory management and futex calls ignored)',
      ts: straceRun(join(out, 'tsbpf.strace'), tsArgv),
      c: straceRun(join(out, 'c.strace'), [exe, '-t', '-c', names]),
    };
  }
  return {
    how: `the native seam (sys.kernel) and the C program's own record (${useStrace ? 'strace is not installed' : '--no-strace'})`,
    ts: JSON.parse(execFileSync(tsArgv[0], tsArgv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })) as Record<string, string[]>,
    c: runC<Record<string, string[]>>(exe, ['-t', '-c', names]),
  };
}

// ---- main ------------------------------------------------------------------------

const TARGET = 1.25;
const fmtNs3 = (ns: number) => fmtNs(ns, 3);
/** What the cases return, kept so that no loop's work is dead. */
let sink = 0;

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  const cases = o.only ? CASES.filter((c) => o.only!.includes(c.name)) : CASES;
  if (o.only && cases.length !== o.only.length) throw new Error(`unknown case in --case; cases: ${CASES.map((c) => c.name).join(', ')}`);
  if (o.trace) {
    const calls = Object.fromEntries(cases.map((c) => [c.name, traceTs(c)]));
    console.log(JSON.stringify(calls));
    return;
  }

  const root = repoRoot('maps');
  const exe = compileC(root, 'maps');
  console.log(`tsbpf bench/maps: node ${process.version}, linux ${release()}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(
    `${o.ops} operations per round (${o.sets} iterations for map-in-map updates), ${o.pairs} pairs of rounds per case, ` +
      `alternating sides; ${o.pin === undefined ? 'not pinned' : `both sides pinned to CPU ${o.pin}`}\n`,
  );

  // Same system calls on both sides?
  const trace = traceBoth(root, exe, cases.map((c) => c.name).join(','), !o.noStrace);
  const cTrace = trace.c;
  const differ = cases.filter((c) => JSON.stringify(trace.ts[c.name] ?? []) !== JSON.stringify(cTrace[c.name] ?? []));
  console.log(`system calls of one operation (bpf: command/attr bytes), seen through ${trace.how}:`);
  for (const c of cases) {
    const cc = (cTrace[c.name] ?? []).join(', ') || '(none)';
    if (!differ.includes(c)) console.log(`  ${c.name.padEnd(14)} ${cc}`);
    else console.log(`  ${c.name.padEnd(14)} DIFFER: tsbpf ${(trace.ts[c.name] ?? []).join(', ') || '(none)'}; C ${cc}`);
  }
  console.log(
    differ.length
      ? `  WARNING: the two sides do not make the same system calls for ${differ.map((c) => c.name).join(', ')}: their figures do not compare like for like\n`
      : '  the same on both sides. tsbpf also registers each MapData that ArrayOfMaps.get returns with a FinalizationRegistry, the safety net for unclosed fds (no system call)\n',
  );

  if (o.pin !== undefined) pinSelf(o.pin);
  const server = new CServer(exe, [], o.pin);
  const rounds = new Map<string, { ts: RoundTime[]; c: RoundTime[] }>();
  try {
    for (const c of cases) {
      const n = c.slow ? o.sets : o.ops;
      const tsRound = () =>
        timeRound(() => {
          sink += c.run(n);
          return n;
        });
      const cRound = () => server.round(c.name, n);
      // Warm-up: the JIT on one side, caches and the kernel's paths on both.
      for (let w = 0; w < 3; w++) {
        tsRound();
        cRound();
      }
      rounds.set(c.name, interleave(o.pairs, tsRound, cRound));
      if (process.stderr.isTTY) process.stderr.write(`\r${c.name}`.padEnd(40));
    }
  } finally {
    server.close();
  }
  if (process.stderr.isTTY) process.stderr.write('\r'.padEnd(41) + '\r');

  const rows: string[][] = [];
  const figures: Record<string, { tsbpf: number; c: number; bestRatio: number; wall: PairStats; cpu: PairStats; tsCpu: number; cCpu: number }> = {};
  const verdicts: string[] = [];
  for (const c of cases) {
    const r = rounds.get(c.name)!;
    const wall = pairStats(r.ts.map((t, i) => t.wall / r.c[i]!.wall));
    const cpu = pairStats(r.ts.map((t, i) => t.cpu / r.c[i]!.cpu));
    const tsWall = r.ts.map((t) => t.wall);
    const cWall = r.c.map((t) => t.wall);
    const bestRatio = best(tsWall) / best(cWall);
    figures[c.name] = { tsbpf: median(tsWall), c: median(cWall), bestRatio, wall, cpu, tsCpu: median(r.ts.map((t) => t.cpu)), cCpu: median(r.c.map((t) => t.cpu)) };
    const target = c.target ?? TARGET;
    // Shown: the whole interval within the target, in wall and in CPU time.
    const verdict = c.diagnostic
      ? ''
      : wall.hi <= target && cpu.hi <= target
        ? `met (≤ ${target})`
        : wall.median <= target && cpu.median <= target
          ? `median ≤ ${target}, not shown`
          : `> ${target}`;
    if (!c.diagnostic) verdicts.push(`${c.name}: ${verdict}`);
    rows.push([
      c.diagnostic ? `(${c.name})` : c.name,
      c.label,
      fmtNs3(median(tsWall)),
      fmtNs3(median(cWall)),
      fmtStats(wall),
      bestRatio.toFixed(3),
      fmtStats(cpu),
      verdict,
    ]);
  }
  console.log(
    table(['case', 'tsbpf API', 'tsbpf ns/op', 'C ns/op', 'wall ratio [95%]', 'best/best', 'CPU ratio [95%]', 'target'], rows, [false, false, true, true, true, true, true, false]),
  );
  console.log(
    '(ns/op: median round of each side, wall time; ratios tsbpf / C: median of the per-pair ratios with the 95% interval of that median;\n' +
      ' best/best: best round of each side; CPU: user + system time of each process)',
  );
  const elemFloor = figures['elem_einval'];
  if (elemFloor) {
    console.log(
      `floor through kernel.bpfElem (the element path): ${fmtNs3(elemFloor.tsbpf)} against ${fmtNs3(elemFloor.c)} from C: ` +
        `${fmtNs3(elemFloor.tsbpf - elemFloor.c)} more per call (medians; CPU time ${fmtNs3(elemFloor.tsCpu - elemFloor.cCpu)})`,
    );
  }
  const floor = figures['bpf_einval'];
  if (floor) {
    console.log(
      `floor: one BPF_MAP_LOOKUP_ELEM that the kernel rejects at its flags check costs ${fmtNs3(floor.tsbpf)} through ` +
        `sys.kernel.bpf and ${fmtNs3(floor.c)} from C: ${fmtNs3(floor.tsbpf - floor.c)} more per bpf() call from JS`,
    );
  }

  const many = figures['aom_set_many4'];
  const four = figures['aom_set4'];
  if (many && four) {
    console.log('\nsetMany(4 slots) vs 4 × set (one BPF_MAP_UPDATE_BATCH = one RCU grace period, against four):');
    console.log(
      table(
        ['', 'setMany(4)', '4 × set', 'speed-up'],
        [
          ['tsbpf', fmtNs3(many.tsbpf), fmtNs3(four.tsbpf), `${(four.tsbpf / many.tsbpf).toFixed(2)}×`],
          ['C', fmtNs3(many.c), fmtNs3(four.c), `${(four.c / many.c).toFixed(2)}×`],
        ],
        [false, true, true, true],
      ),
    );
  }

  console.log(`\ntargets (wall and CPU intervals): ${verdicts.join('; ')}`);
  if (sink === 0.5) console.log('');
  if (o.json) {
    console.log(JSON.stringify({ node: process.version, kernel: release(), options: o, figures, rounds: Object.fromEntries(rounds) }));
  }
}

try {
  main();
} finally {
  aom.close();
  for (const m of inners) m.close();
  hash.close();
  arr.close();
}
