// A loaded BPF program: owner of its fd, typed by the section it came from. The
// per-type attach methods arrive with the programs milestone; loading, test runs and
// pinning are common to all.
import { PinError, ProgramError } from '../errors.js';
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

export class Program extends FdOwner {
  readonly name: string;
  /** The tsbpf kind of the section: 'Xdp', 'SocketFilter', 'SchedClassifier', ... */
  readonly kind: string;
  /** BPF_PROG_TYPE_* */
  readonly type: number;
  readonly section: string;

  /** @internal the loader makes programs. */
  constructor(fd: number, name: string, kind: string, type: number, section: string) {
    super(fd);
    this.name = name;
    this.kind = kind;
    this.type = type;
    this.section = section;
  }

  protected closedError(): Error {
    return new ProgramError('NotLoaded', `program ${this.name} is not loaded (closed)`, { program: this.name });
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

  override toString(): string {
    return `${this.kind}(${this.name})`;
  }
}

export { PinError };
