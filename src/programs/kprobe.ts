// Kernel probes: a program run when the kernel enters (or returns from) a function.
import { checkCookie, checkOffset, checkOptions, nameOption } from './options.js';
import { readFileSync } from 'node:fs';
import { describeValue } from '../describe.js';
import { ProgramError } from '../errors.js';
import { Link } from '../links/link.js';
import { attachProbe, type ProbeMechanism } from './probe-event.js';
import { Program } from './program.js';
import { programTypeForSection, type ProgramKind } from '../obj/sections.js';

/** Options of a kprobe attach (perf event kprobes, 4.1+; through the kprobe PMU 4.17+). */
export interface KProbeAttachOptions {
  /** Bytes into the function (kprobes only). */
  offset?: number | bigint;
  /** A return probe. Default: from the section (kretprobe/...). */
  retprobe?: boolean;
  /** The value bpf_get_attach_cookie returns (needs perf_event links, 5.15). */
  cookie?: bigint;
  /** Default: the kprobe PMU where it exists, tracefs kprobe_events otherwise. */
  mechanism?: ProbeMechanism;
}

/**
 * KProbe programs (sections "kprobe+", "kretprobe+", "ksyscall+", "kretsyscall+").
 * Kernel 4.1+ (BPF_PROG_TYPE_KPROBE; kprobe PMU 4.17+).
 */
export class KProbe extends Program {
  static override readonly programKind: ProgramKind = 'KProbe';

  /**
   * Attaches to kernel function `fn` (default: the one the section names). ProgramError
   * 'NotSupported' with feature 'kprobes' on a kernel without kprobes (neither the kprobe
   * PMU nor tracefs kprobe_events), 'AttachError' when the kernel refuses the probe.
   */
  attach(fn?: string, options: KProbeAttachOptions = {}): Link {
    void this.fd;
    if (fn !== '') nameOption(this.name, fn, 'the kernel function');
    options = checkOptions(this.name, options) ?? {};
    const section = programTypeForSection(this.section);
    const target = section?.target?.type === 'kprobe' ? section.target : undefined;
    const syscall = section?.target?.type === 'ksyscall' ? section.target.syscall : undefined;
    const name = fn ?? target?.function ?? (syscall !== undefined ? ksyscallFunction(syscall) : undefined);
    if (name === undefined || name === '') throw new ProgramError('InvalidArgument', `${this.name}: attach needs a kernel function (the section ${this.section} names none)`);
    if (/[\s:]/.test(name)) throw new ProgramError('UnknownKernelFunction', `${this.name}: ${describeValue(name)} is not a kernel function name`, { program: this.name });
    const offset = checkOffset(options.offset ?? (fn === undefined ? target?.offset : undefined));
    checkCookie(options.cookie);
    const retprobe = options.retprobe ?? section?.retprobe ?? false;
    if (retprobe && offset !== 0n) throw new ProgramError('InvalidArgument', 'kretprobes do not take an offset');
    const description = `${retprobe ? 'kretprobe' : 'kprobe'} ${name}${offset ? `+0x${offset.toString(16)}` : ''}`;
    return attachProbe(this, { kind: 'kprobe', retprobe, target: name, offset, pid: -1, mechanism: options.mechanism }, description, options.cookie);
  }
}

/** libbpf's arch_specific_syscall_pfx: the architecture in the names of syscall wrappers. */
const syscallPrefixes: Partial<Record<string, string>> = { x64: 'x64', ia32: 'ia32', arm64: 'arm64', arm: 'arm', s390x: 's390x', ppc64: 'powerpc', riscv64: 'riscv', loong64: 'loongarch', mips64el: 'mips' };

let syscallWrappers: boolean | undefined;

/**
 * The kernel function of syscall `name` for a ksyscall/<name> section, as libbpf picks
 * it: `__<arch>_sys_<name>` on kernels with syscall wrappers (4.17+ on x86-64, where
 * /proc/kallsyms has `__<arch>_sys_bpf`), `__se_sys_<name>` otherwise. @internal
 */
export function ksyscallFunction(name: string): string {
  const prefix = syscallPrefixes[process.arch];
  if (prefix !== undefined && syscallWrappers === undefined) {
    try {
      syscallWrappers = new RegExp(`\\s__${prefix}_sys_bpf$`, 'm').test(readFileSync('/proc/kallsyms', 'utf8'));
    } catch {
      syscallWrappers = false;
    }
  }
  return prefix !== undefined && syscallWrappers ? `__${prefix}_sys_${name}` : `__se_sys_${name}`;
}
