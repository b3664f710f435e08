import { AttachType } from './program-type.js';
import type { ProgramKind } from '../obj/sections.js';
import { BtfTracingProgram } from './tracing-attach.js';

/**
 * FEntry programs (sections "fentry+", "fentry.s+"): run at the entry of a kernel
 * function (a BPF trampoline). The target is
 * resolved through vmlinux BTF at load; attach() makes a tracing link.
 * Kernel 5.5+ (BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY).
 */
export class FEntry extends BtfTracingProgram {
  static override readonly programKind: ProgramKind = 'FEntry';

  protected readonly attachType = AttachType.TraceFentry;
}
