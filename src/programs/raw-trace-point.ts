import { checkCookie, checkOptions, nameOption } from './options.js';
import { ProgramError } from '../errors.js';
import { rawTracepointOpen } from '../sys/link.js';
import { attachError, FdLink } from '../links/link.js';
import { Program } from './program.js';
import { sectionTarget } from './trace-point.js';
import type { ProgramKind } from '../obj/sections.js';

/** Options of a raw tracepoint attach (BPF_RAW_TRACEPOINT_OPEN, 4.17+). */
export interface RawTracePointAttachOptions {
  /** bpf_get_attach_cookie() in the program (6.10+). */
  cookie?: bigint;
}

/**
 * RawTracePoint programs (sections "raw_tracepoint+", "raw_tp+"): the tracepoint's
 * raw arguments, attached by name with BPF_RAW_TRACEPOINT_OPEN (the kernel has no
 * LINK_CREATE for this program type; EINVAL).
 * Kernel 4.17+ (BPF_PROG_TYPE_RAW_TRACEPOINT).
 */
export class RawTracePoint extends Program {
  static override readonly programKind: ProgramKind = 'RawTracePoint';

  /** Attaches to raw tracepoint `name` ('sys_enter', 'sched_switch'), by default the section's. */
  attach(name?: string, options: RawTracePointAttachOptions = {}): FdLink {
    const progFd = this.fd;
    nameOption(this.name, name, 'the raw tracepoint name');
    options = checkOptions(this.name, options) ?? {};
    checkCookie(options.cookie);
    if (name === undefined) {
      const target = sectionTarget(this)?.target;
      if (target?.type !== 'rawTracepoint') throw new ProgramError('UnknownTarget', `program ${this.name}: section ${this.section} names no raw tracepoint; give its name`, { program: this.name });
      name = target.name;
    }
    const description = `raw tracepoint ${name}`;
    try {
      return new FdLink(rawTracepointOpen(progFd, name, options.cookie ?? 0n), description);
    } catch (err) {
      const e = attachError(this.name, description, err);
      // The kernel answers ENOENT for a tracepoint it does not have.
      if (e instanceof ProgramError && e.code === 'ENOENT') throw new ProgramError('UnknownTarget', `no raw tracepoint ${name}`, { program: this.name, cause: e.cause });
      throw e;
    }
  }
}
