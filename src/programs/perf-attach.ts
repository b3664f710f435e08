// Attaching a program to a perf event (tracepoints, kprobes, uprobes, software and
// hardware events): one mechanism for every kind that opens a perf event. A BPF
// perf_event link (LINK_CREATE, BPF_PERF_EVENT) where the kernel has one, else the
// older PERF_EVENT_IOC_SET_BPF + PERF_EVENT_IOC_ENABLE on the event fd.
import { ProgramError } from '../errors.js';
import { isLinkTypeSupported } from '../features.js';
import { SyscallError } from '../sys/errors.js';
import { FdOwner } from '../sys/fd.js';
import { linkCreate } from '../sys/link.js';
import { kernel } from '../sys/native.js';
import { AttachType } from './program-type.js';
import { attachError, FdLink, Link, LinkType } from './link.js';

const PERF_EVENT_IOC_ENABLE = 0x2400;
const PERF_EVENT_IOC_DISABLE = 0x2401;
const PERF_EVENT_IOC_SET_BPF = 0x40042408;
/** perf_event_open flags: the fd is close-on-exec. */
export const PERF_FLAG_FD_CLOEXEC = 8;

/** perf_event_open(2) → fd; SyscallError 'perf_event_open' on failure. `name`: config1's string (kprobe/uprobe PMUs). */
export function perfEventOpen(attr: Uint8Array, pid: number, cpu: number, name?: Uint8Array, groupFd = -1): number {
  const r = kernel.perf_event_open(attr, pid, cpu, groupFd, PERF_FLAG_FD_CLOEXEC, name);
  if (r < 0) throw new SyscallError('perf_event_open', -r);
  return r;
}

/** How a program is attached to a perf event: 'link' (5.15+) or 'ioctl'. */
export type PerfAttachMechanism = 'link' | 'ioctl';

/** The mechanism attachPerfEvent uses on this kernel (by feature probe). */
export function perfAttachMechanism(): PerfAttachMechanism {
  return isLinkTypeSupported(LinkType.PerfEvent) ? 'link' : 'ioctl';
}

/**
 * Attaches `program` to the perf event `perfFd`, taking ownership of the fd (closed
 * when this fails too). `cookie` is what the program reads with bpf_get_attach_cookie;
 * it needs a perf_event link.
 */
export function attachPerfEvent(program: { fd: number; name: string }, perfFd: number, description: string, cookie?: bigint, mechanism: PerfAttachMechanism = perfAttachMechanism()): Link {
  try {
    if (mechanism === 'link') return attachByLink(program, perfFd, description, cookie);
    if (cookie !== undefined) {
      throw new ProgramError('NotSupported', `${program.name}: a bpf_cookie for ${description} needs BPF perf_event links`, { program: program.name, feature: 'BPF_LINK_TYPE_PERF_EVENT' });
    }
    return new PerfEventIoctlLink(program, perfFd, description);
  } catch (err) {
    kernel.close(perfFd);
    throw err;
  }
}

function attachByLink(program: { fd: number; name: string }, perfFd: number, description: string, cookie?: bigint): FdLink {
  let fd: number;
  try {
    fd = linkCreate({ progFd: program.fd, target: perfFd, attachType: AttachType.PerfEvent, extra: cookie === undefined ? { kind: 'none' } : { kind: 'perfEvent', cookie } });
  } catch (err) {
    throw attachError(program.name, description, err);
  }
  // The link holds its own reference to the event (as aya does, the event fd is not kept):
  // the event lives exactly as long as the link, pinned or not.
  kernel.close(perfFd);
  return new FdLink(fd, description);
}

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

function ioctl(fd: number, request: number, arg: number, what: string): void {
  const r = kernel.ioctl(fd, request, arg);
  if (r < 0) throw new SyscallError(`ioctl(${what})`, -r);
}

/** A program attached to a perf event by ioctl: detached when the event fd is closed. */
export class PerfEventIoctlLink extends Link {
  readonly description: string;
  readonly #perf: PerfFd;

  /** @internal attaches; on failure the caller still owns perfFd. */
  constructor(program: { fd: number; name: string }, perfFd: number, description: string) {
    super();
    try {
      ioctl(perfFd, PERF_EVENT_IOC_SET_BPF, program.fd, 'PERF_EVENT_IOC_SET_BPF');
      ioctl(perfFd, PERF_EVENT_IOC_ENABLE, 0, 'PERF_EVENT_IOC_ENABLE');
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
    kernel.ioctl(this.#perf.fd, PERF_EVENT_IOC_DISABLE, 0);
    this.#perf.close();
  }
}
