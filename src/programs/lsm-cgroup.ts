import { attachCgroup, type CgroupAttachOptions } from './cgroup-attach.js';
import type { Link } from '../links/link.js';
import { Program } from './program.js';
import type { ProgramKind } from '../obj/sections.js';

/**
 * LsmCgroup programs (section "lsm_cgroup/<hook>", 6.0+): an LSM hook that runs for the
 * tasks of one cgroup. This kernel refuses LSM programs (EPERM before verification), so
 * they fail at load with ProgramError 'NotSupported'.
 */
export class LsmCgroup extends Program {
  static override readonly programKind: ProgramKind = 'LsmCgroup';

  /** Attaches to a cgroup v2 directory (path or fd), as the other cgroup programs (BPF_LSM_CGROUP). */
  attach(cgroup: string | number, options?: CgroupAttachOptions): Link {
    return attachCgroup(this, cgroup, options);
  }
}
