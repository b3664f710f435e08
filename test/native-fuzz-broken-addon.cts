// The real addon with one defect chosen by TSBPF_BROKEN, for the native fuzzer's own
// test: each of its detectors must catch its kind of defect.
//  overflow: a lookup writes one byte past its value buffer (as a wrong size check would)
//  crash:    the third close() kills the process with SIGSEGV
//  throws:   getrlimit throws a plain Error
const real = require('../../build/Release/tsbpf.node');

const broken: Record<string, unknown> = { ...real };
let closes = 0;
switch (process.env.TSBPF_BROKEN) {
  case 'overflow':
    broken.bpf = (cmd: number, attr: Uint8Array, mask: number, ...bufs: unknown[]) => {
      const r = real.bpf(cmd, attr, mask, ...bufs);
      const value = bufs[1];
      if (cmd === 1 && ArrayBuffer.isView(value) && value.buffer.byteLength > value.byteOffset + value.byteLength) {
        new Uint8Array(value.buffer)[value.byteOffset + value.byteLength] = 0;
      }
      return r;
    };
    break;
  case 'crash':
    broken.close = (fd: number) => {
      if (++closes === 3) process.kill(process.pid, 'SIGSEGV');
      return real.close(fd);
    };
    break;
  case 'throws':
    broken.getrlimit = () => {
      throw new Error('plain');
    };
    break;
}
module.exports = broken;
