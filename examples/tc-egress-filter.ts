// tc-egress-filter: drop the packets an interface sends to some TCP/UDP ports.
//
//   node dist/examples/tc-egress-filter.js <interface> --port 53 [--port 8080 ...] [--duration S]
//
// The tc program (bpf/ex_tc_egress_filter.c) looks each outgoing IPv4 TCP or UDP
// packet's destination port up in the hash map `blocked_ports` and drops it when found,
// counting the drops. The map's key and value codecs come from the object's BTF
// (ebpf.typedMap). The program goes on the egress hook as a TCX link where the kernel
// has them (6.6+), else as a cls_bpf filter under a clsact qdisc: tsbpf picks. When it
// stops (after --duration seconds, or on Ctrl-C) it prints the drops per port and
// detaches. In an application, import from 'tsbpf' instead of '../src/index.js'.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ClsBpfLink, EbpfLoader, HashMap, isNotSupported, SchedClassifier } from '../src/index.js';

const OBJECT = fileURLToPath(new URL('../../bpf/ex_tc_egress_filter.o', import.meta.url));

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
      port: { type: 'string', short: 'p', multiple: true, default: [] },
      duration: { type: 'string', short: 'd' },
    },
  });
  const iface = positionals[0];
  const ports = values.port.map(Number);
  if (iface === undefined || ports.length === 0) throw new Error('usage: tc-egress-filter <interface> --port N [--port N ...] [--duration S]');
  for (const p of ports) if (!Number.isInteger(p) || p < 1 || p > 65535) throw new Error(`not a port: ${p}`);
  const duration = values.duration === undefined ? undefined : Number(values.duration);

  // With `using` (TypeScript 5.2+ compiles it for Node 20 too), the try/finally blocks are:
  //   using ebpf = new EbpfLoader().load(OBJECT);
  //   using link = ebpf.program('drop_ports', SchedClassifier).attach(iface, 'egress');
  const ebpf = new EbpfLoader().load(OBJECT);
  try {
    // HashMap<BtfValue, BtfValue>: __u16 keys are numbers, __u64 values bigints.
    const blocked = ebpf.typedMap('blocked_ports', HashMap);
    for (const port of ports) blocked.insert(port, 0n);
    const link = ebpf.program('drop_ports', SchedClassifier).attach(iface, 'egress');
    try {
      const how = link instanceof ClsBpfLink ? `cls_bpf filter, priority ${link.priority}` : 'TCX link';
      console.log(`dropping packets ${iface} sends to port ${ports.join(', ')} (${how}); Ctrl-C to stop`);
      await stopped(duration);
    } finally {
      link.close();
    }
    for (const [port, drops] of blocked) console.log(`port ${port}: ${drops} packets dropped`);
  } finally {
    ebpf.close();
  }
}

main().catch((err: unknown) => {
  // A kernel without a feature is not a bug in the tool: say so, with its own exit code.
  const what = err instanceof Error ? `${err.name}${'kind' in err ? ` (${String(err.kind)})` : ''}: ${err.message}` : String(err);
  console.error(`tc-egress-filter: ${isNotSupported(err) ? 'not supported on this kernel: ' : ''}${what}`);
  process.exitCode = isNotSupported(err) ? 2 : 1;
});
