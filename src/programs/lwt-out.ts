import { Program } from './program.js';

/**
 * LwtOut programs (sections "lwt_out").
 * Attached to routes by iproute2 (`ip route ... encap bpf out`); tsbpf does not attach them yet. testRun works.
 */
export class LwtOut extends Program {}
