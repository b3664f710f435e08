import { AttachType } from './program-type.js';
import type { ProgramKind } from '../obj/sections.js';
import { BtfTracingProgram } from './tracing-attach.js';

/**
 * BtfTracePoint programs (sections "tp_btf+"): typed tracepoint arguments. The
 * tracepoint is fixed at load (attach_btf_id of btf_trace_<name>, from the section);
 * attach() makes a tracing link (BPF_TRACE_RAW_TP).
 * Kernel 5.5+ (BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP).
 */
export class BtfTracePoint extends BtfTracingProgram {
  static override readonly programKind: ProgramKind = 'BtfTracePoint';

  protected readonly attachType = AttachType.TraceRawTp;
}
