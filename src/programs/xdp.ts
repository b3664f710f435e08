// XDP: a BPF link (LINK_CREATE with BPF_XDP, 5.9+) where the kernel has one, the
// netlink IFLA_XDP attribute otherwise or when asked. Both refuse to take an interface
// that already runs an XDP program in that mode (AlreadyAttached) unless `replace`
// says to (netlink only: a link cannot take over a hook).
import { boolOption, checkOptions } from './options.js';
import { describeValue } from '../describe.js';
import { ProgramError } from '../errors.js';
import { isLinkTypeSupported } from '../features.js';
import { Errno, SyscallError } from '../sys/errors.js';
import { linkCreate } from '../sys/link.js';
import { FdLink, LinkType, attachError } from '../links/link.js';
import { ProgramRef, resolveInterface } from '../links/netif.js';
import { setXdp, xdpDescription, XdpFlags, xdpModeFlags, type XdpMode, XdpNetlinkLink } from '../links/xdp.js';
import { Program } from './program.js';
import { AttachType } from './program-type.js';
import type { ProgramKind } from '../obj/sections.js';

/** Options of an XDP attach (4.8+; bpf_link 5.9+): mode, program to replace, netlink instead of a link. */
export interface XdpAttachOptions {
  /**
   * skb: generic XDP (any interface, after the skb is built); drv: in the driver
   * (native); hw: offloaded to the NIC. Default: the kernel's choice (drv where the
   * driver has it, skb otherwise).
   */
  mode?: XdpMode;
  /**
   * Replace an XDP program already attached in that mode instead of failing with
   * AlreadyAttached. Only netlink attachments can (the kernel never lets a BPF link
   * take over a hook), so this attaches through netlink.
   */
  replace?: boolean;
  /**
   * true: attach through netlink (IFLA_XDP) even where BPF links exist. false: a BPF
   * link or ProgramError 'NotSupported'. Default: a link when the kernel has XDP links.
   */
  netlink?: boolean;
}


/** Maps an attach failure to the kind a user can act on. */
function xdpAttachError(program: string, where: string, mode: XdpMode | undefined, err: unknown): unknown {
  if (!(err instanceof SyscallError)) return err;
  if (err.errno === Errno.EBUSY || err.errno === Errno.EEXIST) {
    return new ProgramError('AlreadyAttached', `attaching ${program} to ${where}: the interface already has an XDP program (${err.message})`, { program, cause: err });
  }
  // hw on a device without offload: EINVAL (veth) or EOPNOTSUPP; drv on a driver
  // without native XDP: EOPNOTSUPP.
  const refused = err.errno === Errno.EOPNOTSUPP || err.errno === Errno.ENOTSUPP || (mode === 'hw' && err.errno === Errno.EINVAL);
  if (mode && mode !== 'skb' && refused) {
    return new ProgramError('NotSupported', `attaching ${program} to ${where}: the interface does not do XDP in ${mode} mode (${err.message})`, {
      program,
      feature: `XDP ${mode} mode`,
      cause: err,
    });
  }
  return attachError(program, where, err);
}

/**
 * Xdp programs (sections "xdp.frags/devmap", "xdp/devmap", "xdp.frags/cpumap", "xdp/cpumap", "xdp.frags", "xdp").
 * Kernel 4.8+ (BPF_PROG_TYPE_XDP; XDP links 5.9+).
 */
export class Xdp extends Program {
  static override readonly programKind: ProgramKind = 'Xdp';

  /**
   * Attaches to the interface `target` (name or index, in this process's network
   * namespace). Returns an FdLink (BPF link: pin(), update(), info()) or, through
   * netlink, an XdpNetlinkLink (update(); detached by close()).
   */
  attach(target: string | number, options: XdpAttachOptions = {}): FdLink | XdpNetlinkLink {
    const progFd = this.fd;
    options = checkOptions(this.name, options) ?? {};
    boolOption(this.name, options.replace, 'replace');
    boolOption(this.name, options.netlink, 'netlink');
    const { mode, replace = false } = options;
    if (mode !== undefined && !(mode in xdpModeFlags)) throw new ProgramError('InvalidArgument', `XDP mode must be 'skb', 'drv' or 'hw', not ${describeValue(mode)}`);
    if (replace && options.netlink === false) throw new ProgramError('InvalidArgument', 'replace needs netlink: a BPF link cannot take over an XDP hook');
    const iface = resolveInterface(target, this.name);
    const flags = mode ? xdpModeFlags[mode] : 0;
    const useNetlink = options.netlink ?? (replace || !isLinkTypeSupported(LinkType.Xdp));
    if (!useNetlink) {
      if (!isLinkTypeSupported(LinkType.Xdp)) {
        throw new ProgramError('NotSupported', `attaching ${this.name} to ${iface.name}: this kernel has no XDP links (5.9+); attach with netlink`, {
          program: this.name,
          feature: 'BPF_LINK_TYPE_XDP',
        });
      }
      const description = xdpDescription(iface, mode, 'link');
      try {
        return new FdLink(linkCreate({ progFd, target: iface.index, attachType: AttachType.Xdp, flags }), description);
      } catch (err) {
        throw xdpAttachError(this.name, description, mode, err);
      }
    }
    const description = xdpDescription(iface, mode, 'netlink');
    try {
      const ref = new ProgramRef(this);
      setXdp(iface.index, progFd, flags | (replace ? 0 : XdpFlags.UpdateIfNoexist), undefined, (ids) => ids.includes(ref.id));
      return new XdpNetlinkLink(iface, mode, ref);
    } catch (err) {
      throw xdpAttachError(this.name, description, mode, err);
    }
  }
}
