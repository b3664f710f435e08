import { Program } from './program.js';

/**
 * LwtSeg6local programs (sections "lwt_seg6local").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class LwtSeg6local extends Program {}
