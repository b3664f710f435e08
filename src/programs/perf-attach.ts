// Attaching a program to a perf event (kprobes, uprobes, tracepoints, sampling events).
// Where the kernel has perf_event BPF links (5.15) the program is attached with
// LINK_CREATE, which also carries the bpf_cookie; otherwise with PERF_EVENT_IOC_SET_BPF,
// and the attachment lives as long as the perf event fd. Either way the event is then
// enabled, as libbpf does, and the returned Link owns the perf event fd.
import { ProgramError } from '../errors.js';
import { isLinkTypeSupported } from '../features.js';
import { FdOwner } from '../sys/fd.js';
import { linkCreate } from '../sys/link.js';
import { kernel } from '../sys/native.js';
import { PerfIoctl, perfEventIoctl } from '../sys/perf.js';
import { AttachType } from './program-type.js';
import { attachError, FdLink, Link, LinkType } from './link.js';

class PerfFd extends FdOwner {
  readonly #describe: () => string;

  constructor(fd: number, describe: () => string) {
    super(fd);
    this.#describe = describe;
  }

  protected closedError(): Error {
    return new ProgramError('NotAttached', `${this.#describe()} is detached`);
  }
}

/** A perf_event BPF link; it keeps the perf event fd as well (the kernel holds its own reference too). */
class PerfEventFdLink extends FdLink {
  readonly #perf: PerfFd;

  constructor(linkFd: number, perf: PerfFd, description: string) {
    super(linkFd, description);
    this.#perf = perf;
  }

  protected override detachNow(): void {
    try {
      super.detachNow();
    } finally {
      this.#perf.close();
    }
  }

  protected override release(): void {
    super.release();
    this.#perf.close();
  }
}

/** A program attached with PERF_EVENT_IOC_SET_BPF: closing the perf event detaches it. */
class PerfEventIoctlLink extends Link {
  readonly description: string;
  readonly #perf: PerfFd;

  constructor(perf: PerfFd, description: string) {
    super();
    this.#perf = perf;
    this.description = description;
  }

  protected detachNow(): void {
    // Disable first so that no sample runs the program between here and the close.
    kernel.ioctl(this.#perf.fd, PerfIoctl.Disable, 0);
    this.#perf.close();
  }
}

/**
 * Attaches `program` to the perf event `perfFd` and enables the event. Takes ownership
 * of `perfFd` (closed on failure too). `cookie` (bpf_get_attach_cookie) needs perf_event
 * links: ProgramError 'NotSupported' without them.
 */
export function attachPerfEvent(program: { fd: number; name: string }, perfFd: number, description: string, cookie?: bigint): Link {
  const perf = new PerfFd(perfFd, () => description);
  try {
    let link: Link;
    if (isLinkTypeSupported(LinkType.PerfEvent)) {
      let linkFd: number;
      try {
        linkFd = linkCreate({ progFd: program.fd, target: perfFd, attachType: AttachType.PerfEvent, extra: { kind: 'perfEvent', cookie: cookie ?? 0n } });
      } catch (err) {
        throw attachError(program.name, description, err);
      }
      link = new PerfEventFdLink(linkFd, perf, description);
    } else {
      if (cookie !== undefined) {
        throw new ProgramError('NotSupported', `attaching ${program.name} to ${description}: a cookie needs perf_event BPF links`, { program: program.name, feature: 'BPF_LINK_TYPE_PERF_EVENT' });
      }
      try {
        perfEventIoctl(perfFd, PerfIoctl.SetBpf, program.fd);
      } catch (err) {
        throw attachError(program.name, description, err);
      }
      link = new PerfEventIoctlLink(perf, description);
    }
    try {
      perfEventIoctl(perfFd, PerfIoctl.Enable);
    } catch (err) {
      link.detach();
      throw attachError(program.name, description, err);
    }
    return link;
  } catch (err) {
    perf.close();
    throw err;
  }
}
