import { AttachType } from './program-type.js';
import type { ProgramKind } from '../obj/sections.js';
import { BtfTracingProgram } from './tracing-attach.js';

/**
 * FModRet programs (sections "fmod_ret+", "fmod_ret.s+"): may replace the return
 * value of an error-injectable kernel function or security hook. The target is
 * resolved through vmlinux BTF at load; attach() makes a tracing link.
 * Kernel 5.7+ (BPF_PROG_TYPE_TRACING, BPF_MODIFY_RETURN).
 */
export class FModRet extends BtfTracingProgram {
  static override readonly programKind: ProgramKind = 'FModRet';

  protected readonly attachType = AttachType.ModifyReturn;
}
