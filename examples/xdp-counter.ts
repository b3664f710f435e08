// xdp-counter: count the packets an interface receives, per protocol, with XDP.
//
//   node dist/examples/xdp-counter.js <interface> [--duration S] [--interval S] [--mode skb|drv|hw]
//
// The XDP program (bpf/ex_xdp_counter.c) counts packets and bytes per EtherType and IP
// protocol in a hash map and passes every packet on. This prints the counts every
// --interval seconds and once more when it stops: after --duration seconds, or on
// Ctrl-C. In an application, import from 'tsbpf' instead of '../src/index.js'.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { EbpfLoader, HashMap, isNotSupported, struct, u16, u64, u8, Xdp, XdpNetlinkLink, type XdpAttachOptions } from '../src/index.js';

const OBJECT = fileURLToPath(new URL('../../bpf/ex_xdp_counter.o', import.meta.url));

/** struct proto_key and struct counter of the C file: the same fields, in order (padding is implied). */
const protoKey = struct({ ethertype: u16, ip_proto: u8 });
const counter = struct({ packets: u64, bytes: u64 });

const ETHERTYPES: Record<number, string> = { 0x0800: 'IPv4', 0x0806: 'ARP', 0x86dd: 'IPv6', 0x8100: 'VLAN' };
const IP_PROTOCOLS: Record<number, string> = { 1: 'ICMP', 2: 'IGMP', 6: 'TCP', 17: 'UDP', 47: 'GRE', 58: 'ICMPv6', 132: 'SCTP' };

function protocolName(k: { ethertype: number; ip_proto: number }): string {
  const eth = ETHERTYPES[k.ethertype] ?? `0x${k.ethertype.toString(16).padStart(4, '0')}`;
  if (k.ethertype !== 0x0800 && k.ethertype !== 0x86dd) return eth;
  return `${eth}/${IP_PROTOCOLS[k.ip_proto] ?? `proto ${k.ip_proto}`}`;
}

function printCounts(packets: HashMap<{ ethertype: number; ip_proto: number }, { packets: bigint; bytes: bigint }>): void {
  const rows = [...packets].sort(([, a], [, b]) => (b.packets > a.packets ? 1 : b.packets < a.packets ? -1 : 0));
  console.log(`${'PROTOCOL'.padEnd(16)} ${'PACKETS'.padStart(10)} ${'BYTES'.padStart(12)}`);
  for (const [key, c] of rows) console.log(`${protocolName(key).padEnd(16)} ${String(c.packets).padStart(10)} ${String(c.bytes).padStart(12)}`);
  if (rows.length === 0) console.log('(no packets yet)');
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
      duration: { type: 'string', short: 'd' },
      interval: { type: 'string', short: 'i', default: '0' },
      mode: { type: 'string' },
    },
  });
  const iface = positionals[0];
  if (iface === undefined) throw new Error('usage: xdp-counter <interface> [--duration S] [--interval S] [--mode skb|drv|hw]');
  const duration = values.duration === undefined ? undefined : Number(values.duration);
  const interval = Number(values.interval);
  const options: XdpAttachOptions = {};
  if (values.mode === 'skb' || values.mode === 'drv' || values.mode === 'hw') options.mode = values.mode;
  else if (values.mode !== undefined) throw new Error(`--mode: skb, drv or hw, not ${values.mode}`);

  // With `using` (TypeScript 5.2+ compiles it for Node 20 too), the try/finally blocks are:
  //   using ebpf = new EbpfLoader().load(OBJECT);
  //   using link = ebpf.program('xdp_count', Xdp).attach(iface, options);
  const ebpf = new EbpfLoader().load(OBJECT);
  try {
    const packets = ebpf.map('packets', HashMap, protoKey, counter);
    const link = ebpf.program('xdp_count', Xdp).attach(iface, options);
    try {
      console.log(`counting packets received on ${iface} (${link instanceof XdpNetlinkLink ? 'netlink' : 'BPF link'}); Ctrl-C to stop`);
      const timer = interval > 0 ? setInterval(() => printCounts(packets), interval * 1000) : undefined;
      await stopped(duration);
      clearInterval(timer);
    } finally {
      link.close();
    }
    printCounts(packets);
  } finally {
    ebpf.close();
  }
}

main().catch((err: unknown) => {
  // A kernel without a feature is not a bug in the tool: say so, with its own exit code.
  const what = err instanceof Error ? `${err.name}${'kind' in err ? ` (${String(err.kind)})` : ''}: ${err.message}` : String(err);
  console.error(`xdp-counter: ${isNotSupported(err) ? 'not supported on this kernel: ' : ''}${what}`);
  process.exitCode = isNotSupported(err) ? 2 : 1;
});
