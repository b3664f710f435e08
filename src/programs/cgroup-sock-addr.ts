import { attachCgroup, type CgroupAttachOptions } from './cgroup-attach.js';
import type { Link } from '../links/link.js';
import { Program } from './program.js';
import type { ProgramKind } from '../obj/sections.js';

/**
 * CgroupSockAddr programs (sections "cgroup/bind4", "cgroup/bind6", "cgroup/connect4",
 * "cgroup/connect6", "cgroup/connect_unix", "cgroup/sendmsg4").
 * Kernel 4.17+ (BPF_PROG_TYPE_CGROUP_SOCK_ADDR).
 */
export class CgroupSockAddr extends Program {
  static override readonly programKind: ProgramKind = 'CgroupSockAddr';

  /**
   * Attaches to a cgroup v2 directory (path or fd): a BPF link by default (mode 'multi'),
   * PROG_ATTACH for mode 'single' or 'override'. The attach type is the section's
   * unless options.attachType says otherwise.
   */
  attach(cgroup: string | number, options?: CgroupAttachOptions): Link {
    return attachCgroup(this, cgroup, options);
  }
}
