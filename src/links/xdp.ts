// XDP attached through netlink (IFLA_XDP): the kernel keeps no link object, so the
// attachment is ended by setting the interface's program back to none.
import { Errno } from '../sys/errors.js';
import { attrU32, NlMessage, NlmF, parseAttrs, refusedWith, Rtm, rtnetlink, rtnetlinkChange } from '../sys/netlink.js';
import { attachError, Link } from './link.js';
import { type Interface, ProgramRef } from './netif.js';

/** XDP attach mode: generic (`skb`, any driver), native (`drv`) or offloaded (`hw`). */
export type XdpMode = 'skb' | 'drv' | 'hw';

/** XDP_FLAGS_* (include/uapi/linux/if_link.h). */
export const XdpFlags = {
  UpdateIfNoexist: 1 << 0,
  SkbMode: 1 << 1,
  DrvMode: 1 << 2,
  HwMode: 1 << 3,
  Replace: 1 << 4,
} as const;

export const xdpModeFlags: Record<XdpMode, number> = { skb: XdpFlags.SkbMode, drv: XdpFlags.DrvMode, hw: XdpFlags.HwMode };

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
export function setXdp(ifindex: number, fd: number, flags: number, expectedFd: number | undefined, done: (attached: number[]) => boolean): void {
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

/** How an XDP attachment names itself in messages. */
export function xdpDescription(iface: Interface, mode: XdpMode | undefined, how: string): string {
  return `xdp${mode ? ` (${mode})` : ''} on ${iface.name} (${how})`;
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
    this.#flags = mode ? xdpModeFlags[mode] : 0;
    this.#program = program;
    this.description = xdpDescription(iface, mode, 'netlink');
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
