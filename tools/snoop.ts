// Reads the events of any BPF object that reports through a map named `events`:
// loads it, attaches its tracepoint programs (section tracepoint/<category>/<name>) and
// raw tracepoints, and prints each record of a PERF_EVENT_ARRAY or RINGBUF `events` map as it comes
// (CPU, size, and the runs of printable text in it: comm, file names, arguments).
// For trying libbpf-tools-style objects (execsnoop, exitsnoop, statsnoop, ...) built
// elsewhere; no object is built here.
//
//   node dist/tools/snoop.js OBJECT [--set name=value]... [--run 'cmd args'] [--match TEXT]
//                                   [--count N] [--timeout MS]
//
//   --set     a .rodata/.data global before load (numbers; true/false)
//   --run     a command started once everything is attached (its events are then seen)
//   --match   exit 0 at the first record holding TEXT, 1 if none came before the timeout
//   --count   stop after N records (default: until --timeout or Ctrl-C)
//   --timeout stop after MS milliseconds (default 10000)
import { spawn } from 'node:child_process';
import { EbpfLoader, MapType, PerfEventArray, RingBuf, mapTypeName, type Link, type RawTracePoint, type TracePoint } from '../src/index.js';

interface Args {
  object: string;
  globals: [string, number | boolean][];
  run?: string;
  match?: string;
  count: number;
  timeoutMs: number;
}

function parse(argv: string[]): Args {
  const a: Args = { object: '', globals: [], count: Infinity, timeoutMs: 10_000 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--set') {
      const [name, v] = value().split('=');
      a.globals.push([name!, v === 'true' ? true : v === 'false' ? false : Number(v)]);
    } else if (arg === '--run') a.run = value();
    else if (arg === '--match') a.match = value();
    else if (arg === '--count') a.count = Number(value());
    else if (arg === '--timeout') a.timeoutMs = Number(value());
    else if (!a.object && !arg.startsWith('--')) a.object = arg;
    else throw new Error(`unknown argument ${arg}`);
  }
  if (!a.object) throw new Error('usage: snoop OBJECT [--set name=value]... [--run cmd] [--match TEXT] [--count N] [--timeout MS]');
  return a;
}

/** The runs of at least 3 printable ASCII characters in `data`. */
function strings(data: Uint8Array): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i <= data.length; i++) {
    const c = i < data.length ? data[i]! : 0;
    const printable = c >= 0x20 && c < 0x7f;
    if (printable && start < 0) start = i;
    if (!printable && start >= 0) {
      if (i - start >= 3) out.push(Buffer.from(data.subarray(start, i)).toString('latin1'));
      start = -1;
    }
  }
  return out;
}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2));
  const loader = new EbpfLoader();
  for (const [name, v] of args.globals) loader.setGlobal(name, v);
  using ebpf = loader.load(args.object);
  const links: Link[] = [];
  try {
    for (const [name, prog] of ebpf.programs()) {
      if (prog.kind === 'TracePoint') links.push((prog as TracePoint).attach());
      else if (prog.kind === 'RawTracePoint') links.push((prog as RawTracePoint).attach());
      else continue;
      console.error(`attached ${name} (${prog.kind}, ${prog.section})`);
    }
    const map = ebpf.map('events');
    console.error(`map events: ${mapTypeName(map.type)}, max_entries ${map.maxEntries}`);
    if (map.type !== MapType.PerfEventArray && map.type !== MapType.Ringbuf) {
      console.error('neither a perf event array nor a ring buffer: nothing read here');
      return 2;
    }
    // Records as { cpu, data, lost }: a ring buffer's have no CPU and lose nothing silently
    // (the program's reserve fails instead).
    using reader = map.type === MapType.Ringbuf ? RingBuf.tryFrom(map) : PerfEventArray.tryFrom(map).reader({ pageCount: 16 });
    const signal = AbortSignal.timeout(args.timeoutMs);
    const records: AsyncIterable<{ cpu?: number; data: Uint8Array; lost?: number }> =
      reader instanceof RingBuf ? (async function* () {
        for await (const data of reader.records({ signal })) yield { data };
      })() : reader.records({ signal });
    if (args.run) {
      const [cmd, ...rest] = args.run.split(' ');
      spawn(cmd!, rest, { stdio: 'ignore' }).on('error', (err) => console.error(`--run: ${err.message}`));
    }
    let n = 0;
    try {
      for await (const r of records) {
        const where = r.cpu === undefined ? 'ring' : `cpu ${r.cpu}`;
        if (r.lost) {
          console.log(`${where}: ${r.lost} lost`);
          continue;
        }
        const text = strings(r.data);
        console.log(`${where}: ${r.data.length} bytes ${JSON.stringify(text)}`);
        if (args.match !== undefined && text.some((t) => t.includes(args.match!))) return 0;
        if (++n >= args.count) break;
      }
    } catch (err) {
      if (!signal.aborted) throw err;
    }
    return args.match !== undefined ? 1 : 0;
  } finally {
    for (const l of links) l.close();
  }
}

process.exitCode = await main();
