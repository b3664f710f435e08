// node dist/examples/execsnoop.js: print every program started on this machine, as
// bcc's execsnoop does. A tracepoint program (bpf/execsnoop.c, on
// sched/sched_process_exec) writes one struct per exec into a ring buffer; JavaScript
// reads them from the mapped ring as they come (woken through the event loop), decoded
// by a struct codec. Ctrl-C stops it.
import { fileURLToPath } from 'node:url';
import { bytes, EbpfLoader, RingBuf, struct, TracePoint, u32 } from '../src/index.js';

/** struct event of bpf/execsnoop.c. */
export const eventCodec = struct({
  pid: u32,
  ppid: u32,
  uid: u32,
  comm: bytes(16),
  filename: bytes(128),
});

export interface ExecEvent {
  pid: number;
  ppid: number;
  uid: number;
  /** The new program's name (at most 15 characters). */
  comm: string;
  /** The file executed (at most 127 bytes). */
  filename: string;
}

const OBJECT = fileURLToPath(new URL('../../bpf/execsnoop.o', import.meta.url));

/** A C string: the bytes before the first NUL. */
const cString = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.indexOf(0) < 0 ? b.length : b.indexOf(0)).toString();

/**
 * The processes started from now on, until `signal` aborts (the iteration then throws
 * the abort reason, as `events.on` does). The program is attached when the first
 * event is asked for and detached when the iteration ends.
 */
export async function* execsnoop(options: { signal?: AbortSignal } = {}): AsyncGenerator<ExecEvent, void, undefined> {
  const ebpf = new EbpfLoader().load(OBJECT);
  try {
    using link = ebpf.program('handle_exec', TracePoint).attach('sched', 'sched_process_exec');
    using events = ebpf.map('events', RingBuf);
    void link;
    for await (const e of events.records({ signal: options.signal, codec: eventCodec })) {
      yield { pid: e.pid, ppid: e.ppid, uid: e.uid, comm: cString(e.comm), filename: cString(e.filename) };
    }
  } finally {
    ebpf.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  console.log(`${'TIME'.padEnd(12)} ${'PCOMM'.padEnd(16)} ${'PID'.padStart(7)} ${'PPID'.padStart(7)} ${'UID'.padStart(5)} FILENAME`);
  try {
    for await (const e of execsnoop({ signal: ac.signal })) {
      const time = new Date().toISOString().slice(11, 23);
      console.log(`${time} ${e.comm.padEnd(16)} ${String(e.pid).padStart(7)} ${String(e.ppid).padStart(7)} ${String(e.uid).padStart(5)} ${e.filename}`);
    }
  } catch (err) {
    if (!ac.signal.aborted) throw err;
  }
}
