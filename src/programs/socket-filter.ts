import { fstatSync } from 'node:fs';
import { ProgramError } from '../errors.js';
import { Errno, SyscallError } from '../sys/errors.js';
import { setsockopt, SOL_SOCKET } from '../sys/socket.js';
import { currentSocketFd, socketFd, type SocketLike } from '../socket-fd.js';
import { detachError } from './attach-point.js';
import { attachError, Link } from '../links/link.js';
import { Program } from './program.js';

/** A pair of socket options that attach a program to a socket and take it off again. */
export interface SocketOption {
  attach: number;
  attachName: string;
  detach: number;
  detachName: string;
}

const filterOption: SocketOption = { attach: 50, attachName: 'SO_ATTACH_BPF', detach: 27, detachName: 'SO_DETACH_BPF' };

/** The socket an fd refers to now (sockfs device and inode), undefined once the fd is closed. */
function socketIdentity(fd: number): string | undefined {
  try {
    const s = fstatSync(fd);
    return `${s.dev}:${s.ino}`;
  } catch {
    return undefined;
  }
}

/** A program set on a socket with a socket option; detaching is the matching option on the same socket. */
export class SocketOptionLink extends Link {
  readonly description: string;
  readonly #socket: SocketLike;
  readonly #fd: number;
  readonly #identity: string | undefined;
  readonly #option: SocketOption;

  /** @internal */
  constructor(description: string, socket: SocketLike, fd: number, option: SocketOption) {
    super();
    this.description = description;
    this.#socket = socket;
    this.#fd = fd;
    this.#identity = socketIdentity(fd);
    this.#option = option;
  }

  protected detachNow(): void {
    // A socket that was closed took its program with it: nothing to do, and its number
    // may belong to another socket now (a Node socket's fd changes; a raw fd is checked
    // by the socket's inode).
    if (currentSocketFd(this.#socket) !== this.#fd || socketIdentity(this.#fd) !== this.#identity) return;
    const { detach, detachName } = this.#option;
    try {
      setsockopt(this.#fd, SOL_SOCKET, detach, 0, `setsockopt(${detachName})`);
    } catch (err) {
      // ENOENT: no program (replaced or detached already).
      if (err instanceof SyscallError && err.errno === Errno.ENOENT) return;
      throw detachError(this.description, err);
    }
  }
}

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

/** SocketFilter programs (sections "socket"). */
export class SocketFilter extends Program {
  /**
   * Filters what `socket` receives (SO_ATTACH_BPF): the program returns how many bytes
   * of the packet to keep, 0 drops it. A socket holds one filter: attaching another
   * replaces it. `socket`: a bound dgram.Socket, a connected net.Socket or a socket fd.
   */
  attach(socket: SocketLike): SocketOptionLink {
    return attachBySocketOption(this, socket, filterOption);
  }
}
