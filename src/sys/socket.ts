// Socket calls for the attach paths (netlink, socket options), as SyscallErrors.
import { Errno, fail } from './errors.js';
import { retrying } from './retry.js';
import { kernel } from './native.js';

function check(call: string, r: number, detail?: string): number {
  if (r < 0) fail(call, r, detail);
  return r;
}

/** Address family of netlink sockets. */
export const AF_NETLINK = 16;
/** Socket type of raw sockets. */
export const SOCK_RAW = 3;
/** setsockopt(2) level of socket options. */
export const SOL_SOCKET = 1;

/** socket(2) with SOCK_CLOEXEC; the caller owns the fd. */
export function socket(domain: number, type: number, protocol: number): number {
  return check('socket', kernel.socket(domain, type, protocol));
}

/** bind(2); throws SyscallError. */
export function bind(fd: number, sockaddr: Uint8Array): void {
  check('bind', kernel.bind(fd, sockaddr));
}

/** send(2): bytes sent; throws SyscallError. */
export function send(fd: number, buffer: Uint8Array, flags = 0): number {
  return check('send', retrying(Errno.EINTR, () => kernel.send(fd, buffer, flags)));
}

/** recv(2): bytes received; throws SyscallError. */
export function recv(fd: number, buffer: Uint8Array, flags = 0): number {
  return check('recv', retrying(Errno.EINTR, () => kernel.recv(fd, buffer, flags)));
}

/** setsockopt(2) with an int or a buffer; throws SyscallError naming `what`. */
export function setsockopt(fd: number, level: number, name: number, value: number | Uint8Array, what = 'setsockopt'): void {
  check(what, kernel.setsockopt(fd, level, name, value));
}

/** getsockopt(2) into `buffer`; returns the length written. */
export function getsockopt(fd: number, level: number, name: number, buffer: Uint8Array): number {
  return check('getsockopt', kernel.getsockopt(fd, level, name, buffer));
}
