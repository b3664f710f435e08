import { checkOptions, invalidOption, nameOption } from './options.js';
import { ProgramError } from '../errors.js';
import { Btf } from '../obj/btf.js';
import { btfGetData, btfGetFdById } from '../sys/bpf.js';
import { programInfoByFd } from './program-info.js';
import { kernel } from '../sys/native.js';
import type { FdLink } from '../links/link.js';
import { Program } from './program.js';
import { attachTracing, type TracingAttachOptions } from './tracing-attach.js';
import type { ProgramKind } from '../obj/sections.js';

/** A loaded program to replace a function of: a Program, or a program fd the caller keeps. */
export type ExtensionTargetProgram = { readonly fd: number; readonly name?: string } | number;

/** Options of loading a freplace program (BPF_PROG_TYPE_EXT, 5.6+): the target program and function. */
export interface ExtensionLoadOptions {
  /** The program whose global function this one replaces. */
  target: ExtensionTargetProgram;
  /** That function's name (default: the section's, 'freplace/<function>'). */
  function?: string;
}

/**
 * The BTF id of global function `fn` in the BTF the kernel holds for program `progFd`
 * (libbpf's libbpf_find_prog_btf_id, aya's Extension::load). ProgramError
 * 'UnknownTarget' when the program has no BTF or no such function.
 */
export function programFunctionBtfId(progFd: number, fn: string): number {
  const { btfId } = programInfoByFd(progFd);
  if (btfId === 0) throw new ProgramError('UnknownTarget', `the target program has no BTF, so its function ${fn} cannot be replaced`);
  const btfFd = btfGetFdById(btfId);
  let btf: Btf;
  try {
    btf = Btf.parse(btfGetData(btfFd));
  } finally {
    kernel.close(btfFd);
  }
  const found = btf.byName(fn, 'func')[0];
  if (!found) throw new ProgramError('UnknownTarget', `the target program has no function ${fn} in its BTF`);
  return found.id;
}

const fdOf = (p: ExtensionTargetProgram) => (typeof p === 'number' ? p : p.fd);

/**
 * Extension programs (sections "freplace+"): replace a global function of another
 * loaded program (BPF_PROG_TYPE_EXT). The target is given at load, so Ebpf.load
 * leaves them unloaded: `ext.load({ target, function })`, then `ext.attach()`.
 * Kernel 5.6+ (BPF_PROG_TYPE_EXT).
 */
export class Extension extends Program {
  static override readonly programKind: ProgramKind = 'Extension';

  #function?: string;

  /** The function the section names ('freplace/<function>'). */
  get sectionFunction(): string | undefined {
    const slash = this.section.indexOf('/');
    return slash < 0 || slash === this.section.length - 1 ? undefined : this.section.slice(slash + 1);
  }

  /** Loads against `target`'s function (attach_prog_fd + the function's BTF id in the target's BTF). */
  override load(options?: ExtensionLoadOptions): void {
    if (this.loaded) return;
    if (!options) throw new ProgramError('UnknownTarget', `program ${this.name} (freplace) needs a target program: load({ target, function })`, { program: this.name });
    checkOptions(this.name, options, 'load options');
    const target = options.target as unknown;
    const targetFd = typeof target === 'number' ? target : typeof target === 'object' && target !== null ? (target as { fd?: unknown }).fd : undefined;
    if (typeof targetFd !== 'number' || !Number.isInteger(targetFd) || targetFd < 0) invalidOption(this.name, 'target', 'a loaded Program or a program fd', target);
    if (options.function !== undefined) nameOption(this.name, options.function, 'function');
    const fn = this.#functionName(options.function);
    const progFd = fdOf(options.target);
    const btfId = programFunctionBtfId(progFd, fn);
    this.loadAgainst({ progFd, btfId });
    this.#function = fn;
  }

  /** Replaces the function chosen at load. */
  attach(options: TracingAttachOptions = {}): FdLink {
    return attachTracing(this, 0, `freplace ${this.#function ?? this.sectionFunction ?? ''}`, options);
  }

  /** Replaces `fn` of another program with the same signature (LINK_CREATE with target_fd and target_btf_id). */
  attachTo(target: ExtensionTargetProgram, fn?: string, options: TracingAttachOptions = {}): FdLink {
    const progFd = this.fd;
    const name = this.#functionName(fn);
    const targetFd = fdOf(target);
    const targetBtfId = programFunctionBtfId(targetFd, name);
    return attachTracing({ fd: progFd, name: this.name }, 0, `freplace ${name}`, options, { targetFd, targetBtfId });
  }

  #functionName(fn: string | undefined): string {
    const name = fn ?? this.sectionFunction;
    if (!name) throw new ProgramError('UnknownTarget', `program ${this.name}: no function to replace (section ${this.section}); give one`, { program: this.name });
    return name;
  }
}
