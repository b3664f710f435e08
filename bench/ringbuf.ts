// npm run bench:ringbuf: tsbpf's RingBuf against libbpf's ring_buffer (bench/ringbuf.c,
// compiled here with gcc -O2 -lbpf), on records written by the same BPF program
// (bpf/ringbuf.o `produce`, a syscall program run with BPF_PROG_TEST_RUN) into a
// 4 MiB ring, 16-byte, 128-byte and 1 KiB records:
//
//   consume  the ring filled by test runs (9/10 of it), then only the consumption is
//            timed, again until COUNT records: tsbpf drain (a view per record), drainRaw
//            (no object per record) and next() (a copy per record) against
//            ring_buffer__consume
//   pc       produce then consume in one thread: a test run of 64 records, then a
//            drain, until COUNT records
//   xcpu     producer and consumer on two CPUs: a producer process (bench/ringbuf.c's
//            `produce` loop, test runs of 64 records, each started when the ring has
//            room for it, so nothing is dropped, each asking for one wakeup, on its
//            last record, so that both consumers get as many) and this thread waiting for the
//            kernel's wakeups: tsbpf through the event loop (RingBufPoller.run, and
//            records() which copies each record) against ring_buffer__poll; timed from
//            the first record consumed to the last. The slower of producer and consumer
//            sets the pace; the consumer's CPU time per record (process-wide: every
//            thread of node) is printed as well.
//
// Every callback reads the record's first byte (the C one its first u32). Before the
// rounds each side produces and consumes twice the ring's size, so that no page fault
// of the mapping's first touch is timed. C and tsbpf alternate pass by pass; the table
// shows the median of each side's rounds, the best, and the ratio of tsbpf's
// records per second to libbpf's (1.0: as fast; above: faster).
//
// Options: --rounds N (per pass and side, default 5)  --passes N (default 3)
//          --case a,b  --quick  --json
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { compileC, median, positiveInt, repoRoot, runC, table } from './common.js';
import { EbpfLoader, RingBuf, RingBufPoller, Syscall, type Ebpf } from '../src/index.js';

interface Options {
  rounds: number;
  passes: number;
  only: string[] | undefined;
  json: boolean;
  quick: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { rounds: 5, passes: 3, only: undefined, json: false, quick: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--rounds': o.rounds = positiveInt(a, argv[++i]); break;
      case '--passes': o.passes = positiveInt(a, argv[++i]); break;
      case '--case': o.only = (argv[++i] ?? '').split(',').filter(Boolean); break;
      case '--quick': Object.assign(o, { rounds: 2, passes: 1, quick: true }); break;
      case '--json': o.json = true; break;
      default: throw new Error(`unknown option ${a} (--rounds N --passes N --case a,b --quick --json)`);
    }
  }
  if (o.rounds > 64) throw new Error('--rounds: at most 64');
  return o;
}

const RING_SIZE = 4 << 20;
const BATCH = 64;
const FILL_CHUNK = 65536;

interface Case {
  name: string;
  mode: 'consume' | 'pc' | 'xcpu';
  size: number;
  count: number;
}

const CASES: Case[] = [
  { name: 'consume 16 B', mode: 'consume', size: 16, count: 150_000 },
  { name: 'consume 128 B', mode: 'consume', size: 128, count: 100_000 },
  { name: 'consume 1 KiB', mode: 'consume', size: 1024, count: 30_000 },
  { name: 'produce+consume 16 B', mode: 'pc', size: 16, count: 100_000 },
  { name: 'produce+consume 1 KiB', mode: 'pc', size: 1024, count: 20_000 },
  { name: 'two CPUs 16 B', mode: 'xcpu', size: 16, count: 300_000 },
  { name: 'two CPUs 1 KiB', mode: 'xcpu', size: 1024, count: 30_000 },
];

interface CResult {
  ns: number[];
  cpu: number[];
  drops: number[];
  records: number[];
}

const root = repoRoot('ringbuf');
const objectPath = join(root, 'bpf', 'ringbuf.o');

/** The producer object, its program with a reusable argument buffer, and the ring. */
class Producer {
  readonly ebpf: Ebpf;
  readonly prog: Syscall;
  readonly rb: RingBuf;
  readonly #args = new Uint8Array(32);
  readonly #view = new DataView(this.#args.buffer);

  constructor() {
    this.ebpf = new EbpfLoader().setMaxEntries('rb', RING_SIZE).load(objectPath);
    this.prog = this.ebpf.program('produce') as Syscall;
    this.rb = RingBuf.tryFrom(this.ebpf.map('rb'));
  }

  /** One test run of `count` records; the records the ring refused. */
  produce(size: number, count: number): number {
    this.#view.setUint32(0, count, true);
    this.#view.setUint32(4, size, true);
    this.prog.run(this.#args);
    return this.#view.getUint32(28, true);
  }

  warm(size: number): void {
    const warm = (2 * RING_SIZE) / ((size + 15) & ~7);
    for (let done = 0; done < warm; done += FILL_CHUNK / 4) {
      this.produce(size, FILL_CHUNK / 4);
      this.rb.drainAll(() => {});
    }
  }

  close(): void {
    this.rb.close();
    this.ebpf.close();
  }
}

let sum = 0;
let seen = 0;
const onRecord = (r: Uint8Array): void => {
  sum += r[0]!;
  seen++;
};
// The two-CPU case reads the clock at the first record and the last expected one only.
let expected = 0;
let first = 0;
let last = 0;
const onTimed = (r: Uint8Array): void => {
  sum += r[0]!;
  if (++seen === 1) first = performance.now();
  else if (seen === expected) last = performance.now();
};
const onRaw = (bytes: Uint8Array, offset: number): void => {
  sum += bytes[offset]!;
  seen++;
};

type Variant = 'drain' | 'drainRaw' | 'next' | 'poller' | 'records';

const variantsOf = (mode: Case['mode']): Variant[] => (mode === 'consume' ? ['drain', 'drainRaw', 'next'] : mode === 'pc' ? ['drain', 'drainRaw'] : ['poller', 'records']);

/** One timed round of tsbpf on `c`: ns per record, the consumer's CPU ns per record (xcpu), and the drops. */
async function tsbpfRound(p: Producer, c: Case, variant: Variant, exe: string): Promise<{ ns: number; cpu: number; drops: number; records: number }> {
  seen = 0;
  let drops = 0;
  if (c.mode === 'consume') {
    const rb = p.rb;
    const fit = Math.floor((Math.floor(RING_SIZE / ((c.size + 15) & ~7)) * 9) / 10);
    let timed = 0;
    for (let done = 0; done < c.count; done += fit) {
      const n = Math.min(fit, c.count - done);
      for (let d = 0; d < n; d += FILL_CHUNK) drops += p.produce(c.size, Math.min(FILL_CHUNK, n - d));
      const t0 = performance.now();
      if (variant === 'drain') {
        rb.drainAll(onRecord);
      } else if (variant === 'drainRaw') {
        while (rb.drainRaw(onRaw) > 0);
      } else {
        for (let r; (r = rb.next()) !== null; ) onRecord(r);
      }
      timed += performance.now() - t0;
    }
    return { ns: (timed * 1e6) / seen, cpu: 0, drops, records: seen };
  }
  if (c.mode === 'pc') {
    const t0 = performance.now();
    for (let done = 0; done < c.count; done += BATCH) {
      drops += p.produce(c.size, Math.min(BATCH, c.count - done));
      if (variant === 'drain') p.rb.drainAll(onRecord);
      else while (p.rb.drainRaw(onRaw) > 0);
    }
    return { ns: ((performance.now() - t0) * 1e6) / seen, cpu: 0, drops, records: seen };
  }
  // Two CPUs: the C producer loop in a process of its own, on the program and ring opened by id.
  expected = c.count;
  first = last = 0;
  const cpu0 = process.cpuUsage();
  const child = spawn(exe, ['produce', String(p.prog.info().id), String(p.rb.map.id), String(c.size), String(c.count)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const ac = new AbortController();
  void exited.then(() => ac.abort());
  if (variant === 'poller') {
    using poller = new RingBufPoller();
    poller.add(p.rb, onTimed);
    await poller.run({ signal: ac.signal });
    poller.consume();
  } else {
    try {
      for await (const r of p.rb.records({ signal: ac.signal })) onTimed(r);
    } catch (err) {
      if (!ac.signal.aborted) throw err;
    }
    p.rb.drainAll(onTimed);
  }
  await exited;
  const cpu = process.cpuUsage(cpu0);
  drops = (JSON.parse(out) as { drops: number }).drops;
  return { ns: last ? ((last - first) * 1e6) / (seen - 1) : NaN, cpu: ((cpu.user + cpu.system) * 1e3) / seen, drops, records: seen };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const exe = compileC(root, 'ringbuf', ['-lbpf']);
  const cases = CASES.filter((c) => !o.only || o.only.some((x) => c.name.includes(x))).map((c) => (o.quick ? { ...c, count: Math.max(1000, c.count / 10) } : c));
  const results: Record<string, { c: number[]; cCpu: number[]; t: Record<string, number[]>; tCpu: Record<string, number[]>; cDrops: number; tDrops: number; records: number }> = {};
  const p = new Producer();
  try {
    for (let pass = 0; pass < o.passes; pass++) {
      for (const c of cases) {
        const r = (results[c.name] ??= { c: [], cCpu: [], t: {}, tCpu: {}, cDrops: 0, tDrops: 0, records: 0 });
        const cr = runC<CResult>(exe, [objectPath, c.mode, String(c.size), String(c.count), String(o.rounds)]);
        r.c.push(...cr.ns.map((ns) => (ns < 0 ? NaN : ns)));
        r.cCpu.push(...cr.cpu);
        r.cDrops += cr.drops.reduce((a, b) => a + b, 0);
        for (const v of variantsOf(c.mode)) {
          p.warm(c.size);
          for (let i = 0; i < o.rounds; i++) {
            const tr = await tsbpfRound(p, c, v, exe);
            (r.t[v] ??= []).push(tr.ns);
            (r.tCpu[v] ??= []).push(tr.cpu);
            r.tDrops += tr.drops;
            r.records = tr.records;
          }
        }
      }
    }
  } finally {
    p.close();
  }
  const rows: string[][] = [];
  const json: Record<string, unknown> = {};
  for (const c of cases) {
    const r = results[c.name]!;
    const cMed = median(r.c);
    for (const [v, ns] of Object.entries(r.t)) {
      const tMed = median(ns);
      const cpu = c.mode === 'xcpu' ? `${median(r.cCpu).toFixed(0)}/${median(r.tCpu[v]!).toFixed(0)}` : '';
      const drops = c.mode === 'xcpu' ? `${r.cDrops}/${r.tDrops}` : '';
      rows.push([c.name, v, cMed.toFixed(2), tMed.toFixed(2), (cMed / tMed).toFixed(2), (Math.min(...r.c) / Math.min(...ns)).toFixed(2), cpu, drops]);
      json[`${c.name} ${v}`] = { libbpfNs: cMed, tsbpfNs: tMed, ratio: cMed / tMed, bestRatio: Math.min(...r.c) / Math.min(...ns), ...(c.mode === 'xcpu' ? { libbpfCpuNs: median(r.cCpu), tsbpfCpuNs: median(r.tCpu[v]!) } : {}) };
    }
  }
  console.log(`ring buffer, ${RING_SIZE >> 20} MiB ring, ${o.passes} passes x ${o.rounds} rounds per side (ns per record, medians; ratio = tsbpf records/s / libbpf records/s)`);
  console.log(table(['case', 'tsbpf', 'libbpf ns', 'tsbpf ns', 'ratio', 'best ratio', 'cpu ns C/ts', 'drops C/ts'], rows, [false, false, true, true, true, true, true, true]));
  if (o.json) console.log(JSON.stringify(json));
  if (sum < 0) console.log(sum);
}

await main();
