import { attachCgroup, type CgroupAttachOptions } from './cgroup-attach.js';
import type { Link } from '../links/link.js';
import { Program } from './program.js';
import type { ProgramKind } from '../obj/sections.js';

/**
 * CgroupSkb programs (sections "cgroup_skb/ingress", "cgroup_skb/egress", "cgroup/skb").
 * Kernel 4.10+ (BPF_PROG_TYPE_CGROUP_SKB).
 */
export class CgroupSkb extends Program {
  static override readonly programKind: ProgramKind = 'CgroupSkb';

  /**
   * Attaches to a cgroup v2 directory (path or fd): a BPF link by default (mode 'multi'),
   * PROG_ATTACH for mode 'single' or 'override'. The attach type is the section's
   * unless options.attachType says otherwise.
   */
  attach(cgroup: string | number, options?: CgroupAttachOptions): Link {
    return attachCgroup(this, cgroup, options);
  }
}
