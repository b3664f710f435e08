import { Program } from './program.js';

/**
 * SockOps programs (sections "sockops").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class SockOps extends Program {}
