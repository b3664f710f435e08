import { checkOptions, invalidOption, nameOption, u32Option, u64Option } from './options.js';
import { closeSync, openSync, constants as fsConstants } from 'node:fs';
import { MapError, ProgramError } from '../errors.js';
import { innerFd } from '../maps/of-maps.js';
import type { InnerMap } from '../maps/typed-map.js';
import { linkCreate } from '../sys/link.js';
import { IterLink } from '../links/iter.js';
import { attachError } from '../links/link.js';
import { AttachType } from './program-type.js';
import type { ProgramKind } from '../obj/sections.js';
import { Program } from './program.js';

/** enum bpf_cgroup_iter_order: the walk of a cgroup iterator (6.1+). */
export const CgroupIterOrder = { Unspec: 0, SelfOnly: 1, DescendantsPre: 2, DescendantsPost: 3, AncestorsUp: 4 } as const;
/** A value of enum bpf_cgroup_iter_order: one of the numbers of the constant `CgroupIterOrder`. */
export type CgroupIterOrder = (typeof CgroupIterOrder)[keyof typeof CgroupIterOrder];

/** What an iterator walks (union bpf_iter_link_info); none: the iterator's default (all tasks, ...). */
export type IterAttachOptions =
  /** iter/bpf_map_elem, iter/bpf_sk_storage_map, iter/sockmap: the map whose elements are visited. */
  | { map: InnerMap }
  /** iter/cgroup (6.1+): a cgroup by path or id, and the walk order. */
  | { cgroup: { path: string } | { id: bigint }; order?: CgroupIterOrder }
  /** iter/task, iter/task_file, iter/task_vma (6.1+): one thread (tid) or process (pid, or a pidfd). */
  | { task: { tid: number } | { pid: number } | { pidFd: number } };

const ITER_INFO_SIZE = 16;

/** union bpf_iter_link_info, and a cgroup fd to close once the link exists. */
function iterInfo(program: string, options: IterAttachOptions): { info: Uint8Array; closeAfter?: number } {
  const info = new Uint8Array(ITER_INFO_SIZE);
  const v = new DataView(info.buffer);
  const object = (value: unknown, what: string, must: string): void => {
    if (typeof value !== 'object' || value === null) invalidOption(program, what, must, value);
  };
  if ('map' in options) {
    // Only a map of tsbpf: a bare { fd } could name any descriptor of the process.
    let fd: number;
    try {
      fd = innerFd(options.map);
    } catch (err) {
      if (err instanceof MapError && err.kind === 'InvalidArgument') invalidOption(program, 'map', 'a map of tsbpf (MapData or typed map)', options.map);
      throw err;
    }
    v.setUint32(0, fd, true);
    return { info };
  }
  if ('cgroup' in options) {
    v.setUint32(0, u32Option(program, options.order, 'order') ?? CgroupIterOrder.Unspec, true);
    const c = options.cgroup;
    object(c, 'cgroup', '{ id } or { path }');
    if ('id' in c) {
      v.setBigUint64(8, u64Option(program, c.id, 'cgroup.id')!, true);
      return { info };
    }
    nameOption(program, c.path, 'cgroup.path');
    let fd: number;
    try {
      fd = openSync(c.path, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
    } catch (err) {
      throw new ProgramError('UnknownTarget', `no cgroup ${c.path}: ${(err as Error).message}`);
    }
    v.setUint32(4, fd, true);
    return { info, closeAfter: fd };
  }
  const t = options.task;
  object(t, 'task', '{ tid }, { pid } or { pidFd } (or give map or cgroup)');
  if ('tid' in t) v.setUint32(0, u32Option(program, t.tid, 'task.tid')!, true);
  else if ('pid' in t) v.setUint32(4, u32Option(program, t.pid, 'task.pid')!, true);
  else v.setUint32(8, u32Option(program, (t as { pidFd?: unknown }).pidFd, 'task.pidFd') ?? invalidOption(program, 'task', '{ tid }, { pid } or { pidFd }', t), true);
  return { info };
}

/**
 * Iter programs (sections "iter+", "iter.s+"): BPF iterators (iter/task,
 * iter/bpf_map_elem, ...). attach() makes the link; its output is read with
 * link.stream() or link.readAll().
 * Kernel 5.8+ (BPF_PROG_TYPE_TRACING, BPF_TRACE_ITER).
 */
export class Iter extends Program {
  static override readonly programKind: ProgramKind = 'Iter';

  /** Creates the iterator link (BPF_LINK_CREATE, 5.8+); read it with `IterLink.open()`. */
  attach(options?: IterAttachOptions): IterLink {
    const progFd = this.fd;
    options = checkOptions(this.name, options);
    const what = `iterator ${this.section.slice(this.section.indexOf('/') + 1)}`;
    const extra = options ? iterInfo(this.name, options) : undefined;
    try {
      const fd = linkCreate({ progFd, target: 0, attachType: AttachType.TraceIter, extra: extra ? { kind: 'iter', info: extra.info } : { kind: 'none' } });
      return new IterLink(fd, what);
    } catch (err) {
      throw attachError(this.name, what, err);
    } finally {
      if (extra?.closeAfter !== undefined) closeSync(extra.closeAfter);
    }
  }
}
