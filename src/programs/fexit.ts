import { AttachType } from './program-type.js';
import { BtfTracingProgram } from './tracing-attach.js';

/**
 * FExit programs (sections "fexit+", "fexit.s+"): runs at the exit of a kernel function, with its return value. The target is
 * resolved through vmlinux BTF at load; attach() makes a tracing link.
 */
export class FExit extends BtfTracingProgram {
  protected readonly attachType = AttachType.TraceFexit;
}
