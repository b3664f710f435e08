import { Program } from './program.js';

/**
 * Lsm programs (sections "lsm+", "lsm.s+").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class Lsm extends Program {}
