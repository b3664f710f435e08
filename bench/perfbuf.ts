// npm run bench:perfbuf: reading a perf buffer from JavaScript (PerfReader) against
// libbpf's perf_buffer__consume (bench/perfbuf.c, compiled here with gcc -O2 -lbpf),
// on the same work: bpf/perf_output.o's emit_xdp writes n records of a given size
// through bpf_perf_event_output under PROG_TEST_RUN (repeat), then the reader
// consumes them, and only the consumption is timed. Both callbacks read the record's
// first u32 into a sum.
//
// Each case runs in C (a child process, `rounds` rounds) then in this process, pass
// after pass (C, tsbpf, C, tsbpf, ...), so that machine noise falls on both sides; the
// first rounds of each pass are a warm-up left out (WARMUP). The table shows the best round of
// each side, the records per second ratio (tsbpf / C: 1.0 is as fast as libbpf) and
// the same ratio of the median rounds.
//
// Options: --rounds N (timed rounds per pass and side, default 5)
//          --passes N (C/tsbpf alternations, default 4)
//          --quick    (1 pass of 3 rounds)   --json (also print the figures as JSON)
import { release } from 'node:os';
import { join } from 'node:path';
import { best, compileC, median, positiveInt, repoRoot, runC, table } from './common.js';
import { ArrayMap, Ebpf, PerfEventArray, struct, u32, type PerfReader } from '../src/index.js';

const TARGET = 0.8;

interface Case {
  name: string;
  size: number;
  records: number;
  pages: number;
  /** The JS API measured. */
  api: 'read' | 'readRaw';
}

const CASES: Case[] = [
  { name: 'read 16 B', size: 16, records: 25600, pages: 256, api: 'read' },
  { name: 'readRaw 16 B', size: 16, records: 25600, pages: 256, api: 'readRaw' },
  { name: 'read 1 KiB', size: 1024, records: 3840, pages: 1024, api: 'read' },
  { name: 'readRaw 1 KiB', size: 1024, records: 3840, pages: 1024, api: 'readRaw' },
];

interface Options {
  rounds: number;
  passes: number;
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { rounds: 5, passes: 4, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--rounds': o.rounds = positiveInt(a, argv[++i]); break;
      case '--passes': o.passes = positiveInt(a, argv[++i]); break;
      case '--quick': Object.assign(o, { rounds: 3, passes: 1 }); break;
      case '--json': o.json = true; break;
      default: throw new Error(`unknown option ${a} (--rounds N --passes N --quick --json)`);
    }
  }
  return o;
}

const configCodec = struct({ size: u32, count: u32, seq: u32, pad: u32 });

// The callbacks: the same work as bench/perfbuf.c's on_sample (the sum and count in a
// Float64Array, as C keeps them in u64 globals: a `let` holding a double would box it).
const acc = new Float64Array(2);
const onSample = (_cpu: number, data: Uint8Array): void => {
  acc[0] += data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! * 0x1000000);
  acc[1]++;
};
const onSampleRaw = (_cpu: number, buf: Uint8Array, offset: number): void => {
  acc[0] += buf[offset]! | (buf[offset + 1]! << 8) | (buf[offset + 2]! << 16) | (buf[offset + 3]! * 0x1000000);
  acc[1]++;
};
let lost = 0;
const onLost = (_cpu: number, n: number): void => {
  lost += n;
};

/**
 * Warm-up rounds on each side, left out: until every page of a new ring has been
 * touched once (a page's first read from user space faults it in) and the JIT settled.
 */
const WARMUP = 3;

/** WARMUP + `rounds` rounds of one case in this process: ns per record of the timed ones. */
function timeTs(ebpf: Ebpf, c: Case, rounds: number): number[] {
  const count = Math.min(c.records, 256);
  ArrayMap.tryFrom(ebpf.map('config'), configCodec).set(0, { size: c.size, count, seq: 0, pad: 0 });
  const prog = ebpf.program('emit_xdp');
  const packet = new Uint8Array(64);
  const reader: PerfReader = PerfEventArray.tryFrom(ebpf.map('events')).reader({ pageCount: c.pages });
  const out: number[] = [];
  try {
    for (let r = 0; r < WARMUP + rounds; r++) {
      prog.testRun({ data: packet, repeat: c.records / count });
      const before = acc[1]!;
      const t0 = process.hrtime.bigint();
      if (c.api === 'read') reader.read(onSample, onLost);
      else reader.readRaw(onSampleRaw, onLost);
      const t1 = process.hrtime.bigint();
      const n = acc[1]! - before;
      if (n !== c.records) throw new Error(`${c.name}: read ${n} records, expected ${c.records} (lost ${lost})`);
      if (r >= WARMUP) out.push(Number(t1 - t0) / n);
    }
  } finally {
    reader.close();
  }
  return out;
}

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  const root = repoRoot('perfbuf');
  const exe = compileC(root, 'perfbuf', ['-lbpf']);
  const object = join(root, 'bpf', 'perf_output.o');
  console.log(`tsbpf bench/perfbuf: node ${process.version}, linux ${release()}`);
  console.log(`${o.passes} pass(es) × ${o.rounds} round(s) per side, after ${WARMUP} warm-up rounds each; only consumption is timed\n`);

  const ebpf = Ebpf.load(object);
  const ts = new Map<string, number[]>(CASES.map((c) => [c.name, []]));
  const cs = new Map<string, number[]>(CASES.map((c) => [c.name, []]));
  try {
    for (let p = 0; p < o.passes; p++) {
      for (const c of CASES) {
        const fromC = runC<{ ns: number[]; records: number[]; lost: number }>(exe, [object, '-s', String(c.size), '-n', String(c.records), '-p', String(c.pages), '-r', String(o.rounds + WARMUP)]);
        if (fromC.lost || fromC.records.some((n) => n !== c.records)) throw new Error(`C side of ${c.name}: records ${fromC.records.join(',')}, lost ${fromC.lost}`);
        cs.get(c.name)!.push(...fromC.ns.slice(WARMUP));
        ts.get(c.name)!.push(...timeTs(ebpf, c, o.rounds));
      }
    }
  } finally {
    ebpf.close();
  }

  const rows: string[][] = [];
  const figures: Record<string, { tsbpf: number; c: number; ratio: number; medianRatio: number }> = {};
  for (const c of CASES) {
    const t = ts.get(c.name)!;
    const k = cs.get(c.name)!;
    // Records per second, tsbpf over C: the inverse of the ns ratio.
    const ratio = best(k) / best(t);
    const medianRatio = median(k) / median(t);
    figures[c.name] = { tsbpf: best(t), c: best(k), ratio, medianRatio };
    rows.push([c.name, `${c.records} × ${c.size} B`, best(t).toFixed(2), best(k).toFixed(2), (1e3 / best(t)).toFixed(1), (1e3 / best(k)).toFixed(1), ratio.toFixed(3), medianRatio.toFixed(3), ratio >= TARGET ? 'ok' : `< ${TARGET}`]);
  }
  console.log(
    table(
      ['case', 'records', 'tsbpf ns/rec', 'libbpf ns/rec', 'tsbpf M rec/s', 'libbpf M rec/s', 'ratio', 'median ratio', `≥ ${TARGET}`],
      rows,
      [false, false, true, true, true, true, true, true, false],
    ),
  );
  console.log('(best round of each side; ratio = tsbpf records/s ÷ libbpf perf_buffer__consume records/s; median ratio: the same with the median rounds)');
  console.log(`checksum ${acc[0]}, lost ${lost}`);
  if (o.json) console.log(JSON.stringify({ node: process.version, kernel: release(), options: o, figures, rounds: { tsbpf: Object.fromEntries(ts), c: Object.fromEntries(cs) } }));
}

main();
