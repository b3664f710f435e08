// A minimal program owner for the tests that need one without the object loader:
// loads through sys.progLoad with a verifier log, closes through FdOwner.
import * as sys from '../src/sys/index.js';

export class Prog extends sys.FdOwner {
  constructor(fd: number) {
    super(fd);
  }

  protected closedError(): Error {
    return new Error('program is closed');
  }

  /** Loads `insns` (license GPL); on failure the error message carries the verifier log. */
  static load(progType: number, insns: Uint8Array, name = 'tsbpf_test'): Prog {
    const logBuf = new Uint8Array(1 << 20);
    try {
      return new Prog(sys.progLoad({ progType, insns, license: 'GPL', progName: name, logBuf, logLevel: 1 }));
    } catch (err) {
      const log = sys.readCString(logBuf, 0, logBuf.length);
      (err as Error).message += `\nverifier log:\n${log}`;
      throw err;
    }
  }

  /** BPF_PROG_TEST_RUN with a zeroed packet of `size` bytes; returns retval. */
  run(size = 64): number {
    return sys.progTestRun({ progFd: this.fd, dataIn: new Uint8Array(size), repeat: 1 }).retval;
  }
}
