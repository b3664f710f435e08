import { boolOption, checkOptions } from './options.js';
import { attachToNetns, type NetnsTarget } from './attach-point.js';
import type { Link } from '../links/link.js';
import { Program } from './program.js';
import { AttachType } from './program-type.js';
import type { ProgramKind } from '../obj/sections.js';

/** FlowDissector programs (sections "flow_dissector"). Kernel 4.20+ (BPF_PROG_TYPE_FLOW_DISSECTOR). */
export class FlowDissector extends Program {
  static override readonly programKind: ProgramKind = 'FlowDissector';

  /**
   * Replaces the kernel's flow dissector in a network namespace (path, fd, or
   * `{ netns: 'NAME' }` for a namespace of `ip netns`): a netns link (5.8+), PROG_ATTACH
   * to the namespace where links are missing or with `{ link: false }` (the caller's own
   * namespace only). A namespace holds one flow dissector.
   */
  attach(netns: NetnsTarget, options: { link?: boolean } = {}): Link {
    options = checkOptions(this.name, options) ?? {};
    return attachToNetns(this, netns, AttachType.FlowDissector, true, boolOption(this.name, options.link, 'link'));
  }
}
