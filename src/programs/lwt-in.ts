import { Program } from './program.js';

/**
 * LwtIn programs (sections "lwt_in").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class LwtIn extends Program {}
