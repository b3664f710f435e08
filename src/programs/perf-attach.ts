// Attaching a program to a perf event (tracepoints, kprobes, uprobes, software and
// hardware events): one mechanism for every kind that opens a perf event. A BPF
// perf_event link (LINK_CREATE, BPF_PERF_EVENT) where the kernel has one, else the
// older PERF_EVENT_IOC_SET_BPF on the event fd; either way the event is then enabled,
// as libbpf does (events may be opened disabled so that nothing fires before).
import { ProgramError } from '../errors.js';
import { isLinkTypeSupported } from '../features.js';
import { isOwnedFd } from '../sys/fd.js';
import { linkCreate } from '../sys/link.js';
import { kernel } from '../sys/native.js';
import { PerfIoctl, perfEventIoctl } from '../sys/perf.js';
import { PerfEventIoctlLink } from '../links/perf-event.js';
import { AttachType } from './program-type.js';
import { attachError, FdLink, Link, LinkType, rolledBack } from '../links/link.js';

/** How a program is attached to a perf event: 'link' (5.15+) or 'ioctl'. */
export type PerfAttachMechanism = 'link' | 'ioctl';

/** The mechanism attachPerfEvent uses on this kernel (by feature probe). */
export function perfAttachMechanism(): PerfAttachMechanism {
  return isLinkTypeSupported(LinkType.PerfEvent) ? 'link' : 'ioctl';
}

/**
 * Attaches `program` to the perf event `perfFd` and enables the event, taking ownership
 * of the fd (closed when this fails too). A number a tsbpf object owns is refused
 * (ProgramError 'AttachError') and left open. `cookie` is what the program reads with
 * bpf_get_attach_cookie; it needs a perf_event link.
 */
export function attachPerfEvent(program: { fd: number; name: string }, perfFd: number, description: string, cookie?: bigint, mechanism: PerfAttachMechanism = perfAttachMechanism()): Link {
  if (isOwnedFd(perfFd)) {
    throw new ProgramError('AttachError', `attaching ${program.name} to ${description}: descriptor ${perfFd} is owned by another tsbpf object, not a perf event handed over`, { program: program.name });
  }
  return attachOpenedPerfEvent(program, perfFd, description, cookie, mechanism);
}

/**
 * attachPerfEvent for an event the library has just opened: the kernel's new number is
 * ours whatever the owner table says of it (an owner whose fd was closed behind its back
 * leaves its mark on the number until it looks again). @internal
 */
export function attachOpenedPerfEvent(program: { fd: number; name: string }, perfFd: number, description: string, cookie?: bigint, mechanism: PerfAttachMechanism = perfAttachMechanism()): Link {
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
  let link: FdLink;
  try {
    link = new FdLink(linkCreate({ progFd: program.fd, target: perfFd, attachType: AttachType.PerfEvent, extra: cookie === undefined ? { kind: 'none' } : { kind: 'perfEvent', cookie } }), description);
  } catch (err) {
    throw attachError(program.name, description, err);
  }
  try {
    perfEventIoctl(perfFd, PerfIoctl.Enable);
  } catch (err) {
    throw rolledBack(attachError(program.name, description, err), [() => link.detach()]);
  }
  // The link holds its own reference to the event (as aya does, the event fd is not kept):
  // the event lives exactly as long as the link, pinned or not.
  kernel.close(perfFd);
  return link;
}
