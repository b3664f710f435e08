import { checkCookie, checkOptions, nameOption } from './options.js';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { ProgramError } from '../errors.js';
import { attachOpenedPerfEvent } from './perf-attach.js';
import { PerfType, perfEventOpen } from '../sys/perf.js';
import { attachError, type Link } from '../links/link.js';
import { Program } from './program.js';
import { programTypeForSection, type ProgramKind } from '../obj/sections.js';


/** Options of a tracepoint attach (4.7+). */
export interface TracePointAttachOptions {
  /** bpf_get_attach_cookie() in the program (needs BPF perf_event links, 5.15+). */
  cookie?: bigint;
}

let tracefsRoot: string | undefined;

/** Where tracefs is: /sys/kernel/tracing (mounted when missing), else debugfs's tracing. */
export function tracefs(): string {
  if (tracefsRoot) return tracefsRoot;
  const roots = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];
  let found = roots.find((r) => existsSync(`${r}/events`));
  if (!found) {
    try {
      execFileSync('mount', ['-t', 'tracefs', 'tracefs', roots[0]!], { stdio: 'ignore' });
    } catch {
      // not allowed or no tracefs: reported below
    }
    found = roots.find((r) => existsSync(`${r}/events`));
  }
  if (!found) throw new ProgramError('NotSupported', `tracefs is not mounted at ${roots.join(' or ')} and could not be mounted`, { feature: 'tracefs' });
  tracefsRoot = found;
  return found;
}

/** The id of tracepoint category/name from tracefs; ProgramError 'UnknownTarget' when there is none. */
export function tracepointId(category: string, name: string): number {
  const valid = (s: string) => s !== '' && s !== '.' && s !== '..' && !s.includes('/') && !s.includes('\0');
  const path = `${tracefs()}/events/${category}/${name}/id`;
  let text: string;
  try {
    if (!valid(category) || !valid(name)) throw new Error('invalid name');
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ProgramError('UnknownTarget', `no tracepoint ${category}/${name} (${path})`);
  }
  const id = Number.parseInt(text, 10);
  if (!Number.isInteger(id) || id < 0) throw new ProgramError('UnknownTarget', `tracepoint ${category}/${name}: unreadable id '${text.trim()}'`);
  return id;
}

/** The section's own target ('tracepoint/<category>/<name>'), for attach() without arguments. */
export function sectionTarget(program: Program): ReturnType<typeof programTypeForSection> {
  return programTypeForSection(program.section);
}

/**
 * TracePoint programs (sections "tracepoint+", "tp+"): attached to a kernel
 * tracepoint through a perf event of type PERF_TYPE_TRACEPOINT.
 * Kernel 4.7+ (BPF_PROG_TYPE_TRACEPOINT).
 */
export class TracePoint extends Program {
  static override readonly programKind: ProgramKind = 'TracePoint';

  /**
   * Attaches to tracepoint `category`/`name` (e.g. 'syscalls', 'sys_enter_getppid'),
   * by default the one the section names. The program runs for every task on every CPU.
   */
  attach(category?: string, name?: string, options: TracePointAttachOptions = {}): Link {
    const progFd = this.fd;
    nameOption(this.name, category, 'the tracepoint category');
    nameOption(this.name, name, 'the tracepoint name');
    options = checkOptions(this.name, options) ?? {};
    checkCookie(options.cookie);
    if (category === undefined || name === undefined) {
      const target = sectionTarget(this)?.target;
      if (target?.type !== 'tracepoint') throw new ProgramError('UnknownTarget', `program ${this.name}: section ${this.section} names no tracepoint; give category and name`, { program: this.name });
      category ??= target.category;
      name ??= target.name;
    }
    const id = tracepointId(category, name);
    const description = `tracepoint ${category}/${name}`;
    // One event, any task (pid -1), on CPU 0 (as libbpf): a BPF program on a tracepoint
    // event is run by the tracepoint on every CPU, not only on the event's CPU.
    let perfFd: number;
    try {
      perfFd = perfEventOpen({ type: PerfType.Tracepoint, config: id, disabled: true }, { pid: -1, cpu: 0 });
    } catch (err) {
      throw attachError(this.name, description, err);
    }
    return attachOpenedPerfEvent({ fd: progFd, name: this.name }, perfFd, description, options.cookie);
  }
}
