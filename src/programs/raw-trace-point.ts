import { Program } from './program.js';

/**
 * RawTracePoint programs (sections "raw_tracepoint+", "raw_tp+").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class RawTracePoint extends Program {}
