// npm run bench:batch: batch lookups, memory-mapped arrays and global variables
// through tsbpf's public API, against the same work in C (bench/batch.c, gcc -O2) on
// the same kernel.
//
//   batch_lookup   a walk of a HASH(u32 -> u64) of N entries by BPF_MAP_LOOKUP_BATCH,
//                  B elements a call (ns per element): raw (MapData.lookupBatch into
//                  buffers, as C does), typed (HashMap.getBatch, decoded to numbers and
//                  bigints) and entries() (batches of 1024, one [key, value] per element)
//   key_by_key     the same walk a key at a time (C: GET_NEXT_KEY + LOOKUP_ELEM; tsbpf:
//                  keys() + get()), for the speed-up batches give
//   mmap_*         ArrayMap.memory() get / set of a u32 (and u64) array against a
//                  volatile pointer access in C, and against ArrayMap.get (a lookup)
//   variable_*     Ebpf.variable('data_a') get / set (a u32 in .data, bpf/globals.o)
//
// Rounds alternate between the sides, pair by pair (tsbpf, C, C, tsbpf, ...), with one
// C process serving its rounds (bench/serve.h), both pinned to one CPU; each pair gives
// a ratio, and the table shows the median ratio with its 95% interval (wall and CPU
// time), the median rounds and the ratio of the best rounds.
//
// Options: --entries N (default 100000)  --batch B (default 1024)  --pairs N (15)
//          --accesses N (mmap accesses per round, default 2000000)
//          --pin CPU (default the last)  --no-pin  --quick  --json
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { best, compileC, CServer, defaultPinCpu, fmtNs, fmtStats, interleave, median, pairStats, pinSelf, positiveInt, repoRoot, table, timeRound, type RoundTime } from './common.js';
import { ArrayMap, Ebpf, HashMap, MapBatchCursor, MapFlags, u32, u64 } from '../src/index.js';

interface Options {
  entries: number;
  batch: number;
  pairs: number;
  accesses: number;
  pin: number | undefined;
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { entries: 100_000, batch: 1024, pairs: 15, accesses: 2_000_000, pin: defaultPinCpu(), json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--entries': o.entries = positiveInt(a, argv[++i]); break;
      case '--batch': o.batch = positiveInt(a, argv[++i]); break;
      case '--pairs': o.pairs = positiveInt(a, argv[++i]); break;
      case '--accesses': o.accesses = positiveInt(a, argv[++i]); break;
      case '--pin': o.pin = Number(argv[++i]); if (!Number.isInteger(o.pin) || o.pin < 0) throw new Error('--pin needs a CPU number'); break;
      case '--no-pin': o.pin = undefined; break;
      case '--quick': Object.assign(o, { entries: 20_000, pairs: 3, accesses: 200_000 }); break;
      case '--json': o.json = true; break;
      default: throw new Error(`unknown option ${a} (--entries N --batch B --pairs N --accesses N --pin CPU --no-pin --quick --json)`);
    }
  }
  return o;
}

const o = parseArgs(process.argv.slice(2));
const root = repoRoot('batch');
const exe = compileC(root, 'batch');
const NSLOTS = 4096;

// ---- the tsbpf side: the same map, keys and values as bench/batch.c ---------------

const hash = HashMap.create(u32, u64, { maxEntries: o.entries });
{
  const keys: number[] = [];
  const values: bigint[] = [];
  for (let k = 0; k < o.entries; k++) {
    keys.push(k);
    values.push((BigInt(k) << 32n) | BigInt(Math.imul(k, 2654435761) >>> 0));
  }
  for (let at = 0; at < keys.length; at += 10_000) hash.insertBatch(keys.slice(at, at + 10_000), values.slice(at, at + 10_000));
}
const arr32 = ArrayMap.create(u32, { maxEntries: NSLOTS, flags: MapFlags.BPF_F_MMAPABLE });
const arr64 = ArrayMap.create(u64, { maxEntries: NSLOTS, flags: MapFlags.BPF_F_MMAPABLE });
const mem32 = arr32.memory();
const mem64 = arr64.memory();
const ebpf = Ebpf.load(resolve(root, 'bpf', 'globals.o'));
const dataA = ebpf.variable<number>('data_a');

const keysBuf = new Uint8Array(o.batch * 4);
const valuesBuf = new Uint8Array(o.batch * 8);

type Case = () => number; // runs once, returns the elements or accesses done

const cases: Record<string, Case> = {
  batch_raw: () => {
    const c = new MapBatchCursor();
    let n = 0;
    while (!c.done) n += hash.map.lookupBatch(c, keysBuf, valuesBuf, o.batch);
    return n;
  },
  batch_typed: () => {
    const c = new MapBatchCursor();
    let n = 0;
    while (!c.done) n += hash.getBatch(c, o.batch).keys.length;
    return n;
  },
  entries: () => {
    let n = 0;
    for (const _ of hash.entries()) n++;
    return n;
  },
  key_by_key: () => {
    let n = 0;
    let sum = 0n;
    for (const k of hash.keys()) {
      sum += hash.get(k);
      n++;
    }
    return sum === -1n ? 0 : n;
  },
  mmap_read: () => {
    let sum = 0;
    for (let i = 0; i < o.accesses; i++) sum += mem32.get(i & (NSLOTS - 1));
    return sum === -1 ? 0 : o.accesses;
  },
  mmap_write: () => {
    for (let i = 0; i < o.accesses; i++) mem32.set(i & (NSLOTS - 1), i >>> 0);
    return o.accesses;
  },
  mmap_read64: () => {
    let sum = 0n;
    const n = o.accesses / 4; // bigints allocate: fewer
    for (let i = 0; i < n; i++) sum += mem64.get(i & (NSLOTS - 1));
    return sum === -1n ? 0 : n;
  },
  raw_view_read: () => {
    const view = mem32.memory.view;
    let sum = 0;
    for (let i = 0; i < o.accesses; i++) sum += view.getUint32((i & (NSLOTS - 1)) * 4, true);
    return sum === -1 ? 0 : o.accesses;
  },
  syscall_get: () => {
    const n = 20_000;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += arr32.get(i & (NSLOTS - 1));
    return sum === -1 ? 0 : n;
  },
  variable_get: () => {
    let sum = 0;
    const n = o.accesses / 4;
    for (let i = 0; i < n; i++) sum += dataA.get();
    return sum === -1 ? 0 : n;
  },
  variable_set: () => {
    const n = o.accesses / 4;
    for (let i = 0; i < n; i++) dataA.set(i & 0xffff);
    return n;
  },
};

// Each tsbpf case against the C case doing the same work, and the C round's count
// (walks for the map walks, accesses for the rest).
const against: Record<string, [c: string, n: number] | undefined> = {
  batch_raw: ['batch_lookup', 1],
  batch_typed: ['batch_lookup', 1],
  entries: ['batch_lookup', 1],
  key_by_key: ['key_by_key', 1],
  mmap_read: ['mmap_read', o.accesses],
  mmap_write: ['mmap_write', o.accesses],
  mmap_read64: ['mmap_read64', o.accesses / 4],
  raw_view_read: ['mmap_read', o.accesses],
  syscall_get: undefined,
  variable_get: ['mmap_read', o.accesses / 4],
  variable_set: ['mmap_write', o.accesses / 4],
};
const labels: Record<string, string> = {
  batch_raw: `batch lookup, ${o.batch} a call: raw buffers (MapData.lookupBatch)`,
  batch_typed: `batch lookup, ${o.batch} a call: typed (HashMap.getBatch)`,
  entries: 'entries() (batches of 1024)',
  key_by_key: 'key by key (keys() + get())',
  mmap_read: 'memory() get, u32',
  mmap_write: 'memory() set, u32',
  mmap_read64: 'memory() get, u64 (bigint)',
  raw_view_read: 'memory().view.getUint32 (raw)',
  syscall_get: 'ArrayMap.get (a lookup syscall)',
  variable_get: 'variable(data_a).get()',
  variable_set: 'variable(data_a).set()',
};

if (o.pin !== undefined) pinSelf(o.pin);
const server = new CServer(exe, ['-n', String(o.entries), '-b', String(o.batch)], o.pin);
const rounds: Record<string, { ts: RoundTime[]; c: RoundTime[] }> = {};
try {
  for (const name of Object.keys(cases)) {
    const tsRound = () => timeRound(cases[name]!);
    const pair = against[name];
    const cRound = pair ? () => server.round(pair[0], pair[1]) : () => ({ wall: NaN, cpu: NaN });
    for (let w = 0; w < 2; w++) {
      tsRound();
      cRound();
    }
    rounds[name] = interleave(o.pairs, tsRound, cRound);
  }
} finally {
  server.close();
}

const rows: string[][] = [];
const fig: Record<string, { ts: number; c: number }> = {};
for (const name of Object.keys(cases)) {
  const r = rounds[name]!;
  const ts = median(r.ts.map((x) => x.wall));
  const c = median(r.c.map((x) => x.wall));
  fig[name] = { ts, c };
  if (!against[name]) {
    rows.push([labels[name]!, fmtNs(ts), '', '', '', '']);
    continue;
  }
  const wall = pairStats(r.ts.map((x, i) => x.wall / r.c[i]!.wall));
  const cpu = pairStats(r.ts.map((x, i) => x.cpu / r.c[i]!.cpu));
  const bestRatio = best(r.ts.map((x) => x.wall)) / best(r.c.map((x) => x.wall));
  rows.push([labels[name]!, fmtNs(ts), fmtNs(c), fmtStats(wall), bestRatio.toFixed(2), fmtStats(cpu)]);
}
const x = (a: number, b: number) => `${(a / b).toFixed(1)}×`;
console.log(
  `${o.entries} entries (HASH u32 -> u64), ${o.pairs} pairs of rounds a case, alternating sides, ` +
    `${o.pin === undefined ? 'not pinned' : `both pinned to CPU ${o.pin}`}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ns per element or access (median rounds)\n`,
);
console.log(table(['case', 'tsbpf', 'C', 'wall tsbpf/C [95%]', 'best/best', 'CPU tsbpf/C [95%]'], rows, [false, true, true, true, true, true]));
console.log('(ratios: median of the per-pair ratios and the 95% interval of that median; best/best: best round of each side)');
const k = fig['key_by_key']!;
console.log(
  `\nbatches against key by key: tsbpf ${x(k.ts, fig['batch_typed']!.ts)} faster typed (${x(k.ts, fig['batch_raw']!.ts)} raw, ` +
    `${x(k.ts, fig['entries']!.ts)} entries()); C ${x(k.c, fig['batch_raw']!.c)}`,
);
console.log(`memory() get against a lookup: ${x(fig['syscall_get']!.ts, fig['mmap_read']!.ts)} faster`);
if (o.json) console.log(JSON.stringify(rounds));

hash.close();
arr32.close();
arr64.close();
ebpf.close();
