// Perf event attachments without a BPF link: a program set on an event fd by ioctl,
// and the group of one program's attachments to the same event on several CPUs.
import { ProgramError } from '../errors.js';
import { FdOwner } from '../sys/fd.js';
import { kernel } from '../sys/native.js';
import { PerfIoctl, perfEventIoctl } from '../sys/perf.js';
import { attachError, Link, undoAll } from './link.js';

class PerfFd extends FdOwner {
  readonly #description: string;

  constructor(fd: number, description: string) {
    super(fd);
    this.#description = description;
  }

  protected closedError(): Error {
    return new ProgramError('NotAttached', `${this.#description} is detached`);
  }
}

/**
 * A program attached to a perf event by ioctl: detached when the event fd is closed.
 * Kernel 4.1+ (PERF_EVENT_IOC_SET_BPF).
 */
export class PerfEventIoctlLink extends Link {
  readonly description: string;
  readonly #perf: PerfFd;

  /** @internal attaches; on failure the caller still owns perfFd. */
  constructor(program: { fd: number; name: string }, perfFd: number, description: string) {
    super();
    try {
      perfEventIoctl(perfFd, PerfIoctl.SetBpf, program.fd);
      perfEventIoctl(perfFd, PerfIoctl.Enable);
    } catch (err) {
      throw attachError(program.name, description, err);
    }
    this.description = description;
    this.#perf = new PerfFd(perfFd, description);
  }

  /** The perf event's fd. */
  get perfFd(): number {
    return this.#perf.fd;
  }

  protected detachNow(): void {
    // Disable first so the program stops at once; closing the event releases the
    // program whatever the disable said, so its result does not matter.
    kernel.ioctl(this.#perf.fd, PerfIoctl.Disable, 0);
    this.#perf.close();
  }
}

/**
 * The attachments of one program to one event on several CPUs, detached together.
 * Kernel 4.1+ (PERF_EVENT_IOC_SET_BPF; perf_event links 5.15+).
 */
export class PerfEventLinks extends Link {
  readonly description: string;
  readonly links: readonly Link[];

  constructor(links: Link[], description: string) {
    super();
    this.links = links;
    this.description = description;
  }

  protected detachNow(): void {
    undoAll(this.links.map((l) => () => l.detach()));
  }

  protected override release(): void {
    undoAll(this.links.map((l) => () => l.close()));
  }
}
