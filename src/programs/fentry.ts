import { Program } from './program.js';

/**
 * FEntry programs (sections "fentry+", "fentry.s+").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class FEntry extends Program {}
