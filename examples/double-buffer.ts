// double-buffer: which processes make a system call most, interval by interval, read
// from two hash maps that take turns (an ArrayOfMaps of two slots).
//
//   node dist/examples/double-buffer.js [--syscall openat] [--interval S] [--top N] [--duration S]
//
// The tracepoint program (bpf/ex_double_buffer.c) counts calls per process into the
// hash map in slot `active_slot` of the ArrayOfMaps `slots`. Every interval this flips
// `active_slot` (a global variable, written in place), waits for the programs that already
// looked up the old slot to finish, then reads and empties the old map: the interval's
// counts, never mixed with the next one's, and never read while being written. It
// prints the busiest processes each interval, and the rest when it stops (after
// --duration seconds, or on Ctrl-C). `npm start` is a fuller tool built the same way.
// In an application, import from 'tsbpf' instead of '../src/index.js'.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ArrayOfMaps, cstring, EbpfLoader, HashMap, isNotSupported, struct, TracePoint, u32, u64, type Decoded } from '../src/index.js';

const OBJECT = fileURLToPath(new URL('../../bpf/ex_double_buffer.o', import.meta.url));

/** struct proc_calls of the C file. */
const procCalls = struct({ calls: u64, comm: cstring(16) });
/** One process's calls in one interval: [pid, { calls: bigint, comm: string }]. */
type Row = [pid: number, value: Decoded<typeof procCalls>];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      syscall: { type: 'string', short: 's', default: 'openat' },
      interval: { type: 'string', short: 'i', default: '1' },
      top: { type: 'string', short: 'n', default: '10' },
      duration: { type: 'string', short: 'd' },
    },
  });
  const interval = Number(values.interval);
  const top = Number(values.top);
  if (!/^\w+$/.test(values.syscall) || !(interval > 0) || !(top > 0)) throw new Error('usage: double-buffer [--syscall NAME] [--interval S] [--top N] [--duration S]');
  const end = values.duration === undefined ? Infinity : Date.now() + Number(values.duration) * 1000;
  let stop = false;
  let wake: (() => void) | undefined;
  const onSignal = () => {
    stop = true;
    wake?.();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  // With `using` (TypeScript 5.2+ compiles it for Node 20 too), the try/finally blocks are:
  //   using ebpf = new EbpfLoader().load(OBJECT);
  //   using link = ebpf.program('count_syscall', TracePoint).attach('syscalls', `sys_enter_${values.syscall}`);
  //   ... and in swapAndRead(): using counts = slots.get(old);
  const ebpf = new EbpfLoader().load(OBJECT);
  try {
    // get(slot) returns the inner map as a HashMap<number, { calls: bigint; comm: string }> with its own fd.
    const slots = ebpf.map('slots', ArrayOfMaps, HashMap.fromMapData(u32, procCalls));
    const active = ebpf.variable<number>('active_slot');

    /** Flips the slots and returns the old one's counts, emptying it. */
    const swapAndRead = (): Row[] => {
      const old = active.get() === 0 ? 0 : 1;
      active.set(1 - old);
      const counts = slots.get(old);
      try {
        // A program that read active_slot just before the flip may still be adding to the
        // old map. Storing the map back into its slot returns only after an RCU grace
        // period (the kernel waits for running programs after any map-in-map update), so
        // from here on nothing writes to it.
        slots.set(old, counts);
        const rows = [...counts];
        for (const [pid] of rows) counts.remove(pid);
        return rows;
      } finally {
        counts.close();
      }
    };

    const print = (rows: Row[], all: boolean) => {
      rows.sort(([, a], [, b]) => (b.calls > a.calls ? 1 : b.calls < a.calls ? -1 : 0));
      const total = rows.reduce((sum, [, v]) => sum + v.calls, 0n);
      console.log(`${new Date().toISOString().slice(11, 19)}  ${values.syscall}: ${total} calls by ${rows.length} processes`);
      for (const [pid, v] of all ? rows : rows.slice(0, top)) console.log(`${String(pid).padStart(8)} ${v.comm.padEnd(16)} ${String(v.calls).padStart(10)}`);
    };

    const link = ebpf.program('count_syscall', TracePoint).attach('syscalls', `sys_enter_${values.syscall}`);
    try {
      console.log(`counting ${values.syscall} calls per process every ${interval} s; Ctrl-C to stop`);
      while (!stop && Date.now() < end) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, Math.min(interval * 1000, end - Date.now()));
        });
        print(swapAndRead(), false);
      }
    } finally {
      link.close();
    }
    // Detached: what the other slot caught since the last flip is the last interval's tail.
    print(swapAndRead(), true);
  } finally {
    ebpf.close();
  }
}

main().catch((err: unknown) => {
  // A kernel without a feature is not a bug in the tool: say so, with its own exit code.
  const what = err instanceof Error ? `${err.name}${'kind' in err ? ` (${String(err.kind)})` : ''}: ${err.message}` : String(err);
  console.error(`double-buffer: ${isNotSupported(err) ? 'not supported on this kernel: ' : ''}${what}`);
  process.exitCode = isNotSupported(err) ? 2 : 1;
});
