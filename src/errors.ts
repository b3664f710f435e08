// Typed errors of the public API. Each class has a stable `kind` string (a literal
// union in TypeScript) and, for kernel failures, the SyscallError as `cause` with its
// `call`, `errno` and `code` copied onto the error for easy matching.
import { SyscallError } from './sys/errors.js';

export { SyscallError } from './sys/errors.js';

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

  static override [Symbol.hasInstance] = brandCheck(mapBrand);
}

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

  static override [Symbol.hasInstance] = brandCheck(pinBrand);
}

const parseBrand = Symbol.for('tsbpf.ParseError');

/** A BPF object (ELF) is malformed or uses something tsbpf does not understand. */
export class ParseError extends Error {
  override readonly name = 'ParseError';
  /** The section, symbol or map the problem is in, when known. */
  readonly where?: string;

  constructor(message: string, where?: string, options?: { cause?: unknown }) {
    super(where ? `${where}: ${message}` : message, options);
    this.where = where;
  }

  get [parseBrand](): true {
    return true;
  }

  static override [Symbol.hasInstance] = brandCheck(parseBrand);
}

const btfBrand = Symbol.for('tsbpf.BtfError');

/** BTF (type information) is malformed, or a type asked for is missing. */
export class BtfError extends Error {
  override readonly name = 'BtfError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }

  get [btfBrand](): true {
    return true;
  }

  static override [Symbol.hasInstance] = brandCheck(btfBrand);
}

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
  | 'InvalidProgramType';

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

  static override [Symbol.hasInstance] = brandCheck(programBrand);
}
