// uprobe: count the calls of a function in a running process.
//
//   node dist/examples/uprobe.js --pid 1234 --func handle_request            (a function of its executable)
//   node dist/examples/uprobe.js --pid 1234 --func malloc --lib libc.so.6    (a function of a library it uses)
//   options: [--duration S]
//
// The uprobe program (bpf/ex_uprobe.c) counts calls per thread in a hash map. The probe
// is attached to that one process; the count is printed when the process exits, after
// --duration seconds, or on Ctrl-C. In an application, import from 'tsbpf' instead of
// '../src/index.js'.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { EbpfLoader, HashMap, isNotSupported, u32, u64, UProbe } from '../src/index.js';

const OBJECT = fileURLToPath(new URL('../../bpf/ex_uprobe.o', import.meta.url));

/** False once the process is gone or a zombie (exited, not yet reaped by its parent). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Resolves when `pid` has exited, after `seconds` (never when undefined), or on Ctrl-C / SIGTERM. */
function stopped(pid: number, seconds: number | undefined): Promise<void> {
  return new Promise((resolve) => {
    const poll = setInterval(() => running(pid) || done(), 100);
    const timer = seconds === undefined ? undefined : setTimeout(done, seconds * 1000);
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    function done(): void {
      clearInterval(poll);
      clearTimeout(timer);
      resolve();
    }
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      pid: { type: 'string', short: 'p' },
      func: { type: 'string', short: 'f' },
      lib: { type: 'string', short: 'l' },
      duration: { type: 'string', short: 'd' },
    },
  });
  const pid = Number(values.pid);
  const func = values.func;
  if (!Number.isInteger(pid) || pid <= 0 || func === undefined) throw new Error('usage: uprobe --pid PID --func NAME [--lib LIBRARY] [--duration S]');
  const duration = values.duration === undefined ? undefined : Number(values.duration);

  // With `using` (TypeScript 5.2+ compiles it for Node 20 too), the try/finally blocks are:
  //   using ebpf = new EbpfLoader().load(OBJECT);
  //   using link = ebpf.program('count_calls', UProbe).attach({ target: pid, symbol: func });
  const ebpf = new EbpfLoader().load(OBJECT);
  try {
    const calls = ebpf.map('calls', HashMap, u32, u64);
    // target: a pid means that process's executable; a library name is looked up in its mappings.
    const link = ebpf.program('count_calls', UProbe).attach({ target: values.lib ?? pid, symbol: func, pid });
    try {
      console.log(`counting calls of ${func} in pid ${pid}${values.lib ? ` (${values.lib})` : ''}; Ctrl-C to stop`);
      await stopped(pid, duration);
    } finally {
      link.close();
    }
    let total = 0n;
    console.log(`${'TID'.padStart(8)} ${'CALLS'.padStart(10)}`);
    for (const [tid, n] of calls) {
      console.log(`${String(tid).padStart(8)} ${String(n).padStart(10)}`);
      total += n;
    }
    console.log(`${func}: ${total} calls`);
  } finally {
    ebpf.close();
  }
}

main().catch((err: unknown) => {
  // A kernel without a feature is not a bug in the tool: say so, with its own exit code.
  const what = err instanceof Error ? `${err.name}${'kind' in err ? ` (${String(err.kind)})` : ''}: ${err.message}` : String(err);
  console.error(`uprobe: ${isNotSupported(err) ? 'not supported on this kernel: ' : ''}${what}`);
  process.exitCode = isNotSupported(err) ? 2 : 1;
});
