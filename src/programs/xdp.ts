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
import { attrU32, NlMessage, NlmF, parseAttrs, refusedWith, Rtm, rtnetlink, rtnetlinkChange } from '../sys/netlink.js';
import { FdLink, Link, LinkType, attachError } from './link.js';
import { type Interface, ProgramRef, resolveInterface } from './netif.js';
import { Program } from './program.js';
import { AttachType } from './program-type.js';

export type XdpMode = 'skb' | 'drv' | 'hw';

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

/** XDP_FLAGS_* (include/uapi/linux/if_link.h). */
export const XdpFlags = {
  UpdateIfNoexist: 1 << 0,
  SkbMode: 1 << 1,
  DrvMode: 1 << 2,
  HwMode: 1 << 3,
  Replace: 1 << 4,
} as const;

const modeFlags: Record<XdpMode, number> = { skb: XdpFlags.SkbMode, drv: XdpFlags.DrvMode, hw: XdpFlags.HwMode };

const IFLA_XDP = 43;
const IFLA_XDP_FD = 1;
const IFLA_XDP_FLAGS = 3;
const IFLA_XDP_EXPECTED_FD = 8;
const IFLA_XDP_PROG_ID = 4;
const IFLA_XDP_DRV_PROG_ID = 5;
const IFLA_XDP_SKB_PROG_ID = 6;
const IFLA_XDP_HW_PROG_ID = 7;

function ifinfomsg(ifindex: number): Uint8Array {
  const b = new Uint8Array(16); // family, pad, type, index, flags, change
  new DataView(b.buffer).setInt32(4, ifindex, true);
  return b;
}

/**
 * RTM_SETLINK with IFLA_XDP: `fd` -1 removes; `expectedFd` (with XDP_FLAGS_REPLACE)
 * guards what is replaced. `done` tells from the programs attached now whether the
 * change was made, for a request whose answer is lost.
 */
function setXdp(ifindex: number, fd: number, flags: number, expectedFd: number | undefined, done: (attached: number[]) => boolean): void {
  const msg = new NlMessage(Rtm.SetLink, NlmF.Ack).bytes(ifinfomsg(ifindex)).nest(IFLA_XDP, (m) => {
    m.s32(IFLA_XDP_FD, fd).u32(IFLA_XDP_FLAGS, flags);
    if (expectedFd !== undefined) m.s32(IFLA_XDP_EXPECTED_FD, expectedFd);
  });
  rtnetlinkChange(msg, () => done(xdpProgramIds(ifindex)));
}

/** The ids of the XDP programs attached to the interface, in any mode (RTM_GETLINK). */
function xdpProgramIds(ifindex: number): number[] {
  const reply = rtnetlink(new NlMessage(Rtm.GetLink, NlmF.Ack).bytes(ifinfomsg(ifindex))).find((r) => r.type === Rtm.NewLink);
  const xdp = reply && parseAttrs(reply.payload, 16).get(IFLA_XDP);
  if (!xdp) return [];
  const attrs = parseAttrs(xdp);
  return [IFLA_XDP_PROG_ID, IFLA_XDP_DRV_PROG_ID, IFLA_XDP_SKB_PROG_ID, IFLA_XDP_HW_PROG_ID].map((a) => attrU32(attrs.get(a)) ?? 0).filter((id) => id !== 0);
}

function describe(iface: Interface, mode: XdpMode | undefined, how: string): string {
  return `xdp${mode ? ` (${mode})` : ''} on ${iface.name} (${how})`;
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
 * An XDP program attached through netlink. The kernel holds no link object for it, so
 * the attachment remembers the program and detaches only if it is still the one
 * attached (IFLA_XDP_EXPECTED_FD): another program put there since is left alone. Not
 * pinnable; close() detaches; one garbage-collected unclosed stays attached.
 */
export class XdpNetlinkLink extends Link {
  readonly description: string;
  readonly ifindex: number;
  readonly mode?: XdpMode;
  #program: ProgramRef;
  readonly #flags: number;

  /** @internal */
  constructor(iface: Interface, mode: XdpMode | undefined, program: ProgramRef) {
    super();
    this.ifindex = iface.index;
    this.mode = mode;
    this.#flags = mode ? modeFlags[mode] : 0;
    this.#program = program;
    this.description = describe(iface, mode, 'netlink');
  }

  /** The kernel id of the attached program. */
  get programId(): number {
    return this.#program.id;
  }

  /**
   * Atomically replaces the attached program (XDP_FLAGS_REPLACE with the current one as
   * the expected program): fails with AttachError if someone else replaced it meanwhile.
   */
  update(program: { fd: number; name: string }): void {
    if (!this.attached) throw this.notAttached();
    try {
      const next = new ProgramRef(program);
      this.#program.withFd((expected) => setXdp(this.ifindex, program.fd, this.#flags | XdpFlags.Replace, expected, (ids) => ids.includes(next.id)));
      this.#program = next;
    } catch (err) {
      throw attachError(program.name, `${this.description} (update)`, err);
    }
  }

  protected detachNow(): void {
    try {
      const id = this.#program.id;
      this.#program.withFd((expected) => setXdp(this.ifindex, -1, this.#flags | XdpFlags.Replace, expected, (ids) => !ids.includes(id)));
    } catch (err) {
      // EEXIST: another program is attached now, not ours to remove; ENODEV: the
      // interface is gone and the program with it.
      if (!refusedWith(err, Errno.EEXIST, Errno.ENODEV)) {
        throw attachError(this.#program.name, `${this.description} (detach)`, err);
      }
    }
  }
}

/**
 * Xdp programs (sections "xdp.frags/devmap", "xdp/devmap", "xdp.frags/cpumap", "xdp/cpumap", "xdp.frags", "xdp").
 */
export class Xdp extends Program {
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
    if (mode !== undefined && !(mode in modeFlags)) throw new ProgramError('InvalidArgument', `XDP mode must be 'skb', 'drv' or 'hw', not ${describeValue(mode)}`);
    if (replace && options.netlink === false) throw new ProgramError('InvalidArgument', 'replace needs netlink: a BPF link cannot take over an XDP hook');
    const iface = resolveInterface(target, this.name);
    const flags = mode ? modeFlags[mode] : 0;
    const useNetlink = options.netlink ?? (replace || !isLinkTypeSupported(LinkType.Xdp));
    if (!useNetlink) {
      if (!isLinkTypeSupported(LinkType.Xdp)) {
        throw new ProgramError('NotSupported', `attaching ${this.name} to ${iface.name}: this kernel has no XDP links (5.9+); attach with netlink`, {
          program: this.name,
          feature: 'BPF_LINK_TYPE_XDP',
        });
      }
      const description = describe(iface, mode, 'link');
      try {
        return new FdLink(linkCreate({ progFd, target: iface.index, attachType: AttachType.Xdp, flags }), description);
      } catch (err) {
        throw xdpAttachError(this.name, description, mode, err);
      }
    }
    const description = describe(iface, mode, 'netlink');
    try {
      const ref = new ProgramRef(this);
      setXdp(iface.index, progFd, flags | (replace ? 0 : XdpFlags.UpdateIfNoexist), undefined, (ids) => ids.includes(ref.id));
      return new XdpNetlinkLink(iface, mode, ref);
    } catch (err) {
      throw xdpAttachError(this.name, description, mode, err);
    }
  }
}
