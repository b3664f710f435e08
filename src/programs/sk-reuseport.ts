import type { SocketLike } from '../socket-fd.js';
import type { SocketOptionLink } from '../links/socket-option.js';
import { attachBySocketOption } from './socket-filter.js';
import { Program } from './program.js';
import type { ProgramKind } from '../obj/sections.js';

const reuseportOption = { attach: 52, attachName: 'SO_ATTACH_REUSEPORT_EBPF', detach: 68, detachName: 'SO_DETACH_REUSEPORT_BPF' };

/**
 * SkReuseport programs (sections "sk_reuseport", "sk_reuseport/migrate"): choose the
 * socket of an SO_REUSEPORT group that gets each packet or connection, usually with
 * bpf_sk_select_reuseport and a REUSEPORT_SOCKARRAY.
 * Kernel 4.19+ (BPF_PROG_TYPE_SK_REUSEPORT).
 */
export class SkReuseport extends Program {
  static override readonly programKind: ProgramKind = 'SkReuseport';

  /**
   * Sets the program on the reuseport group of `socket` (SO_ATTACH_REUSEPORT_EBPF; the
   * socket must have SO_REUSEPORT and be bound). The group keeps one program: attaching
   * another replaces it; detach is SO_DETACH_REUSEPORT_BPF (5.3+).
   */
  attach(socket: SocketLike): SocketOptionLink {
    return attachBySocketOption(this, socket, reuseportOption);
  }
}
