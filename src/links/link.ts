// What `attach` returns. Every attachment is a Link: detach() ends it, close() and
// `using` end it too unless it was pinned, detaching twice does nothing. A BPF link
// (LINK_CREATE, RAW_TRACEPOINT_OPEN) is an FdLink: it can be pinned, taken back with
// Link.fromPin, updated with another program and asked for its info. Attachments the
// kernel does not represent as a link (netlink XDP, cls_bpf, PROG_ATTACH, socket
// options, perf event ioctls) are subclasses that implement #detach their own way.
import { rmSync } from 'node:fs';
import { ProgramError } from '../errors.js';
import { checkPinPath, openPinned, pinFd } from '../pin.js';
import { linkGetFdById, objGetInfoByFd } from '../sys/bpf.js';
import { Errno, SyscallError } from '../sys/errors.js';
import { FdOwner } from '../sys/fd.js';
import { linkDetach, linkUpdate } from '../sys/link.js';
import { kernel } from '../sys/native.js';
import { attachTypeName } from '../sys/names.js';
import { LinkType, enumEntries } from '../sys/abi/enums.js';
import * as k from '../sys/abi/info.js';

// enum bpf_link_type, generated from the kernel's BTF.
export { LinkType };

const linkTypeNames: string[] = [];
for (const [name, value] of enumEntries(LinkType)) linkTypeNames[value] = name;

/** 'Xdp' for 6, 'link type 99' for one this library does not know. */
export function linkTypeName(type: number): string {
  return linkTypeNames[type] ?? `link type ${type}`;
}

/** struct bpf_link_info, decoded (the fields that hold no pointers). */
export interface LinkInfo {
  id: number;
  programId: number;
  /** BPF_LINK_TYPE_* */
  type: number;
  typeName: string;
  /** BPF_* attach type, where the link records one (tracing, cgroup, netns, tcx, netkit, sockmap). */
  attachType?: number;
  attachTypeName?: string;
  ifindex?: number;
  cgroupId?: bigint;
  netnsIno?: number;
  targetObjId?: number;
  targetBtfId?: number;
  mapId?: number;
  /** netfilter */
  pf?: number;
  hooknum?: number;
  priority?: number;
  /** perf_event links: enum bpf_perf_event_type. */
  perfEventType?: number;
  /** kprobe_multi / uprobe_multi */
  count?: number;
  pid?: number;
}

type LinkDetails = Omit<LinkInfo, 'id' | 'programId' | 'type' | 'typeName' | 'attachTypeName'>;

/** The fields of `m` named, as LinkInfo has them. */
function pick<T, F extends keyof T & keyof LinkDetails>(m: T, ...fields: F[]): Pick<T, F> {
  const out = {} as Pick<T, F>;
  for (const f of fields) out[f] = m[f];
  return out;
}

/** Per link type, what LinkInfo keeps of its member of the info union (no pointer fields). */
const linkDetails: Partial<Record<number, (b: Uint8Array) => LinkDetails>> = {
  [LinkType.Tracing]: (b) => pick(k.decodeBpfLinkInfoTracing(b), 'attachType', 'targetObjId', 'targetBtfId'),
  [LinkType.Cgroup]: (b) => pick(k.decodeBpfLinkInfoCgroup(b), 'cgroupId', 'attachType'),
  [LinkType.Netns]: (b) => pick(k.decodeBpfLinkInfoNetns(b), 'netnsIno', 'attachType'),
  [LinkType.Xdp]: (b) => pick(k.decodeBpfLinkInfoXdp(b), 'ifindex'),
  [LinkType.StructOps]: (b) => pick(k.decodeBpfLinkInfoStructOps(b), 'mapId'),
  [LinkType.Netfilter]: (b) => pick(k.decodeBpfLinkInfoNetfilter(b), 'pf', 'hooknum', 'priority'),
  [LinkType.Tcx]: (b) => pick(k.decodeBpfLinkInfoTcx(b), 'ifindex', 'attachType'),
  [LinkType.Netkit]: (b) => pick(k.decodeBpfLinkInfoNetkit(b), 'ifindex', 'attachType'),
  [LinkType.Sockmap]: (b) => pick(k.decodeBpfLinkInfoSockmap(b), 'mapId', 'attachType'),
  [LinkType.PerfEvent]: (b) => ({ perfEventType: k.decodeBpfLinkInfoPerfEvent(b).type }),
  [LinkType.KprobeMulti]: (b) => pick(k.decodeBpfLinkInfoKprobeMulti(b), 'count'),
  [LinkType.UprobeMulti]: (b) => pick(k.decodeBpfLinkInfoUprobeMulti(b), 'count', 'pid'),
};

/** Decodes struct bpf_link_info. */
export function decodeLinkInfo(b: Uint8Array): LinkInfo {
  const head = k.decodeBpfLinkInfo(b);
  const type = head.type;
  const info: LinkInfo = { id: head.id, programId: head.progId, type, typeName: linkTypeName(type), ...linkDetails[type]?.(b) };
  if (info.attachType !== undefined) info.attachTypeName = attachTypeName(info.attachType);
  return info;
}

/** struct bpf_link_info of a link fd. */
export function linkInfoByFd(fd: number): LinkInfo {
  const buf = new Uint8Array(k.bpfLinkInfoLayout.size);
  objGetInfoByFd(fd, buf);
  return decodeLinkInfo(buf);
}

/**
 * Runs every undo step (detach this, remove that) even when one fails, so a failure
 * leaves as little as possible behind; then throws the first failure.
 */
export function undoAll(steps: Iterable<() => void>): void {
  let first: { error: unknown } | undefined;
  for (const step of steps) {
    try {
      step();
    } catch (error) {
      first ??= { error };
    }
  }
  if (first) throw first.error;
}

/**
 * Undoes what a failed attach made (undoAll) and returns `err`, the failure to report:
 * an undo step that fails too is not allowed to hide it.
 */
export function rolledBack(err: unknown, steps: Iterable<() => void>): unknown {
  try {
    undoAll(steps);
  } catch {
    // the attach failure is the one to report
  }
  return err;
}

/** The error of an attach system call, as a typed ProgramError naming it. */
export function attachError(program: string, what: string, err: unknown): unknown {
  if (!(err instanceof SyscallError)) return err;
  return new ProgramError('AttachError', `attaching ${program} to ${what}: ${err.message}`, { program, cause: err });
}

/** A failed detach, as AttachError naming the system call. */
export function detachError(what: string, err: unknown): unknown {
  if (!(err instanceof SyscallError)) return err;
  return new ProgramError('AttachError', `detaching ${what}: ${err.message}`, { cause: err });
}

/** An attachment of a program. */
export abstract class Link implements Disposable {
  #detached = false;

  /** What the program is attached to, for messages ('xdp on veth0', ...). */
  abstract readonly description: string;

  /** True until detach() or close() ended the attachment (a pinned link stays attached after close). */
  get attached(): boolean {
    return !this.#detached;
  }

  /** Ends the attachment, even of a pinned link. Calling it again does nothing. */
  detach(): void {
    if (this.#detached) return;
    this.#detached = true;
    this.detachNow();
  }

  /** Releases the attachment: detaches it unless it is pinned. Idempotent. */
  close(): void {
    if (this.#detached) return;
    this.#detached = true;
    this.release();
  }

  /** Same as `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Keeps the attachment alive on bpffs after this process ends. Only BPF links can. */
  pin(path: string): void {
    void path;
    throw new ProgramError('NotSupported', `${this.description} is not a BPF link and cannot be pinned`, { feature: 'bpf link' });
  }

  /** The kernel's record of the link. Only BPF links have one. */
  info(): LinkInfo {
    throw new ProgramError('NotSupported', `${this.description} is not a BPF link and has no link info`, { feature: 'bpf link' });
  }

  /** Detaches for detach() (called once). */
  protected abstract detachNow(): void;

  /** Releases for close() (called once); by default the same as detach. */
  protected release(): void {
    this.detachNow();
  }

  protected notAttached(): ProgramError {
    return new ProgramError('NotAttached', `${this.description} is detached`);
  }

  toString(): string {
    return `${this.constructor.name}(${this.description})`;
  }

  /** Takes back a BPF link pinned at `path` (by this or another process). */
  static fromPin(path: string): FdLink {
    return FdLink.fromPin(path);
  }
}

class LinkFd extends FdOwner {
  readonly #describe: () => string;

  constructor(fd: number, describe: () => string) {
    super(fd);
    this.#describe = describe;
  }

  protected closedError(): Error {
    return new ProgramError('NotAttached', `${this.#describe()} is detached`);
  }
}

/**
 * A BPF link: a kernel object that keeps the program attached while an fd or a pin
 * refers to it.
 * Kernel 5.7+ (bpf_link).
 */
export class FdLink extends Link {
  readonly description: string;
  readonly #fd: LinkFd;
  #pinnedAt?: string;

  /** @internal takes ownership of `fd`. */
  constructor(fd: number, description: string) {
    super();
    this.description = description;
    this.#fd = new LinkFd(fd, () => this.description);
  }

  /** The link's fd; ProgramError 'NotAttached' once closed. */
  get fd(): number {
    return this.#fd.fd;
  }

  /** Where pin() put the link, until unpin(). */
  get pinnedPath(): string | undefined {
    return this.#pinnedAt;
  }

  override pin(path: string): void {
    checkPinPath(path);
    pinFd(this.fd, path);
    this.#pinnedAt = path;
  }

  /** Removes the pin (the link then lives as long as this object's fd). */
  unpin(): void {
    if (this.#pinnedAt === undefined) return;
    rmSync(this.#pinnedAt, { force: true });
    this.#pinnedAt = undefined;
  }

  override info(): LinkInfo {
    try {
      return linkInfoByFd(this.fd);
    } catch (err) {
      throw ProgramError.fromSyscall(err, `info of ${this.description}`);
    }
  }

  /**
   * Atomically replaces the attached program (BPF_LINK_UPDATE). With `expected`, only if
   * that program is the one attached now.
   */
  update(program: { fd: number; name: string }, expected?: { fd: number }): void {
    try {
      linkUpdate(this.fd, program.fd, expected?.fd);
    } catch (err) {
      throw attachError(program.name, `${this.description} (update)`, err);
    }
  }

  protected detachNow(): void {
    // LINK_DETACH ends even a pinned link. Where it fails (link types without it answer
    // EOPNOTSUPP or EINVAL) the link ends when its last reference goes: the pin is
    // removed too, and the fd goes whatever LINK_DETACH said.
    try {
      linkDetach(this.fd);
    } catch (err) {
      if (!(err instanceof SyscallError)) throw err;
      this.unpin();
    } finally {
      this.#fd.close();
    }
  }

  protected override release(): void {
    this.#fd.close();
  }

  /** Takes back a link pinned at `path` (by this or another process). */
  static override fromPin(path: string): FdLink {
    const fd = openPinned(path);
    let info: LinkInfo;
    try {
      info = linkInfoByFd(fd);
    } catch (err) {
      kernel.close(fd);
      throw ProgramError.fromSyscall(err, `the link pinned at ${path}`);
    }
    const link = new FdLink(fd, `${info.typeName} link ${info.id} pinned at ${path}`);
    link.#pinnedAt = path;
    return link;
  }

  /** Opens the link with kernel id `id`. */
  static fromId(id: number): FdLink {
    try {
      return new FdLink(linkGetFdById(id), `link ${id}`);
    } catch (err) {
      throw ProgramError.fromSyscall(err, `link id ${id}`, { kind: err instanceof SyscallError && err.errno === Errno.ENOENT ? 'UnknownTarget' : 'SyscallError' });
    }
  }
}
