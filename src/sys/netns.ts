// setns(2) into a network namespace, for the calling thread only. An interface index,
// a BPF_LINK_CREATE on an interface and a netlink socket all belong to the network
// namespace of the thread that asks, so work on another namespace's interfaces runs there.
import { fail } from './errors.js';
import { kernel } from './native.js';

/**
 * Moves the calling thread into the network namespace `fd` names (a file of nsfs:
 * /run/netns/NAME, /proc/PID/ns/net). SyscallError: EINVAL for any other fd, EPERM
 * without CAP_SYS_ADMIN.
 */
export function setnsNet(fd: number): void {
  const r = kernel.setnsNet(fd);
  if (r < 0) fail('setns', r, `fd ${fd}`);
}
