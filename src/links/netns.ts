// Attachments to interfaces of another network namespace (`{ netns }` on XDP and tc).
// The attach runs with this thread inside that namespace, for the length of one
// synchronous call, so the interface name, the link and the netlink socket all resolve
// there; links that later speak netlink (update, detach) keep the namespace to go back.
import { openSync } from 'node:fs';
import { ProgramError } from '../errors.js';
import { Errno, SyscallError } from '../sys/errors.js';
import { setnsNet } from '../sys/netns.js';
import { TargetFd } from './prog-attach.js';

/** Runs `fn` with this thread in the network namespace `netns` (no namespace: where it is). */
export function inNetns<T>(netns: TargetFd | undefined, fn: () => T): T {
  if (netns === undefined) return fn();
  const home = new TargetFd(openSync('/proc/thread-self/ns/net', 'r'), "this thread's network namespace");
  try {
    try {
      setnsNet(netns.fd);
    } catch (err) {
      if (err instanceof SyscallError && err.errno === Errno.EINVAL) throw new ProgramError('InvalidArgument', `${netns.what} is not a network namespace`, { cause: err });
      throw err;
    }
    try {
      return fn();
    } finally {
      setnsNet(home.fd);
    }
  } finally {
    home.close();
  }
}
