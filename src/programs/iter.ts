import { Program } from './program.js';

/**
 * Iter programs (sections "iter+", "iter.s+").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class Iter extends Program {}
