import { Program } from './program.js';

/**
 * Syscall programs (sections "syscall").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class Syscall extends Program {}
