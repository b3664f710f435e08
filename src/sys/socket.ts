// Socket calls for the attach paths (netlink, socket options), as SyscallErrors.
import { Errno, fail } from './errors.js';
import { retrying } from './retry.js';
import { kernel } from './native.js';

function check(call: string, r: number, detail?: string): number {
  if (r < 0) fail(call, r, detail);
  return r;
}

export const AF_NETLINK = 16;
export const SOCK_RAW = 3;
export const SOL_SOCKET = 1;

/** socket(2) with SOCK_CLOEXEC; the caller owns the fd. */
export function socket(domain: number, type: number, protocol: number): number {
  return check('socket', kernel.socket(domain, type, protocol));
}

export function bind(fd: number, sockaddr: Uint8Array): void {
  check('bind', kernel.bind(fd, sockaddr));
}

export function send(fd: number, buffer: Uint8Array, flags = 0): number {
  return check('send', retrying(Errno.EINTR, () => kernel.send(fd, buffer, flags)));
}

export function recv(fd: number, buffer: Uint8Array, flags = 0): number {
  return check('recv', retrying(Errno.EINTR, () => kernel.recv(fd, buffer, flags)));
}

export function setsockopt(fd: number, level: number, name: number, value: number | Uint8Array, what = 'setsockopt'): void {
  check(what, kernel.setsockopt(fd, level, name, value));
}

/** getsockopt(2) into `buffer`; returns the length written. */
export function getsockopt(fd: number, level: number, name: number, buffer: Uint8Array): number {
  return check('getsockopt', kernel.getsockopt(fd, level, name, buffer));
}
