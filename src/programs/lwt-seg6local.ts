import { Program } from './program.js';
import type { ProgramKind } from './program-type.js';

/**
 * LwtSeg6local programs (sections "lwt_seg6local").
 * Attached to seg6local routes by iproute2 (`ip route ... encap seg6local action End.BPF`); tsbpf does not attach them yet.
 */
export class LwtSeg6local extends Program {
  static override readonly programKind: ProgramKind = 'LwtSeg6local';
}
