import { Program } from './program.js';

/**
 * LwtIn programs (sections "lwt_in").
 * Attached to routes by iproute2 (`ip route ... encap bpf in`); tsbpf does not attach them yet. testRun works.
 */
export class LwtIn extends Program {}
