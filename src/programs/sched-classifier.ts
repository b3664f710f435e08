// tc classifiers: TCX links (LINK_CREATE with BPF_TCX_INGRESS/EGRESS, 6.6+) with
// before/after ordering where the kernel has them, and the classic clsact qdisc + cls_bpf
// filter (direct action) over netlink otherwise or when asked for.
//
// The clsact qdisc: tsbpf adds it when missing, and when the last cls_bpf link of this
// process on the interface detaches, removes it if tsbpf added it and no filter is left
// on either of its hooks. A clsact that was there before (someone else's filters may
// live on it) always stays, as with libbpf and aya, which never remove it.
import { boolOption, checkOptions } from './options.js';
import { describeValue } from '../describe.js';
import { ProgramError } from '../errors.js';
import { isLinkTypeSupported } from '../features.js';
import { Errno, SyscallError } from '../sys/errors.js';
import { linkCreate, progQuery } from '../sys/link.js';
import { NlMessage, NlmF, Rtm, attrU32, parseAttrs, refusedWith, rtnetlink, rtnetlinkChange, type NlReply } from '../sys/netlink.js';
import { FdLink, Link, LinkType, attachError, rolledBack } from '../links/link.js';
import { type Interface, programId, resolveInterface } from '../links/netif.js';
import { Program } from './program.js';
import { AttachType } from './program-type.js';

export type TcDirection = 'ingress' | 'egress';

/**
 * Where a TCX program goes relative to others at the hook: a loaded program, a link
 * (FdLink), a program or link by kernel id, or 'all' (before all: first; after all: last).
 */
export type TcxAnchor = { fd: number; name: string } | FdLink | { programId: number } | { linkId: number } | 'all';

/** TCX link options (the default mechanism where the kernel has TCX). */
export interface TcxAttachOptions {
  netlink?: false;
  /** Run before this program or link. */
  before?: TcxAnchor;
  /** Run after this program or link. Default: after every program attached now. */
  after?: TcxAnchor;
  /** Fail with AttachError (ESTALE) if the hook changed since the query that returned this revision. */
  expectedRevision?: bigint;
}

/** Classic tc: clsact qdisc and a cls_bpf filter in direct-action mode, over netlink. */
export interface ClsBpfAttachOptions {
  netlink: true;
  /** Filter priority 1..65535 (lower runs first); default: the kernel picks one. */
  priority?: number;
  /** Filter handle; default: the kernel picks one. */
  handle?: number;
}

export type TcAttachOptions = TcxAttachOptions | ClsBpfAttachOptions;

/** A program at a TCX hook, in the order they run. */
export interface TcxEntry {
  programId: number;
  /** 0 for a program attached without a link (PROG_ATTACH). */
  linkId: number;
}

const BPF_F_BEFORE = 1 << 3;
const BPF_F_AFTER = 1 << 4;
const BPF_F_ID = 1 << 5;
const BPF_F_LINK = 1 << 13;

const TC_H_CLSACT = 0xfffffff1;
const CLSACT_HANDLE = 0xffff0000;
const parents: Record<TcDirection, number> = { ingress: 0xfffffff2, egress: 0xfffffff3 };
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

interface FilterId {
  ifindex: number;
  parent: number;
  priority: number;
  handle: number;
}

const filterInfo = (priority: number) => ((priority << 16) | ETH_P_ALL_BE) >>> 0;

/** Interfaces (by index) whose clsact qdisc this process added and has not removed. */
const addedClsact = new Set<number>();

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
function addClsact(ifindex: number): boolean {
  if (hasClsact(ifindex)) return false;
  try {
    rtnetlinkChange(new NlMessage(Rtm.NewQdisc, NlmF.Ack | NlmF.Create | NlmF.Excl).bytes(tcmsg(ifindex, CLSACT_HANDLE, TC_H_CLSACT)).str(TCA_KIND, 'clsact'), () => hasClsact(ifindex));
    addedClsact.add(ifindex);
    return true;
  } catch (err) {
    if (refusedWith(err, Errno.EEXIST)) return false;
    throw err;
  }
}

function delClsact(ifindex: number): void {
  rtnetlinkChange(new NlMessage(Rtm.DelQdisc, NlmF.Ack).bytes(tcmsg(ifindex, CLSACT_HANDLE, TC_H_CLSACT)).str(TCA_KIND, 'clsact'), () => !hasClsact(ifindex));
  addedClsact.delete(ifindex);
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
const filterKey = (f: FilterId) => `${f.ifindex}:${f.parent}:${f.priority}:${f.handle}`;

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
function addFilter(f: FilterId, prog: { fd: number; name: string }, id: number): FilterId {
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

  /** @internal */
  constructor(iface: Interface, direction: TcDirection, f: FilterId, program: { name: string; id: number }, createdQdisc: boolean) {
    super();
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
    const f: FilterId = { ifindex: this.ifindex, parent: parents[this.direction], priority: this.priority, handle: this.handle };
    try {
      if (filterProgram(f) === this.programId) delFilter(f);
      liveFilters.delete(filterKey(f));
      if (addedClsact.has(f.ifindex) && !hasFilters(f.ifindex, parents.ingress) && !hasFilters(f.ifindex, parents.egress)) delClsact(f.ifindex);
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

function tcxAttachType(direction: TcDirection): number {
  return direction === 'ingress' ? AttachType.TcxIngress : AttachType.TcxEgress;
}

/** BPF_F_BEFORE/AFTER (+ BPF_F_ID, BPF_F_LINK) and relative_fd/id of an anchor. */
function anchorFlags(where: number, a: TcxAnchor): { flags: number; relative: number } {
  if (a === 'all') return { flags: where, relative: 0 };
  if (a instanceof FdLink) return { flags: where | BPF_F_LINK, relative: a.fd };
  if (typeof a === 'object' && a !== null) {
    if ('linkId' in a) return { flags: where | BPF_F_LINK | BPF_F_ID, relative: a.linkId };
    if ('programId' in a) return { flags: where | BPF_F_ID, relative: a.programId };
    if ('fd' in a) return { flags: where, relative: a.fd };
  }
  throw new ProgramError('InvalidArgument', 'a TCX anchor is a program, an FdLink, { programId }, { linkId } or \'all\'');
}

function checkDirection(direction: unknown): asserts direction is TcDirection {
  if (direction !== 'ingress' && direction !== 'egress') throw new ProgramError('InvalidArgument', `direction must be 'ingress' or 'egress', not ${describeValue(direction)}`);
}

/**
 * SchedClassifier programs (sections "tc/ingress", "tc/egress", "tcx/ingress", "tcx/egress", "tc", "classifier").
 */
export class SchedClassifier extends Program {
  /**
   * Attaches to `direction` of interface `target` (name or index). Default: a TCX link
   * (FdLink: pin(), update(), info()) where the kernel has TCX, else cls_bpf. Options
   * `{ before | after, expectedRevision }` ask for TCX ordering (NotSupported without
   * TCX); `{ netlink: true, priority?, handle? }` asks for cls_bpf (a ClsBpfLink).
   */
  attach(target: string | number, direction: TcDirection, options: TcAttachOptions = {}): FdLink | ClsBpfLink {
    const progFd = this.fd;
    options = checkOptions(this.name, options) ?? {};
    boolOption(this.name, options.netlink, 'netlink');
    checkDirection(direction);
    const iface = resolveInterface(target, this.name);
    const tcx = isLinkTypeSupported(LinkType.Tcx);
    if (options.netlink === true || (!tcx && options.netlink === undefined && !hasOrdering(options))) return this.#attachClsBpf(iface, direction, options.netlink === true ? options : {});
    const o = options as TcxAttachOptions;
    if (!tcx) {
      throw new ProgramError('NotSupported', `attaching ${this.name} to ${iface.name} ${direction}: ${hasOrdering(options) ? 'before/after ordering needs' : 'netlink: false asks for'} TCX links (6.6+); this kernel has none`, {
        program: this.name,
        feature: 'BPF_LINK_TYPE_TCX',
      });
    }
    if (o.before !== undefined && o.after !== undefined) throw new ProgramError('InvalidArgument', 'give before or after, not both');
    const { flags, relative } = o.before !== undefined ? anchorFlags(BPF_F_BEFORE, o.before) : o.after !== undefined ? anchorFlags(BPF_F_AFTER, o.after) : { flags: 0, relative: 0 };
    const description = `tcx ${direction} on ${iface.name}`;
    try {
      const fd = linkCreate({
        progFd,
        target: iface.index,
        attachType: tcxAttachType(direction),
        flags,
        extra: { kind: 'mprog', relative, expectedRevision: o.expectedRevision },
      });
      return new FdLink(fd, description);
    } catch (err) {
      if (err instanceof SyscallError && err.errno === Errno.EEXIST) {
        throw new ProgramError('AlreadyAttached', `attaching ${this.name} to ${description}: the program is attached there already (${err.message})`, { program: this.name, cause: err });
      }
      throw attachError(this.name, description, err);
    }
  }

  #attachClsBpf(iface: Interface, direction: TcDirection, o: Partial<ClsBpfAttachOptions>): ClsBpfLink {
    const { priority = 0, handle = 0 } = o;
    if (!Number.isInteger(priority) || priority < 0 || priority > 0xffff) throw new ProgramError('InvalidArgument', `priority must be an integer 1..65535, not ${priority}`);
    if (!Number.isInteger(handle) || handle < 0 || handle > 0xffffffff) throw new ProgramError('InvalidArgument', `handle must be a u32, not ${handle}`);
    const where = `cls_bpf ${direction} on ${iface.name}`;
    let created = false;
    try {
      const id = programId(this.fd);
      created = addClsact(iface.index);
      const f = addFilter({ ifindex: iface.index, parent: parents[direction], priority, handle }, this, id);
      return new ClsBpfLink(iface, direction, f, { name: this.name, id }, created);
    } catch (err) {
      const typed = err instanceof SyscallError && err.errno === Errno.EEXIST
        ? new ProgramError('AlreadyAttached', `attaching ${this.name} to ${where}: a filter with priority ${priority} and handle 0x${handle.toString(16)} exists (${err.message})`, { program: this.name, cause: err })
        : attachError(this.name, where, err);
      throw rolledBack(typed, created ? [() => delClsact(iface.index)] : []);
    }
  }

  /** The programs at the TCX hook of `target`, in the order they run, and the hook's revision. */
  static query(target: string | number, direction: TcDirection): { revision: bigint; programs: TcxEntry[] } {
    checkDirection(direction);
    const iface = resolveInterface(target, 'tcx query');
    if (!isLinkTypeSupported(LinkType.Tcx)) throw new ProgramError('NotSupported', `querying ${iface.name} ${direction}: this kernel has no TCX hooks (6.6+)`, { feature: 'BPF_LINK_TYPE_TCX' });
    let r: ReturnType<typeof progQuery>;
    try {
      r = progQuery(iface.index, tcxAttachType(direction));
    } catch (err) {
      throw ProgramError.fromSyscall(err, `querying tcx ${direction} of ${iface.name}`);
    }
    return { revision: r.revision, programs: r.progIds.map((programId, i) => ({ programId, linkId: r.linkIds[i] ?? 0 })) };
  }
}

function hasOrdering(o: TcAttachOptions): boolean {
  const t = o as TcxAttachOptions;
  return t.before !== undefined || t.after !== undefined || t.expectedRevision !== undefined;
}
