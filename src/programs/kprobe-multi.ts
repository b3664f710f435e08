// kprobe_multi links (5.18): one program on many kernel functions at once, by address.
import { checkCookie, checkOptions } from './options.js';
import { readFileSync } from 'node:fs';
import { ProgramError } from '../errors.js';
import { isLinkTypeSupported } from '../features.js';
import { globPattern } from '../obj/elf-symbols.js';
import { linkCreate } from '../sys/link.js';
import { attachError, FdLink, LinkType } from '../links/link.js';
import { probeMechanisms } from './probe-event.js';
import { Program } from './program.js';
import { AttachType } from './program-type.js';
import { programTypeForSection, type ProgramKind } from '../obj/sections.js';

/** Options of a kprobe.multi attach (BPF_LINK_TYPE_KPROBE_MULTI, 5.18+). */
export interface KProbeMultiAttachOptions {
  /** Kernel functions by name (resolved through /proc/kallsyms). */
  symbols?: string[];
  /** A glob ('tcp_*') over the functions that can be probed. Default: the section's. */
  pattern?: string;
  /** Kernel addresses, as they are. */
  addresses?: bigint[];
  /** One bpf_get_attach_cookie value per function, in the order given. */
  cookies?: bigint[];
  /** Return probes. Default: from the section (kretprobe.multi/...). */
  retprobe?: boolean;
}

const BPF_F_KPROBE_MULTI_RETURN = 1;

/** Text symbols of /proc/kallsyms: name → address (the first of duplicates). */
function kallsyms(): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of readFileSync('/proc/kallsyms', 'utf8').split('\n')) {
    const [addr, type, name] = line.split(/\s+/, 3);
    if (!name || (type !== 't' && type !== 'T') || out.has(name)) continue;
    out.set(name, BigInt(`0x${addr}`));
  }
  return out;
}

/** Functions ftrace can attach to (what kprobe_multi accepts), or undefined when unreadable. */
function traceableFunctions(): Set<string> | undefined {
  for (const dir of ['/sys/kernel/tracing', '/sys/kernel/debug/tracing']) {
    try {
      return new Set(readFileSync(`${dir}/available_filter_functions`, 'utf8').split('\n').map((l) => l.split(/\s+/, 1)[0]!));
    } catch {
      // try the next
    }
  }
  return undefined;
}

/**
 * KProbeMulti programs (sections "kprobe.multi+", "kretprobe.multi+", "kprobe.session+").
 * Kernel 5.18+ (BPF_LINK_TYPE_KPROBE_MULTI).
 */
export class KProbeMulti extends Program {
  static override readonly programKind: ProgramKind = 'KProbeMulti';

  /**
   * Attaches to many kernel functions through one kprobe_multi link. ProgramError
   * 'NotSupported' where the kernel has no kprobe_multi links (feature 'kprobes' when
   * it has no kprobes at all, 'kprobe_multi' otherwise), 'UnknownKernelFunction' for a
   * name /proc/kallsyms does not have.
   */
  attach(options: KProbeMultiAttachOptions = {}): FdLink {
    void this.fd;
    options = checkOptions(this.name, options) ?? {};
    const section = programTypeForSection(this.section);
    if (!isLinkTypeSupported(LinkType.KprobeMulti)) {
      const none = probeMechanisms('kprobe').length === 0;
      throw new ProgramError('NotSupported', `${this.name}: this kernel has no kprobe_multi links${none ? ' (and no kprobes at all: no kprobe PMU, no tracefs kprobe_events)' : ' (CONFIG_FPROBE)'}`, {
        program: this.name,
        feature: none ? 'kprobes' : 'kprobe_multi',
      });
    }
    const pattern = options.pattern ?? (options.symbols === undefined && options.addresses === undefined && section?.target?.type === 'kprobeMulti' ? section.target.pattern : undefined);
    const given = [options.symbols, options.addresses, pattern].filter((x) => x !== undefined).length;
    if (given !== 1) throw new ProgramError('InvalidArgument', `${this.name}: give exactly one of symbols, pattern, addresses`);
    let addrs: bigint[];
    let what: string;
    if (options.addresses) {
      addrs = options.addresses;
      what = `${addrs.length} addresses`;
    } else {
      const syms = kallsyms();
      if (options.symbols) {
        addrs = options.symbols.map((s) => {
          const a = syms.get(s);
          if (a === undefined) throw new ProgramError('UnknownKernelFunction', `${this.name}: no kernel function ${s} in /proc/kallsyms`, { program: this.name });
          return a;
        });
        what = options.symbols.join(',');
      } else {
        const re = globPattern(pattern!);
        const traceable = traceableFunctions();
        addrs = [...syms].filter(([n]) => re.test(n) && (!traceable || traceable.has(n))).map(([, a]) => a);
        if (addrs.length === 0) throw new ProgramError('UnknownKernelFunction', `${this.name}: no kernel function matches ${pattern}`, { program: this.name });
        what = pattern!;
      }
    }
    if (options.cookies && options.cookies.length !== addrs.length) throw new ProgramError('InvalidArgument', `${this.name}: ${options.cookies.length} cookies for ${addrs.length} functions`);
    options.cookies?.forEach(checkCookie);
    const retprobe = options.retprobe ?? section?.retprobe ?? false;
    const description = `${retprobe ? 'kretprobe.multi' : 'kprobe.multi'} ${what}`;
    try {
      const fd = linkCreate({
        progFd: this.fd,
        target: 0,
        attachType: section?.expectedAttachType ?? AttachType.TraceKprobeMulti,
        extra: { kind: 'kprobeMulti', addrs: BigUint64Array.from(addrs), ...(options.cookies ? { cookies: BigUint64Array.from(options.cookies) } : {}), flags: retprobe ? BPF_F_KPROBE_MULTI_RETURN : 0 },
      });
      return new FdLink(fd, description);
    } catch (err) {
      throw attachError(this.name, description, err);
    }
  }
}
