// A loaded BPF program: owner of its fd, typed by the section it came from. Loading,
// test runs and pinning are common to all; each subclass (src/programs/<kind>.ts) adds
// the attach method of its kind.
import { readlinkSync } from 'node:fs';
import { ProgramError } from '../errors.js';
import { openPinned, pinFd } from '../pin.js';
import { progGetFdById, progTestRun, progTestRunCtx } from '../sys/bpf.js';
import { Errno, SyscallError } from '../sys/errors.js';
import { FdOwner } from '../sys/fd.js';
import { kernel } from '../sys/native.js';
import { programInfoByFd, type ProgramInfo } from './program-info.js';
import { describeValue } from '../describe.js';
import { bytesOption, checkOptions, u32Option } from './options.js';
import { AttachType, attachTypeName, ProgramType, programTypeName } from './program-type.js';
import { defaultProgramKind, programTypeForSection, programTypesOfKind, type ProgramKind } from '../obj/sections.js';

/** Input of `testRun` (BPF_PROG_TEST_RUN, 4.12+). */
export interface TestRunOptions {
  /** Packet data for networking programs. */
  data?: Uint8Array;
  /** Room for the packet the program leaves (default: data's length + 256 when data is given). */
  dataOut?: Uint8Array;
  /** The context (struct __sk_buff, xdp_md, a syscall program's argument, ...). A syscall program's is updated in place. */
  ctx?: Uint8Array;
  ctxOut?: Uint8Array;
  repeat?: number;
  flags?: number;
  cpu?: number;
}

/**
 * What `testRun` gives back: the program's return value, the output packet and context, and the time per
 * run.
 */
export interface TestRunResult {
  returnValue: number;
  /** Average run time in ns, as the kernel measured it. */
  duration: number;
  dataOut?: Uint8Array;
  ctxOut?: Uint8Array;
}

/** For a program loaded against another program (freplace): BPF_PROG_LOAD's attach_prog_fd and attach_btf_id. */
export interface ProgramLoadTarget {
  progFd: number;
  btfId: number;
}

/** The descriptor of a loaded program. */
class ProgramFd extends FdOwner {
  readonly #name: string;

  constructor(fd: number, name: string) {
    super(fd);
    this.#name = name;
  }

  protected closedError(): Error {
    return new ProgramError('NotLoaded', `program ${this.#name} is not loaded`, { program: this.#name });
  }
}

/**
 * A program of a loaded object. Ebpf.load loads it unless the loader was told to defer
 * it; then `load()` does, later. Subclasses (Xdp, SchedClassifier, TracePoint, ...) are
 * chosen by the section the program came from.
 */
export class Program implements Disposable {
  /** The kind a subclass stands for ('Xdp', ...): what fromPin and fromId accept. */
  static readonly programKind: ProgramKind | undefined = undefined;

  readonly name: string;
  /** The tsbpf kind of the section: 'Xdp', 'SocketFilter', 'SchedClassifier', ... */
  readonly kind: string;
  /** BPF_PROG_TYPE_* */
  readonly type: number;
  readonly section: string;
  /** Whether Ebpf.load loaded it: false for SEC("?...") programs and those set not to (EbpfLoader.setAutoload). */
  readonly autoload: boolean;
  readonly #load: (target?: ProgramLoadTarget) => number;
  #fd?: ProgramFd;

  /** @internal the loader makes programs; `load` performs BPF_PROG_LOAD and returns the fd. */
  constructor(spec: { name: string; kind: string; type: number; section: string; autoload?: boolean }, load: (target?: ProgramLoadTarget) => number) {
    this.name = spec.name;
    this.kind = spec.kind;
    this.type = spec.type;
    this.section = spec.section;
    this.autoload = spec.autoload ?? true;
    this.#load = load;
  }

  /** The program's fd; ProgramError 'NotLoaded' before load() or after unload(). */
  get fd(): number {
    if (!this.#fd) {
      const why = this.autoload ? '' : ` (${this.section.startsWith('?') ? `SEC("${this.section}") is not loaded by default` : 'Ebpf.load was told not to load it'}: load() loads it)`;
      throw new ProgramError('NotLoaded', `program ${this.name} is not loaded${why}`, { program: this.name });
    }
    return this.#fd.fd;
  }

  get loaded(): boolean {
    return this.#fd !== undefined && !this.#fd.closed;
  }

  /** Loads the program (relocations, verifier). Loading a loaded program does nothing. */
  load(): void {
    if (this.loaded) return;
    this.#fd = new ProgramFd(this.#load(), this.name);
  }

  /** Loads against another program's function (Extension). @internal */
  protected loadAgainst(target: ProgramLoadTarget): void {
    if (this.loaded) return;
    this.#fd = new ProgramFd(this.#load(target), this.name);
  }

  /** Releases the program's fd (a pinned or attached program stays in the kernel). */
  unload(): void {
    this.#fd?.close();
    this.#fd = undefined;
  }

  /**
   * Closes the program's file descriptor (the kernel unloads it when nothing else holds it); calling it
   * again does nothing.
   */
  close(): void {
    this.unload();
  }

  /** Same as `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.unload();
  }

  /** Pins the program at `path` on bpffs. Throws PinError. */
  pin(path: string): void {
    pinFd(this.fd, path);
  }

  /** The kernel's record of the program: id, tag, map ids, run statistics, ... (BPF_OBJ_GET_INFO_BY_FD). */
  info(): ProgramInfo {
    try {
      return programInfoByFd(this.fd);
    } catch (err) {
      throw ProgramError.fromSyscall(err, `info of program ${this.name}`, { program: this.name });
    }
  }

  /**
   * Runs the program once or `repeat` times in the kernel (BPF_PROG_TEST_RUN). Program
   * types the kernel cannot test-run (kprobe, tracepoint, perf_event, cgroup/sock, ...)
   * raise ProgramError 'NotSupported' with feature `test run of BPF_PROG_TYPE_...`.
   */
  testRun(given: TestRunOptions = {}): TestRunResult {
    const options = checkTestRunOptions(this.name, given);
    const dataOut = options.dataOut ?? (options.data ? new Uint8Array(options.data.length + 256) : undefined);
    // A syscall program reads and writes its ctx in place: the kernel copies it back to
    // ctx_in and refuses ctx_out. ctx is updated, and returned (or copied to ctxOut).
    const inPlace = this.type === ProgramType.Syscall;
    try {
      const r = progTestRun({
        progFd: this.fd,
        dataIn: options.data,
        dataOut,
        ctxIn: options.ctx,
        ctxOut: inPlace ? undefined : options.ctxOut,
        repeat: options.repeat,
        flags: options.flags,
        cpu: options.cpu,
      });
      let ctxOut = options.ctxOut?.subarray(0, r.ctxSizeOut);
      if (inPlace && options.ctx) {
        ctxOut = options.ctx;
        if (options.ctxOut) {
          ctxOut = options.ctxOut.subarray(0, Math.min(options.ctxOut.length, options.ctx.length));
          ctxOut.set(options.ctx.subarray(0, ctxOut.length));
        }
      }
      return { returnValue: r.retval, duration: r.duration, dataOut: dataOut?.subarray(0, r.dataSizeOut), ctxOut };
    } catch (err) {
      throw testRunError(this, err);
    }
  }

  /**
   * Opens the program pinned at `path` (BPF_OBJ_GET). `Xdp.fromPin(path)` and the like
   * return that class and refuse a program of another type (ProgramError
   * 'InvalidProgramType'); `Program.fromPin` takes any type and returns a plain Program
   * (programFromPin returns the class of its type). The object owns the new fd;
   * `unload()` closes it and `load()` opens the pin again.
   */
  static fromPin<T extends Program>(this: ProgramClass<T>, path: string): T {
    const where = `pinned at ${describeValue(path)}`;
    return adoptProgram(sameKind(this, where), () => openPinned(path), where);
  }

  /** Opens the loaded program with kernel id `id` (BPF_PROG_GET_FD_BY_ID), as fromPin does. */
  static fromId<T extends Program>(this: ProgramClass<T>, id: number): T {
    checkProgramId(id);
    return adoptProgram(sameKind(this, `id ${id}`), () => programFdById(id), `id ${id}`);
  }

  toString(): string {
    return `${this.kind}(${this.name})`;
  }
}


/**
 * testRun({ ctx }).returnValue without the options and the result object, for a
 * program whose context is all it takes and that is run over and over (Syscall.run).
 */
export function runWithContext(program: Program, ctx: Uint8Array | undefined): number {
  if (ctx !== undefined && !(ctx instanceof Uint8Array)) return program.testRun({ ctx }).returnValue; // the typed refusal
  const fd = program.fd;
  try {
    return progTestRunCtx(fd, ctx ?? null);
  } catch (err) {
    throw testRunError(program, err);
  }
}

function what(p: Program): string {
  return `${p.name} (${programTypeName(p.type)})`;
}

// The kernel test-runs tracing programs only for fentry, fexit and fmod_ret; for the
// other attach types (tp_btf, iter) it answers EFAULT (bpf_prog_test_run_tracing).
function tracingWithoutTestRun(p: Program, errno: number): boolean {
  if (p.type !== ProgramType.Tracing || errno !== Errno.EFAULT) return false;
  const attach = programTypeForSection(p.section)?.expectedAttachType;
  return attach !== undefined && attach !== AttachType.TraceFentry && attach !== AttachType.TraceFexit && attach !== AttachType.ModifyReturn;
}

function testRunError(p: Program, err: unknown): unknown {
  if (!(err instanceof SyscallError)) return err;
  if (err.errno === Errno.ENOTSUPP || err.errno === Errno.EOPNOTSUPP || tracingWithoutTestRun(p, err.errno)) {
    const attach = p.type === ProgramType.Tracing ? programTypeForSection(p.section)?.expectedAttachType : undefined;
    const feature = `test run of ${programTypeName(p.type)}${attach !== undefined ? ` (${attachTypeName(attach)})` : ''}`;
    return new ProgramError('NotSupported', `${what(p)}: the kernel cannot test-run this program type (${feature}: ${err.code})`, { program: p.name, feature, cause: err });
  }
  const input = err.errno === Errno.EINVAL ? testRunInput(p.type) : undefined;
  const hint = input ? ` (this program type takes ${input})` : '';
  return new ProgramError('SyscallError', `test run of ${what(p)}: ${err.message}${hint}`, { program: p.name, cause: err });
}

/** TestRunOptions with every field of the right type (ProgramError 'InvalidArgument' otherwise). */
function checkTestRunOptions(program: string, given: TestRunOptions | undefined): TestRunOptions {
  const o = checkOptions(program, given, 'testRun options') ?? {};
  const what = (field: string) => `testRun option ${field}`;
  for (const field of ['data', 'dataOut', 'ctx', 'ctxOut'] as const) bytesOption(program, o[field], what(field));
  for (const field of ['repeat', 'flags', 'cpu'] as const) u32Option(program, o[field], what(field));
  return o;
}

/** What BPF_PROG_TEST_RUN accepts per program type, for the message of an EINVAL. */
function testRunInput(type: number): string | undefined {
  switch (type) {
    case ProgramType.RawTracepoint:
      return 'ctx only (the tracepoint arguments as u64s): no data, no ctxOut, repeat 0';
    case ProgramType.Syscall:
      return 'ctx only (at least as many bytes as the program reads, at most 65535): no data, repeat 0';
    case ProgramType.SkLookup:
      return 'ctx only (struct bpf_sk_lookup: family AF_INET/AF_INET6, protocol TCP/UDP, sk and ingress_ifindex 0): no data';
    case ProgramType.FlowDissector:
      return 'data (an Ethernet frame, at least 14 bytes); ctx/ctxOut are struct bpf_flow_keys and dataOut receives the keys';
    case ProgramType.SocketFilter:
    case ProgramType.SchedCls:
    case ProgramType.SchedAct:
    case ProgramType.CgroupSkb:
    case ProgramType.LwtIn:
    case ProgramType.LwtOut:
    case ProgramType.LwtXmit:
    case ProgramType.LwtSeg6local:
      return 'data (a packet with its Ethernet header, at least 14 bytes); ctx/ctxOut a struct __sk_buff';
    case ProgramType.Xdp:
      return 'data (at least 14 bytes); ctx/ctxOut a struct xdp_md';
    case ProgramType.Netfilter:
      return 'data (a packet with its Ethernet header)';
    default:
      return undefined;
  }
}

/** A Program class (its constructor is internal: the loader's and fromPin's). */
export type ProgramClass<T extends Program> = (new (spec: { name: string; kind: string; type: number; section: string }, load: () => number) => T) & typeof Program;

/** What adoptProgram's `choose` is told of the program it opened. */
export interface AdoptedProgram {
  name: string;
  id: number;
  type: number;
}

/**
 * Opens a program fd with `open` and wraps it in the class `choose` picks for it (which
 * throws for a program it does not take). @internal
 */
export function adoptProgram<T extends Program>(choose: (info: AdoptedProgram) => { Cls: ProgramClass<T>; kind: string }, open: () => number, where: string): T {
  const fd = open();
  let program: T;
  try {
    // A pin may hold a map or a link: their info would decode as nonsense.
    if (readlinkSync(`/proc/self/fd/${fd}`) !== 'anon_inode:bpf-prog') {
      throw new ProgramError('InvalidProgramType', `the object ${where} is not a BPF program`);
    }
    const info = programInfoByFd(fd);
    const { Cls, kind } = choose(info);
    // The first load() takes the fd opened here; a load() after unload() opens again.
    let opened: number | undefined = fd;
    const load = () => {
      if (opened === undefined) return open();
      const f = opened;
      opened = undefined;
      return f;
    };
    program = new Cls({ name: info.name, kind, type: info.type, section: '' }, load);
  } catch (err) {
    kernel.close(fd);
    throw ProgramError.fromSyscall(err, `the program ${where}`);
  }
  program.load();
  return program;
}

/**
 * The kind `cls` stands for (undefined for Program itself, which takes every kind);
 * ProgramError 'InvalidArgument' for anything that is not a program class of tsbpf.
 */
function kindOfClass(cls: unknown): ProgramKind | undefined {
  const isClass = typeof cls === 'function' && (cls === Program || cls.prototype instanceof Program);
  if (!isClass) throw new ProgramError('InvalidArgument', `${typeof cls === 'function' ? cls.name : describeValue(cls)} is not a program class of tsbpf (Xdp, TracePoint, SchedClassifier, ...)`);
  const kind = (cls as typeof Program).programKind;
  if (cls !== Program && kind === undefined) throw new ProgramError('InvalidArgument', `${cls.name} is not a program class of tsbpf`);
  return kind;
}

/** The refusal of a program of another kind than the class asked for: both kinds named. */
function otherKind(errorKind: 'InvalidProgramType' | 'WrongProgramType', program: string, label: string, is: string, wanted: string): ProgramError {
  return new ProgramError(errorKind, `program ${label} is ${is}, not a ${wanted} program`, { program });
}

/**
 * The class of `cls`'s own kind when the program is of a type of that kind; Program
 * itself takes every type.
 */
function sameKind<T extends Program>(cls: ProgramClass<T>, where: string): (info: AdoptedProgram) => { Cls: ProgramClass<T>; kind: string } {
  const kind = kindOfClass(cls);
  return (info) => {
    if (kind === undefined) return { Cls: cls, kind: defaultProgramKind(info.type) ?? 'Unknown' };
    if (!programTypesOfKind(kind).includes(info.type)) throw otherKind('InvalidProgramType', info.name, `${info.name || info.id} ${where}`, `a ${programTypeName(info.type)}`, kind);
    return { Cls: cls, kind };
  };
}

/**
 * `program` as an instance of `cls` (Ebpf.program(name, Xdp)): the loader made it of the
 * class of its section's kind, so it is one when that class is `cls` or derives from it
 * (RawTracePointWritable is a RawTracePoint). ProgramError 'WrongProgramType' naming
 * both kinds otherwise, 'InvalidArgument' when `cls` is not a program class. @internal
 */
export function asProgramClass<T extends Program>(program: Program, cls: ProgramClass<T>): T {
  const kind = kindOfClass(cls);
  const isOne: boolean = program instanceof cls;
  if (isOne) return program as T;
  throw otherKind('WrongProgramType', program.name, program.name, `a ${program.kind} program (section ${program.section})`, kind ?? 'Program');
}

/** ProgramError 'InvalidArgument' unless `id` can be a program id. @internal */
export function checkProgramId(id: number): void {
  if (!Number.isInteger(id) || id <= 0 || id > 0xffff_ffff) throw new ProgramError('InvalidArgument', `invalid program id ${describeValue(id)}`);
}

/** An fd of the loaded program with kernel id `id`, refusals as ProgramError. @internal */
export function programFdById(id: number): number {
  try {
    return progGetFdById(id);
  } catch (err) {
    if (!(err instanceof SyscallError)) throw err;
    const kind = err.errno === Errno.ENOENT ? 'UnknownTarget' : 'SyscallError';
    throw new ProgramError(kind, `program id ${id}: ${err.message}`, { cause: err });
  }
}
