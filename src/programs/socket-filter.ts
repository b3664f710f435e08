import { ProgramError } from '../errors.js';
import { setsockopt, SOL_SOCKET } from '../sys/socket.js';
import { socketFd, type SocketLike } from '../socket-fd.js';
import { attachError } from '../links/link.js';
import { type SocketOption, SocketOptionLink } from '../links/socket-option.js';
import { Program } from './program.js';
import type { ProgramKind } from '../obj/sections.js';

const filterOption: SocketOption = { attach: 50, attachName: 'SO_ATTACH_BPF', detach: 27, detachName: 'SO_DETACH_BPF' };

/** Sets `program` on `socket` with `option.attach`. */
export function attachBySocketOption(program: Program, socket: SocketLike, option: SocketOption): SocketOptionLink {
  const progFd = program.fd;
  const fd = socketFd(socket, (why) => new ProgramError('InvalidArgument', `${program.name}: ${why}`, { program: program.name }));
  const description = `${program.name} on socket fd ${fd}`;
  try {
    setsockopt(fd, SOL_SOCKET, option.attach, progFd, `setsockopt(${option.attachName})`);
  } catch (err) {
    throw attachError(program.name, `socket fd ${fd}`, err);
  }
  return new SocketOptionLink(description, socket, fd, option);
}

/** SocketFilter programs (sections "socket"). Kernel 3.19+ (BPF_PROG_TYPE_SOCKET_FILTER). */
export class SocketFilter extends Program {
  static override readonly programKind: ProgramKind = 'SocketFilter';

  /**
   * Filters what `socket` receives (SO_ATTACH_BPF): the program returns how many bytes
   * of the packet to keep, 0 drops it. A socket holds one filter: attaching another
   * replaces it. `socket`: a bound dgram.Socket, a connected net.Socket or a socket fd.
   */
  attach(socket: SocketLike): SocketOptionLink {
    return attachBySocketOption(this, socket, filterOption);
  }
}
