import { AttachType } from './program-type.js';
import type { ProgramKind } from '../obj/sections.js';
import { BtfTracingProgram } from './tracing-attach.js';

/**
 * FExit programs (sections "fexit+", "fexit.s+"): run at the exit of a kernel
 * function and see its return value. The target is
 * resolved through vmlinux BTF at load; attach() makes a tracing link.
 * Kernel 5.5+ (BPF_PROG_TYPE_TRACING, BPF_TRACE_FEXIT).
 */
export class FExit extends BtfTracingProgram {
  static override readonly programKind: ProgramKind = 'FExit';

  protected readonly attachType = AttachType.TraceFexit;
}
