import type { LwtRouteLink } from '../links/lwt-route.js';
import { attachLwt, type LwtAttachOptions } from './lwt-route.js';
import { Program } from './program.js';
import type { ProgramKind } from '../obj/sections.js';

/**
 * LwtXmit programs (section "lwt_xmit"): run by routes whose encapsulation is BPF, at the xmit hook.
 * Kernel 4.10+ (BPF_PROG_TYPE_LWT_XMIT).
 */
export class LwtXmit extends Program {
  static override readonly programKind: ProgramKind = 'LwtXmit';

  /** Adds a route (`ip route add <destination> dev <device> encap bpf xmit`) that runs this program; detach deletes it. */
  attach(options: LwtAttachOptions): LwtRouteLink {
    return attachLwt(this, 'xmit', options);
  }
}
