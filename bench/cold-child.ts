// bench/cold-child: one fresh process of bench/cold.ts's time split. It does what the
// timed tsbpf process does (import 'tsbpf' by its package name, Ebpf.load(path).close()),
// and reports how long each part took, as one JSON line on stdout:
//
//   node dist/bench/cold-child.js OBJ core|plain
//
// Only dynamic imports of the package, by name, so that this file adds nothing to what
// is timed before them. Parts (ms, performance.now()):
//   import     await import('tsbpf')
//   parse      inside ObjectSpec.parse during the load (the static method is wrapped)
//   kernelBtf  loadKernelBtf(), called just before the load for a CO-RE object (the load
//              then finds it cached, as the loader reads it through the same function)
//   read       bytes the process read (read(2) and the like: /proc/self/io's rchar)
//              from before kernelBtf to after close: whether and how much of the
//              kernel's BTF (/sys/kernel/btf/vmlinux, about 6 MB) was read
//   load       Ebpf.load(path): parse, maps, relocations, verification
//   close      .close()
//   bpf        inside bpf(2) during load and close (kernel.bpf, bpfIo and bpfElem,
//              wrapped through tsbpf/testing's replaceKernel, as test/fuzz-objects.ts
//              times the kernel's work), and close(2) separately
// The wrappers and the import of 'tsbpf/testing' and 'tsbpf/sys' (timed as `seamImport`)
// are not in the process bench/cold.ts compares with libbpf's.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

type Tsbpf = typeof import('../src/index.js');
type Testing = typeof import('../src/testing.js');
type Sys = typeof import('../src/sys/index.js');

const started = performance.now();
const [path, kind] = process.argv.slice(2);
if (!path || (kind !== 'core' && kind !== 'plain')) throw new Error('usage: cold-child OBJ core|plain');

// A variable, not a literal: tsc would resolve a literal through the package's exports
// (dist/, not built yet in a clean build); node resolves it as any user's import.
const NAME = 'tsbpf';
const i0 = performance.now();
const tsbpf = (await import(NAME)) as Tsbpf;
const i1 = performance.now();
const testing = (await import(`${NAME}/testing`)) as Testing;
const sys = (await import(`${NAME}/sys`)) as Sys;
const i2 = performance.now();

let bpfMs = 0;
let bpfCalls = 0;
let closeMs = 0;
let closeCalls = 0;
const real = sys.kernel;
testing.replaceKernel({
  bpf: (cmd, attr, ptrMask, ...buffers) => {
    const t = performance.now();
    try {
      return real.bpf(cmd, attr, ptrMask, ...buffers);
    } finally {
      bpfMs += performance.now() - t;
      bpfCalls++;
    }
  },
  bpfIo: (cmd, io, attrLen, ptrMask) => {
    const t = performance.now();
    try {
      return real.bpfIo(cmd, io, attrLen, ptrMask);
    } finally {
      bpfMs += performance.now() - t;
      bpfCalls++;
    }
  },
  bpfElem: (cmd, handle, attrLen, ptrMask) => {
    const t = performance.now();
    try {
      return real.bpfElem(cmd, handle, attrLen, ptrMask);
    } finally {
      bpfMs += performance.now() - t;
      bpfCalls++;
    }
  },
  close: (fd) => {
    const t = performance.now();
    try {
      return real.close(fd);
    } finally {
      closeMs += performance.now() - t;
      closeCalls++;
    }
  },
});

let parseMs = 0;
let parseCalls = 0;
const spec = tsbpf.ObjectSpec as { parse: Tsbpf['ObjectSpec']['parse'] };
const realParse = spec.parse;
spec.parse = (...args) => {
  const t = performance.now();
  try {
    return realParse.apply(tsbpf.ObjectSpec, args);
  } finally {
    parseMs += performance.now() - t;
    parseCalls++;
  }
};

/** Bytes this process has read so far (rchar: read(2), pread(2), ..., not mmap faults). */
function rchar(): number {
  const m = /^rchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

const r0 = rchar();
let kernelBtf: number | undefined;
if (kind === 'core') {
  const t = performance.now();
  tsbpf.loadKernelBtf();
  kernelBtf = performance.now() - t;
}
const bpf0 = bpfMs;
const close0 = closeMs;
const l0 = performance.now();
const ebpf = tsbpf.Ebpf.load(path);
const l1 = performance.now();
ebpf.close();
const l2 = performance.now();
const read = rchar() - r0;
const inLoad = { bpf: bpfMs - bpf0, close: closeMs - close0 };

console.log(
  JSON.stringify({
    started,
    import: i1 - i0,
    seamImport: i2 - i1,
    parse: parseMs,
    parseCalls,
    kernelBtf,
    read,
    load: l1 - l0,
    close: l2 - l1,
    bpf: inLoad.bpf,
    bpfCalls,
    closeSys: inLoad.close,
    closeCalls,
    ended: l2,
  }),
);
