// A loaded BPF program: owner of its fd, typed by the section it came from. Loading,
// test runs and pinning are common to all; each subclass (src/programs/<kind>.ts) adds
// the attach method of its kind.
import { ProgramError } from '../errors.js';
import { pinFd } from '../pin.js';
import { progTestRun } from '../sys/bpf.js';
import { SyscallError } from '../sys/errors.js';
import { FdOwner } from '../sys/fd.js';
import { programTypeName } from './program-type.js';

export interface TestRunOptions {
  /** Packet data for networking programs. */
  data?: Uint8Array;
  /** Room for the packet the program leaves (default: data's length + 256 when data is given). */
  dataOut?: Uint8Array;
  /** The context (struct __sk_buff, xdp_md, a syscall program's argument, ...). */
  ctx?: Uint8Array;
  ctxOut?: Uint8Array;
  repeat?: number;
  flags?: number;
  cpu?: number;
}

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
  readonly name: string;
  /** The tsbpf kind of the section: 'Xdp', 'SocketFilter', 'SchedClassifier', ... */
  readonly kind: string;
  /** BPF_PROG_TYPE_* */
  readonly type: number;
  readonly section: string;
  readonly #load: (target?: ProgramLoadTarget) => number;
  #fd?: ProgramFd;

  /** @internal the loader makes programs; `load` performs BPF_PROG_LOAD and returns the fd. */
  constructor(spec: { name: string; kind: string; type: number; section: string }, load: (target?: ProgramLoadTarget) => number) {
    this.name = spec.name;
    this.kind = spec.kind;
    this.type = spec.type;
    this.section = spec.section;
    this.#load = load;
  }

  /** The program's fd; ProgramError 'NotLoaded' before load() or after unload(). */
  get fd(): number {
    if (!this.#fd) throw new ProgramError('NotLoaded', `program ${this.name} is not loaded`, { program: this.name });
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

  /** Loads against another program's function (Extension). */
  protected loadAgainst(target: ProgramLoadTarget): void {
    if (this.loaded) return;
    this.#fd = new ProgramFd(this.#load(target), this.name);
  }

  /** Releases the program's fd (a pinned or attached program stays in the kernel). */
  unload(): void {
    this.#fd?.close();
    this.#fd = undefined;
  }

  close(): void {
    this.unload();
  }

  [Symbol.dispose](): void {
    this.unload();
  }

  /** Pins the program at `path` on bpffs. Throws PinError. */
  pin(path: string): void {
    pinFd(this.fd, path);
  }

  /** Runs the program once or `repeat` times in the kernel (BPF_PROG_TEST_RUN). */
  testRun(options: TestRunOptions = {}): TestRunResult {
    const dataOut = options.dataOut ?? (options.data ? new Uint8Array(options.data.length + 256) : undefined);
    try {
      const r = progTestRun({
        progFd: this.fd,
        dataIn: options.data,
        dataOut,
        ctxIn: options.ctx,
        ctxOut: options.ctxOut,
        repeat: options.repeat,
        flags: options.flags,
        cpu: options.cpu,
      });
      return {
        returnValue: r.retval,
        duration: r.duration,
        dataOut: dataOut?.subarray(0, r.dataSizeOut),
        ctxOut: options.ctxOut?.subarray(0, r.ctxSizeOut),
      };
    } catch (err) {
      if (err instanceof SyscallError) {
        throw new ProgramError('SyscallError', `test run of ${this.name} (${programTypeName(this.type)}): ${err.message}`, { program: this.name, cause: err });
      }
      throw err;
    }
  }

  toString(): string {
    return `${this.kind}(${this.name})`;
  }
}

