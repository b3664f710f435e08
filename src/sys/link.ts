// Attachment commands: links (LINK_CREATE/UPDATE/DETACH, LINK_GET_*), the older
// PROG_ATTACH/DETACH/QUERY, RAW_TRACEPOINT_OPEN, ITER_CREATE, ENABLE_STATS, and the
// id walks of links and BTF objects. Encodings follow union bpf_attr in
// include/uapi/linux/bpf.h; failures are SyscallErrors named as libbpf names them.
import { Attr, cString, ptrWords } from './attr.js';
import { Cmd } from './bpf.js';
import { Errno, SyscallError } from './errors.js';
import { kernel } from './native.js';

function fail(call: string, r: number, detail?: string): never {
  throw new SyscallError(call, -r, detail);
}

/** The union member of link_create after its common head, chosen by attach type. */
export type LinkCreateExtra =
  | { kind: 'none' }
  /** tracing (fentry/fexit/lsm/freplace): target_btf_id (freplace: with target_fd = the program) and cookie. */
  | { kind: 'tracing'; targetBtfId: number; cookie?: bigint }
  /** perf_event links: the bpf_cookie the program reads with bpf_get_attach_cookie. */
  | { kind: 'perfEvent'; cookie: bigint }
  /** tcx / netkit / cgroup mprog: relative_fd or relative_id, expected_revision. */
  | { kind: 'mprog'; relative: number; expectedRevision?: bigint }
  /** iterators: union bpf_iter_link_info bytes. */
  | { kind: 'iter'; info: Uint8Array }
  /** netfilter: pf, hooknum, priority, flags. */
  | { kind: 'netfilter'; pf: number; hooknum: number; priority: number; flags: number }
  /** uprobe_multi: path, file offsets, optional ref counter offsets and cookies, pid. */
  | { kind: 'uprobeMulti'; path: string; offsets: BigUint64Array; refCtrOffsets?: BigUint64Array; cookies?: BigUint64Array; flags: number; pid: number }
  /** kprobe_multi by address (syms are not passed through the addon). */
  | { kind: 'kprobeMulti'; addrs: BigUint64Array; cookies?: BigUint64Array; flags: number };

export interface LinkCreateAttr {
  /** prog_fd, or map_fd for struct_ops. */
  progFd: number;
  /** target_fd or target_ifindex (0 where the attach type has none). */
  target: number;
  attachType: number;
  flags?: number;
  extra?: LinkCreateExtra;
}

const linkAttr = new Attr(64);

/** BPF_LINK_CREATE → a link fd. */
export function linkCreate(a: LinkCreateAttr): number {
  const attr = linkAttr.reset().u32(0, a.progFd).u32(4, a.target).u32(8, a.attachType).u32(12, a.flags ?? 0);
  const e = a.extra ?? { kind: 'none' };
  let mask = 0;
  const bufs: Uint8Array[] = [];
  switch (e.kind) {
    case 'none':
      break;
    case 'tracing':
      attr.u32(16, e.targetBtfId).u64(24, e.cookie ?? 0n);
      break;
    case 'perfEvent':
      attr.u64(16, e.cookie);
      break;
    case 'mprog':
      attr.u32(16, e.relative).u64(24, e.expectedRevision ?? 0n);
      break;
    case 'iter':
      attr.u32(24, e.info.length);
      mask = ptrWords(16);
      bufs.push(e.info);
      break;
    case 'netfilter':
      attr.u32(16, e.pf).u32(20, e.hooknum).u32(24, e.priority >>> 0).u32(28, e.flags);
      break;
    case 'uprobeMulti': {
      const n = e.offsets.length;
      for (const extra of [e.refCtrOffsets, e.cookies]) {
        if (extra && extra.length !== n) throw new RangeError('uprobe_multi arrays must have one entry per offset');
      }
      attr.u32(48, n).u32(52, e.flags).u32(56, e.pid);
      mask = ptrWords(16, 24, 32, 40);
      bufs.push(cString(e.path), bytesOf(e.offsets), bytesOf(e.refCtrOffsets), bytesOf(e.cookies));
      break;
    }
    case 'kprobeMulti':
      if (e.cookies && e.cookies.length !== e.addrs.length) throw new RangeError('kprobe_multi cookies must have one entry per address');
      attr.u32(16, e.flags).u32(20, e.addrs.length);
      mask = ptrWords(32, 40);
      bufs.push(bytesOf(e.addrs), bytesOf(e.cookies));
      break;
  }
  const r = kernel.bpf(Cmd.LinkCreate, attr.bytes, mask, ...bufs);
  if (r < 0) fail('bpf_link_create', r);
  return r;
}

function bytesOf(a: BigUint64Array | undefined): Uint8Array {
  return a ? new Uint8Array(a.buffer, a.byteOffset, a.byteLength) : new Uint8Array(0);
}

const updateAttr = new Attr(16);

/** BPF_LINK_UPDATE: swaps the link's program; with oldProgFd, only if that one is attached (BPF_F_REPLACE). */
export function linkUpdate(linkFd: number, newProgFd: number, oldProgFd?: number): void {
  const BPF_F_REPLACE = 1 << 2;
  updateAttr.reset().u32(0, linkFd).u32(4, newProgFd);
  if (oldProgFd !== undefined) updateAttr.u32(8, BPF_F_REPLACE).u32(12, oldProgFd);
  const r = kernel.bpf(Cmd.LinkUpdate, updateAttr.bytes);
  if (r !== 0) fail('bpf_link_update', r);
}

const detachAttr = new Attr(4);

/** BPF_LINK_DETACH: detaches the link from its hook while the fd lives on (5.9+). */
export function linkDetach(linkFd: number): void {
  detachAttr.u32(0, linkFd);
  const r = kernel.bpf(Cmd.LinkDetach, detachAttr.bytes);
  if (r !== 0) fail('bpf_link_detach', r);
}

export interface ProgAttachAttr {
  /** The cgroup fd, socket map fd, netns fd, ... (target_fd), or an ifindex for tcx. */
  target: number;
  progFd: number;
  attachType: number;
  /** BPF_F_ALLOW_OVERRIDE, BPF_F_ALLOW_MULTI, BPF_F_REPLACE, BPF_F_BEFORE, ... */
  flags?: number;
  /** With BPF_F_REPLACE: the program to replace. */
  replaceProgFd?: number;
  /** mprog ordering: relative_fd / relative_id and expected_revision. */
  relative?: number;
  expectedRevision?: bigint;
}

const attachAttr = new Attr(32);

/** BPF_PROG_ATTACH (the attachment lives until detached, not tied to an fd). */
export function progAttach(a: ProgAttachAttr): void {
  attachAttr.reset().u32(0, a.target).u32(4, a.progFd).u32(8, a.attachType).u32(12, a.flags ?? 0)
    .u32(16, a.replaceProgFd ?? 0).u32(20, a.relative ?? 0).u64(24, a.expectedRevision ?? 0n);
  const r = kernel.bpf(Cmd.ProgAttach, attachAttr.bytes);
  if (r !== 0) fail('bpf_prog_attach', r);
}

/** BPF_PROG_DETACH (progFd 0 detaches whatever single program is there). */
export function progDetach(target: number, attachType: number, progFd = 0, flags = 0): void {
  attachAttr.reset().u32(0, target).u32(4, progFd).u32(8, attachType).u32(12, flags);
  const r = kernel.bpf(Cmd.ProgDetach, attachAttr.bytes);
  if (r !== 0) fail('bpf_prog_detach', r);
}

export interface ProgQueryResult {
  /** attach_flags of the hook (cgroup: BPF_F_ALLOW_*). */
  attachFlags: number;
  progIds: number[];
  /** Per program flags, when asked for. */
  progAttachFlags: number[];
  /** mprog hooks: link ids next to program ids (0 for a program attached without link). */
  linkIds: number[];
  revision: bigint;
}

const queryAttr = new Attr(64);

/** The optional output arrays of BPF_PROG_QUERY this kernel knows. */
interface QueryFields {
  /** query.prog_attach_flags (6.0+). */
  progAttachFlags: boolean;
  /** query.link_ids and link_attach_flags (6.6+, with TCX). */
  linkIds: boolean;
}

let queryFields: QueryFields | undefined;

/**
 * A kernel refuses a query whose attr has a nonzero field past the last one it knows
 * (EINVAL), so each query sets only the pointers the kernel reads. Learnt once, by
 * querying a descriptor that cannot be a cgroup: a kernel that knows every field given
 * gets as far as looking it up (EBADF). Answers that say nothing (EPERM without
 * CAP_NET_ADMIN, or even the oldest layout refused) are not kept.
 */
function knownQueryFields(): QueryFields {
  if (queryFields) return queryFields;
  const reachesLookup = (pointerWords: number[]): boolean | undefined => {
    const attr = new Attr(64).u32(0, 0xffffffff).u32(4, 0 /* BPF_CGROUP_INET_INGRESS */).u32(24, 1);
    const r = kernel.bpf(Cmd.ProgQuery, attr.bytes, ptrWords(...pointerWords), ...pointerWords.map(() => new Uint8Array(4)));
    return r === -Errno.EBADF ? true : r === -Errno.EINVAL ? false : undefined;
  };
  const unknown = { progAttachFlags: true, linkIds: true };
  const all = reachesLookup([16, 32, 40]);
  if (all !== false) return all ? (queryFields = unknown) : unknown;
  const flags = reachesLookup([16, 32]);
  if (flags !== false) return flags ? (queryFields = { progAttachFlags: true, linkIds: false }) : unknown;
  return reachesLookup([16]) ? (queryFields = { progAttachFlags: false, linkIds: false }) : unknown;
}

/** Forgets what knownQueryFields learnt (clearFeatureCache). */
export function clearQueryFields(): void {
  queryFields = undefined;
}

/**
 * BPF_PROG_QUERY: the programs attached at a hook (room for `max` of them). On kernels
 * without prog_attach_flags or link_ids those arrays come back as zeros.
 */
export function progQuery(target: number, attachType: number, queryFlags = 0, max = 64): ProgQueryResult {
  const ids = new Uint32Array(max);
  const flags = new Uint32Array(max);
  const links = new Uint32Array(max);
  const known = knownQueryFields();
  queryAttr.reset().u32(0, target).u32(4, attachType).u32(8, queryFlags).u32(24, max);
  const u8 = (a: Uint32Array) => new Uint8Array(a.buffer);
  // The kernel refuses prog_attach_flags with BPF_F_QUERY_EFFECTIVE (EINVAL): pass NULL then.
  const BPF_F_QUERY_EFFECTIVE = 1;
  const wantFlags = known.progAttachFlags && !(queryFlags & BPF_F_QUERY_EFFECTIVE);
  const r = kernel.bpf(Cmd.ProgQuery, queryAttr.bytes, ptrWords(16, 32, 40), u8(ids), wantFlags ? u8(flags) : undefined, known.linkIds ? u8(links) : undefined);
  if (r !== 0) fail('bpf_prog_query', r);
  const count = Math.min(queryAttr.getU32(24), max);
  return {
    attachFlags: queryAttr.getU32(12),
    progIds: [...ids.subarray(0, count)],
    progAttachFlags: [...flags.subarray(0, count)],
    linkIds: [...links.subarray(0, count)],
    revision: queryAttr.getU64(56),
  };
}

const rawTpAttr = new Attr(24);

/** BPF_RAW_TRACEPOINT_OPEN: attaches a raw tracepoint (or a tracing program with name undefined) → link fd. */
export function rawTracepointOpen(progFd: number, name: string | undefined, cookie = 0n): number {
  rawTpAttr.reset().u32(8, progFd).u64(16, cookie);
  const r = name === undefined
    ? kernel.bpf(Cmd.RawTracepointOpen, rawTpAttr.bytes)
    : kernel.bpf(Cmd.RawTracepointOpen, rawTpAttr.bytes, ptrWords(0), cString(name));
  if (r < 0) fail('bpf_raw_tracepoint_open', r, name);
  return r;
}

const iterAttr = new Attr(8);

/** BPF_ITER_CREATE: a readable fd producing the iterator's output, from an iter link. */
export function iterCreate(linkFd: number): number {
  iterAttr.reset().u32(0, linkFd);
  const r = kernel.bpf(Cmd.IterCreate, iterAttr.bytes);
  if (r < 0) fail('bpf_iter_create', r);
  return r;
}

const statsAttr = new Attr(4);

/** BPF_ENABLE_STATS: statistics stay on while the returned fd is open. type 0 = BPF_STATS_RUN_TIME. */
export function enableStats(type: number): number {
  statsAttr.u32(0, type);
  const r = kernel.bpf(Cmd.EnableStats, statsAttr.bytes);
  if (r < 0) fail('bpf_enable_stats', r);
  return r;
}
