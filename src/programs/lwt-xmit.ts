import { Program } from './program.js';

/**
 * LwtXmit programs (sections "lwt_xmit").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class LwtXmit extends Program {}
