import { boolOption, checkOptions } from './options.js';
import { attachToNetns } from './attach-point.js';
import type { Link } from '../links/link.js';
import { Program } from './program.js';
import { AttachType } from './program-type.js';
import type { ProgramKind } from '../obj/sections.js';

/** FlowDissector programs (sections "flow_dissector"). */
export class FlowDissector extends Program {
  static override readonly programKind: ProgramKind = 'FlowDissector';

  /**
   * Replaces the kernel's flow dissector in a network namespace (path or fd): a netns
   * link (5.8+), PROG_ATTACH to the namespace where links are missing or with
   * `{ link: false }`. A namespace holds one flow dissector.
   */
  attach(netns: string | number, options: { link?: boolean } = {}): Link {
    options = checkOptions(this.name, options) ?? {};
    return attachToNetns(this, netns, AttachType.FlowDissector, true, boolOption(this.name, options.link, 'link'));
  }
}
