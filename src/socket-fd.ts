// The file descriptor of a Node socket (dgram.Socket, net.Socket) or a raw fd: what
// socket filters and socket maps take. Node keeps it on the libuv handle.
import type { Socket as DgramSocket } from 'node:dgram';
import type { Socket as NetSocket } from 'node:net';

/** A socket: a Node dgram or net socket (bound or connected), or a socket fd number. */
export type SocketLike = DgramSocket | NetSocket | number;

/** The fd of `socket`; `invalid(why)` (the caller's typed error) when it has none (closed, or a dgram socket not bound yet). */
export function socketFd(socket: SocketLike, invalid: (why: string) => Error): number {
  if (typeof socket === 'number') {
    if (Number.isInteger(socket) && socket >= 0 && socket <= 0x7fffffff) return socket;
    throw invalid(`invalid socket file descriptor ${socket}`);
  }
  if (typeof socket !== 'object' || socket === null) throw invalid('expected a dgram.Socket, a net.Socket or a file descriptor');
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  if (handle === undefined) throw invalid('expected a dgram.Socket, a net.Socket or a file descriptor');
  const fd = handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw invalid(handle === null ? 'the socket is closed' : 'the socket has no file descriptor yet (bind or connect it first)');
  }
  return fd;
}

/** The fd `socket` has now, or undefined once it is closed (a raw fd is taken as it is). */
export function currentSocketFd(socket: SocketLike): number | undefined {
  try {
    return socketFd(socket, (why) => new Error(why));
  } catch {
    return undefined;
  }
}
