// npm start: a live "top" of system calls. Every system call of every process is counted
// in the kernel by a tracepoint program (bpf/syscall_top.c, on raw_syscalls/sys_enter)
// per process and call number; once a second this program shows the busiest processes
// and calls with their rates, a sparkline of the total, and the programs started
// (sched/sched_process_exec, through a ring buffer).
//
// The counts are double-buffered with a map of maps, the pattern ARRAY_OF_MAPS exists
// for: two hash maps sit in the two slots of st_slots, and the global `active` says
// which slot the program counts into. Each second user space flips `active`, then
// stores the slot it left again: the kernel returns from an update of a map of maps only
// after an RCU grace period, when no program that read the old `active` can still be
// counting into that map. The map is then quiet, and is read and emptied at leisure
// while the other one counts: no count lost to the swap, none read half-written.
//
//   node dist/examples/syscall-top.js          live; q or Ctrl-C quits
//   node dist/examples/syscall-top.js --once   counts for 1 s, prints one snapshot
//
// Node 20 has no `using` declarations: this example closes what it opens with
// try/finally (`using` does the same where TypeScript 5.2+ compiles it, or the runtime
// has it).
import { fileURLToPath } from 'node:url';
import pc from 'picocolors';
import {
  ArrayOfMaps,
  Ebpf,
  HashMap,
  MapBatchCursor,
  MapError,
  MapType,
  ProgramError,
  ProgramType,
  RingBuf,
  TracePoint,
  cstring,
  isMapTypeSupported,
  isProgramTypeSupported,
  struct,
  u32,
  u64,
  type Link,
} from '../src/index.js';
import { syscallName } from './syscall-names.js';

const OBJECT = fileURLToPath(new URL('../../bpf/syscall_top.o', import.meta.url));

// The C structs of bpf/syscall_top.c. (ebpf.typedMap would derive codecs from the
// object's BTF too; written out, the values are typed without a narrowing step.)
const keyCodec = struct({ tgid: u32, nr: u32 });
const counterCodec = struct({ count: u64, comm: cstring(16) });
const execCodec = struct({ pid: u32, comm: cstring(16), filename: cstring(128) });

export interface ProcessRow {
  pid: number;
  comm: string;
  /** Calls in the sample. */
  calls: number;
  /** This process's calls by number, most first. */
  syscalls: { nr: number; name: string; calls: number }[];
}

export interface SyscallRow {
  nr: number;
  name: string;
  calls: number;
  /** How many processes made it. */
  processes: number;
}

export interface ExecRow {
  /** When user space read it (ms since the epoch). */
  time: number;
  pid: number;
  comm: string;
  filename: string;
}

/** What one swap of the double buffer gives: the counts of the interval just ended. */
export interface Sample {
  /** The interval's length in seconds. */
  seconds: number;
  total: number;
  processes: ProcessRow[];
  syscalls: SyscallRow[];
  execs: ExecRow[];
  /** Records the kernel side dropped so far (a full hash map, a full ring). */
  lostCounts: bigint;
  lostExecs: bigint;
}

/** The loaded and attached object: sample() once a second, close() at the end. */
export class SyscallTop {
  readonly #ebpf: Ebpf;
  readonly #links: Link[];
  readonly #counts: HashMap<{ tgid: number; nr: number }, { count: bigint; comm: string }>[];
  readonly #slots: ArrayOfMaps;
  readonly #execs: RingBuf;
  #since: bigint;

  private constructor(ebpf: Ebpf) {
    this.#ebpf = ebpf;
    // Views: the Ebpf owns the maps, and closes them in close().
    this.#counts = [ebpf.map('st_counts0', HashMap, keyCodec, counterCodec), ebpf.map('st_counts1', HashMap, keyCodec, counterCodec)];
    this.#slots = ebpf.map('st_slots', ArrayOfMaps);
    this.#execs = ebpf.map('st_execs', RingBuf);
    this.#links = [];
    try {
      this.#links.push(ebpf.program('count_syscall', TracePoint).attach()); // raw_syscalls/sys_enter, from its section
      this.#links.push(ebpf.program('record_exec', TracePoint).attach()); // sched/sched_process_exec
    } catch (err) {
      for (const link of this.#links) link.close();
      throw err;
    }
    this.#since = process.hrtime.bigint();
  }

  /** Loads bpf/syscall_top.o and attaches both programs. */
  static open(): SyscallTop {
    const ebpf = Ebpf.load(OBJECT);
    try {
      return new SyscallTop(ebpf);
    } catch (err) {
      ebpf.close();
      throw err;
    }
  }

  /** Swaps the double buffer and returns what the slot just left counted, and the execs since the last call. */
  sample(): Sample {
    const active = this.#ebpf.variable<number>('active');
    const left = active.get();
    active.set(left ^ 1);
    const counts = this.#counts[left]!;
    // The same map stored again: returns after a grace period (see the top of the file).
    this.#slots.set(left, counts);
    const now = process.hrtime.bigint();
    const seconds = Number(now - this.#since) / 1e9;
    this.#since = now;

    const processes = new Map<number, ProcessRow>();
    const syscalls = new Map<number, SyscallRow>();
    let total = 0;
    // Read and empty in one pass: BPF_MAP_LOOKUP_AND_DELETE_BATCH, 1024 at a time.
    const cursor = new MapBatchCursor();
    while (!cursor.done) {
      const { keys, values } = counts.getAndRemoveBatch(cursor, 1024);
      for (let i = 0; i < keys.length; i++) {
        const { tgid, nr } = keys[i]!;
        const { count, comm } = values[i]!;
        const calls = Number(count);
        total += calls;
        const name = syscallName(nr);
        let p = processes.get(tgid);
        if (!p) processes.set(tgid, (p = { pid: tgid, comm, calls: 0, syscalls: [] }));
        p.calls += calls;
        p.syscalls.push({ nr, name, calls });
        let s = syscalls.get(nr);
        if (!s) syscalls.set(nr, (s = { nr, name, calls: 0, processes: 0 }));
        s.calls += calls;
        s.processes++;
      }
    }
    for (const p of processes.values()) p.syscalls.sort((a, b) => b.calls - a.calls);

    const execs: ExecRow[] = [];
    const time = Date.now();
    for (let e = this.#execs.next(execCodec); e !== null; e = this.#execs.next(execCodec)) execs.push({ time, ...e });

    return {
      seconds,
      total,
      processes: [...processes.values()].sort((a, b) => b.calls - a.calls),
      syscalls: [...syscalls.values()].sort((a, b) => b.calls - a.calls),
      execs,
      lostCounts: this.#ebpf.variable<bigint>('lost_counts').get(),
      lostExecs: this.#ebpf.variable<bigint>('lost_execs').get(),
    };
  }

  /** Detaches both programs, then closes the maps and programs. */
  close(): void {
    try {
      for (const link of this.#links) link.close();
    } finally {
      this.#ebpf.close();
    }
  }
}

// ---- drawing ---------------------------------------------------------------------------

const BARS = '▁▂▃▄▅▆▇█';
const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** A sparkline of `values`, scaled to their largest. */
export function sparkline(values: readonly number[]): string {
  const max = Math.max(1, ...values);
  return values.map((v) => BARS[Math.min(BARS.length - 1, Math.floor((v / max) * BARS.length))]!).join('');
}

interface Layout {
  processes: number;
  syscalls: number;
  execs: number;
  width: number;
}

/** The lines of one screen. */
export function render(sample: Sample, history: readonly number[], recent: readonly ExecRow[], layout: Layout, colors = pc.createColors(false)): string[] {
  const rate = (calls: number) => int.format(calls / (sample.seconds || 1));
  const clip = (line: string) => (line.length > layout.width ? line.slice(0, layout.width) : line);
  const lines: string[] = [];
  const spark = history.length > 1 ? `  ${colors.cyan(sparkline(history))}` : '';
  const lost = sample.lostCounts + sample.lostExecs > 0n ? colors.yellow(`  (dropped: ${sample.lostCounts} counts, ${sample.lostExecs} execs)`) : '';
  lines.push(
    `${colors.bold('syscall top')}  ${int.format(sample.total / (sample.seconds || 1))} calls/s over ${sample.seconds.toFixed(2)} s${spark}${lost}`,
    '',
    colors.bold(clip(`${'PID'.padStart(8)} ${'COMM'.padEnd(16)} ${'CALLS/S'.padStart(10)}  TOP SYSCALLS`)),
  );
  for (const p of sample.processes.slice(0, layout.processes)) {
    const top = p.syscalls.slice(0, 3).map((s) => `${s.name} ${Math.round((100 * s.calls) / p.calls)}%`).join(', ');
    lines.push(clip(`${String(p.pid).padStart(8)} ${p.comm.padEnd(16)} ${rate(p.calls).padStart(10)}  ${top}`));
  }
  lines.push('', colors.bold(clip(`${'SYSCALL'.padEnd(25)} ${'CALLS/S'.padStart(10)} ${'PROCS'.padStart(6)}`)));
  for (const s of sample.syscalls.slice(0, layout.syscalls)) {
    lines.push(clip(`${s.name.padEnd(25)} ${rate(s.calls).padStart(10)} ${String(s.processes).padStart(6)}`));
  }
  lines.push('', colors.bold(clip(`${'EXEC'.padEnd(12)} ${'PID'.padStart(8)} ${'COMM'.padEnd(16)} FILENAME`)));
  for (const e of recent.slice(-layout.execs)) {
    const t = new Date(e.time).toTimeString().slice(0, 8);
    lines.push(clip(`${t.padEnd(12)} ${String(e.pid).padStart(8)} ${e.comm.padEnd(16)} ${e.filename}`));
  }
  return lines;
}

// ---- the program -----------------------------------------------------------------------

const USAGE = `usage: syscall-top [--once]

A live top of system calls, counted in the kernel by a tracepoint program.
  --once   count for one second, print one snapshot and exit
Needs root (CAP_BPF and CAP_PERFMON). q or Ctrl-C quits.`;

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const EPERM = 1;

/** Runs the tool; resolves to the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  if (args.includes('-h') || args.includes('--help')) {
    console.log(USAGE);
    return 0;
  }
  const unknown = args.filter((a) => a !== '--once');
  if (unknown.length > 0) {
    console.error(`syscall-top: unknown argument ${unknown[0]}\n${USAGE}`);
    return 2;
  }
  const once = args.includes('--once');
  let top: SyscallTop;
  try {
    if (!isProgramTypeSupported(ProgramType.Tracepoint) || !isMapTypeSupported(MapType.ArrayOfMaps) || !isMapTypeSupported(MapType.Ringbuf)) {
      console.error('syscall-top: this kernel lacks tracepoint programs, maps of maps or ring buffers (Linux 5.8 has all three)');
      return 1;
    }
    top = SyscallTop.open();
  } catch (err) {
    const eperm = (err instanceof MapError || err instanceof ProgramError) && err.errno === EPERM;
    console.error(`syscall-top: ${err instanceof Error ? err.message : String(err)}${eperm ? '\n(run it as root: it needs CAP_BPF and CAP_PERFMON)' : ''}`);
    return 1;
  }

  const out = process.stdout;
  const tty = out.isTTY === true && !once;
  const colors = pc.createColors(tty && !('NO_COLOR' in process.env));
  const history: number[] = [];
  const recent: ExecRow[] = [];
  let last: Sample | undefined;
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const onSignal = () => stop();
  // Ctrl-C, kill, and the terminal closing (SIGHUP) all end it through the cleanup below.
  for (const signal of SIGNALS) process.on(signal, onSignal);
  out.on('error', onSignal); // EPIPE: whoever read the output went away (npm start | head)
  const input = process.stdin;
  const keys = tty && input.isTTY === true;
  const onKey = (b: Buffer) => {
    if (b.includes(0x71 /* q */) || b.includes(0x03 /* Ctrl-C in raw mode */)) stop();
  };
  const restore = () => out.write('\x1b[?25h\x1b[?1049l'); // cursor back, main screen back

  const layout = (): Layout => {
    if (!tty) return { processes: 15, syscalls: 10, execs: 20, width: Infinity };
    const rows = out.rows || 24;
    const execs = rows >= 30 ? 6 : 3;
    const syscalls = rows >= 30 ? 8 : 4;
    return { processes: Math.max(3, rows - 7 - execs - syscalls), syscalls, execs, width: out.columns || 80 };
  };
  const draw = () => {
    if (!last) return;
    const lines = render(last, history, recent, layout(), colors);
    if (tty) out.write(`\x1b[H${lines.join('\x1b[K\n')}\x1b[K\x1b[J`);
    else out.write(`${lines.join('\n')}\n\n`);
  };

  let timer: NodeJS.Timeout | undefined;
  try {
    if (tty) {
      out.write('\x1b[?1049h\x1b[?25l\x1b[H\x1b[J'); // alternate screen, no cursor
      process.on('exit', restore); // should anything skip the finally below
      out.on('resize', draw);
      out.write(`syscall top: counting (pid ${process.pid}); the first sample comes in a second. q quits.`);
      if (keys) {
        input.setRawMode(true);
        input.on('data', onKey);
      }
    } else {
      out.write(`syscall-top: pid ${process.pid}, counting every system call for ${once ? '1 s' : 'a second at a time (Ctrl-C stops)'}\n`);
    }
    let failure: { error: unknown } | undefined;
    const tick = () => {
      try {
        last = top.sample();
      } catch (error) {
        failure = { error }; // thrown below, after the cleanup
        stop();
        return;
      }
      history.push(last.total / (last.seconds || 1));
      if (history.length > 30) history.shift();
      recent.push(...last.execs);
      if (recent.length > 50) recent.splice(0, recent.length - 50);
      draw();
    };
    if (once) {
      await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, 1000))]);
      tick();
    } else {
      timer = setInterval(tick, 1000);
      await stopped;
    }
    if (failure) throw failure.error;
    return 0;
  } finally {
    clearInterval(timer);
    for (const signal of SIGNALS) process.off(signal, onSignal);
    out.off('error', onSignal);
    if (keys) {
      input.off('data', onKey);
      input.setRawMode(false);
      input.pause();
    }
    if (tty) {
      out.off('resize', draw);
      restore();
      process.off('exit', restore);
    }
    top.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
