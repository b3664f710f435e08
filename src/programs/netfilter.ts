import { invalidOption } from './options.js';
import { ProgramError } from '../errors.js';
import { isLinkTypeSupported } from '../features.js';
import { linkCreate } from '../sys/link.js';
import { attachError, FdLink, LinkType } from '../links/link.js';
import { Program } from './program.js';
import { AttachType } from './program-type.js';
import type { ProgramKind } from '../obj/sections.js';

/** The address families netfilter BPF links accept. */
export type NetfilterFamily = 'ipv4' | 'ipv6';
/** The netfilter hooks (enum nf_inet_hooks). */
export type NetfilterHook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
/** NFPROTO_* of each family. */
const families: Readonly<Record<NetfilterFamily, number>> = { ipv4: 2, ipv6: 10 };
const hooks: Readonly<Record<NetfilterHook, number>> = { prerouting: 0, input: 1, forward: 2, output: 3, postrouting: 4 };
const BPF_F_NETFILTER_IP_DEFRAG = 1;

/** Options of a netfilter attach (BPF_LINK_TYPE_NETFILTER, 6.4+): protocol family, hook, priority. */
export interface NetfilterAttachOptions {
  family: NetfilterFamily;
  hook: NetfilterHook;
  /** Order among the hook's functions (lower runs first); the kernel refuses INT_MIN and INT_MAX. */
  priority: number;
  /** Ask for defragmented packets (BPF_F_NETFILTER_IP_DEFRAG, 6.6+). */
  defrag?: boolean;
}

/**
 * Netfilter programs (section "netfilter"): a netfilter hook function in the network
 * namespace of the attaching process, returning NF_DROP (0) or NF_ACCEPT (1).
 * Kernel 6.4+ (BPF_PROG_TYPE_NETFILTER).
 */
export class Netfilter extends Program {
  static override readonly programKind: ProgramKind = 'Netfilter';

  /** Attaches to a netfilter hook of this network namespace with a BPF link (6.4+). */
  attach(options: NetfilterAttachOptions): FdLink {
    if (typeof options !== 'object' || options === null) invalidOption(this.name, 'the netfilter options', 'an object ({ family, hook, priority })', options);
    const pf = families[options.family];
    const hooknum = hooks[options.hook];
    if (pf === undefined || hooknum === undefined || !Number.isInteger(options.priority)) {
      throw new ProgramError('AttachError', `netfilter ${this.name}: family must be ${Object.keys(families).join('/')}, hook one of ${Object.keys(hooks).join('/')}, priority an integer`, { program: this.name });
    }
    const progFd = this.fd;
    if (!isLinkTypeSupported(LinkType.Netfilter)) {
      throw new ProgramError('NotSupported', `netfilter ${this.name}: this kernel has no netfilter BPF links (6.4+)`, { program: this.name, feature: 'BPF_LINK_TYPE_NETFILTER' });
    }
    const what = `netfilter ${options.family} ${options.hook} priority ${options.priority}`;
    try {
      const fd = linkCreate({
        progFd,
        target: 0,
        attachType: AttachType.Netfilter,
        extra: { kind: 'netfilter', pf, hooknum, priority: options.priority, flags: options.defrag ? BPF_F_NETFILTER_IP_DEFRAG : 0 },
      });
      return new FdLink(fd, `${this.name} on ${what}`);
    } catch (err) {
      throw attachError(this.name, what, err);
    }
  }
}
