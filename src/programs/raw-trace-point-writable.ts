import { RawTracePoint } from './raw-trace-point.js';
import type { ProgramKind } from '../obj/sections.js';

/**
 * RawTracePointWritable programs (sections "raw_tracepoint.w+", "raw_tp.w+"): raw
 * tracepoints whose argument buffer the program may write; attached the same way.
 * Kernel 5.2+ (BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE).
 */
export class RawTracePointWritable extends RawTracePoint {
  static override readonly programKind: ProgramKind = 'RawTracePointWritable';
}
