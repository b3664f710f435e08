// Attachment commands: links (LINK_CREATE/UPDATE/DETACH, LINK_GET_*), the older
// PROG_ATTACH/DETACH/QUERY, RAW_TRACEPOINT_OPEN, ITER_CREATE, ENABLE_STATS, and the
// id walks of links and BTF objects. Encodings follow union bpf_attr in
// include/uapi/linux/bpf.h; failures are SyscallErrors named as libbpf names them.
import { Attr, cString, ptrWords } from './attr.js';
import { Cmd } from './abi/enums.js';
import {
  enableStatsLayout, encodeLinkCreate, encodeProgAttach, iterCreateLayout, linkCreateLayout, linkDetachLayout,
  linkUpdateLayout, progAttachLayout, queryLayout, rawTracepointLayout,
} from './abi/attr.js';
import { Errno, fail } from './errors.js';
import { kernel } from './native.js';

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

/** The fields of BPF_LINK_CREATE (5.7+). */
export interface LinkCreateAttr {
  /** prog_fd, or map_fd for struct_ops. */
  progFd: number;
  /** target_fd or target_ifindex (0 where the attach type has none). */
  target: number;
  attachType: number;
  flags?: number;
  extra?: LinkCreateExtra;
}

const linkAttr = new Attr(linkCreateLayout.size);
const LC = linkCreateLayout;
const ITER_PTRS = ptrWords(LC.iterInfo);
const UPROBE_MULTI_PTRS = ptrWords(LC.uprobeMultiPath, LC.uprobeMultiOffsets, LC.uprobeMultiRefCtrOffsets, LC.uprobeMultiCookies);
const KPROBE_MULTI_PTRS = ptrWords(LC.kprobeMultiAddrs, LC.kprobeMultiCookies);

/** BPF_LINK_CREATE → a link fd. */
export function linkCreate(a: LinkCreateAttr): number {
  const attr = encodeLinkCreate(linkAttr.reset(), { progFd: a.progFd, targetFd: a.target, attachType: a.attachType, flags: a.flags ?? 0 });
  const e = a.extra ?? { kind: 'none' };
  let mask = 0;
  const bufs: Uint8Array[] = [];
  switch (e.kind) {
    case 'none':
      break;
    case 'tracing':
      encodeLinkCreate(attr, { tracingTargetBtfId: e.targetBtfId, tracingCookie: e.cookie ?? 0n });
      break;
    case 'perfEvent':
      encodeLinkCreate(attr, { perfEventBpfCookie: e.cookie });
      break;
    case 'mprog':
      // tcx, netkit and cgroup share this layout: relative_fd/id, expected_revision.
      encodeLinkCreate(attr, { tcxRelativeFd: e.relative, tcxExpectedRevision: e.expectedRevision ?? 0n });
      break;
    case 'iter':
      encodeLinkCreate(attr, { iterInfoLen: e.info.length });
      mask = ITER_PTRS;
      bufs.push(e.info);
      break;
    case 'netfilter':
      encodeLinkCreate(attr, { netfilterPf: e.pf, netfilterHooknum: e.hooknum, netfilterPriority: e.priority, netfilterFlags: e.flags });
      break;
    case 'uprobeMulti': {
      const n = e.offsets.length;
      for (const extra of [e.refCtrOffsets, e.cookies]) {
        if (extra && extra.length !== n) throw new RangeError('uprobe_multi arrays must have one entry per offset');
      }
      encodeLinkCreate(attr, { uprobeMultiCnt: n, uprobeMultiFlags: e.flags, uprobeMultiPid: e.pid });
      mask = UPROBE_MULTI_PTRS;
      bufs.push(cString(e.path), bytesOf(e.offsets), bytesOf(e.refCtrOffsets), bytesOf(e.cookies));
      break;
    }
    case 'kprobeMulti':
      if (e.cookies && e.cookies.length !== e.addrs.length) throw new RangeError('kprobe_multi cookies must have one entry per address');
      encodeLinkCreate(attr, { kprobeMultiFlags: e.flags, kprobeMultiCnt: e.addrs.length });
      mask = KPROBE_MULTI_PTRS;
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

const updateAttr = new Attr(linkUpdateLayout.size);

/** BPF_LINK_UPDATE: swaps the link's program; with oldProgFd, only if that one is attached (BPF_F_REPLACE). */
export function linkUpdate(linkFd: number, newProgFd: number, oldProgFd?: number): void {
  const BPF_F_REPLACE = 1 << 2;
  updateAttr.reset().u32(linkUpdateLayout.linkFd, linkFd).u32(linkUpdateLayout.newProgFd, newProgFd);
  if (oldProgFd !== undefined) updateAttr.u32(linkUpdateLayout.flags, BPF_F_REPLACE).u32(linkUpdateLayout.oldProgFd, oldProgFd);
  const r = kernel.bpf(Cmd.LinkUpdate, updateAttr.bytes);
  if (r !== 0) fail('bpf_link_update', r);
}

const detachAttr = new Attr(linkDetachLayout.size);

/** BPF_LINK_DETACH: detaches the link from its hook while the fd lives on (5.9+). */
export function linkDetach(linkFd: number): void {
  detachAttr.u32(linkDetachLayout.linkFd, linkFd);
  const r = kernel.bpf(Cmd.LinkDetach, detachAttr.bytes);
  if (r !== 0) fail('bpf_link_detach', r);
}

/** The fields of BPF_PROG_ATTACH / BPF_PROG_DETACH. */
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

const attachAttr = new Attr(progAttachLayout.size);

/** BPF_PROG_ATTACH (the attachment lives until detached, not tied to an fd). */
export function progAttach(a: ProgAttachAttr): void {
  encodeProgAttach(attachAttr.reset(), {
    targetFd: a.target, attachBpfFd: a.progFd, attachType: a.attachType, attachFlags: a.flags ?? 0,
    replaceBpfFd: a.replaceProgFd ?? 0, relativeFd: a.relative ?? 0, expectedRevision: a.expectedRevision ?? 0n,
  });
  const r = kernel.bpf(Cmd.ProgAttach, attachAttr.bytes);
  if (r !== 0) fail('bpf_prog_attach', r);
}

/** BPF_PROG_DETACH (progFd 0 detaches whatever single program is there). */
export function progDetach(target: number, attachType: number, progFd = 0, flags = 0): void {
  encodeProgAttach(attachAttr.reset(), { targetFd: target, attachBpfFd: progFd, attachType, attachFlags: flags });
  const r = kernel.bpf(Cmd.ProgDetach, attachAttr.bytes);
  if (r !== 0) fail('bpf_prog_detach', r);
}

/** What BPF_PROG_QUERY (4.15+) gives back: attach flags, program ids and their flags, link ids, revision. */
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

const queryAttr = new Attr(queryLayout.size);
const Q = queryLayout;
const QUERY_PTRS = ptrWords(Q.progIds, Q.progAttachFlags, Q.linkIds);

/** BPF_PROG_QUERY: the programs attached at a hook (room for `max` of them). */
export function progQuery(target: number, attachType: number, queryFlags = 0, max = 64): ProgQueryResult {
  const ids = new Uint32Array(max);
  const flags = new Uint32Array(max);
  const links = new Uint32Array(max);
  const u8 = (a: Uint32Array) => new Uint8Array(a.buffer);
  // The kernel refuses prog_attach_flags with BPF_F_QUERY_EFFECTIVE (EINVAL): pass NULL then.
  const BPF_F_QUERY_EFFECTIVE = 1;
  const query = (withFlags: boolean, withLinks: boolean) => {
    queryAttr.reset().u32(Q.targetFd, target).u32(Q.attachType, attachType).u32(Q.queryFlags, queryFlags).u32(Q.progCnt, max);
    return kernel.bpf(Cmd.ProgQuery, queryAttr.bytes, QUERY_PTRS, u8(ids), withFlags ? u8(flags) : undefined, withLinks ? u8(links) : undefined);
  };
  const withFlags = (queryFlags & BPF_F_QUERY_EFFECTIVE) === 0;
  let r = query(withFlags, true);
  // A kernel refuses attr fields it does not know (EINVAL): link_ids is 6.6+,
  // prog_attach_flags 6.0+. Ask again without them; their ids and flags stay 0.
  if (r === -Errno.EINVAL) r = query(withFlags, false);
  if (r === -Errno.EINVAL && withFlags) r = query(false, false);
  if (r !== 0) fail('bpf_prog_query', r);
  const count = Math.min(queryAttr.getU32(Q.progCnt), max);
  return {
    attachFlags: queryAttr.getU32(Q.attachFlags),
    progIds: [...ids.subarray(0, count)],
    progAttachFlags: [...flags.subarray(0, count)],
    linkIds: [...links.subarray(0, count)],
    revision: queryAttr.getU64(Q.revision),
  };
}

const rawTpAttr = new Attr(rawTracepointLayout.size);
const RAW_TP_NAME = ptrWords(rawTracepointLayout.name);

/** BPF_RAW_TRACEPOINT_OPEN: attaches a raw tracepoint (or a tracing program with name undefined) → link fd. */
export function rawTracepointOpen(progFd: number, name: string | undefined, cookie = 0n): number {
  rawTpAttr.reset().u32(rawTracepointLayout.progFd, progFd).u64(rawTracepointLayout.cookie, cookie);
  const r = name === undefined
    ? kernel.bpf(Cmd.RawTracepointOpen, rawTpAttr.bytes)
    : kernel.bpf(Cmd.RawTracepointOpen, rawTpAttr.bytes, RAW_TP_NAME, cString(name));
  if (r < 0) fail('bpf_raw_tracepoint_open', r, name);
  return r;
}

const iterAttr = new Attr(iterCreateLayout.size);

/** BPF_ITER_CREATE: a readable fd producing the iterator's output, from an iter link. */
export function iterCreate(linkFd: number): number {
  iterAttr.reset().u32(iterCreateLayout.linkFd, linkFd);
  const r = kernel.bpf(Cmd.IterCreate, iterAttr.bytes);
  if (r < 0) fail('bpf_iter_create', r);
  return r;
}

const statsAttr = new Attr(enableStatsLayout.size);

/** BPF_ENABLE_STATS: statistics stay on while the returned fd is open. type 0 = BPF_STATS_RUN_TIME. */
export function enableStats(type: number): number {
  statsAttr.u32(enableStatsLayout.type, type);
  const r = kernel.bpf(Cmd.EnableStats, statsAttr.bytes);
  if (r < 0) fail('bpf_enable_stats', r);
  return r;
}
