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
import { attachTypeName } from '../programs/program-type.js';

/** enum bpf_link_type */
export const LinkType = {
  Unspec: 0,
  RawTracepoint: 1,
  Tracing: 2,
  Cgroup: 3,
  Iter: 4,
  Netns: 5,
  Xdp: 6,
  PerfEvent: 7,
  KprobeMulti: 8,
  StructOps: 9,
  Netfilter: 10,
  Tcx: 11,
  UprobeMulti: 12,
  Netkit: 13,
  Sockmap: 14,
} as const;
export type LinkType = (typeof LinkType)[keyof typeof LinkType];

const linkTypeNames: string[] = [];
for (const [name, value] of Object.entries(LinkType)) linkTypeNames[value] = name;

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

const LINK_INFO_SIZE = 64;

/** Decodes struct bpf_link_info. */
export function decodeLinkInfo(b: Uint8Array): LinkInfo {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const u32 = (o: number) => v.getUint32(o, true);
  const type = u32(0);
  const info: LinkInfo = { id: u32(4), programId: u32(8), type, typeName: linkTypeName(type) };
  const withAttach = (off: number) => {
    info.attachType = u32(off);
    info.attachTypeName = attachTypeName(info.attachType);
  };
  switch (type) {
    case LinkType.Tracing:
      withAttach(16);
      info.targetObjId = u32(20);
      info.targetBtfId = u32(24);
      break;
    case LinkType.Cgroup:
      info.cgroupId = v.getBigUint64(16, true);
      withAttach(24);
      break;
    case LinkType.Netns:
      info.netnsIno = u32(16);
      withAttach(20);
      break;
    case LinkType.Xdp:
      info.ifindex = u32(16);
      break;
    case LinkType.StructOps:
      info.mapId = u32(16);
      break;
    case LinkType.Netfilter:
      info.pf = u32(16);
      info.hooknum = u32(20);
      info.priority = v.getInt32(24, true);
      break;
    case LinkType.Tcx:
    case LinkType.Netkit:
      info.ifindex = u32(16);
      withAttach(20);
      break;
    case LinkType.Sockmap:
      info.mapId = u32(16);
      withAttach(20);
      break;
    case LinkType.PerfEvent:
      info.perfEventType = u32(16);
      break;
    case LinkType.KprobeMulti:
      info.count = u32(24);
      break;
    case LinkType.UprobeMulti:
      info.count = u32(52);
      info.pid = u32(60);
      break;
  }
  return info;
}

/** struct bpf_link_info of a link fd. */
export function linkInfoByFd(fd: number): LinkInfo {
  const buf = new Uint8Array(LINK_INFO_SIZE);
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
