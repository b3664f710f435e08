// tc classifiers: TCX links (LINK_CREATE with BPF_TCX_INGRESS/EGRESS, 6.6+) with
// before/after ordering where the kernel has them, and the classic clsact qdisc + cls_bpf
// filter (direct action) over netlink otherwise or when asked for.
import { boolOption, checkOptions } from './options.js';
import { describeValue } from '../describe.js';
import { ProgramError } from '../errors.js';
import { isLinkTypeSupported } from '../features.js';
import { Errno, SyscallError } from '../sys/errors.js';
import { linkCreate, progQuery } from '../sys/link.js';
import { addClsact, addFilter, ClsBpfLink, delClsact, tcParents, type TcDirection } from '../links/cls-bpf.js';
import { FdLink, LinkType, attachError, rolledBack } from '../links/link.js';
import { type Interface, programId, resolveInterface } from '../links/netif.js';
import { Program } from './program.js';
import { AttachType } from './program-type.js';
import type { ProgramKind } from '../obj/sections.js';
import { BPF_F_LINK } from '../obj/spec.js';

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

/** Options of a tc attach: tcx (BPF_LINK_TYPE_TCX, 6.6+) or cls_bpf over netlink (4.1+). */
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
 * Kernel 4.1+ (BPF_PROG_TYPE_SCHED_CLS; tcx links 6.6+).
 */
export class SchedClassifier extends Program {
  static override readonly programKind: ProgramKind = 'SchedClassifier';

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
      const f = addFilter({ ifindex: iface.index, parent: tcParents[direction], priority, handle }, this, id);
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
