// The soak: tsbpf's operations mixed and repeated for minutes, with the process's
// descriptors, memory mappings and resident memory sampled at a fixed interval; they
// must stay flat. `npm run soak -- --minutes 10` runs it from the command line (and
// exits 1 when a figure is not flat); test/soak.test.ts runs 30 seconds of it.
//
// One round does, in order:
//   maps        ArrayMap set/get, HashMap insert/get/remove, a HashMap created, filled and closed
//   map-in-map  ArrayOfMaps set/get (through `(m) => ArrayMap.tryFrom(m, u64)`)/getId/delete
//               and setMany; HashOfMaps insert/get/remove
//   pin         a map pinned, opened with MapData.fromPin, the pin removed
//   load        bpf/soak.o loaded (Ebpf) and, after the attachments, closed
//   attach      each mechanism the kernel has (asked of the feature probes), attached,
//               seen to run (its counter grows), detached:
//                 socket     soak_filter on a UDP socket over loopback (SO_ATTACH_BPF)
//                 sk_lookup  soak_lookup on a network namespace made for the soak (a BPF
//                            link; every 8th round also pinned, taken back with
//                            Link.fromPin, unpinned)
//                 tracepoint soak_getppid on syscalls/sys_enter_getppid (perf event)
//
// Flat, precisely: samples are taken between rounds (nothing of a round is open then),
// after a forced garbage collection. The first sample closes the warm-up; against it,
//   descriptors  every later sample is exactly equal;
//   mappings     (lines of /proc/self/maps) no later sample exceeds it by more than
//                MAPPINGS_SLACK, and the mean of the later half of the samples exceeds
//                the mean of the earlier half by at most MAPPINGS_SLACK / 4;
//   RSS          the same with RSS_SLACK_MIB.
// The half-against-half test catches a slow, steady growth that stays under the slack.
import { spawnSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ArrayMap,
  ArrayOfMaps,
  AttachType,
  EbpfLoader,
  FdLink,
  HashMap,
  HashOfMaps,
  Link,
  LinkType,
  MapData,
  MapType,
  ProgramType,
  isLinkTypeSupported,
  isProgramTypeSupported,
  u32,
  u64,
  type Ebpf,
  type MapSpec,
  type SkLookup,
  type SocketFilter,
  type TracePoint,
} from '../src/index.js';
import { bpffsDir, collectGarbage, fdCount, repoRoot } from './helpers.js';

export const MAPPINGS_SLACK = 32;
export const RSS_SLACK_MIB = 16;

/**
 * Node flags the soak runs with: V8's young generation fixed at its starting size. V8
 * otherwise grows it once, when allocation calls for it (here after about 30 s: 32
 * pages of 256 KiB and a 62 MiB reservation at once), and a larger one has its pages
 * touched for the first time over the next seconds (RSS steps up by 5 MiB). Neither is a
 * leak, but both read as growth in a short run.
 */
export const SOAK_NODE_FLAGS = ['--min-semi-space-size=1', '--max-semi-space-size=1'];

export interface SoakOptions {
  durationMs: number;
  /** Time between samples (the first one ends the warm-up). */
  sampleMs: number;
  /** Where progress lines go (default: nowhere). */
  log?: (line: string) => void;
}

export interface SoakSample {
  /** Since the start of the soak. */
  seconds: number;
  rounds: number;
  fds: number;
  mappings: number;
  rssMiB: number;
  heapMiB: number;
}

export interface SoakResult {
  samples: SoakSample[];
  /** The attach mechanisms that ran, and those this kernel lacks (with the reason). */
  attached: string[];
  notOnThisKernel: string[];
  /** Operations done, by kind. */
  counts: Record<string, number>;
  flat: boolean;
  /** Why it is not flat (empty when it is). */
  problems: string[];
  /** Descriptors before the soak made anything, and after it closed what it made. */
  fdsBefore: number;
  fdsAfter: number;
}

const SOAK_OBJECT = join(repoRoot, 'bpf/soak.o');
const INNER: MapSpec = { type: MapType.Array, keySize: 4, valueSize: 8, maxEntries: 4 };
const ROUND_TIMEOUT_MS = 5000;

/** The lines of /proc/self/maps, each as "perms name-or-[anon] size". */
function mappingLines(): string[] {
  return readFileSync('/proc/self/maps', 'utf8').split('\n').filter(Boolean).map((line) => {
    const [range, perms, , , , ...name] = line.split(/\s+/);
    const [lo, hi] = range!.split('-').map((h) => parseInt(h, 16));
    return `${perms} ${name.join(' ') || '[anon]'} ${Math.round((hi! - lo!) / 1024)} KiB`;
  });
}

/** The mappings of `now` that `before` lacked, counted by kind: why a count jumped. */
export function newMappings(before: string[], now: string[]): string {
  const left = new Map<string, number>();
  for (const l of before) left.set(l, (left.get(l) ?? 0) + 1);
  const added = new Map<string, number>();
  for (const l of now) {
    const n = left.get(l) ?? 0;
    if (n > 0) left.set(l, n - 1);
    else added.set(l, (added.get(l) ?? 0) + 1);
  }
  return [...added].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([l, n]) => `${n} × ${l}`).join('; ');
}

/** The figures of one sample, taken after a forced collection. */
async function sample(start: number, rounds: number, lines: string[]): Promise<SoakSample> {
  await collectGarbage();
  const mem = process.memoryUsage();
  lines.splice(0, lines.length, ...mappingLines());
  return {
    seconds: Math.round((performance.now() - start) / 100) / 10,
    rounds,
    fds: fdCount(),
    mappings: lines.length,
    rssMiB: Math.round((mem.rss / 2 ** 20) * 10) / 10,
    heapMiB: Math.round((mem.heapUsed / 2 ** 20) * 10) / 10,
  };
}

/** The verdict on `samples` (the first ends the warm-up); see the file's header. */
export function flatness(samples: SoakSample[]): string[] {
  const problems: string[] = [];
  if (samples.length < 3) return [`only ${samples.length} samples: too few to judge`];
  const [base, ...later] = samples as [SoakSample, ...SoakSample[]];
  for (const s of later) {
    if (s.fds !== base.fds) problems.push(`descriptors: ${s.fds} at ${s.seconds} s, ${base.fds} after the warm-up`);
  }
  const bounded = (what: string, pick: (s: SoakSample) => number, slack: number, unit: string) => {
    const peak = Math.max(...later.map(pick));
    if (peak > pick(base) + slack) problems.push(`${what}: peak ${peak}${unit}, more than ${slack}${unit} above ${pick(base)}${unit} after the warm-up`);
    const half = Math.floor(later.length / 2);
    const mean = (xs: SoakSample[]) => xs.reduce((a, s) => a + pick(s), 0) / xs.length;
    const earlier = mean(later.slice(0, half || 1));
    const recent = mean(later.slice(later.length - (half || 1)));
    if (recent - earlier > slack / 4) problems.push(`${what}: the later half averages ${recent.toFixed(1)}${unit}, the earlier ${earlier.toFixed(1)}${unit}: growing`);
  };
  bounded('mappings', (s) => s.mappings, MAPPINGS_SLACK, '');
  bounded('RSS', (s) => s.rssMiB, RSS_SLACK_MIB, ' MiB');
  return problems;
}

/** Resolves with the next datagram `socket` receives; rejects after `ms`. */
function nextDatagram(socket: Socket, ms: number): Promise<Buffer> {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      socket.off('message', onMessage);
      reject(new Error(`no datagram within ${ms} ms`));
    }, ms);
    const onMessage = (msg: Buffer) => {
      clearTimeout(timer);
      resolvePromise(msg);
    };
    socket.once('message', onMessage);
  });
}

interface Mechanism {
  name: string;
  program: string;
  /** Why this kernel cannot, or undefined when it can. */
  missing: string | undefined;
}

function mechanisms(): Mechanism[] {
  const socket = isProgramTypeSupported(ProgramType.SocketFilter) ? undefined : 'BPF_PROG_TYPE_SOCKET_FILTER';
  const skLookup = !isProgramTypeSupported(ProgramType.SkLookup, AttachType.SkLookup)
    ? 'BPF_PROG_TYPE_SK_LOOKUP'
    : !isLinkTypeSupported(LinkType.Netns)
      ? 'BPF_LINK_TYPE_NETNS'
      : undefined;
  const tracepoint = isProgramTypeSupported(ProgramType.Tracepoint) ? undefined : 'BPF_PROG_TYPE_TRACEPOINT';
  return [
    { name: 'socket', program: 'soak_filter', missing: socket },
    { name: 'sk_lookup', program: 'soak_lookup', missing: skLookup },
    { name: 'tracepoint', program: 'soak_getppid', missing: tracepoint },
  ];
}

/** Runs the soak; resolves with the samples and the verdict (it throws only when an operation fails). */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const log = options.log ?? (() => {});
  const counts: Record<string, number> = {};
  const count = (what: string, n = 1) => {
    counts[what] = (counts[what] ?? 0) + n;
  };
  const all = mechanisms();
  const usable = all.filter((m) => m.missing === undefined);
  const loader = new EbpfLoader().setGlobal('target_tgid', process.pid);
  for (const m of all) if (m.missing !== undefined) loader.deferProgram(m.program);

  const fdsBefore = fdCount();
  // What lives for the whole soak (its descriptors are part of every sample).
  const cleanups: (() => void)[] = [];
  const array = ArrayMap.create(u64, { maxEntries: 256 });
  cleanups.push(() => array.close());
  const hash = HashMap.create(u32, u64, { maxEntries: 1024 });
  cleanups.push(() => hash.close());
  const inners = [0, 1, 2, 3].map((i) => {
    const m = ArrayMap.create(u64, { maxEntries: 4 });
    m.set(0, BigInt(i));
    cleanups.push(() => m.close());
    return m;
  });
  const aom = ArrayOfMaps.create((m) => ArrayMap.tryFrom(m, u64), { maxEntries: 4, innerMap: INNER });
  cleanups.push(() => aom.close());
  const hom = HashOfMaps.create(u32, (m) => ArrayMap.tryFrom(m, u64), { maxEntries: 8, innerMap: INNER });
  cleanups.push(() => hom.close());
  const pinDir = bpffsDir('soak');
  cleanups.push(() => rmSync(pinDir, { recursive: true, force: true }));
  const receiver = createSocket('udp4');
  const sender = createSocket('udp4');
  cleanups.push(() => {
    receiver.close();
    sender.close();
  });
  receiver.bind(0, '127.0.0.1');
  await once(receiver, 'listening');
  const port = receiver.address().port;
  let netns: string | undefined;
  if (usable.some((m) => m.name === 'sk_lookup')) {
    netns = `tsbpf-soak-${process.pid}`;
    const r = spawnSync('ip', ['netns', 'add', netns], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip netns add ${netns}: ${r.stderr}`);
    const name = netns;
    cleanups.push(() => void spawnSync('ip', ['netns', 'del', name]));
  }

  const mapOps = (round: number) => {
    for (let i = 0; i < 256; i++) array.set(i, BigInt(round) * 256n + BigInt(i));
    for (let i = 0; i < 256; i++) {
      if (array.get(i) !== BigInt(round) * 256n + BigInt(i)) throw new Error(`round ${round}: array[${i}] is ${array.get(i)}`);
    }
    count('array set+get', 512);
    const base = (round * 97) % 1024;
    for (let i = 0; i < 128; i++) hash.insert((base + i) % 1024, BigInt(round + i));
    for (let i = 0; i < 128; i++) {
      if (hash.get((base + i) % 1024) !== BigInt(round + i)) throw new Error(`round ${round}: hash[${(base + i) % 1024}] wrong`);
    }
    for (let i = 0; i < 128; i += 2) hash.remove((base + i) % 1024);
    count('hash insert+get+remove', 128 + 128 + 64);
    if (round % 4 === 0) {
      const fresh = HashMap.create(u64, u32, { maxEntries: 64 });
      for (let i = 0; i < 64; i++) fresh.insert(BigInt(i) << 32n, i);
      if ([...fresh.keys()].length !== 64) throw new Error(`round ${round}: a new hash map lost keys`);
      fresh.close();
      count('map create+close');
    }
  };

  const mapInMap = (round: number) => {
    const slot = round % 4;
    const inner = (round + 1) % 4;
    aom.set(slot, inners[inner]!);
    const got = aom.get(slot);
    if (got.get(0) !== BigInt(inner)) throw new Error(`round ${round}: ArrayOfMaps slot ${slot} holds the wrong map`);
    got.close();
    if (aom.getId(slot) !== inners[inner]!.map.id) throw new Error(`round ${round}: ArrayOfMaps.getId`);
    if (round % 2 === 1) aom.remove(slot);
    if (round % 16 === 0) aom.setMany(inners.map((m, i) => [i, m] as const));
    count('ArrayOfMaps set+get+close', 1);
    const key = round % 8;
    hom.insert(key, inners[slot]!);
    const viaHash = hom.get(key);
    if (viaHash.get(0) !== BigInt(slot)) throw new Error(`round ${round}: HashOfMaps key ${key} holds the wrong map`);
    viaHash.close();
    if (round % 2 === 0) hom.remove(key);
    count('HashOfMaps insert+get+close', 1);
  };

  const pinCycle = (round: number) => {
    const path = join(pinDir, `m${round % 3}`);
    inners[round % 4]!.map.pin(path);
    const back = MapData.fromPin(path);
    if (back.id !== inners[round % 4]!.map.id) throw new Error(`round ${round}: the pin holds another map`);
    back.close();
    rmSync(path);
    count('pin+fromPin+unpin');
  };

  const attachCycle = async (ebpf: Ebpf, round: number) => {
    const hits = ArrayMap.tryFrom(ebpf.map('hits'), u64);
    for (const m of usable) {
      const before = hits.get(m.name === 'socket' ? 0 : m.name === 'sk_lookup' ? 1 : 2);
      if (m.name === 'socket') {
        const link = (ebpf.program(m.program) as SocketFilter).attach(receiver);
        const arrived = nextDatagram(receiver, ROUND_TIMEOUT_MS);
        sender.send(`r${round}`, port, '127.0.0.1');
        await arrived;
        link.detach();
        if (hits.get(0) <= before) throw new Error(`round ${round}: the socket filter did not run`);
      } else if (m.name === 'sk_lookup') {
        const link = (ebpf.program(m.program) as SkLookup).attach(`/run/netns/${netns}`) as FdLink;
        if (link.info().type !== LinkType.Netns) throw new Error(`round ${round}: the sk_lookup link has the wrong type`);
        if (round % 8 === 0) {
          const path = join(pinDir, 'link');
          link.pin(path);
          const back = Link.fromPin(path);
          if (back.info().id !== link.info().id) throw new Error(`round ${round}: the pinned link is another link`);
          back.close();
          link.unpin();
          count('link pin+fromPin+unpin');
        }
        link.detach();
      } else {
        const link = (ebpf.program(m.program) as TracePoint).attach();
        void process.ppid; // getppid(2)
        link.detach();
        if (hits.get(2) <= before) throw new Error(`round ${round}: the tracepoint program did not run`);
      }
      count(`attach+detach ${m.name}`);
    }
  };

  const start = performance.now();
  const samples: SoakSample[] = [];
  let lastLines: string[] | undefined;
  let round = 0;
  let nextSample = start + options.sampleMs;
  const end = start + options.durationMs;
  try {
    log(`soak: ${(options.durationMs / 60000).toFixed(1)} min, a sample every ${options.sampleMs / 1000} s; attach: ${usable.map((m) => m.name).join(', ') || 'none'}${all.length > usable.length ? `; not on this kernel: ${all.filter((m) => m.missing).map((m) => `${m.name} (${m.missing})`).join(', ')}` : ''}`);
    log('   time  rounds   fds  mappings    RSS MiB  heap MiB');
    for (;;) {
      const now = performance.now();
      if (now >= nextSample) {
        const lines: string[] = [];
        const s = await sample(start, round, lines);
        samples.push(s);
        log(`${s.seconds.toFixed(0).padStart(5)} s  ${String(s.rounds).padStart(6)}  ${String(s.fds).padStart(4)}  ${String(s.mappings).padStart(8)}  ${s.rssMiB.toFixed(1).padStart(9)}  ${s.heapMiB.toFixed(1).padStart(8)}${samples.length === 1 ? '  (end of warm-up)' : ''}`);
        if (lastLines && s.mappings - lastLines.length >= MAPPINGS_SLACK / 4) log(`         new mappings: ${newMappings(lastLines, lines)}`);
        lastLines = lines;
        nextSample += options.sampleMs;
        if (performance.now() >= end) break;
        continue;
      }
      mapOps(round);
      mapInMap(round);
      pinCycle(round);
      const ebpf = loader.load(SOAK_OBJECT);
      count('load+close');
      try {
        await attachCycle(ebpf, round);
      } finally {
        ebpf.close();
      }
      round++;
    }
  } finally {
    for (const cleanup of cleanups.reverse()) cleanup();
  }
  const problems = flatness(samples);
  return {
    samples,
    attached: usable.map((m) => m.name),
    notOnThisKernel: all.filter((m) => m.missing !== undefined).map((m) => `${m.name} (${m.missing})`),
    counts,
    flat: problems.length === 0,
    problems,
    fdsBefore,
    fdsAfter: fdCount(),
  };
}

function parseArgs(argv: string[]): { durationMs: number; sampleMs: number; json: boolean } {
  let minutes = 10;
  let json = false;
  let sampleSeconds: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const value = Number(argv[i + 1]);
    switch (argv[i]) {
      case '--minutes':
        minutes = value;
        i++;
        break;
      case '--seconds':
        minutes = value / 60;
        i++;
        break;
      case '--sample-seconds':
        sampleSeconds = value;
        i++;
        break;
      case '--json':
        json = true;
        break;
      default:
        throw new Error(`unknown option ${argv[i]} (--minutes N, --seconds N, --sample-seconds N, --json)`);
    }
  }
  if (!(minutes > 0)) throw new Error('--minutes/--seconds needs a positive number');
  const durationMs = minutes * 60_000;
  const sampleMs = (sampleSeconds ?? (durationMs >= 180_000 ? 60 : Math.max(1, durationMs / 6000))) * 1000;
  if (!(sampleMs > 0)) throw new Error('--sample-seconds needs a positive number');
  return { durationMs, sampleMs, json };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const missing = SOAK_NODE_FLAGS.filter((f) => !process.execArgv.includes(f));
  if (missing.length) {
    // Run again with the flags (see SOAK_NODE_FLAGS).
    const r = spawnSync(process.execPath, [...process.execArgv, ...missing, ...process.argv.slice(1)], { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }
  const options = parseArgs(process.argv.slice(2));
  const result = await runSoak({ ...options, log: (line) => console.log(line) });
  console.log(`operations: ${Object.entries(result.counts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(result.flat ? 'flat: descriptors exact, mappings and RSS within their bounds and not growing' : `NOT FLAT:\n  ${result.problems.join('\n  ')}`);
  if (options.json) console.log(JSON.stringify(result));
  process.exitCode = result.flat ? 0 : 1;
}
