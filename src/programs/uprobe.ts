// User-space probes: a program run when a process executes an instruction of a file.
import { checkCookie, checkOffset, checkOptions, invalidOption, nameOption } from './options.js';
import { ProgramError } from '../errors.js';
import { Link } from '../links/link.js';
import { attachProbe, type ProbeMechanism } from './probe-event.js';
import { Program } from './program.js';
import { programTypeForSection, type ProgramKind } from '../obj/sections.js';
import { resolveUprobeFile, symbolOffset } from './uprobe-target.js';

/** Options of a uprobe attach (4.17+ through the uprobe PMU; tracefs before). */
export interface UProbeAttachOptions {
  /**
   * The file: a path, a library name ('libc.so.6': the one `pid` maps, else the one
   * /etc/ld.so.cache names), or a pid (its executable, traced in that process). Default:
   * the binary of the section (uprobe/<binary>:<function>).
   */
  target?: string | number;
  /** A function of the file (`malloc`, `malloc@@GLIBC_2.2.5`); without it, `offset` is a file offset. */
  symbol?: string;
  /** Added to the function's file offset (or the file offset itself without `symbol`). */
  offset?: number | bigint;
  /** A return probe. Default: from the section (uretprobe/...). */
  retprobe?: boolean;
  /** The value bpf_get_attach_cookie returns (needs perf_event links, 5.15). */
  cookie?: bigint;
  /** Only this process (-1: every process). Default: the target pid, else every process. */
  pid?: number;
  /** Default: the uprobe PMU where it exists, tracefs uprobe_events otherwise. */
  mechanism?: ProbeMechanism;
}

/**
 * UProbe programs (sections "uprobe+", "uprobe.s+", "uretprobe+", "uretprobe.s+").
 * Kernel 4.17+ (BPF_PROG_TYPE_KPROBE through the uprobe PMU; tracefs uprobe_events before).
 */
export class UProbe extends Program {
  static override readonly programKind: ProgramKind = 'UProbe';

  /**
   * Attaches to a function (or file offset) of an executable or shared library.
   * ProgramError 'UnknownTarget' (no such file or process), 'UnknownSymbol' (no such
   * function, or an ambiguous name), 'AttachError' (perf_event_open, bpf_link_create or a
   * tracefs write refused, with the errno), 'NotSupported' (no uprobes).
   */
  attach(options: UProbeAttachOptions = {}): Link {
    void this.fd;
    options = checkOptions(this.name, options) ?? {};
    if (typeof options.target === 'string' && options.target.includes('\0')) invalidOption(this.name, 'target', 'a path, a library name or a pid (no NUL)', options.target);
    if (options.symbol !== undefined) nameOption(this.name, options.symbol, 'symbol');
    const section = programTypeForSection(this.section);
    const fromSection = section?.target?.type === 'uprobe' ? section.target : undefined;
    const target = options.target ?? fromSection?.binaryPath;
    if (target === undefined) throw new ProgramError('InvalidArgument', `${this.name}: attach needs a target (the section ${this.section} names none)`);
    const symbol = options.symbol ?? (options.target === undefined ? fromSection?.function : undefined);
    const extra = checkOffset(options.offset ?? (options.target === undefined ? fromSection?.offset : undefined));
    checkCookie(options.cookie);
    const file = resolveUprobeFile(this.name, target, options.pid);
    const offset = symbol === undefined ? extra : symbolOffset(this.name, file.path, symbol) + extra;
    const retprobe = options.retprobe ?? section?.retprobe ?? false;
    const where = symbol === undefined ? `0x${offset.toString(16)}` : extra === 0n ? symbol : `${symbol}+0x${extra.toString(16)}`;
    const description = `${retprobe ? 'uretprobe' : 'uprobe'} ${file.path}:${where}${file.pid !== -1 ? ` pid ${file.pid}` : ''}`;
    return attachProbe(this, { kind: 'uprobe', retprobe, target: file.path, offset, pid: file.pid, mechanism: options.mechanism }, description, options.cookie);
  }
}
