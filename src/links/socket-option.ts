// Programs set on a socket with a socket option (SO_ATTACH_BPF, SO_ATTACH_REUSEPORT_EBPF):
// the kernel keeps no link object; the matching detach option takes the program off.
import { fstatSync } from 'node:fs';
import { currentSocketFd, type SocketLike } from '../socket-fd.js';
import { Errno, SyscallError } from '../sys/errors.js';
import { setsockopt, SOL_SOCKET } from '../sys/socket.js';
import { detachError, Link } from './link.js';

/** A pair of socket options that attach a program to a socket and take it off again. */
export interface SocketOption {
  attach: number;
  attachName: string;
  detach: number;
  detachName: string;
}

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
