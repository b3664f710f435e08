import { Program } from './program.js';

/**
 * LwtXmit programs (sections "lwt_xmit").
 * Attached to routes by iproute2 (`ip route ... encap bpf xmit`); tsbpf does not attach them yet. testRun works.
 */
export class LwtXmit extends Program {}
