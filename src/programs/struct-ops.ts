import { Program } from './program.js';

/**
 * StructOps programs (sections "struct_ops+", "struct_ops.s+").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class StructOps extends Program {}
