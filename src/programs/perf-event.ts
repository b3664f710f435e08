import { Program } from './program.js';

/**
 * PerfEvent programs (sections "perf_event").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class PerfEvent extends Program {}
