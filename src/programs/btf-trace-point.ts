import { Program } from './program.js';

/**
 * BtfTracePoint programs (sections "tp_btf+").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class BtfTracePoint extends Program {}
