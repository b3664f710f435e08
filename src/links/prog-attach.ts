// PROG_ATTACH attachments: the kernel ties them to no fd, so the link keeps the
// target and the program open to name them to PROG_DETACH.
import { ProgramError } from '../errors.js';
import { Errno, SyscallError } from '../sys/errors.js';
import { FdOwner } from '../sys/fd.js';
import { progDetach } from '../sys/link.js';
import { detachError, Link } from './link.js';

/** An fd this library opened (a cgroup, a namespace, a map reopened by id). */
export class TargetFd extends FdOwner {
  /** What the fd is, for messages ('network namespace /run/netns/x'). */
  readonly what: string;

  constructor(fd: number, what: string) {
    super(fd);
    this.what = what;
  }

  protected closedError(): Error {
    return new ProgramError('NotAttached', `${this.what} is closed`);
  }
}

/** An attachment made with PROG_ATTACH; detach() is PROG_DETACH of the same program. */
export class ProgAttachLink extends Link {
  readonly description: string;
  readonly attachType: number;
  /** The BPF_F_ALLOW_* flags it was attached with. */
  readonly flags: number;
  readonly #target: TargetFd | undefined;
  readonly #program: TargetFd;

  /** @internal takes ownership of both fds; no target: the caller's network namespace (target_fd 0). */
  constructor(description: string, target: TargetFd | undefined, program: TargetFd, attachType: number, flags: number) {
    super();
    this.description = description;
    this.#target = target;
    this.#program = program;
    this.attachType = attachType;
    this.flags = flags;
  }

  protected detachNow(): void {
    try {
      progDetach(this.#target?.fd ?? 0, this.attachType, this.#program.fd);
    } catch (err) {
      // ENOENT: someone else detached it already, which is what was asked.
      if (!(err instanceof SyscallError) || err.errno !== Errno.ENOENT) throw detachError(this.description, err);
    } finally {
      this.#target?.close();
      this.#program.close();
    }
  }
}
