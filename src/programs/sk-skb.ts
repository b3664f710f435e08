import { boolOption, checkOptions, choiceOption } from './options.js';
import { ProgramError } from '../errors.js';
import { attachToSockMap, type SockMapLike } from './attach-point.js';
import { sectionAttachType } from './cgroup-attach.js';
import type { Link } from '../links/link.js';
import { Program } from './program.js';
import { AttachType } from './program-type.js';
import type { ProgramKind } from '../obj/sections.js';

/** Which sk_skb hook of a sockmap a program is (stream parser and stream verdict 4.14+, skb verdict 5.13+). */
export type SkSkbKind = 'stream_parser' | 'stream_verdict' | 'verdict';

const attachTypes: Record<SkSkbKind, number> = {
  stream_parser: AttachType.SkSkbStreamParser,
  stream_verdict: AttachType.SkSkbStreamVerdict,
  verdict: AttachType.SkSkbVerdict,
};

/**
 * SkSkb programs (sections "sk_skb/stream_parser", "sk_skb/stream_verdict", "sk_skb/verdict",
 * "sk_skb").
 * Kernel 4.14+ (BPF_PROG_TYPE_SK_SKB).
 */
export class SkSkb extends Program {
  static override readonly programKind: ProgramKind = 'SkSkb';

  /**
   * Attaches to a SockMap or SockHash as its stream parser, stream verdict or verdict
   * program (default: what the section says; required for plain "sk_skb").
   */
  attach(map: SockMapLike, kind?: SkSkbKind, options: { link?: boolean } = {}): Link {
    choiceOption(this.name, kind, 'kind', Object.keys(attachTypes));
    options = checkOptions(this.name, options) ?? {};
    boolOption(this.name, options.link, 'link');
    const attachType = kind !== undefined ? attachTypes[kind] : sectionAttachType(this);
    if (attachType === undefined) {
      throw new ProgramError('UnknownTarget', `${this.name} (${this.section}): say which sk_skb hook ('stream_parser', 'stream_verdict' or 'verdict')`, { program: this.name });
    }
    return attachToSockMap(this, map, attachType, options.link);
  }
}
