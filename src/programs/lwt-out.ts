import { Program } from './program.js';

/**
 * LwtOut programs (sections "lwt_out").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class LwtOut extends Program {}
