// What socket, cgroup and namespace attachments share: opening the target (a cgroup
// directory, a network namespace file, a socket map) as an fd of our own, and the one
// decision every one of them makes: a BPF link (LINK_CREATE) when the kernel has that
// link type and the caller wants one, or the older PROG_ATTACH, whose attachment is
// not tied to an fd and is ended by a ProgAttachLink with PROG_DETACH.
import { describeValue } from '../describe.js';
import { fstatSync, openSync, statSync } from 'node:fs';
import { ProgramError } from '../errors.js';
import { isLinkTypeSupported } from '../features.js';
import { MapData } from '../maps/map-data.js';
import { MapType, mapTypeName } from '../maps/map-type.js';
import { mapGetFdById, progGetFdById } from '../sys/bpf.js';
import { programId } from '../links/netif.js';
import { Errno, SyscallError } from '../sys/errors.js';
import { linkCreate, progAttach } from '../sys/link.js';
import { attachError, FdLink, Link, LinkType, linkTypeName } from '../links/link.js';
import { ProgAttachLink, TargetFd } from '../links/prog-attach.js';
import { attachTypeName } from './program-type.js';
import type { Program } from './program.js';

/**
 * Opens a cgroup directory or namespace file given by path, or reopens a caller's fd
 * through /proc/self/fd (so the link owns its own reference and the caller keeps
 * theirs). ProgramError 'UnknownTarget' when there is nothing there.
 */
export function openTarget(target: string | number, what: string, program: string): TargetFd {
  let path: string;
  if (typeof target === 'string' && target.length > 0 && !target.includes('\0')) path = target;
  else if (typeof target === 'number' && Number.isInteger(target) && target >= 0 && target <= 0x7fffffff) path = `/proc/self/fd/${target}`;
  else throw new ProgramError('InvalidArgument', `${what} must be a path or a file descriptor, got ${describeValue(target)}`);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ProgramError('UnknownTarget', `cannot attach ${program}: ${what} ${String(target)} cannot be opened (${code})`, { program });
  }
  return new TargetFd(fd, `${what} ${String(target)}`);
}

/** A program's own fd, reopened by id: PROG_DETACH needs it even after the program is unloaded. */
function ownProgramFd(program: Program): TargetFd {
  return new TargetFd(progGetFdById(programId(program.fd)), `program ${program.name}`);
}

export interface AttachRequest {
  program: Program;
  /** The target, owned by the request: consumed (closed or handed to the link). */
  target: TargetFd;
  attachType: number;
  description: string;
  /** LINK_CREATE (true) or PROG_ATTACH with `flags`. */
  link: boolean;
  flags?: number;
  /** PROG_ATTACH names no target: it acts on the caller's network namespace (flow dissector). */
  implicitNetns?: boolean;
}

/** Attaches as asked; the target fd is closed on every path but a ProgAttachLink's. */
export function attachAt(r: AttachRequest): Link {
  const { program, target } = r;
  let progOwner: TargetFd | undefined;
  try {
    const progFd = program.fd;
    if (r.link) {
      const fd = linkCreate({ progFd, target: target.fd, attachType: r.attachType });
      target.close();
      return new FdLink(fd, r.description);
    }
    progOwner = ownProgramFd(program);
    const owned = r.implicitNetns ? undefined : target;
    progAttach({ target: owned?.fd ?? 0, progFd, attachType: r.attachType, flags: r.flags ?? 0 });
    if (!owned) target.close();
    return new ProgAttachLink(r.description, owned, progOwner, r.attachType, r.flags ?? 0);
  } catch (err) {
    target.close();
    progOwner?.close();
    throw attachFailure(program.name, r.description, err);
  }
}

/**
 * EEXIST / EBUSY (the hook holds this or another program) and E2BIG (the hook holds as
 * many as it can: one for a flow dissector) are AlreadyAttached.
 */
function attachFailure(program: string, what: string, err: unknown): unknown {
  if (err instanceof SyscallError && (err.errno === Errno.EEXIST || err.errno === Errno.EBUSY || err.errno === Errno.E2BIG)) {
    return new ProgramError('AlreadyAttached', `attaching ${program} to ${what}: ${err.message}`, { program, cause: err });
  }
  return attachError(program, what, err);
}

/** A socket map: SockMap, SockHash (anything with a `map`) or its MapData. */
export type SockMapLike = MapData | { readonly map: MapData };

/**
 * sk_msg / sk_skb programs on a SOCKMAP or SOCKHASH: a sockmap link where the kernel has
 * them (and `link` is not false), PROG_ATTACH to the map otherwise.
 */
export function attachToSockMap(program: Program, sockMap: SockMapLike, attachType: number, link?: boolean): Link {
  const map = sockMap instanceof MapData ? sockMap : (sockMap as { map?: unknown })?.map;
  if (!(map instanceof MapData)) throw new ProgramError('InvalidArgument', 'expected a SockMap, a SockHash or the MapData of one');
  if (map.type !== MapType.Sockmap && map.type !== MapType.Sockhash) {
    throw new ProgramError('UnknownTarget', `cannot attach ${program.name}: ${mapTypeName(map.type)} is not a socket map`, { program: program.name });
  }
  const useLink = chooseLink(program, LinkType.Sockmap, link, true);
  program.fd;
  const id = map.id;
  const description = `${attachTypeName(attachType)} on map ${id}`;
  let target: TargetFd;
  try {
    target = new TargetFd(mapGetFdById(id), `map ${id}`);
  } catch (err) {
    throw attachError(program.name, description, err);
  }
  return attachAt({ program, target, attachType, description, link: useLink });
}

/**
 * A network namespace: a path (/proc/self/ns/net, /run/netns/NAME), an fd, or
 * `{ netns }` with a name as `ip netns` knows it (/run/netns/NAME), a path or an fd.
 */
export type NetnsTarget = string | number | { readonly netns: string | number };

/**
 * The `netns` option of an interface attachment (XDP, tc) opened: an fd of the network
 * namespace the attach runs in, or undefined for this thread's own.
 */
export function openNetnsOption(netns: string | number | undefined, program: string): TargetFd | undefined {
  if (netns === undefined) return undefined;
  return openTarget(netnsPathOf({ netns }, program), 'network namespace', program);
}

/** The path or fd a NetnsTarget stands for: in `{ netns }`, a string without '/' is an `ip netns` name. */
export function netnsPathOf(target: NetnsTarget, program: string): string | number {
  if (typeof target !== 'object' || target === null) return target;
  const netns = (target as { netns?: unknown }).netns;
  if (typeof netns === 'number') return netns;
  if (typeof netns !== 'string' || netns === '' || netns.includes('\0') || netns === '.' || netns === '..') {
    throw new ProgramError('InvalidArgument', `netns must be the name of a network namespace (ip netns), a path or an fd, got ${describeValue(netns)}`, { program });
  }
  return netns.includes('/') ? netns : `/run/netns/${netns}`;
}

/**
 * sk_lookup and flow dissector programs on a network namespace (a path such as
 * /proc/self/ns/net or /run/netns/NAME, an fd, or `{ netns: name }`): a netns link, or
 * PROG_ATTACH to the namespace where that is allowed and links are missing (flow dissector).
 */
export function attachToNetns(program: Program, given: NetnsTarget, attachType: number, progAttachFallback: boolean, link?: boolean): Link {
  const netns = netnsPathOf(given, program.name);
  const useLink = chooseLink(program, LinkType.Netns, link, progAttachFallback);
  program.fd;
  const target = openTarget(netns, 'network namespace', program.name);
  if (!useLink && !sameFile(target.fd, '/proc/self/ns/net')) {
    target.close();
    throw new ProgramError('NotSupported', `cannot attach ${program.name} to netns ${String(netns)}: without a link the kernel attaches only to the caller's own network namespace`, {
      program: program.name,
      feature: 'BPF_LINK_TYPE_NETNS',
    });
  }
  return attachAt({ program, target, attachType, description: `${attachTypeName(attachType)} on netns ${String(netns)}`, link: useLink, implicitNetns: true });
}

function sameFile(fd: number, path: string): boolean {
  const a = fstatSync(fd);
  const b = statSync(path);
  return a.ino === b.ino && a.dev === b.dev;
}

/** Link or PROG_ATTACH, by the link type probe and what the caller asked for. */
function chooseLink(program: Program, linkType: LinkType, wanted: boolean | undefined, fallback: boolean): boolean {
  const supported = isLinkTypeSupported(linkType);
  if (wanted === false && fallback) return false;
  if (supported) return true;
  if (wanted !== true && fallback) return false;
  const feature = `BPF_LINK_TYPE_${linkTypeName(linkType).toUpperCase()}`;
  throw new ProgramError('NotSupported', `cannot attach ${program.name}: ${wanted === false ? 'it attaches only with a link' : `this kernel has no ${feature}`}`, {
    program: program.name,
    feature,
  });
}
