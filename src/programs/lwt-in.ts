import type { LwtRouteLink } from '../links/lwt-route.js';
import { attachLwt, type LwtAttachOptions } from './lwt-route.js';
import { Program } from './program.js';
import type { ProgramKind } from '../obj/sections.js';

/**
 * LwtIn programs (section "lwt_in"): run by routes whose encapsulation is BPF, at the in hook.
 * Kernel 4.10+ (BPF_PROG_TYPE_LWT_IN).
 */
export class LwtIn extends Program {
  static override readonly programKind: ProgramKind = 'LwtIn';

  /** Adds a route (`ip route add <destination> dev <device> encap bpf in`) that runs this program; detach deletes it. */
  attach(options: LwtAttachOptions): LwtRouteLink {
    return attachLwt(this, 'in', options);
  }
}
