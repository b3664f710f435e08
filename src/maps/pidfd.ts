// A process named by a pidfd, owned like every tsbpf descriptor: the key of task local
// storage from user space (libbpf and cilium/ebpf take a pidfd there too). A pid
// number could name another process by the time the kernel reads it; a pidfd cannot.
import { MapError } from '../errors.js';
import { describeValue } from '../describe.js';
import { Errno, SyscallError } from '../sys/errors.js';
import { FdOwner } from '../sys/fd.js';
import { pidfdOpen } from '../sys/pidfd.js';

/** The pidfd of one process; close() (or `using`) releases it. Kernel 5.3+ (pidfd_open). */
export class Pidfd extends FdOwner {
  /** The pid it was opened for (in this process's pid namespace). */
  readonly pid: number;

  private constructor(fd: number, pid: number) {
    super(fd);
    this.pid = pid;
  }

  /** @internal */
  static open(pid: number): Pidfd {
    if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0 || pid > 0x7fffffff) {
      throw new MapError('InvalidArgument', `openPidfd: a process id (a positive integer) is needed, got ${describeValue(pid)}`);
    }
    let fd: number;
    try {
      fd = pidfdOpen(pid, 0);
    } catch (err) {
      if (err instanceof SyscallError && err.errno === Errno.ENOSYS) {
        throw new MapError('NotSupported', 'this kernel has no pidfd_open (5.3): task local storage cannot be keyed from user space', { feature: 'pidfd_open', cause: err });
      }
      throw MapError.fromSyscall(err, 'SyscallError', `openPidfd(${pid})`);
    }
    return new Pidfd(fd, pid);
  }

  protected closedError(): Error {
    return new MapError('Closed', `the pidfd of process ${this.pid} is closed`);
  }
}

/**
 * A pidfd of process `pid` (pidfd_open(2)), for TaskStorage keys. MapError
 * 'InvalidArgument' for anything but a positive integer (no syscall), 'SyscallError'
 * with code ESRCH when there is no such process, 'NotSupported' (feature 'pidfd_open')
 * on a kernel before 5.3.
 */
export function openPidfd(pid: number): Pidfd {
  return Pidfd.open(pid);
}
