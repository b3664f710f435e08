import { Program } from './program.js';

/**
 * Usdt programs (sections "usdt+", "usdt.s+").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class Usdt extends Program {}
