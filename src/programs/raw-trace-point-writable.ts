import { Program } from './program.js';

/**
 * RawTracePointWritable programs (sections "raw_tracepoint.w+", "raw_tp.w+").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class RawTracePointWritable extends Program {}
