// Typed errors of the public API. Each class has a stable `kind` string (a literal
// union in TypeScript) and, for kernel failures, the SyscallError as `cause` with its
// `call`, `errno` and `code` copied onto the error for easy matching.
import { SyscallError } from './sys/errors.js';

export { SyscallError } from './sys/errors.js';

/** What went wrong in a {@link MapError}. */
export type MapErrorKind =
  | 'OutOfBounds'
  | 'KeyNotFound'
  | 'ElementNotFound'
  | 'InvalidMapType'
  | 'InvalidKeySize'
  | 'InvalidValueSize'
  | 'InvalidName'
  | 'InvalidArgument'
  | 'CreateError'
  /** create: the map would need more than half of the memory available (free memory, or this process's memory cgroup's room), or more entries than the kernel can index. */
  | 'TooLarge'
  | 'Closed'
  | 'NotSupported'
  | 'SyscallError';

/** The fields a MapError is made with (see MapError's fields). */
export interface MapErrorDetails {
  index?: number;
  maxEntries?: number;
  mapType?: number;
  expected?: number | readonly number[];
  size?: number;
  /** InvalidName: the rejected map name. */
  mapName?: string;
  /** NotSupported: the kernel feature that is missing ('BPF_MAP_TYPE_ARENA', ...). */
  feature?: string;
  cause?: SyscallError;
}

function brandCheck(brand: symbol): (value: unknown) => boolean {
  return (value) => typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}

const mapBrand = Symbol.for('tsbpf.MapError');

/** An operation on a map failed; `kind` says how. */
export class MapError extends Error {
  override readonly name = 'MapError';
  readonly kind: MapErrorKind;
  /** OutOfBounds: the index asked for. */
  readonly index?: number;
  /** OutOfBounds: the map's max_entries. */
  readonly maxEntries?: number;
  /** InvalidMapType: the map's type. */
  readonly mapType?: number;
  /** InvalidMapType / InvalidKeySize / InvalidValueSize: what was expected. */
  readonly expected?: number | readonly number[];
  /** InvalidKeySize / InvalidValueSize: the size found. */
  readonly size?: number;
  /** InvalidName: the rejected name. */
  readonly mapName?: string;
  /** NotSupported: the kernel feature that is missing ('BPF_MAP_TYPE_ARENA', ...). */
  readonly feature?: string;
  /** Kernel failures: the system call, its errno and code (also on `cause`). */
  readonly call?: string;
  readonly errno?: number;
  readonly code?: string;
  declare readonly cause?: SyscallError;

  constructor(kind: MapErrorKind, message: string, details: MapErrorDetails = {}) {
    super(message, details.cause ? { cause: details.cause } : undefined);
    this.kind = kind;
    const { cause, ...rest } = details;
    Object.assign(this, rest);
    if (cause) {
      this.call = cause.call;
      this.errno = cause.errno;
      this.code = cause.code;
    }
  }

  /** Wraps a SyscallError as kind 'SyscallError' (or `kind`); rethrows anything else. */
  static fromSyscall(err: unknown, kind: MapErrorKind = 'SyscallError', context?: string): MapError {
    if (err instanceof MapError) return err;
    if (!(err instanceof SyscallError)) throw err;
    return new MapError(kind, context ? `${context}: ${err.message}` : err.message, { cause: err });
  }

  get [mapBrand](): true {
    return true;
  }

  /** `instanceof` by brand, so errors from another copy of tsbpf in the process match too. */
  static override [Symbol.hasInstance] = brandCheck(mapBrand);
}

/** What went wrong in a {@link PinError}. */
export type PinErrorKind = 'InvalidPinPath' | 'SyscallError';

const pinBrand = Symbol.for('tsbpf.PinError');

/** Pinning to, or opening from, bpffs failed. */
export class PinError extends Error {
  override readonly name = 'PinError';
  readonly kind: PinErrorKind;
  readonly path: string;
  readonly call?: string;
  readonly errno?: number;
  readonly code?: string;
  declare readonly cause?: SyscallError;

  constructor(kind: PinErrorKind, path: string, message: string, cause?: SyscallError) {
    super(message, cause ? { cause } : undefined);
    this.kind = kind;
    this.path = path;
    if (cause) {
      this.call = cause.call;
      this.errno = cause.errno;
      this.code = cause.code;
    }
  }

  get [pinBrand](): true {
    return true;
  }

  /** `instanceof` by brand, so errors from another copy of tsbpf in the process match too. */
  static override [Symbol.hasInstance] = brandCheck(pinBrand);
}

/** What went wrong in a {@link ParseError}. */
export type ParseErrorKind =
  /** The input is not what the call takes (bytes, a path). */
  | 'InvalidArgument'
  /** The path is not a regular file, or is larger than an object file can be. */
  | 'InvalidFile'
  /** The ELF structure is broken: truncated, out of bounds, inconsistent headers or tables. */
  | 'Malformed'
  /** A well-formed file tsbpf does not take: not 64-bit little-endian, not EM_BPF, not relocatable. */
  | 'UnsupportedFormat'
  /** A map definition (maps, .maps, struct_ops) that cannot be read. */
  | 'InvalidMapDefinition'
  /** Code that cannot be split into programs and functions (size, alignment, names). */
  | 'InvalidProgram'
  /** A relocation, call or reference that does not point where it can. */
  | 'InvalidRelocation'
  /** A global data section or variable that cannot be laid out. */
  | 'InvalidData'
  /** An extern (__kconfig, __ksym) of a type no value fits. */
  | 'InvalidExtern';

const parseBrand = Symbol.for('tsbpf.ParseError');

/** A BPF object (ELF) is malformed or uses something tsbpf does not understand; `kind` says how. */
export class ParseError extends Error {
  override readonly name = 'ParseError';
  readonly kind: ParseErrorKind;
  /** The section, symbol or map the problem is in, when known. */
  readonly where?: string;

  constructor(kind: ParseErrorKind, message: string, where?: string, options?: { cause?: unknown }) {
    super(where ? `${where}: ${message}` : message, options);
    this.kind = kind;
    this.where = where;
  }

  get [parseBrand](): true {
    return true;
  }

  /** `instanceof` by brand, so errors from another copy of tsbpf in the process match too. */
  static override [Symbol.hasInstance] = brandCheck(parseBrand);
}

/** What went wrong in a {@link BtfError}. */
export type BtfErrorKind =
  /** The input is not what the call takes (bytes, a Btf, an array of types, a path). */
  | 'InvalidArgument'
  /** The BTF is broken: truncated, out of bounds, unknown kinds, references to missing types. */
  | 'Malformed'
  /** Well-formed BTF tsbpf does not take: big-endian, another version, unknown header fields. */
  | 'UnsupportedFormat'
  /** A type that cannot be used as asked: no size or alignment, a reference cycle, too large to encode. */
  | 'InvalidType'
  /** No type with the id asked for. */
  | 'TypeNotFound'
  /** The BTF file could not be read (`cause` says why). */
  | 'ReadError'
  /** The kernel publishes no BTF of its own (no /sys/kernel/btf/vmlinux: CONFIG_DEBUG_INFO_BTF is off). */
  | 'NotSupported';

const btfBrand = Symbol.for('tsbpf.BtfError');

/** BTF (type information) is malformed, or a type asked for is missing; `kind` says how. */
export class BtfError extends Error {
  override readonly name = 'BtfError';
  readonly kind: BtfErrorKind;
  /** NotSupported: the kernel feature that is missing. */
  readonly feature?: string;

  constructor(kind: BtfErrorKind, message: string, options?: { cause?: unknown; feature?: string }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.kind = kind;
    this.feature = options?.feature;
  }

  get [btfBrand](): true {
    return true;
  }

  /** `instanceof` by brand, so errors from another copy of tsbpf in the process match too. */
  static override [Symbol.hasInstance] = brandCheck(btfBrand);
}

/** What went wrong in a {@link ProgramError}. */
export type ProgramErrorKind =
  /** An argument of the wrong type or value (a name the object does not have, an option of the wrong shape). */
  | 'InvalidArgument'
  | 'LoadError'
  | 'NotLoaded'
  | 'NotSupported'
  | 'UnknownSection'
  | 'UnresolvedExtern'
  | 'RelocationError'
  | 'SyscallError'
  /** attach: the program (or the hook, in a single-program mode) is attached already. */
  | 'AlreadyAttached'
  /** attach: the kernel refused; `call` and `errno` name the system call. */
  | 'AttachError'
  /** attach: no network interface by that name or index. */
  | 'UnknownInterface'
  /** attach: no such symbol in the ELF file (uprobes). */
  | 'UnknownSymbol'
  /** attach: no such kernel function in vmlinux BTF (fentry, fexit, lsm, ...). */
  | 'UnknownKernelFunction'
  /** attach: a tracepoint, cgroup, namespace or other target that does not exist. */
  | 'UnknownTarget'
  /** link operations on a link that is detached or closed. */
  | 'NotAttached'
  /** Xdp.fromPin / fromId and the like: the program is of another type. */
  | 'InvalidProgramType'
  /** Ebpf.program(name, Xdp) and the like: the object's program is of another kind (the message names both). */
  | 'WrongProgramType';

const programBrand = Symbol.for('tsbpf.ProgramError');

/** A program could not be loaded or used. LoadError carries the verifier's log. */
export class ProgramError extends Error {
  override readonly name = 'ProgramError';
  readonly kind: ProgramErrorKind;
  /** The program's name. */
  readonly program?: string;
  /** LoadError: the verifier log (with source lines when the object has line info). */
  readonly verifierLog?: string;
  readonly call?: string;
  readonly errno?: number;
  readonly code?: string;
  declare readonly cause?: unknown;

  /** NotSupported: the kernel feature that is missing ('BPF_LINK_TYPE_XDP', 'kprobes', ...). */
  readonly feature?: string;

  constructor(kind: ProgramErrorKind, message: string, details: { program?: string; verifierLog?: string; feature?: string; cause?: unknown } = {}) {
    super(message, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.kind = kind;
    this.program = details.program;
    this.verifierLog = details.verifierLog;
    this.feature = details.feature;
    const c = details.cause;
    if (c instanceof SyscallError) {
      this.call = c.call;
      this.errno = c.errno;
      this.code = c.code;
    }
  }

  /** Wraps a SyscallError as kind 'SyscallError' (or `kind`) with `context` before its message; rethrows anything else. */
  static fromSyscall(err: unknown, context: string, details: { program?: string; kind?: ProgramErrorKind } = {}): ProgramError {
    if (err instanceof ProgramError) return err;
    if (!(err instanceof SyscallError)) throw err;
    return new ProgramError(details.kind ?? 'SyscallError', `${context}: ${err.message}`, { program: details.program, cause: err });
  }

  get [programBrand](): true {
    return true;
  }

  /** `instanceof` by brand, so errors from another copy of tsbpf in the process match too. */
  static override [Symbol.hasInstance] = brandCheck(programBrand);
}

/** What went wrong in an XdpSocketError. */
export type XdpSocketErrorKind =
  /** An option of the wrong type or value. */
  | 'InvalidArgument'
  /** The kernel has no AF_XDP (EAFNOSUPPORT), or the driver lacks the mode asked for. */
  | 'NotSupported'
  /** The socket was closed. */
  | 'Closed'
  /** The kernel refused; `call`, `errno` and `code` name the system call. */
  | 'SyscallError';

const xdpSocketBrand = Symbol.for('tsbpf.XdpSocketError');

/** An AF_XDP socket could not be made, bound or used; `kind` says how. */
export class XdpSocketError extends Error {
  override readonly name = 'XdpSocketError';
  readonly kind: XdpSocketErrorKind;
  /** NotSupported: the kernel feature that is missing ('AF_XDP', 'AF_XDP zero-copy'). */
  readonly feature?: string;
  readonly call?: string;
  readonly errno?: number;
  readonly code?: string;
  declare readonly cause?: SyscallError;

  constructor(kind: XdpSocketErrorKind, message: string, details: { feature?: string; cause?: SyscallError } = {}) {
    super(message, details.cause ? { cause: details.cause } : undefined);
    this.kind = kind;
    this.feature = details.feature;
    const c = details.cause;
    if (c) {
      this.call = c.call;
      this.errno = c.errno;
      this.code = c.code;
    }
  }

  get [xdpSocketBrand](): true {
    return true;
  }

  /** `instanceof` by brand, so errors from another copy of tsbpf in the process match too. */
  static override [Symbol.hasInstance] = brandCheck(xdpSocketBrand);
}

/** The brands of the error classes that have a kind 'NotSupported'. */
const notSupportedBrands = [mapBrand, programBrand, btfBrand, xdpSocketBrand];

/**
 * "This kernel lacks it", whatever raised it: `err instanceof NotSupportedError` is
 * true for every tsbpf error (MapError, ProgramError, BtfError, ...) whose `kind` is
 * 'NotSupported'. No error is created as a NotSupportedError: each stays an instance
 * of its own class (`err instanceof MapError` keeps working), and this class only
 * recognises them, across copies of the package too (`Symbol.for` brands).
 *
 * @example
 * ```ts
 * try { link = prog.attach(...); } catch (err) {
 *   if (!(err instanceof NotSupportedError)) throw err;
 *   console.log(`skipped: the kernel lacks ${err.feature}`);
 * }
 * ```
 */
export abstract class NotSupportedError extends Error {
  /** The class of the error that was raised: 'MapError', 'ProgramError', 'BtfError', 'XdpSocketError'. */
  abstract override readonly name: string;
  abstract readonly kind: 'NotSupported';
  /** The kernel feature that is missing ('BPF_MAP_TYPE_ARENA', 'BPF_LINK_TYPE_TCX', 'kprobes', ...), when known. */
  abstract readonly feature?: string;

  /** `instanceof` by brand, so errors from another copy of tsbpf in the process match too. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return false;
    const v = value as Record<PropertyKey, unknown>;
    return v.kind === 'NotSupported' && notSupportedBrands.some((brand) => v[brand] === true);
  }
}

/** True when `err` says the kernel lacks a feature (a tsbpf error of kind 'NotSupported'); see {@link NotSupportedError}. */
export function isNotSupported(err: unknown): err is NotSupportedError {
  return err instanceof NotSupportedError;
}
