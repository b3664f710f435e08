// Attaching cgroup programs (cgroup_skb, cgroup/sock, cgroup/sock_addr, sockopt, sysctl,
// device, sock_ops) to a cgroup v2 directory. The kernel's three modes:
//   single   (PROG_ATTACH, no flag): the only program of the hook here and below;
//            descendants cannot attach to the hook at all (EPERM).
//   override (BPF_F_ALLOW_OVERRIDE): a descendant may attach its own, which then
//            replaces this one for the descendant's processes.
//   multi    (BPF_F_ALLOW_MULTI): every program of the hook on the path from the root
//            runs. BPF links always have these semantics, so multi (the default) is a
//            link when the kernel has cgroup links, as libbpf and cilium/ebpf do.
import { checkOptions, choiceOption, u32Option } from './options.js';
import { statfsSync } from 'node:fs';
import { ProgramError } from '../errors.js';
import { isLinkTypeSupported } from '../features.js';
import { progQuery, type ProgQueryResult } from '../sys/link.js';
import { attachAt, openTarget } from './attach-point.js';
import type { TargetFd } from '../links/prog-attach.js';
import { attachError, LinkType, type Link } from '../links/link.js';
import type { Program } from './program.js';
import { attachTypeName } from './program-type.js';
import { programTypeForSection } from '../obj/sections.js';

/**
 * How a cgroup program shares its hook (4.10+): `single`, `override` (4.10+) or `multi`
 * (BPF_F_ALLOW_MULTI, 4.15+).
 */
export type CgroupAttachMode = 'single' | 'override' | 'multi';

/** Options of a cgroup attach: mode, bpf_link (5.7+) or BPF_PROG_ATTACH, program to replace. */
export interface CgroupAttachOptions {
  /** Default 'multi'. */
  mode?: CgroupAttachMode;
  /** BPF_CGROUP_*; default: the one the program's section names (required for 'cgroup/skb'). */
  attachType?: number;
  /**
   * single / override: replace the program attached to this cgroup's hook (the kernel's
   * PROG_ATTACH semantics). Default false: ProgramError 'AlreadyAttached' instead.
   */
  replace?: boolean;
  /** multi only: false forces PROG_ATTACH with BPF_F_ALLOW_MULTI instead of a link. Default: a link where supported. */
  link?: boolean;
}

const BPF_F_ALLOW_OVERRIDE = 1 << 0;
const BPF_F_ALLOW_MULTI = 1 << 1;
const modeFlags: Record<CgroupAttachMode, number> = { single: 0, override: BPF_F_ALLOW_OVERRIDE, multi: BPF_F_ALLOW_MULTI };

/** The attach type a program was loaded for, from its section; undefined when the section names none. */
export function sectionAttachType(program: Program): number | undefined {
  return programTypeForSection(program.section)?.expectedAttachType;
}

/** `attach(cgroup, options)` of every cgroup program class. */
export function attachCgroup(program: Program, cgroup: string | number, options: CgroupAttachOptions = {}): Link {
  options = checkOptions(program.name, options) ?? {};
  const mode = choiceOption(program.name, options.mode, 'mode', Object.keys(modeFlags) as CgroupAttachMode[]) ?? 'multi';
  u32Option(program.name, options.attachType, 'attachType');
  const attachType = options.attachType ?? sectionAttachType(program);
  if (attachType === undefined) {
    throw new ProgramError('UnknownTarget', `${program.name} (${program.section}): the section names no attach type; pass options.attachType`, { program: program.name });
  }
  const useLink = mode === 'multi' && options.link !== false && isLinkTypeSupported(LinkType.Cgroup);
  if (options.link === true && !useLink) {
    const why = mode === 'multi' ? 'this kernel has no cgroup links' : `a link cannot express mode '${mode}'`;
    throw new ProgramError('NotSupported', `cannot attach ${program.name} with a link: ${why}`, { program: program.name, feature: 'BPF_LINK_TYPE_CGROUP' });
  }
  program.fd; // NotLoaded before opening anything
  checkCgroup2(cgroup, program.name);
  const target = openTarget(cgroup, 'cgroup', program.name);
  const description = `${attachTypeName(attachType)} on cgroup ${String(cgroup)} (${useLink ? 'link' : mode})`;
  if (mode !== 'multi' && options.replace !== true) refuseReplacing(program, target, attachType, description);
  return attachAt({
    program,
    target,
    attachType,
    description,
    link: useLink,
    flags: modeFlags[mode],
  });
}

// Without BPF_F_ALLOW_MULTI the kernel silently swaps out whatever program this cgroup's
// hook holds; a library user asking for 'single' expects to be told instead.
function refuseReplacing(program: Program, target: TargetFd, attachType: number, description: string): void {
  let attached: number[];
  try {
    attached = progQuery(target.fd, attachType).progIds;
  } catch (err) {
    target.close();
    throw attachError(program.name, description, err);
  }
  if (attached.length > 0) {
    target.close();
    throw new ProgramError('AlreadyAttached', `attaching ${program.name} to ${description}: program id ${attached.join(', ')} is attached there (pass replace: true to replace it)`, { program: program.name });
  }
}

const CGROUP2_SUPER_MAGIC = 0x63677270;

/** A path that is not on cgroup2 (a v1 hierarchy, the tmpfs of a hybrid layout) would fail with a bare EBADF. */
function checkCgroup2(cgroup: string | number, program: string): void {
  if (typeof cgroup !== 'string') return;
  let type: number;
  try {
    type = statfsSync(cgroup).type;
  } catch (err) {
    throw new ProgramError('UnknownTarget', `cannot attach ${program}: cgroup ${cgroup} (${(err as NodeJS.ErrnoException).code})`, { program });
  }
  if (type !== CGROUP2_SUPER_MAGIC) {
    throw new ProgramError('UnknownTarget', `cannot attach ${program}: ${cgroup} is not in a cgroup v2 hierarchy (on hybrid systems that is often /sys/fs/cgroup/unified)`, { program });
  }
}

/** Options of `queryCgroup` (BPF_PROG_QUERY, 4.15+). */
export interface CgroupQueryOptions {
  /** Also the programs inherited from ancestors (BPF_F_QUERY_EFFECTIVE). */
  effective?: boolean;
}

/** The programs attached at `attachType` of a cgroup (BPF_PROG_QUERY): ids, link ids, mode flags. */
export function queryCgroup(cgroup: string | number, attachType: number, options: CgroupQueryOptions = {}): ProgQueryResult {
  checkCgroup2(cgroup, 'query');
  const target = openTarget(cgroup, 'cgroup', 'query');
  try {
    return progQuery(target.fd, attachType, options.effective ? 1 : 0);
  } catch (err) {
    throw ProgramError.fromSyscall(err, `querying cgroup ${String(cgroup)}`);
  } finally {
    target.close();
  }
}
