// The classic tc attachment: a clsact qdisc and a cls_bpf filter in direct-action mode,
// over rtnetlink. The kernel keeps no link object: the filter is the attachment.
//
// The clsact qdisc: tsbpf adds it when missing, and when the last cls_bpf link of this
// process on the interface detaches, removes it if tsbpf added it and no filter is left
// on either of its hooks. A clsact that was there before (someone else's filters may
// live on it) always stays, as with libbpf and aya, which never remove it.
import { statSync } from 'node:fs';
import { Errno } from '../sys/errors.js';
import { NlMessage, NlmF, Rtm, attrU32, parseAttrs, refusedWith, rtnetlink, rtnetlinkChange, type NlReply } from '../sys/netlink.js';
import { attachError, Link } from './link.js';
import type { Interface } from './netif.js';
import { inNetns } from './netns.js';
import type { TargetFd } from './prog-attach.js';

/** The side of an interface a tc program runs on. */
export type TcDirection = 'ingress' | 'egress';

const TC_H_CLSACT = 0xfffffff1;
const CLSACT_HANDLE = 0xffff0000;
export const tcParents: Record<TcDirection, number> = { ingress: 0xfffffff2, egress: 0xfffffff3 };
const ETH_P_ALL_BE = 0x0300; // htons(ETH_P_ALL)
const TCA_KIND = 1;
const TCA_OPTIONS = 2;
const TCA_BPF_FD = 6;
const TCA_BPF_NAME = 7;
const TCA_BPF_FLAGS = 8;
const TCA_BPF_ID = 11;
const TCA_BPF_FLAG_ACT_DIRECT = 1;

function tcmsg(ifindex: number, handle: number, parent: number, info = 0): Uint8Array {
  const b = new Uint8Array(20); // family, pad, ifindex, handle, parent, info
  const v = new DataView(b.buffer);
  v.setInt32(4, ifindex, true);
  v.setUint32(8, handle >>> 0, true);
  v.setUint32(12, parent >>> 0, true);
  v.setUint32(16, info >>> 0, true);
  return b;
}

export interface FilterId {
  ifindex: number;
  parent: number;
  priority: number;
  handle: number;
}

const filterInfo = (priority: number) => ((priority << 16) | ETH_P_ALL_BE) >>> 0;

/**
 * The network namespace this thread is in: interface indexes are per namespace, so the
 * records below key interfaces by namespace and index.
 */
const here = (): number => {
  try {
    return statSync('/proc/thread-self/ns/net').ino;
  } catch {
    return 0; // no procfs: this process's namespace is the only one it can name
  }
};

/** Interfaces ("netns inode:ifindex") whose clsact qdisc this process added and has not removed. */
const addedClsact = new Set<string>();

/** True when the interface has a clsact qdisc. */
function hasClsact(ifindex: number): boolean {
  return rtnetlink(new NlMessage(Rtm.GetQdisc, NlmF.Dump).bytes(tcmsg(ifindex, 0, 0))).some((r) => {
    const v = new DataView(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength);
    return r.type === Rtm.NewQdisc && v.getInt32(4, true) === ifindex && v.getUint32(12, true) === TC_H_CLSACT;
  });
}

/**
 * Adds clsact; false when the interface has one already. Asked first, so that when the
 * answer to the add is lost a clsact found afterwards is known to be this one's.
 */
export function addClsact(ifindex: number): boolean {
  if (hasClsact(ifindex)) return false;
  try {
    rtnetlinkChange(new NlMessage(Rtm.NewQdisc, NlmF.Ack | NlmF.Create | NlmF.Excl).bytes(tcmsg(ifindex, CLSACT_HANDLE, TC_H_CLSACT)).str(TCA_KIND, 'clsact'), () => hasClsact(ifindex));
    addedClsact.add(`${here()}:${ifindex}`);
    return true;
  } catch (err) {
    if (refusedWith(err, Errno.EEXIST)) return false;
    throw err;
  }
}

export function delClsact(ifindex: number): void {
  rtnetlinkChange(new NlMessage(Rtm.DelQdisc, NlmF.Ack).bytes(tcmsg(ifindex, CLSACT_HANDLE, TC_H_CLSACT)).str(TCA_KIND, 'clsact'), () => !hasClsact(ifindex));
  addedClsact.delete(`${here()}:${ifindex}`);
}

/** The cls_bpf program id of a filter reply, and its handle and priority. */
function decodeFilter(r: NlReply): { handle: number; priority: number; programId?: number } {
  const v = new DataView(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength);
  const options = parseAttrs(r.payload, 20).get(TCA_OPTIONS);
  return {
    handle: v.getUint32(8, true),
    priority: v.getUint32(16, true) >>> 16,
    programId: options ? attrU32(parseAttrs(options).get(TCA_BPF_ID)) : undefined,
  };
}

/** Filters (cls_bpf links) this process attached and has not detached, as 'ifindex:parent:priority:handle'. */
const liveFilters = new Set<string>();
const filterKey = (f: FilterId) => `${here()}:${f.ifindex}:${f.parent}:${f.priority}:${f.handle}`;

/** The cls_bpf filters at a hook (RTM_GETTFILTER dump). */
function filtersAt(ifindex: number, parent: number): (FilterId & { programId?: number })[] {
  return rtnetlink(new NlMessage(Rtm.GetTfilter, NlmF.Dump).bytes(tcmsg(ifindex, 0, parent)))
    .filter((r) => r.type === Rtm.NewTfilter)
    .map((r) => ({ ifindex, parent, ...decodeFilter(r) }));
}

/**
 * Adds the cls_bpf filter; the kernel echoes it back with the handle and priority it
 * chose. When the answer is lost, the filter running this program that no link of
 * this process holds is the one added (if any).
 */
export function addFilter(f: FilterId, prog: { fd: number; name: string }, id: number): FilterId {
  const msg = new NlMessage(Rtm.NewTfilter, NlmF.Ack | NlmF.Echo | NlmF.Create | NlmF.Excl)
    .bytes(tcmsg(f.ifindex, f.handle, f.parent, filterInfo(f.priority)))
    .str(TCA_KIND, 'bpf')
    .nest(TCA_OPTIONS, (m) => m.u32(TCA_BPF_FD, prog.fd).str(TCA_BPF_NAME, `${prog.name}:[${id}]`).u32(TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT));
  let found: FilterId | undefined;
  const echoed = rtnetlinkChange(msg, () => {
    found = filtersAt(f.ifindex, f.parent).find((x) => x.programId === id && !liveFilters.has(filterKey(x)) && (!f.priority || x.priority === f.priority) && (!f.handle || x.handle === f.handle));
    return found !== undefined;
  }).find((r) => r.type === Rtm.NewTfilter);
  const made = found ?? (echoed ? { ...f, ...decodeFilter(echoed) } : f); // no echo: only possible when both were given
  return { ifindex: f.ifindex, parent: f.parent, priority: made.priority, handle: made.handle };
}

/** The program id of the filter, undefined when it is gone. */
function filterProgram(f: FilterId): number | undefined {
  try {
    const replies = rtnetlink(new NlMessage(Rtm.GetTfilter, NlmF.Ack).bytes(tcmsg(f.ifindex, f.handle, f.parent, filterInfo(f.priority))).str(TCA_KIND, 'bpf'));
    const r = replies.find((x) => x.type === Rtm.NewTfilter);
    return r ? (decodeFilter(r).programId ?? 0) : undefined;
  } catch (err) {
    if (refusedWith(err, Errno.ENOENT, Errno.ENODEV, Errno.EINVAL)) return undefined;
    throw err;
  }
}

function delFilter(f: FilterId): void {
  rtnetlinkChange(new NlMessage(Rtm.DelTfilter, NlmF.Ack).bytes(tcmsg(f.ifindex, f.handle, f.parent, filterInfo(f.priority))).str(TCA_KIND, 'bpf'), () => filterProgram(f) === undefined);
}

/** True when a hook of the clsact has a filter of any kind. */
function hasFilters(ifindex: number, parent: number): boolean {
  const replies = rtnetlink(new NlMessage(Rtm.GetTfilter, NlmF.Dump).bytes(tcmsg(ifindex, 0, parent)));
  return replies.some((r) => r.type === Rtm.NewTfilter);
}

/**
 * A cls_bpf filter attached over netlink. detach() removes the filter if it still runs
 * this program (one replaced meanwhile is left alone), then the clsact qdisc if tsbpf
 * added it and it is now empty. Not pinnable; close() detaches.
 * Kernel 4.1+ (cls_bpf).
 */
export class ClsBpfLink extends Link {
  readonly description: string;
  readonly ifindex: number;
  readonly direction: TcDirection;
  readonly priority: number;
  readonly handle: number;
  /** The kernel id of the attached program. */
  readonly programId: number;
  /** True when this attachment added the clsact qdisc (it goes with the last filter tsbpf put on it). */
  readonly createdQdisc: boolean;
  readonly #program: string;
  /** The network namespace of the interface, when it is not this thread's: netlink goes there. */
  readonly #netns: TargetFd | undefined;

  /** @internal */
  constructor(iface: Interface, direction: TcDirection, f: FilterId, program: { name: string; id: number }, createdQdisc: boolean, netns?: TargetFd) {
    super();
    this.#netns = netns;
    this.ifindex = iface.index;
    this.direction = direction;
    this.priority = f.priority;
    this.handle = f.handle;
    this.programId = program.id;
    this.createdQdisc = createdQdisc;
    this.#program = program.name;
    this.description = `cls_bpf ${direction} on ${iface.name} (priority ${f.priority}, handle 0x${f.handle.toString(16)})`;
    liveFilters.add(filterKey(f));
  }

  protected detachNow(): void {
    try {
      inNetns(this.#netns, () => this.#detach());
    } finally {
      this.#netns?.close();
    }
  }

  #detach(): void {
    const f: FilterId = { ifindex: this.ifindex, parent: tcParents[this.direction], priority: this.priority, handle: this.handle };
    try {
      if (filterProgram(f) === this.programId) delFilter(f);
      liveFilters.delete(filterKey(f));
      if (addedClsact.has(`${here()}:${f.ifindex}`) && !hasFilters(f.ifindex, tcParents.ingress) && !hasFilters(f.ifindex, tcParents.egress)) delClsact(f.ifindex);
    } catch (err) {
      // The interface went away with everything on it.
      if (refusedWith(err, Errno.ENODEV, Errno.ENOENT)) {
        liveFilters.delete(filterKey(f));
        return;
      }
      throw attachError(this.#program, `${this.description} (detach)`, err);
    }
  }
}
