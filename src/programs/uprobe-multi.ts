// uprobe_multi links (6.6): one program on many functions of one file, by file offset.
import { checkCookie, checkOffset, checkOptions } from './options.js';
import { ProgramError } from '../errors.js';
import { isLinkTypeSupported } from '../features.js';
import { linkCreate } from '../sys/link.js';
import { attachError, FdLink, LinkType } from '../links/link.js';
import { Program } from './program.js';
import { AttachType } from './program-type.js';
import { programTypeForSection, type ProgramKind } from '../obj/sections.js';
import { patternOffsets, resolveUprobeFile, symbolOffset } from './uprobe-target.js';

/** Options of a uprobe.multi attach (BPF_LINK_TYPE_UPROBE_MULTI, 6.6+). */
export interface UProbeMultiAttachOptions {
  /** A path, a library name or a pid, as for UProbe.attach. Default: the section's binary. */
  target?: string | number;
  /** Functions by name (versioned names too). */
  symbols?: string[];
  /** A glob ('tsbpf_*') over the file's function names. Default: the section's. */
  pattern?: string;
  /** File offsets, as they are. */
  offsets?: (number | bigint)[];
  /** One bpf_get_attach_cookie value per function, in the order given. */
  cookies?: bigint[];
  /** Return probes. Default: from the section (uretprobe.multi/...). */
  retprobe?: boolean;
  /** Only this process (-1: every process). Default: the target pid, else every process. */
  pid?: number;
}

const BPF_F_UPROBE_MULTI_RETURN = 1;

/**
 * UProbeMulti programs (sections "uprobe.multi+", "uretprobe.multi+", "uprobe.session+", ...).
 * Kernel 6.6+ (BPF_LINK_TYPE_UPROBE_MULTI).
 */
export class UProbeMulti extends Program {
  static override readonly programKind: ProgramKind = 'UProbeMulti';

  /**
   * Attaches to many functions of one file through one uprobe_multi link. ProgramError
   * 'NotSupported' (feature 'uprobe_multi') where the kernel has no such links, and the
   * errors of UProbe.attach for the target and symbols.
   */
  attach(options: UProbeMultiAttachOptions = {}): FdLink {
    void this.fd;
    options = checkOptions(this.name, options) ?? {};
    if (!isLinkTypeSupported(LinkType.UprobeMulti)) {
      throw new ProgramError('NotSupported', `${this.name}: this kernel has no uprobe_multi links`, { program: this.name, feature: 'uprobe_multi' });
    }
    const section = programTypeForSection(this.section);
    const fromSection = section?.target?.type === 'uprobeMulti' ? section.target : undefined;
    const target = options.target ?? fromSection?.binaryPath;
    if (target === undefined) throw new ProgramError('InvalidArgument', `${this.name}: attach needs a target (the section ${this.section} names none)`);
    const pattern = options.pattern ?? (options.symbols === undefined && options.offsets === undefined ? fromSection?.pattern : undefined);
    if ([options.symbols, options.offsets, pattern].filter((x) => x !== undefined).length !== 1) {
      throw new ProgramError('InvalidArgument', `${this.name}: give exactly one of symbols, pattern, offsets`);
    }
    options.cookies?.forEach(checkCookie);
    const file = resolveUprobeFile(this.name, target, options.pid);
    let offsets: bigint[];
    let what: string;
    if (options.offsets) {
      offsets = options.offsets.map((o) => checkOffset(o));
      what = offsets.map((o) => `0x${o.toString(16)}`).join(',');
    } else if (options.symbols) {
      offsets = options.symbols.map((s) => symbolOffset(this.name, file.path, s));
      what = options.symbols.join(',');
    } else {
      offsets = patternOffsets(this.name, file.path, pattern!).offsets;
      what = pattern!;
    }
    if (options.cookies && options.cookies.length !== offsets.length) throw new ProgramError('InvalidArgument', `${this.name}: ${options.cookies.length} cookies for ${offsets.length} functions`);
    const retprobe = options.retprobe ?? section?.retprobe ?? false;
    const description = `${retprobe ? 'uretprobe.multi' : 'uprobe.multi'} ${file.path}:${what}${file.pid !== -1 ? ` pid ${file.pid}` : ''}`;
    try {
      const fd = linkCreate({
        progFd: this.fd,
        target: 0,
        attachType: section?.expectedAttachType ?? AttachType.TraceUprobeMulti,
        extra: {
          kind: 'uprobeMulti',
          path: file.path,
          offsets: BigUint64Array.from(offsets),
          ...(options.cookies ? { cookies: BigUint64Array.from(options.cookies) } : {}),
          flags: retprobe ? BPF_F_UPROBE_MULTI_RETURN : 0,
          pid: file.pid === -1 ? 0 : file.pid,
        },
      });
      return new FdLink(fd, description);
    } catch (err) {
      throw attachError(this.name, description, err);
    }
  }
}
