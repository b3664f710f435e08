import { Program } from './program.js';

/**
 * TracePoint programs (sections "tracepoint+", "tp+").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class TracePoint extends Program {}
