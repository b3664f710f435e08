import { AttachType } from './program-type.js';
import type { ProgramKind } from '../obj/sections.js';
import { BtfTracingProgram } from './tracing-attach.js';

/**
 * Lsm programs (sections "lsm+", "lsm.s+"): a BPF LSM hook (bpf_lsm_<hook>); a
 * negative return value denies the operation. The target is
 * resolved through vmlinux BTF at load; attach() makes a tracing link.
 * Kernel 5.7+ (BPF_PROG_TYPE_LSM).
 */
export class Lsm extends BtfTracingProgram {
  static override readonly programKind: ProgramKind = 'Lsm';

  protected readonly attachType = AttachType.LsmMac;
}
