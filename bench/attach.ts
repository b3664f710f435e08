// npm run bench:attach: what attaching costs through tsbpf against the same system calls
// from C (bench/attach.c, compiled here with gcc -O2), in one run, on the real kernel.
//
//  1. The overhead a program adds: the empty XDP program (xdp_pass: r0 = 2; exit, the
//     same two instructions on both sides, checked by their tags) run with
//     BPF_PROG_TEST_RUN repeat = --repeat (1e6) on a 64-byte packet; the figures are the
//     kernel's own durations (ns per run). The library adds nothing in the kernel, so the
//     two must be equal within noise.
//  2. Attach + detach cycles per second: XDP (BPF link, skb mode, on a veth this bench
//     creates), TCX ingress (same veth) and a tracepoint (syscalls/sys_enter_getppid,
//     perf event + BPF_PERF_EVENT link), against bench/attach.c doing the same calls.
//     Two tsbpf rows per mechanism: the attach API (xdp.attach(ifindex, { mode: 'skb' }),
//     cls.attach(ifname, 'ingress'), tp.attach('syscalls', 'sys_enter_getppid'), then
//     link.detach()), skipped with a note while that method does not exist in this tree,
//     and "(sys)": the same system calls through tsbpf's raw layer (sys.linkCreate, ...),
//     which isolates the cost of the native seam. Ratio target of the API rows: ≤ 1.3.
//     The API makes a few more calls than bench/attach.c (strace, Linux 6.18):
//     xdp.attach(ifindex) looks the interface name up (socket + SIOCGIFNAME + close);
//     tp.attach reads the tracepoint id from tracefs each time, opens the event disabled
//     and enables it (PERF_EVENT_IOC_ENABLE), and closes the perf fd once the link holds
//     it. Every cycle here waits in the kernel for tens of milliseconds (static keys,
//     RCU grace periods; round times in multiples of 4 ms, CONFIG_HZ=250).
//
// Options: --repeat N  (test_run repeat, default 1000000)
//          --cycles N  (attach + detach cycles per round, default 20: each cycle waits
//                       for the kernel for tens of milliseconds here)
//          --rounds N  (timed rounds per pass and side, default 3)
//          --passes N  (C/tsbpf alternations, default 2)
//          --case a,b  (xdp_testrun, xdp_attach, tcx_attach, tp_attach)
//          --quick     (--repeat 100000 --cycles 5 --rounds 2 --passes 1)
//          --json      (also print the figures as JSON)
import { execFileSync } from 'node:child_process';
import { readFileSync, statfsSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { best, compileC, positiveInt, fmtNs, median, repoRoot, runC, table } from './common.js';
import { AttachType, Ebpf, PerfType, XdpFlags, type SchedClassifier, type TracePoint, type Xdp } from '../src/index.js';
import * as sys from '../src/sys/index.js';

interface Options {
  repeat: number;
  cycles: number;
  rounds: number;
  passes: number;
  only: string[] | undefined;
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { repeat: 1_000_000, cycles: 20, rounds: 3, passes: 2, only: undefined, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--repeat': o.repeat = positiveInt(a, argv[++i]); break;
      case '--cycles': o.cycles = positiveInt(a, argv[++i]); break;
      case '--rounds': o.rounds = positiveInt(a, argv[++i]); break;
      case '--passes': o.passes = positiveInt(a, argv[++i]); break;
      case '--case': o.only = (argv[++i] ?? '').split(',').filter(Boolean); break;
      case '--quick': Object.assign(o, { repeat: 100_000, cycles: 5, rounds: 2, passes: 1 }); break;
      case '--json': o.json = true; break;
      default: throw new Error(`unknown option ${a} (--repeat N --cycles N --rounds N --passes N --case a,b --quick --json)`);
    }
  }
  if (o.rounds > 64) throw new Error('--rounds: at most 64');
  if (o.repeat > 0xffff_ffff) throw new Error('--repeat: at most 2^32 - 1');
  return o;
}

// ---- the C side ------------------------------------------------------------------

interface CResult {
  tags: Record<string, string>;
  errors: Record<string, string>;
  [name: string]: number[] | Record<string, string>;
}


// ---- the machine: tracefs and a veth pair of our own --------------------------------

const TRACEFS = '/sys/kernel/tracing';
const TRACEFS_MAGIC = 0x74726163;

function ensureTracefs(): void {
  if (statfsSync(TRACEFS).type !== TRACEFS_MAGIC) execFileSync('mount', ['-t', 'tracefs', 'tracefs', TRACEFS]);
}

function tracepointId(category: string, name: string): bigint {
  return BigInt(readFileSync(`${TRACEFS}/events/${category}/${name}/id`, 'utf8').trim());
}

// ---- the tsbpf side ------------------------------------------------------------------

const PERF_FLAG_FD_CLOEXEC = 8;

interface Case {
  name: string;
  label: string;
  cycle: () => void;
  /** Which C case it is compared with. */
  c: string;
  /** A diagnostic row: not held to the target. */
  diagnostic?: boolean;
}

function detachRaw(link: number): void {
  try {
    sys.linkDetach(link);
  } catch (err) {
    // perf_event links have no LINK_DETACH (EOPNOTSUPP): closing the fd ends them.
    if (!(err instanceof sys.SyscallError) || err.errno !== sys.Errno.EOPNOTSUPP) throw err;
  }
  sys.kernel.close(link);
}

function attachCases(ebpf: Ebpf, ifname: string, ifindex: number, tpId: bigint): Case[] {
  const xdp = ebpf.program('xdp_pass') as Xdp;
  const tc = ebpf.program('tc_pass') as SchedClassifier;
  const tp = ebpf.program('tp_getppid') as TracePoint;
  const perfAttr = new Uint8Array(128);
  const pv = new DataView(perfAttr.buffer);
  pv.setUint32(0, PerfType.Tracepoint, true);
  pv.setBigUint64(8, tpId, true);
  return [
    { name: 'xdp_attach', c: 'xdp_attach', label: `xdp.attach(${ifindex}, { mode: 'skb' }).detach()`, cycle: () => xdp.attach(ifindex, { mode: 'skb' }).detach() },
    {
      name: 'xdp_attach_sys',
      c: 'xdp_attach',
      label: 'sys.linkCreate(BPF_XDP) + detach + close',
      diagnostic: true,
      cycle: () => detachRaw(sys.linkCreate({ progFd: xdp.fd, target: ifindex, attachType: AttachType.Xdp, flags: XdpFlags.SkbMode })),
    },
    { name: 'tcx_attach', c: 'tcx_attach', label: `cls.attach('${ifname}', 'ingress').detach()`, cycle: () => tc.attach(ifname, 'ingress').detach() },
    {
      name: 'tcx_attach_sys',
      c: 'tcx_attach',
      label: 'ifNameToIndex + sys.linkCreate(TCX_INGRESS) + detach + close',
      diagnostic: true,
      cycle: () => detachRaw(sys.linkCreate({ progFd: tc.fd, target: sys.kernel.ifNameToIndex(ifname), attachType: AttachType.TcxIngress })),
    },
    { name: 'tp_attach', c: 'tp_attach', label: "tp.attach('syscalls', 'sys_enter_getppid').detach()", cycle: () => tp.attach('syscalls', 'sys_enter_getppid').detach() },
    {
      name: 'tp_attach_sys',
      c: 'tp_attach',
      label: 'perf_event_open + sys.linkCreate(BPF_PERF_EVENT) + close ×2',
      diagnostic: true,
      cycle: () => {
        const pfd = sys.kernel.perf_event_open(perfAttr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
        if (pfd < 0) throw new sys.SyscallError('perf_event_open', -pfd);
        try {
          detachRaw(sys.linkCreate({ progFd: tp.fd, target: pfd, attachType: AttachType.PerfEvent }));
        } finally {
          sys.kernel.close(pfd);
        }
      },
    },
  ];
}

/** ns per cycle of each of `rounds` rounds of `n` cycles, after a warm-up of 2. */
function timeCycles(cycle: () => void, n: number, rounds: number): number[] {
  for (let i = 0; i < 2; i++) cycle();
  const out: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) cycle();
    out.push(Number(process.hrtime.bigint() - t0) / n);
  }
  return out;
}

// ---- reporting -----------------------------------------------------------------------

const TARGET = 1.3;

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  const want = (name: string) => !o.only || o.only.includes(name);
  const root = repoRoot('attach');
  const exe = compileC(root, 'attach');
  ensureTracefs();
  const tpId = tracepointId('syscalls', 'sys_enter_getppid');
  const ifname = `tsbpf${process.pid}a`;
  const peer = `tsbpf${process.pid}b`;
  execFileSync('ip', ['link', 'add', ifname, 'type', 'veth', 'peer', 'name', peer]);
  try {
    using ebpf = Ebpf.load(join(root, 'bpf', 'attach_introspect.o'));
    const ifindex = sys.kernel.ifNameToIndex(ifname);
    console.log(`tsbpf bench/attach: node ${process.version}, linux ${release()}; veth ${ifname} (ifindex ${ifindex}), tracepoint syscalls/sys_enter_getppid (id ${tpId})`);
    console.log(`test_run repeat ${o.repeat}; ${o.cycles} attach + detach cycles per round; ${o.passes} pass(es) × ${o.rounds} round(s) per side\n`);

    const cArgs = ['-i', ifname, '-n', String(o.repeat), '-N', String(o.cycles), '-r', String(o.rounds), '-T', TRACEFS];
    const cases = attachCases(ebpf, ifname, ifindex, tpId).filter((c) => want(c.c));
    const cCases = [...new Set([...(want('xdp_testrun') ? ['xdp_testrun'] : []), ...cases.map((c) => c.c)])];
    const cRounds = new Map<string, number[]>(cCases.map((c) => [c, []]));
    const tsRounds = new Map<string, number[]>([...cases.map((c) => [c.name, []] as [string, number[]]), ['xdp_testrun', []]]);
    let tags: Record<string, string> = {};
    const errors: Record<string, string> = {};
    const xdp = ebpf.program('xdp_pass');
    const packet = new Uint8Array(64);
    packet[12] = 0x08;

    for (let p = 0; p < o.passes; p++) {
      for (const name of cCases) {
        const r = runC<CResult>(exe, [...cArgs, '-c', name]);
        tags = r.tags;
        Object.assign(errors, r.errors);
        const v = r[name];
        if (Array.isArray(v)) cRounds.get(name)!.push(...v);
        if (name === 'xdp_testrun') {
          xdp.testRun({ data: packet, repeat: Math.max(1, Math.floor(o.repeat / 10)) });
          for (let i = 0; i < o.rounds; i++) tsRounds.get(name)!.push(xdp.testRun({ data: packet, repeat: o.repeat }).duration);
        }
        for (const c of cases.filter((x) => x.c === name && x.cycle)) {
          tsRounds.get(c.name)!.push(...timeCycles(c.cycle!, o.cycles, o.rounds));
        }
        if (process.stderr.isTTY) process.stderr.write(`\rpass ${p + 1}/${o.passes}: ${name}`.padEnd(40));
      }
    }
    if (process.stderr.isTTY) process.stderr.write('\r'.padEnd(41) + '\r');

    // The same instructions on both sides?
    const ours: Record<string, string> = {};
    for (const n of ['xdp_pass', 'tc_pass', 'tp_getppid']) ours[n] = ebpf.program(n).info().tag;
    const differ = Object.keys(ours).filter((n) => tags[n] !== ours[n]);
    console.log(
      differ.length
        ? `WARNING: program tags differ (${differ.map((n) => `${n}: tsbpf ${ours[n]}, C ${tags[n]}`).join('; ')}): not the same instructions`
        : `program tags equal on both sides (same instructions): ${Object.entries(ours).map(([n, t]) => `${n} ${t}`).join(', ')}\n`,
    );
    for (const [name, why] of Object.entries(errors)) console.log(`C side: ${name} failed: ${why}`);

    const figures: Record<string, { tsbpf: number; c: number; ratio: number; medianRatio: number }> = {};
    if (want('xdp_testrun') && (cRounds.get('xdp_testrun') ?? []).length) {
      const t = tsRounds.get('xdp_testrun')!;
      const k = cRounds.get('xdp_testrun')!;
      const f = { tsbpf: median(t), c: median(k), ratio: median(t) / median(k), medianRatio: median(t) / median(k) };
      figures.xdp_testrun = f;
      console.log('1. the empty XDP program, BPF_PROG_TEST_RUN: the kernel-reported duration per run (median of the rounds)');
      console.log(
        table(
          ['', 'tsbpf', 'C', 'ratio', 'rounds tsbpf', 'rounds C'],
          [['xdp_pass', fmtNs(f.tsbpf), fmtNs(f.c), f.ratio.toFixed(3), t.join(' '), k.join(' ')]],
          [false, true, true, true, false, false],
        ),
      );
      console.log('(ns per run as the kernel measured it; 1 ns is its resolution: equal within noise means the library adds nothing in the kernel)\n');
    }

    const rows: string[][] = [];
    const over: string[] = [];
    for (const c of cases) {
      const k = cRounds.get(c.c) ?? [];
      const t = tsRounds.get(c.name)!;
      if (!k.length) {
        rows.push([c.name, c.label, fmtNs(best(t)), 'failed', '', '', '', '']);
        continue;
      }
      const ratio = best(t) / best(k);
      const medianRatio = median(t) / median(k);
      figures[c.name] = { tsbpf: best(t), c: best(k), ratio, medianRatio };
      if (!c.diagnostic && ratio > TARGET) over.push(c.name);
      rows.push([
        c.diagnostic ? `(${c.name})` : c.name,
        c.label,
        fmtNs(best(t)),
        fmtNs(best(k)),
        (1e9 / best(t)).toFixed(1),
        ratio.toFixed(3),
        medianRatio.toFixed(3),
        c.diagnostic ? '' : ratio <= TARGET ? 'ok' : `> ${TARGET}`,
      ]);
    }
    if (rows.length) {
      console.log('2. attach + detach cycles (best round of each side; cycles/s of tsbpf)');
      console.log(
        table(['case', 'tsbpf', 'tsbpf per cycle', 'C per cycle', 'cycles/s', 'ratio', 'median ratio', `≤ ${TARGET}`], rows, [false, false, true, true, true, true, true, false]),
      );
      console.log('(rows in parentheses: the same system calls through tsbpf\'s raw layer, not held to the target)');
      console.log(over.length ? `\nabove the ${TARGET} target: ${over.join(', ')}` : `\nevery measured API ratio is within the ${TARGET} target`);
    }
    if (o.json) {
      console.log(JSON.stringify({ node: process.version, kernel: release(), options: o, figures, rounds: { tsbpf: Object.fromEntries(tsRounds), c: Object.fromEntries(cRounds) } }));
    }
  } finally {
    execFileSync('ip', ['link', 'del', ifname]);
  }
}

main();
