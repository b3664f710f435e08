import type { LwtRouteLink } from '../links/lwt-route.js';
import { attachLwt, type LwtAttachOptions } from './lwt-route.js';
import { Program } from './program.js';
import type { ProgramKind } from '../obj/sections.js';

/**
 * LwtOut programs (section "lwt_out"): run by routes whose encapsulation is BPF, at the out hook.
 * Kernel 4.10+ (BPF_PROG_TYPE_LWT_OUT).
 */
export class LwtOut extends Program {
  static override readonly programKind: ProgramKind = 'LwtOut';

  /** Adds a route (`ip route add <destination> dev <device> encap bpf out`) that runs this program; detach deletes it. */
  attach(options: LwtAttachOptions): LwtRouteLink {
    return attachLwt(this, 'out', options);
  }
}
