import { AttachType } from './program-type.js';
import { BtfTracingProgram } from './tracing-attach.js';

/**
 * FEntry programs (sections "fentry+", "fentry.s+"): runs at the entry of a kernel function (BPF trampoline). The target is
 * resolved through vmlinux BTF at load; attach() makes a tracing link.
 */
export class FEntry extends BtfTracingProgram {
  protected readonly attachType = AttachType.TraceFentry;
}
