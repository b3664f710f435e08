import { attachCgroup, type CgroupAttachOptions } from './cgroup-attach.js';
import type { Link } from '../links/link.js';
import { Program } from './program.js';
import type { ProgramKind } from '../obj/sections.js';

/**
 * CgroupSockopt programs (sections "cgroup/getsockopt", "cgroup/setsockopt").
 * Kernel 5.3+ (BPF_PROG_TYPE_CGROUP_SOCKOPT).
 */
export class CgroupSockopt extends Program {
  static override readonly programKind: ProgramKind = 'CgroupSockopt';

  /**
   * Attaches to a cgroup v2 directory (path or fd): a BPF link by default (mode 'multi'),
   * PROG_ATTACH for mode 'single' or 'override'. The attach type is the section's
   * unless options.attachType says otherwise.
   */
  attach(cgroup: string | number, options?: CgroupAttachOptions): Link {
    return attachCgroup(this, cgroup, options);
  }
}
