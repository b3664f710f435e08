import { Errno, SyscallError } from '../sys/errors.js';
import { setsockopt, SOL_SOCKET } from '../sys/socket.js';
import { currentSocketFd, socketFd, type SocketLike } from '../socket-fd.js';
import { detachError } from './attach-point.js';
import { attachError, Link } from './link.js';
import { Program } from './program.js';

const SO_ATTACH_BPF = 50;
const SO_DETACH_BPF = 27;

/** A socket filter set with SO_ATTACH_BPF; detaching is SO_DETACH_BPF on the same socket. */
export class SocketFilterLink extends Link {
  readonly description: string;
  readonly #socket: SocketLike;
  readonly #fd: number;

  /** @internal */
  constructor(description: string, socket: SocketLike, fd: number) {
    super();
    this.description = description;
    this.#socket = socket;
    this.#fd = fd;
  }

  protected detachNow(): void {
    // A Node socket that was closed (or whose fd changed) took its filter with it:
    // nothing to do, and the old number may belong to someone else now.
    if (currentSocketFd(this.#socket) !== this.#fd) return;
    try {
      setsockopt(this.#fd, SOL_SOCKET, SO_DETACH_BPF, 0, 'setsockopt(SO_DETACH_BPF)');
    } catch (err) {
      // ENOENT: no filter (replaced or detached already); EBADF/ENOTSOCK: a raw fd closed since.
      if (err instanceof SyscallError && [Errno.ENOENT, Errno.EBADF, Errno.ENOTSOCK].includes(err.errno)) return;
      throw detachError(this.description, err);
    }
  }
}

/** SocketFilter programs (sections "socket"). */
export class SocketFilter extends Program {
  /**
   * Filters what `socket` receives (SO_ATTACH_BPF): the program returns how many bytes
   * of the packet to keep, 0 drops it. A socket holds one filter: attaching another
   * replaces it. `socket`: a bound dgram.Socket, a connected net.Socket or a socket fd.
   */
  attach(socket: SocketLike): SocketFilterLink {
    const progFd = this.fd;
    const fd = socketFd(socket);
    const description = `socket fd ${fd}`;
    try {
      setsockopt(fd, SOL_SOCKET, SO_ATTACH_BPF, progFd, 'setsockopt(SO_ATTACH_BPF)');
    } catch (err) {
      throw attachError(this.name, description, err);
    }
    return new SocketFilterLink(description, socket, fd);
  }
}
