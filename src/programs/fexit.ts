import { Program } from './program.js';

/**
 * FExit programs (sections "fexit+", "fexit.s+").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class FExit extends Program {}
