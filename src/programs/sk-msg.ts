import { boolOption, checkOptions } from './options.js';
import { attachToSockMap, type SockMapLike } from './attach-point.js';
import type { Link } from '../links/link.js';
import { Program } from './program.js';
import { AttachType } from './program-type.js';
import type { ProgramKind } from '../obj/sections.js';

/**
 * SkMsg programs (sections "sk_msg"): run on every sendmsg of a socket in the map.
 * Kernel 4.17+ (BPF_PROG_TYPE_SK_MSG).
 */
export class SkMsg extends Program {
  static override readonly programKind: ProgramKind = 'SkMsg';

  /**
   * Attaches to a SockMap or SockHash (BPF_SK_MSG_VERDICT): a sockmap link where the
   * kernel has them, PROG_ATTACH to the map otherwise or with `{ link: false }`.
   */
  attach(map: SockMapLike, options: { link?: boolean } = {}): Link {
    options = checkOptions(this.name, options) ?? {};
    return attachToSockMap(this, map, AttachType.SkMsgVerdict, boolOption(this.name, options.link, 'link'));
  }
}
