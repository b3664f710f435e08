import { Program } from './program.js';

/**
 * Extension programs (sections "freplace+").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class Extension extends Program {}
