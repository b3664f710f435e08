import { Program } from './program.js';

/**
 * SkMsg programs (sections "sk_msg").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class SkMsg extends Program {}
