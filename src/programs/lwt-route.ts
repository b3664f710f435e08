// Lightweight tunnel programs run on routes: a route whose encapsulation is BPF
// (LWTUNNEL_ENCAP_BPF) carries up to one program per hook (in, out, xmit), as
// `ip route add <dst> encap bpf xmit obj ...` makes it. Attaching adds such a route
// over rtnetlink; detaching deletes it.
import { invalidOption } from './options.js';
import { isIP } from 'node:net';
import { ProgramError } from '../errors.js';
import { attrStr, attrU32, NlMessage, NlmF, parseAttrs, Rtm, rtnetlink, rtnetlinkChange } from '../sys/netlink.js';
import { attachError } from '../links/link.js';
import { LwtRouteLink } from '../links/lwt-route.js';
import { resolveInterface } from '../links/netif.js';
import type { Program } from './program.js';

/** The lightweight tunnel hook of a route (lwt_in, lwt_out, lwt_xmit; 4.10+). */
export type LwtHook = 'in' | 'out' | 'xmit';

/** Options of an LWT attach: the route the program is set on (4.10+). */
export interface LwtAttachOptions {
  /** The route's destination: 'a.b.c.d/len' or an IPv6 prefix ('fd00::/64'); no length means a host route. */
  destination: string;
  /** The route's output interface (name or index). */
  device: string | number;
  /** A next hop on `device`. */
  gateway?: string;
  /** Routing table (default: main, 254). */
  table?: number;
  /** Replace a route with the same destination instead of failing with EEXIST. */
  replace?: boolean;
  /** xmit only: bytes of headroom the program may push (LWT_BPF_XMIT_HEADROOM). */
  headroom?: number;
}

const RTA_DST = 1, RTA_OIF = 4, RTA_GATEWAY = 5, RTA_TABLE = 15, RTA_ENCAP_TYPE = 21, RTA_ENCAP = 22;
const LWTUNNEL_ENCAP_BPF = 6;
const LWT_BPF_PROG_FD = 1, LWT_BPF_PROG_NAME = 2, LWT_BPF_XMIT_HEADROOM = 4;
const hookAttr: Record<LwtHook, number> = { in: 1, out: 2, xmit: 3 };
const AF_INET = 2, AF_INET6 = 10;

/** The bytes of an IPv4 or IPv6 address, with its family. */
function ipBytes(addr: string): { family: number; bytes: Uint8Array } | undefined {
  const kind = isIP(addr);
  if (kind === 4) return { family: AF_INET, bytes: new Uint8Array(addr.split('.').map(Number)) };
  if (kind !== 6) return undefined;
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, undefined];
  const groups = (s: string | undefined) => (s ? s.split(':') : []);
  const h = groups(head), t = groups(tail);
  if (t.at(-1)?.includes('.') || h.at(-1)?.includes('.')) return undefined; // embedded IPv4: not needed here
  const all = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => new DataView(bytes.buffer).setUint16(i * 2, parseInt(g, 16)));
  return { family: AF_INET6, bytes };
}

/** The rtmsg + key attributes that name the route, for adding and for deleting it. */
function routeMessage(type: number, flags: number, dst: { family: number; bytes: Uint8Array }, len: number, ifindex: number, table: number): NlMessage {
  const rtmsg = new Uint8Array(12); // family, dst_len, src_len, tos, table, protocol, scope, type, flags
  rtmsg.set([dst.family, len, 0, 0, table < 256 ? table : 252 /* RT_TABLE_COMPAT */, 4 /* RTPROT_STATIC */, 0 /* RT_SCOPE_UNIVERSE */, 1 /* RTN_UNICAST */]);
  return new NlMessage(type, flags).bytes(rtmsg).attr(RTA_DST, dst.bytes).u32(RTA_OIF, ifindex).u32(RTA_TABLE, table);
}

/**
 * The name of the program the route to `dst`/`len` via `ifindex` in `table` runs at
 * `hook` ('' for a route without one), or undefined when there is no such route.
 */
function routeProgram(dst: { family: number; bytes: Uint8Array }, len: number, ifindex: number, table: number, hook: LwtHook): string | undefined {
  const rtmsg = new Uint8Array(12);
  rtmsg[0] = dst.family;
  for (const r of rtnetlink(new NlMessage(Rtm.GetRoute, NlmF.Dump).bytes(rtmsg))) {
    if (r.type !== Rtm.NewRoute || r.payload[0] !== dst.family || r.payload[1] !== len) continue;
    const attrs = parseAttrs(r.payload, 12);
    const at = attrs.get(RTA_DST);
    if ((attrU32(attrs.get(RTA_TABLE)) ?? r.payload[4]) !== table || attrU32(attrs.get(RTA_OIF)) !== ifindex) continue;
    if (!at || at.length !== dst.bytes.length || at.some((b, i) => b !== dst.bytes[i])) continue;
    const encap = attrs.get(RTA_ENCAP);
    const prog = encap && parseAttrs(encap).get(hookAttr[hook]);
    return (prog && attrStr(parseAttrs(prog).get(LWT_BPF_PROG_NAME))) ?? '';
  }
  return undefined;
}

/** Adds a route to `options.destination` whose BPF encapsulation runs `program` at `hook`. */
export function attachLwt(program: Program, hook: LwtHook, options: LwtAttachOptions): LwtRouteLink {
  const progFd = program.fd;
  if (typeof options !== 'object' || options === null) invalidOption(program.name, 'the route options', 'an object ({ destination, ... })', options);
  if (typeof options.destination !== 'string') invalidOption(program.name, 'destination', "an address with an optional prefix length ('10.0.0.0/8')", options.destination);
  const [address, lenText] = options.destination.split('/') as [string, string | undefined];
  const dst = ipBytes(address);
  const maxLen = dst ? dst.bytes.length * 8 : 0;
  const len = lenText === undefined ? maxLen : Number(lenText);
  if (!dst || !Number.isInteger(len) || len < 0 || len > maxLen) {
    throw new ProgramError('UnknownTarget', `cannot attach ${program.name}: destination ${options.destination} is not an IPv4 or IPv6 prefix`, { program: program.name });
  }
  const gateway = options.gateway === undefined ? undefined : ipBytes(options.gateway);
  if (options.gateway !== undefined && gateway?.family !== dst.family) {
    throw new ProgramError('UnknownTarget', `cannot attach ${program.name}: gateway ${options.gateway} is not an address of the destination's family`, { program: program.name });
  }
  if (options.headroom !== undefined && hook !== 'xmit') throw new ProgramError('InvalidArgument', 'headroom is for xmit programs only');
  const iface = resolveInterface(options.device, program.name);
  const table = options.table ?? 254;
  const description = `lwt ${hook} route ${options.destination} dev ${iface.name}`;
  const flags = NlmF.Ack | NlmF.Create | (options.replace ? NlmF.Replace : NlmF.Excl);
  const msg = routeMessage(Rtm.NewRoute, flags, dst, len, iface.index, table);
  if (gateway) msg.attr(RTA_GATEWAY, gateway.bytes);
  msg.attr(RTA_ENCAP_TYPE, new Uint8Array([LWTUNNEL_ENCAP_BPF, 0]));
  msg.nest(RTA_ENCAP, (m) => {
    m.nest(hookAttr[hook], (p) => p.u32(LWT_BPF_PROG_FD, progFd).str(LWT_BPF_PROG_NAME, program.name));
    if (options.headroom !== undefined) m.u32(LWT_BPF_XMIT_HEADROOM, options.headroom);
  });
  // A lost answer: the route is there if it runs this program (the kernel keeps the name given).
  try {
    rtnetlinkChange(msg, () => routeProgram(dst, len, iface.index, table, hook)?.startsWith(program.name) === true);
  } catch (err) {
    throw attachError(program.name, description, err);
  }
  const remove = () => rtnetlinkChange(routeMessage(Rtm.DelRoute, NlmF.Ack, dst, len, iface.index, table), () => routeProgram(dst, len, iface.index, table, hook) === undefined);
  return new LwtRouteLink(description, remove);
}
