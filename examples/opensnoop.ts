// opensnoop: every openat(2) as it returns, read from a perf buffer. bpf/opensnoop.c
// remembers each call's filename on sys_enter_openat and writes a struct event on
// sys_exit_openat with bpf_perf_event_output; this side decodes it with a struct codec.
//
//   node dist/examples/opensnoop.js [--pid PID]     (Ctrl-C to stop)
//
// `startOpensnoop` is the example's logic, also run by test/opensnoop.test.ts.
import { fileURLToPath } from 'node:url';
import { bytes, EbpfLoader, i32, PerfEventArray, struct, u32, u64, type Decoded, type Ebpf, type Link, type PerfReader, TracePoint } from '../src/index.js';

/** struct event of bpf/opensnoop.c. */
export const eventCodec = struct({
  tsNs: u64,
  pid: u32,
  tid: u32,
  ret: i32,
  flags: i32,
  comm: bytes(16),
  filename: bytes(256),
});

export interface OpenEvent {
  cpu: number;
  pid: number;
  tid: number;
  /** The fd, or -errno. */
  ret: number;
  flags: number;
  comm: string;
  filename: string;
}

const cString = (b: Uint8Array): string => {
  const end = b.indexOf(0);
  return Buffer.from(b.buffer, b.byteOffset, end < 0 ? b.length : end).toString('utf8');
};

export function decodeEvent(cpu: number, data: Uint8Array): OpenEvent {
  const e: Decoded<typeof eventCodec> = eventCodec.decode({ bytes: data, view: new DataView(data.buffer, data.byteOffset, data.byteLength) }, 0);
  return { cpu, pid: e.pid, tid: e.tid, ret: e.ret, flags: e.flags, comm: cString(e.comm), filename: cString(e.filename) };
}

export interface Opensnoop extends Disposable {
  /** The calls as they return; a report of lost samples comes as `{ lost }`. Ends when `signal` aborts or close(). */
  events(signal?: AbortSignal): AsyncGenerator<OpenEvent | { lost: number }, void, undefined>;
  readonly reader: PerfReader;
  close(): void;
}

/** Loads bpf/opensnoop.o (only process `pid`'s calls when given), attaches both tracepoints and opens the perf buffer. */
export function startOpensnoop(options: { pid?: number; object?: string } = {}): Opensnoop {
  const loader = new EbpfLoader();
  if (options.pid !== undefined) loader.setGlobal('targ_tgid', options.pid);
  const ebpf: Ebpf = loader.load(options.object ?? fileURLToPath(new URL('../../bpf/opensnoop.o', import.meta.url)));
  const links: Link[] = [];
  let reader: PerfReader;
  try {
    for (const name of ['on_enter', 'on_exit']) links.push(ebpf.program(name, TracePoint).attach());
    reader = PerfEventArray.tryFrom(ebpf.map('events')).reader({ pageCount: 16 });
  } catch (err) {
    for (const l of links) l.close();
    ebpf.close();
    throw err;
  }
  const close = () => {
    for (const l of links) l.close();
    reader.close();
    ebpf.close();
  };
  return {
    reader,
    async *events(signal?: AbortSignal) {
      for await (const r of reader.records({ signal })) {
        yield r.lost ? { lost: r.lost } : decodeEvent(r.cpu, r.data);
      }
    },
    close,
    [Symbol.dispose]: close,
  };
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--pid');
  const pid = i > 0 ? Number(process.argv[i + 1]) : undefined;
  using snoop = startOpensnoop({ pid });
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  console.log(`${'PID'.padEnd(8)}${'COMM'.padEnd(17)}${'FD'.padStart(4)} ${'ERR'.padStart(4)} PATH`);
  try {
    for await (const e of snoop.events(stop.signal)) {
      if ('lost' in e) console.log(`(lost ${e.lost} events)`);
      else console.log(`${String(e.pid).padEnd(8)}${e.comm.padEnd(17)}${String(e.ret >= 0 ? e.ret : -1).padStart(4)} ${String(e.ret >= 0 ? 0 : -e.ret).padStart(4)} ${e.filename}`);
    }
  } catch (err) {
    if (!stop.signal.aborted) throw err;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
