// pidfd_open(2) (5.3): a descriptor that names a process, not a reusable pid number.
// User space keys task local storage by one.
import { fail } from './errors.js';
import { kernel } from './native.js';

/** pidfd_open flag (5.10): the pidfd is O_NONBLOCK (for waitid(P_PIDFD)). */
export const PIDFD_NONBLOCK = 0o4000;

/**
 * pidfd_open(pid, flags): the caller owns the fd (close-on-exec). SyscallError: ESRCH
 * for no such process, EINVAL for a bad pid or flag, ENOSYS before 5.3.
 */
export function pidfdOpen(pid: number, flags = 0): number {
  const r = kernel.pidfdOpen(pid, flags);
  if (r < 0) fail('pidfd_open', r, `pid ${pid}`);
  return r;
}
