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
// Rounds are interleaved: a C process, then tsbpf, per pass; the best round of each
// side is shown, and the ratio of the bests.
//
// Options: --entries N (default 100000)  --batch B (default 1024)  --rounds N (3)
//          --passes N (2)  --accesses N (mmap accesses per round, default 20000000)
//          --quick  --json
import { resolve } from 'node:path';
import { best, compileC, fmtNs, positiveInt, repoRoot, runC, table } from './common.js';
import { ArrayMap, Ebpf, HashMap, MapBatchCursor, MapFlags, u32, u64 } from '../src/index.js';

interface Options {
  entries: number;
  batch: number;
  rounds: number;
  passes: number;
  accesses: number;
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { entries: 100_000, batch: 1024, rounds: 3, passes: 2, accesses: 20_000_000, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--entries': o.entries = positiveInt(a, argv[++i]); break;
      case '--batch': o.batch = positiveInt(a, argv[++i]); break;
      case '--rounds': o.rounds = positiveInt(a, argv[++i]); break;
      case '--passes': o.passes = positiveInt(a, argv[++i]); break;
      case '--accesses': o.accesses = positiveInt(a, argv[++i]); break;
      case '--quick': Object.assign(o, { entries: 20_000, rounds: 2, passes: 1, accesses: 2_000_000 }); break;
      case '--json': o.json = true; break;
      default: throw new Error(`unknown option ${a} (--entries N --batch B --rounds N --passes N --accesses N --quick --json)`);
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
    const n = 200_000;
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

function timeTs(name: string): number {
  const fn = cases[name]!;
  const t = process.hrtime.bigint();
  const n = fn();
  return Number(process.hrtime.bigint() - t) / n;
}

// ---- interleaved passes -------------------------------------------------------------

const cRounds: Record<string, number[]> = {};
const tsRounds: Record<string, number[]> = {};
for (const name of Object.keys(cases)) timeTs(name); // warm-up (JIT)
for (let pass = 0; pass < o.passes; pass++) {
  const c = runC<Record<string, number[]>>(exe, ['-n', String(o.entries), '-b', String(o.batch), '-r', String(o.rounds), '-a', String(o.accesses)]);
  for (const [k, v] of Object.entries(c)) (cRounds[k] ??= []).push(...v);
  for (let r = 0; r < o.rounds; r++) for (const name of Object.keys(cases)) (tsRounds[name] ??= []).push(timeTs(name));
}

const c = (k: string) => best(cRounds[k]!);
const t = (k: string) => best(tsRounds[k]!);
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
const rows: string[][] = [
  [`batch lookup, ${o.batch} a call: raw buffers (MapData.lookupBatch)`, fmtNs(t('batch_raw')), fmtNs(c('batch_lookup')), ratio(t('batch_raw'), c('batch_lookup'))],
  [`batch lookup, ${o.batch} a call: typed (HashMap.getBatch)`, fmtNs(t('batch_typed')), fmtNs(c('batch_lookup')), ratio(t('batch_typed'), c('batch_lookup'))],
  ['entries() (batches of 1024)', fmtNs(t('entries')), fmtNs(c('batch_lookup')), ratio(t('entries'), c('batch_lookup'))],
  ['key by key (keys() + get())', fmtNs(t('key_by_key')), fmtNs(c('key_by_key')), ratio(t('key_by_key'), c('key_by_key'))],
  ['memory() get, u32', fmtNs(t('mmap_read')), fmtNs(c('mmap_read')), ratio(t('mmap_read'), c('mmap_read'))],
  ['memory() set, u32', fmtNs(t('mmap_write')), fmtNs(c('mmap_write')), ratio(t('mmap_write'), c('mmap_write'))],
  ['memory() get, u64 (bigint)', fmtNs(t('mmap_read64')), fmtNs(c('mmap_read64')), ratio(t('mmap_read64'), c('mmap_read64'))],
  ['memory().view.getUint32 (raw)', fmtNs(t('raw_view_read')), fmtNs(c('mmap_read')), ratio(t('raw_view_read'), c('mmap_read'))],
  ['ArrayMap.get (a lookup syscall)', fmtNs(t('syscall_get')), '', ''],
  ['variable(data_a).get()', fmtNs(t('variable_get')), fmtNs(c('mmap_read')), ratio(t('variable_get'), c('mmap_read'))],
  ['variable(data_a).set()', fmtNs(t('variable_set')), fmtNs(c('mmap_write')), ratio(t('variable_set'), c('mmap_write'))],
];
console.log(`${o.entries} entries (HASH u32 -> u64), best of ${o.rounds * o.passes} rounds a side, interleaved; ns per element or access\n`);
console.log(table(['case', 'tsbpf', 'C', 'tsbpf / C'], rows, [false, true, true, true]));
console.log(`\nbatches against key by key: tsbpf ${ratio(t('key_by_key'), t('batch_typed'))} faster typed (${ratio(t('key_by_key'), t('batch_raw'))} raw, ${ratio(t('key_by_key'), t('entries'))} entries()); C ${ratio(c('key_by_key'), c('batch_lookup'))}`);
console.log(`memory() get against a lookup: ${ratio(t('syscall_get'), t('mmap_read'))} faster`);
if (o.json) console.log(JSON.stringify({ c: cRounds, tsbpf: tsRounds }));

hash.close();
arr32.close();
arr64.close();
ebpf.close();
