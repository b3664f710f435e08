import { attachToNetns, type NetnsTarget } from './attach-point.js';
import type { Link } from '../links/link.js';
import { Program } from './program.js';
import { AttachType } from './program-type.js';
import type { ProgramKind } from '../obj/sections.js';

/**
 * SkLookup programs (sections "sk_lookup"): choose the socket an incoming connection or datagram goes
 * to.
 * Kernel 5.9+ (BPF_PROG_TYPE_SK_LOOKUP).
 */
export class SkLookup extends Program {
  static override readonly programKind: ProgramKind = 'SkLookup';

  /**
   * Attaches to a network namespace (path such as /proc/self/ns/net or /run/netns/NAME,
   * an fd, or `{ netns: 'NAME' }` for a namespace of `ip netns`) with a netns link (5.9+;
   * sk_lookup has no other way). Several programs may be attached; they run in attach
   * order.
   */
  attach(netns: NetnsTarget): Link {
    return attachToNetns(this, netns, AttachType.SkLookup, false);
  }
}
