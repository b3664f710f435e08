// cgroup-connect4: refuse connect() to some IPv4 addresses and ports, for the processes
// of one cgroup.
//
//   node dist/examples/cgroup-connect4.js <cgroup> --block 192.0.2.7:443 [--block 198.51.100.1 ...] [--duration S]
//
// <cgroup> is a cgroup v2 directory (/sys/fs/cgroup/my.slice). The cgroup/connect4
// program (bpf/ex_cgroup_connect4.c) looks the destination up in the hash map `blocked`;
// a listed address:port, or an address listed without a port, makes connect() fail with
// EPERM. Processes in the cgroup's descendants are covered too. When it stops (after
// --duration seconds, or on Ctrl-C) it prints how many connects each entry refused and
// detaches. In an application, import from 'tsbpf' instead of '../src/index.js'.
import { isIPv4 } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CgroupSockAddr, EbpfLoader, HashMap, isNotSupported, struct, u16, u32, u64 } from '../src/index.js';

const OBJECT = fileURLToPath(new URL('../../bpf/ex_cgroup_connect4.o', import.meta.url));

/** struct endpoint of the C file: address and port in host byte order, port 0 for any. */
const endpoint = struct({ addr: u32, port: u16 });
type Endpoint = { addr: number; port: number };

function parseEndpoint(text: string): Endpoint {
  const [ip = '', port = '0'] = text.split(':');
  const n = Number(port);
  if (!isIPv4(ip) || !Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`not an IPv4 address[:port]: ${text}`);
  return { addr: ip.split('.').reduce((a, b) => a * 256 + Number(b), 0), port: n };
}

function formatEndpoint(e: Endpoint): string {
  const ip = [24, 16, 8, 0].map((s) => (e.addr >>> s) & 255).join('.');
  return e.port === 0 ? `${ip}:*` : `${ip}:${e.port}`;
}

/** Resolves after `seconds` (never when undefined), or on Ctrl-C / SIGTERM. */
function stopped(seconds: number | undefined): Promise<void> {
  return new Promise((resolve) => {
    // Signal listeners alone do not keep Node running: a timer does.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    const timer = seconds === undefined ? undefined : setTimeout(done, seconds * 1000);
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    function done(): void {
      clearInterval(keepAlive);
      clearTimeout(timer);
      resolve();
    }
  });
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      block: { type: 'string', short: 'b', multiple: true, default: [] },
      duration: { type: 'string', short: 'd' },
    },
  });
  const cgroup = positionals[0];
  if (cgroup === undefined || values.block.length === 0) throw new Error('usage: cgroup-connect4 <cgroup> --block ADDR[:PORT] [--block ...] [--duration S]');
  const entries = values.block.map(parseEndpoint);
  const duration = values.duration === undefined ? undefined : Number(values.duration);

  // With `using` (TypeScript 5.2+ compiles it for Node 20 too), the try/finally blocks are:
  //   using ebpf = new EbpfLoader().load(OBJECT);
  //   using link = ebpf.program('block_connect4', CgroupSockAddr).attach(cgroup);
  const ebpf = new EbpfLoader().load(OBJECT);
  try {
    const blocked = ebpf.map('blocked', HashMap, endpoint, u64);
    for (const e of entries) blocked.insert(e, 0n);
    // Default mode 'multi': runs beside any program already on the cgroup (a BPF link where the kernel has cgroup links).
    const link = ebpf.program('block_connect4', CgroupSockAddr).attach(cgroup);
    try {
      console.log(`refusing connect() to ${entries.map(formatEndpoint).join(', ')} from ${cgroup}; Ctrl-C to stop`);
      await stopped(duration);
    } finally {
      link.close();
    }
    for (const [e, refused] of blocked) console.log(`${formatEndpoint(e)}: ${refused} connects refused`);
  } finally {
    ebpf.close();
  }
}

main().catch((err: unknown) => {
  // A kernel without a feature is not a bug in the tool: say so, with its own exit code.
  const what = err instanceof Error ? `${err.name}${'kind' in err ? ` (${String(err.kind)})` : ''}: ${err.message}` : String(err);
  console.error(`cgroup-connect4: ${isNotSupported(err) ? 'not supported on this kernel: ' : ''}${what}`);
  process.exitCode = isNotSupported(err) ? 2 : 1;
});
