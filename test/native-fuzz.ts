// Native fuzzing: every entry point of the addon called with random argument shapes
// (numbers, non-numbers, typed arrays of every element type, DataViews, detached,
// SharedArrayBuffer-backed and resizable buffers resized after a view is taken, fds of
// every kind, attrs whose lengths, pointer words and length fields disagree). Each
// batch runs in a child process, so a crash is caught and reported with the seed and,
// after a traced rerun, the call that did it.
//
// Besides "no crash", each call is checked for the contract of native/: it throws
// TypeError/RangeError or returns a result; the kernel wrote nothing outside the
// buffers handed over (guard bytes around every buffer); and nothing at all into a
// bait region whose address the fuzzer plants in attr words JS is not allowed to use
// as pointers.
//
// So that it cannot hurt the machine or the other tests, a batch runs in a network
// and mount namespace of its own (with its own bpffs), in a memory-limited cgroup, in
// a temporary directory, and the generator never makes what could reach outside: map
// sizes are capped, struct_ops and arena maps are not made, programs only return 0,
// objects are looked up by id only when they are the child's own, AF_UNIX binds are
// abstract, netlink messages are dumps, sends and receives never block, perf events
// that could signal (sigtrap) only ever watch the child itself, and close() only
// takes descriptors the fuzzer made.
//
// CLI: node dist/test/native-fuzz.js [--count N] [--seed S] [--batch N] [--addon file.node] [--json]
// (npm run fuzz:native -- --count N). Internal: --child.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, readlinkSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kernel } from '../src/sys/native.js';
import { prng } from './fuzz.js';
import { makeMemoryCgroup } from './memcg.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The addon the library loads (dist/test/ is two levels below the repository root). */
export const defaultAddon = resolve(here, '../../build/Release/tsbpf.node');

// ---- random choices ------------------------------------------------------------------

class Gen {
  constructor(readonly next: () => number) {}
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  /** A u32 that is often an edge. */
  u32(): number {
    if (this.chance(0.6)) return this.pick(EDGES);
    return (this.int(0x10000) * 0x10000 + this.int(0x10000)) >>> 0;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

const EDGES = [0, 1, 2, 3, 4, 7, 8, 9, 15, 16, 31, 32, 63, 64, 127, 128, 255, 256, 4095, 4096, 4097, 65535, 65536, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
const PAGE = 4096;

// ---- what the child holds -----------------------------------------------------------

type FdKind = 'map' | 'prog' | 'link' | 'btf' | 'perf' | 'socket' | 'xsk' | 'netlink' | 'unix' | 'pipe' | 'file' | 'dir' | 'dev' | 'std' | 'internal' | 'pidfd' | 'closed' | 'epoll';

interface PoolFd {
  fd: number;
  kind: FdKind;
  tag: string;
  /** The fuzzer made it: close() may take it. */
  closable: boolean;
  /** Maps: what user space copies per key and value (per-CPU counted). */
  keySize?: number;
  valueBytes?: number;
  /** BPF objects: their id (only own ids are ever looked up). */
  id?: number;
}

interface Guarded {
  backing: Uint8Array;
  head: number;
  /** Start of the tail guard, or -1 when the view runs to the end of its buffer. */
  tail: number;
}

const GUARD = 16;
const GUARD_BYTE = 0xc3;
const BAIT_BYTE = 0xa5;

type IdSpace = 'map' | 'prog' | 'link' | 'btf';

interface Ctx {
  g: Gen;
  k: Kernel;
  pool: PoolFd[];
  mappings: ArrayBuffer[];
  baitAddress: bigint;
  /** Ids of the child's own objects, per id space (maps, programs, links, BTF each count their own). */
  ownIds: Record<IdSpace, number[]>;
  uprobeType: number;
  tmp: string;
  /** Filled by the generators for the call being made. */
  guards: Guarded[];
  planted: boolean;
  /** The newer entry points' state (see Extra). */
  extra: Extra;
}

function fdOf(c: Ctx, kinds?: readonly FdKind[]): number {
  const fits = kinds ? c.pool.filter((p) => kinds.includes(p.kind)) : c.pool;
  if (fits.length === 0 || c.g.chance(0.08)) return c.g.chance(0.5) ? c.g.pick(c.pool).fd : c.g.pick([0x7fffffff, 4000, 999, c.g.u32() & 0x7fffffff]);
  return c.g.pick(fits).fd;
}

// ---- buffers of every shape ---------------------------------------------------------

const VIEWS = [
  ['Uint8Array', 1], ['Int8Array', 1], ['Uint8ClampedArray', 1], ['Int16Array', 2], ['Uint16Array', 2],
  ['Int32Array', 4], ['Uint32Array', 4], ['Float32Array', 4], ['Float64Array', 8], ['BigInt64Array', 8],
  ['BigUint64Array', 8], ['DataView', 1],
] as const;

/**
 * A view of `content.length` bytes (rounded down to whole elements) over a backing
 * store with guard bytes around it. Shape: the element type, the store (plain,
 * shared, resizable, growable shared), detached, resized after the view was taken.
 */
function makeBuffer(c: Ctx, content: Uint8Array, o: { view?: number; fixed?: boolean } = {}): ArrayBufferView {
  const g = c.g;
  const [name, elem] = o.view !== undefined ? VIEWS[o.view]! : g.chance(0.55) ? VIEWS[0] : g.pick(VIEWS);
  const len = content.length - (content.length % elem);
  const store = g.chance(0.75) ? 'ab' : g.pick(['sab', 'rab', 'gsab'] as const);
  const size = GUARD + len + GUARD;
  let buffer: ArrayBuffer | SharedArrayBuffer;
  if (store === 'sab') buffer = new SharedArrayBuffer(size);
  else if (store === 'rab') buffer = new (ArrayBuffer as any)(size, { maxByteLength: size * 2 + 64 });
  else if (store === 'gsab') buffer = new (SharedArrayBuffer as any)(size, { maxByteLength: size * 2 + 64 });
  else buffer = new ArrayBuffer(size);
  const backing = new Uint8Array(buffer);
  backing.fill(GUARD_BYTE);
  backing.set(content.subarray(0, len), GUARD);
  // Resizable stores: a fixed-length view or one that tracks the length. `fixed`: the
  // kernel must see exactly these bytes (a sanitized attr): no tracking, no shrinking.
  const tracking = !o.fixed && (store === 'rab' || store === 'gsab') && g.chance(0.4);
  const Ctor = (globalThis as any)[name];
  const view: ArrayBufferView = tracking ? new Ctor(buffer, GUARD) : new Ctor(buffer, GUARD, name === 'DataView' ? len : len / elem);
  let tail = tracking ? -1 : GUARD + len;
  if (store === 'rab' && !o.fixed && g.chance(0.5)) {
    const to = g.pick([0, GUARD, GUARD + (len >> 1), size, size + 8, size * 2]);
    (buffer as any).resize(to);
    if (to < size) tail = -1; // the tail guard went with the shrink
    if (to < GUARD) return view; // nothing left to guard
  } else if (store === 'gsab' && g.chance(0.5)) {
    (buffer as any).grow(size + g.pick([8, 64, size]));
  } else if (store === 'ab' && !o.fixed && g.chance(0.06)) {
    structuredClone(buffer, { transfer: [buffer as ArrayBuffer] });
    return view;
  }
  c.guards.push({ backing: new Uint8Array(buffer, 0, Math.min(buffer.byteLength, tail === -1 ? GUARD : size)), head: GUARD, tail });
  return view;
}

/** Content of `n` bytes: zeros, a fill, or random. */
function content(c: Ctx, n: number): Uint8Array {
  const r = c.g.int(4);
  if (r === 0) return new Uint8Array(n);
  if (r === 1) return new Uint8Array(n).fill(c.g.pick([0xff, 0x41, 1]));
  return c.g.bytes(n);
}

function bufLen(c: Ctx, want?: number): number {
  if (want !== undefined && c.g.chance(0.8)) return Math.max(0, want + c.g.pick([0, 0, 0, 0, 0, 0, -1, 1, 8, -8, 4096]));
  return c.g.pick([0, 1, 3, 4, 7, 8, 12, 16, 24, 31, 32, 64, 88, 104, 136, 232, 256, 512, 4096, 8192]);
}

/** A string buffer for path and name pointers: only names that stay inside the child. */
function cstr(c: Ctx): Uint8Array {
  // Tracepoint names that exist but almost never fire (raw tracepoints are machine-wide).
  const s = c.g.pick([`/sys/fs/bpf/fz-${c.g.int(8)}`, `/sys/fs/bpf/fz-${c.g.int(4)}/x`, 'rel', '', '/', 'xdp_exception', 'bpf_test_finish',
    'no_such_tracepoint', `${c.tmp}/file`, '/nonexistent/x', 'x'.repeat(c.g.pick([15, 16, 300, 5000]))]);
  const b = new TextEncoder().encode(s);
  const out = new Uint8Array(b.length + (c.g.chance(0.9) ? 1 : 0) + (c.g.chance(0.2) ? c.g.int(16) : 0));
  out.set(b);
  return out;
}

/**
 * Values no parameter should accept silently, and some it may. `invalid`: only values
 * the addon must refuse in a number or buffer position (never a usable number or
 * buffer), for positions whose valid values the generator keeps safe (cmd, attr, mask).
 */
function weird(c: Ctx, invalid = false): unknown {
  const g = c.g;
  switch (g.int(invalid ? 17 : 22)) {
    case 0: return undefined;
    case 1: return null;
    case 2: return true;
    case 3: return 'abc';
    case 4: return '3';
    case 5: return {};
    case 6: return { valueOf: () => 3 };
    case 7: return [3];
    case 8: return () => 3;
    case 9: return Symbol('x');
    case 10: return BigInt(g.u32());
    case 11: return invalid ? g.pick([NaN, Infinity, -Infinity, 0.5, -2, 2 ** 53, 1e308]) : g.pick([NaN, Infinity, -Infinity, -0, 0.5, -1, -2, 2 ** 31, 2 ** 32, 2 ** 53, -(2 ** 53), 1e308]);
    case 12: return new ArrayBuffer(8);
    case 13: return new SharedArrayBuffer(8);
    case 14: return new Proxy(new Uint8Array(8), {});
    case 15: return new Date(0);
    case 16: return Object.create(Uint8Array.prototype);
    case 17: return g.u32();
    case 18: return fdOf(c);
    case 19: return makeBuffer(c, content(c, bufLen(c)));
    case 20: return new (g.pick(VIEWS)[0] === 'DataView' ? Uint8Array : Float64Array)(0);
    default: return g.int(64);
  }
}

// ---- bpf(2): shapes of the commands -------------------------------------------------

/** A pointer word: its attr offset, what it points to, and the attr offset of its length field (with the unit it counts). */
interface PtrShape {
  off: number;
  what: 'key' | 'value' | 'cursor' | 'keys' | 'values' | 'cstr' | 'insns' | 'btf' | 'bytes' | 'info' | 'never';
  lenOff?: number;
  unit?: number;
}
interface CmdShape {
  len: number;
  ptrs: PtrShape[];
  fds: [number, FdKind[]][];
  /** Other fields worth an interesting value. */
  fields?: number[];
  /** Fills a plausible attr (most calls start from it, so that the kernel gets far). */
  template?: (c: Ctx, dv: DataView) => void;
}

const MAP: FdKind[] = ['map'];
const PROG: FdKind[] = ['prog'];
const noFlags = (...offs: number[]) => (_c: Ctx, dv: DataView) => { for (const off of offs) dv.setBigUint64(off, 0n, true); };
const ELEM: CmdShape = { len: 32, ptrs: [{ off: 8, what: 'key' }, { off: 16, what: 'value' }], fds: [[0, MAP]], fields: [24], template: noFlags(24) };
const BATCH: CmdShape = {
  len: 56,
  ptrs: [{ off: 0, what: 'cursor' }, { off: 8, what: 'cursor' }, { off: 16, what: 'keys', lenOff: 32 }, { off: 24, what: 'values', lenOff: 32 }],
  fds: [[36, MAP]],
  fields: [40, 48],
  template: noFlags(40, 48),
};
const BY_ID: CmdShape = { len: 12, ptrs: [], fds: [], fields: [0, 8] };

const CMDS: Record<number, CmdShape> = {
  0: {
    len: 96, ptrs: [{ off: 80, what: 'bytes', lenOff: 88 }], fds: [[20, MAP], [48, ['btf']], [76, []]], fields: [0, 4, 8, 12, 16, 24, 52, 56, 64],
    template: (c, dv) => {
      const [type, key, value, max] = c.g.pick([[2, 4, 8, 4], [1, 8, 16, 16], [6, 4, 8, 2], [5, 4, 12, 4], [9, 4, 8, 8], [22, 0, 8, 4], [27, 0, 0, PAGE], [3, 4, 4, 4], [12, 4, 4, 2], [11, 8, 8, 4], [30, 0, 8, 16], [2, 4, 4096, 1], [1, 3, 5, 7]]);
      dv.setUint32(0, type!, true); dv.setUint32(4, key!, true); dv.setUint32(8, value!, true); dv.setUint32(12, max!, true);
      if (type === 11) dv.setUint32(16, 1, true); // LPM: BPF_F_NO_PREALLOC
      if (type === 12) dv.setUint32(20, fdOf(c, MAP), true);
      else dv.setUint32(20, 0, true);
      dv.setUint32(48, 0, true);
    },
  },
  1: ELEM,
  2: ELEM,
  3: { ...ELEM, ptrs: [{ off: 8, what: 'key' }] },
  4: { ...ELEM, ptrs: [{ off: 8, what: 'key' }, { off: 16, what: 'key' }] },
  5: {
    len: 168,
    ptrs: [
      { off: 8, what: 'insns', lenOff: 4, unit: 8 }, { off: 16, what: 'cstr' }, { off: 32, what: 'bytes', lenOff: 28 },
      { off: 80, what: 'bytes', lenOff: 88, unit: 8 }, { off: 96, what: 'bytes', lenOff: 104, unit: 16 }, { off: 120, what: 'bytes', lenOff: 148, unit: 4 },
      { off: 128, what: 'bytes', lenOff: 136, unit: 16 }, { off: 152, what: 'bytes', lenOff: 160 },
    ],
    fds: [[72, ['btf']], [112, ['prog', 'btf']], [144, []]],
    fields: [0, 24, 40, 44, 68, 76, 92, 108, 116, 164],
    template: (c, dv) => {
      dv.setUint32(0, c.g.pick([1, 1, 3, 5, 6, 7, 17, 8, 9, 26, 31, c.g.int(40)]), true);
      for (const off of [72, 112, 144]) dv.setUint32(off, 0, true);
    },
  },
  6: { len: 24, ptrs: [{ off: 0, what: 'cstr' }], fds: [[8, ['map', 'prog', 'link']], [16, ['dir']]], fields: [12] },
  7: { len: 24, ptrs: [{ off: 0, what: 'cstr' }], fds: [[16, ['dir']]], fields: [12] },
  8: { len: 32, ptrs: [], fds: [[0, ['socket', 'map', 'dir']], [4, PROG], [16, PROG]], fields: [8, 12, 20, 24] },
  9: { len: 32, ptrs: [], fds: [[0, ['socket', 'map', 'dir']], [4, PROG]], fields: [8, 12] },
  10: {
    len: 80,
    ptrs: [{ off: 16, what: 'bytes', lenOff: 8 }, { off: 24, what: 'bytes', lenOff: 12 }, { off: 48, what: 'bytes', lenOff: 40 }, { off: 56, what: 'bytes', lenOff: 44 }],
    fds: [[0, PROG]],
    fields: [32, 64, 68, 72],
    template: (c, dv) => dv.setUint32(0, c.pool.find((p) => p.tag === c.g.pick(['socket_filter', 'sched_cls', 'xdp', 'raw_tp']))?.fd ?? 0, true),
  },
  11: BY_ID, 12: BY_ID, 13: BY_ID, 14: BY_ID, 19: BY_ID, 23: BY_ID, 30: BY_ID, 31: BY_ID,
  15: { len: 16, ptrs: [{ off: 8, what: 'info', lenOff: 4 }], fds: [[0, ['map', 'prog', 'link', 'btf', 'perf', 'socket']]] },
  16: {
    len: 64,
    ptrs: [{ off: 16, what: 'bytes', lenOff: 24, unit: 4 }, { off: 32, what: 'bytes', lenOff: 24, unit: 4 }, { off: 40, what: 'bytes', lenOff: 24, unit: 4 }, { off: 48, what: 'bytes', lenOff: 24, unit: 4 }],
    fds: [[0, ['socket', 'dir', 'map']]],
    fields: [4, 8, 12],
  },
  17: { len: 24, ptrs: [{ off: 0, what: 'cstr' }], fds: [[8, PROG]], fields: [16] },
  18: {
    len: 40, ptrs: [{ off: 0, what: 'btf', lenOff: 16 }, { off: 8, what: 'bytes', lenOff: 20 }], fds: [[36, []]], fields: [24, 32],
    template: (c, dv) => {
      dv.setUint32(24, c.g.pick([0, 1, 2]), true);
      dv.setUint32(36, 0, true);
    },
  },
  20: { len: 48, ptrs: [{ off: 16, what: 'bytes', lenOff: 12 }], fds: [[4, ['perf', 'link']]], fields: [0, 8] },
  21: ELEM,
  // Freezing the pool's maps would make every later update EPERM: mostly maps made while fuzzing.
  22: { len: 4, ptrs: [], fds: [[0, MAP]], template: (c, dv) => dv.setUint32(0, c.g.pick(c.pool.filter((p) => p.closable && p.kind === 'map').map((p) => p.fd).concat([fdOf(c)])), true) },
  24: BATCH, 25: BATCH, 26: BATCH, 27: BATCH,
  28: {
    len: 64,
    ptrs: [{ off: 16, what: 'bytes', lenOff: 24 }, { off: 24, what: 'never' }, { off: 32, what: 'bytes', lenOff: 20, unit: 8 }, { off: 40, what: 'bytes', lenOff: 20, unit: 8 }],
    fds: [[0, PROG], [4, ['perf', 'map', 'socket', 'dir', 'link']]],
    fields: [8, 12, 20, 48, 52, 56],
    template: (c, dv) => {
      // Coherent links: a perf_event program on a perf event, XDP on lo, a program on a sockmap...
      const [prog, target, type] = c.g.pick([['perf_event', 'task_clock_sampling', 41], ['tracepoint', 'cpu_clock', 41], ['xdp', '', 37], ['sched_cls', '', 46], ['raw_tp', '', 28]] as const);
      dv.setUint32(0, c.pool.find((p) => p.tag === prog)?.fd ?? 0, true);
      dv.setUint32(4, target ? c.pool.find((p) => p.tag === target)?.fd ?? 0 : 1, true);
      dv.setUint32(8, type, true);
    },
  },
  29: { len: 20, ptrs: [], fds: [[0, ['link']], [4, PROG], [12, PROG]], fields: [8] },
  32: { len: 4, ptrs: [], fds: [], fields: [0] },
  33: { len: 8, ptrs: [], fds: [[0, ['link']]], fields: [4] },
  34: { len: 4, ptrs: [], fds: [[0, ['link']]] },
  35: { len: 12, ptrs: [], fds: [[0, PROG], [4, MAP]], fields: [8] },
  36: { len: 12, ptrs: [], fds: [[4, ['dir']]], fields: [0, 8] },
  37: { len: 24, ptrs: [{ off: 0, what: 'bytes', lenOff: 8 }], fds: [[16, PROG]], fields: [12] },
};

/** Programs the fuzzer loads: each returns 0 and calls nothing, whatever it is attached to. */
const HARMLESS = [
  [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0], // r0 = 0; exit
  [0xb7, 0, 0, 0, 0, 0, 0, 0, 0xbf, 0x01, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0], // r0 = 0; r1 = r0; exit
];

/** A BTF object with one int named "int". */
const BTF_BLOB = new Uint8Array([0x9f, 0xeb, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 16, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0, 32, 0, 0, 0, 0, 0x69, 0x6e, 0x74, 0]);

/** attr as the kernel will see it: attrLen bytes, zeros after. */
class KernelView {
  constructor(readonly bytes: Uint8Array, readonly attrLen: number) {}
  get(off: number, size: 4 | 8): bigint {
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(off + i < this.attrLen ? this.bytes[off + i]! : 0);
    return v;
  }
  /** Writes v where the kernel reads it; a field cut by attrLen becomes 0 (always representable). */
  set(off: number, size: 4 | 8, v: bigint): void {
    if (off + size > this.attrLen) v = 0n;
    for (let i = 0; i < size && off + i < this.attrLen; i++) this.bytes[off + i] = Number((v >> BigInt(8 * i)) & 0xffn);
  }
}

/** Keeps a command inside the child: caps sizes, own ids only, no struct_ops or arena, short test runs. */
function sanitize(c: Ctx, cmd: number, v: KernelView): void {
  const cap = (off: number, max: number) => {
    if (v.get(off, 4) > BigInt(max)) v.set(off, 4, BigInt(c.g.int(max + 1)));
  };
  switch (cmd) {
    case 0: { // MAP_CREATE
      const type = Number(v.get(0, 4));
      if (type === 26 || type === 33) v.set(0, 4, 2n); // STRUCT_OPS, ARENA
      v.set(60, 4, 0n); // btf_vmlinux_value_type_id: struct_ops only
      cap(4, 512);
      cap(8, 16384);
      cap(12, 8192);
      if ((v.get(4, 4) + v.get(8, 4)) * v.get(12, 4) > 4n << 20n) v.set(12, 4, 64n);
      break;
    }
    case 10: // PROG_TEST_RUN
      cap(32, 16);
      cap(72, 16);
      break;
    case 13: case 14: case 19: case 30: { // *_GET_FD_BY_ID: the child's own objects only, in the command's id space
      const own = c.ownIds[({ 13: 'prog', 14: 'map', 19: 'btf', 30: 'link' } as const)[cmd]];
      const id = Number(v.get(0, 4));
      if (!own.includes(id) && id !== 0xffffffff) v.set(0, 4, c.g.chance(0.8) && own.length ? BigInt(c.g.pick(own)) : 0n);
      break;
    }
    case 32: // ENABLE_STATS would turn on run-time stats for every program of the machine: an unknown type only
      if (v.get(0, 4) < 16n) v.set(0, 4, 0xffffn);
      break;
    case 28: // LINK_CREATE: multi-probe counts
      cap(20, 64);
      cap(48, 64);
      break;
  }
}

/** One bpf or bpfIo call. */
function genBpf(c: Ctx, io: boolean): unknown[] {
  const g = c.g;
  const known = Object.keys(CMDS).map(Number);
  const cmd = g.chance(0.92) ? g.pick(known) : g.pick([38, 39, 40, 63, 64, 127, 128, 200, 255]);
  const shape = CMDS[cmd] ?? { len: g.int(257), ptrs: [], fds: [] };
  let attrLen = g.chance(0.7) ? shape.len : g.chance(0.5) ? Math.max(0, Math.min(256, shape.len + g.pick([-9, -8, -5, -4, -1, 1, 4, 8]))) : g.int(257);
  // ENABLE_STATS: a cut type field reads 0, BPF_STATS_RUN_TIME; 8 bytes survive every view type.
  if (cmd === 32) attrLen = Math.max(attrLen, 8);
  const attr = new Uint8Array(256);
  const dv = new DataView(attr.buffer);
  for (const [off, kinds] of shape.fds) if (off + 4 <= 256) dv.setUint32(off, fdOf(c, kinds.length ? kinds : undefined), true);
  const plausible = shape.template !== undefined && g.chance(0.7);
  if (plausible) shape.template!(c, dv);
  for (const off of shape.fields ?? []) if (g.chance(plausible ? 0.08 : 0.3)) dv.setUint32(off, g.u32(), true);
  // Map commands: the map whose sizes the buffers will follow.
  const mapFdOff = shape.fds.find(([, kinds]) => kinds === MAP)?.[0];
  const map = mapFdOff === undefined ? undefined : c.pool.find((p) => p.fd === dv.getUint32(mapFdOff, true) && p.kind === 'map');

  // Pointer words: a buffer (named in the mask), NULL, or left as a value JS may not use as a pointer.
  const named: { word: number; bytes: Uint8Array }[] = [];
  for (const p of shape.ptrs) {
    const word = p.off / 8;
    if (g.chance(0.85) && p.what !== 'never') {
      let want: number | undefined;
      const count = p.lenOff !== undefined ? Math.max(1, g.pick([1, 2, 3, 4, 16])) : 1;
      switch (p.what) {
        case 'key': want = map?.keySize; break;
        case 'value': want = map?.valueBytes; break;
        case 'cursor': want = Math.max(4, map?.keySize ?? 4); break;
        case 'keys': want = (map?.keySize ?? 4) * count; break;
        case 'values': want = (map?.valueBytes ?? 8) * count; break;
        case 'info': want = g.pick([16, 32, 88, 104, 232, 256]); break;
        case 'insns': want = g.pick(HARMLESS).length; break;
        case 'btf': want = BTF_BLOB.length; break;
        default: want = p.unit ? count * p.unit : undefined;
      }
      const len = bufLen(c, want);
      let bytes: Uint8Array;
      if (p.what === 'cstr') bytes = cstr(c);
      else if (p.what === 'insns' || (cmd === 5 && word === 1)) {
        // Only harmless programs, perhaps cut or padded with zeros (invalid instructions).
        const prog = g.pick(HARMLESS);
        bytes = new Uint8Array(len);
        bytes.set(prog.slice(0, len));
      } else if (p.what === 'btf' && g.chance(0.7)) {
        bytes = new Uint8Array(len);
        bytes.set(BTF_BLOB.subarray(0, len));
        if (g.chance(0.3)) bytes[g.int(Math.max(1, len))] = g.int(256);
      } else if (p.what === 'key' && g.chance(0.5)) {
        bytes = new Uint8Array(len); // a small index: array keys that exist
        if (len) bytes[0] = g.int(4);
      } else bytes = p.what === 'info' ? new Uint8Array(len) : content(c, len);
      if (p.lenOff !== undefined && g.chance(0.75)) {
        const n = p.what === 'keys' || p.what === 'values' ? count : Math.floor(bytes.length / (p.unit ?? 1));
        dv.setUint32(p.lenOff, g.chance(0.85) ? n : g.u32(), true);
      }
      named.push({ word, bytes });
    } else if (g.chance(0.25)) {
      // A value where a pointer goes: the bait's address (whole or its low half), or junk.
      c.planted = true;
      const addr = c.baitAddress + BigInt(g.int(1024) * 8);
      dv.setBigUint64(p.off, g.chance(0.7) ? addr : BigInt(g.u32()), true);
    }
  }
  // Sometimes a mask that names what is not a pointer, or words beyond attr.
  let mask = 0;
  for (const n of named) mask |= 1 << n.word;
  if (cmd !== 5 && g.chance(0.06)) mask |= 1 << g.int(32);
  if (cmd !== 5 && g.chance(0.02)) mask = g.u32();
  mask >>>= 0;
  if (cmd === 15 && g.chance(0.1)) dv.setUint32(4, g.u32(), true);
  // Random bytes anywhere.
  if (g.chance(0.25)) for (let i = g.int(4) + 1; i > 0; i--) attr[g.int(Math.max(1, attrLen))] = g.int(256);
  if (cmd === 28 && g.chance(0.5)) dv.setUint32(8, g.pick([28, 37, 38, 39, 41, 42, 44, 45, 46, 47, 48, 56, 57, g.int(64)]), true);
  // PROG_LOAD: word 1 (insns) only ever points to a harmless program.
  const harmlessInsns = (w: number) => cmd === 5 && w === 1;
  if (cmd === 5 && !named.some((n) => n.word === 1)) mask &= ~2;

  if (!io) {
    // The view type decides how many bytes of attr the kernel reads: sanitize those.
    const view = g.chance(0.55) ? 0 : g.int(VIEWS.length);
    const elem = VIEWS[view]![1];
    const kernelLen = attrLen - (attrLen % elem);
    sanitize(c, cmd, new KernelView(attr, kernelLen));
    const attrBuf = makeBuffer(c, attr.slice(0, kernelLen), { view, fixed: true });
    const bufs: unknown[] = [];
    // The buffers in mask order; sometimes fewer, more, or a weird one.
    const words = [...Array(32).keys()].filter((w) => mask & (1 << w));
    for (const w of words) {
      const n = named.find((x) => x.word === w);
      bufs.push(n ? makeBuffer(c, n.bytes) : g.chance(0.5) || harmlessInsns(w) ? null : makeBuffer(c, content(c, bufLen(c))));
    }
    if (g.chance(0.05)) bufs.push(weird(c));
    if (g.chance(0.05)) bufs.pop();
    if (g.chance(0.04)) bufs[g.int(Math.max(1, bufs.length))] = weird(c, true);
    // OBJ_GET_INFO_BY_FD: nested arrays after the info buffer.
    if (cmd === 15) for (let i = g.int(3); i > 0; i--) bufs.push(g.chance(0.8) ? makeBuffer(c, content(c, bufLen(c))) : weird(c));
    const args: unknown[] = [cmd, attrBuf, mask, ...bufs];
    if (g.chance(0.03)) args[g.int(3)] = weird(c, true);
    if (g.chance(0.01)) args.length = g.int(3);
    return args;
  }
  sanitize(c, cmd, new KernelView(attr, attrLen));
  // bpfIo: attr at the start of io, buffers after it, pointer words as offsets into io.
  let ioLen = Math.max(attrLen, 8);
  const places: { word: number; off: number; bytes: Uint8Array }[] = [];
  for (const n of named) {
    ioLen = Math.ceil(ioLen / 8) * 8;
    places.push({ word: n.word, off: ioLen, bytes: n.bytes });
    ioLen += n.bytes.length;
  }
  const ioBytes = new Uint8Array(ioLen + (g.chance(0.2) ? g.int(64) : 0));
  ioBytes.set(attr.slice(0, attrLen));
  const iv = new DataView(ioBytes.buffer);
  for (const p of places) {
    ioBytes.set(p.bytes, p.off);
    const off = g.chance(0.9) || harmlessInsns(p.word) ? p.off : g.pick([0, ioBytes.length, ioBytes.length + 8, g.u32()]);
    if (p.word * 8 + 8 <= attrLen) iv.setBigUint64(p.word * 8, BigInt(off), true);
  }
  // io keeps its length (fixed view of bytes): attrLen and the offsets were sanitized for it.
  const args: unknown[] = [cmd, makeBuffer(c, ioBytes, { fixed: true }), g.chance(0.9) ? attrLen : g.pick([257, ioBytes.length + 1, -1]), mask];
  if (g.chance(0.03)) args[g.int(4)] = weird(c, true);
  return args;
}

// ---- the other entry points --------------------------------------------------------

const IOCTLS = [0x2400, 0x2401, 0x2402, 0x2403, 0x40082404, 0x2405, 0x40082406, 0x80082407, 0x40042408, 0x40042409, 0x5421, 0x5450, 0x541b];

function perfAttr(c: Ctx): { attr: Uint8Array; signals: boolean } {
  const g = c.g;
  const len = g.chance(0.8) ? 136 : g.pick([0, 4, 8, 56, 63, 64, 72, 128, 144, 256, 512, 513]);
  const a = new Uint8Array(len);
  const dv = new DataView(a.buffer);
  const set32 = (off: number, v: number) => off + 4 <= len && dv.setUint32(off, v, true);
  const set64 = (off: number, v: bigint) => off + 8 <= len && dv.setBigUint64(off, v, true);
  set32(0, g.pick([0, 1, 1, 1, 2, 3, 4, 5, c.uprobeType, g.u32()]));
  set32(4, g.pick([0, 64, 136, len, g.u32()]));
  set64(8, BigInt(g.pick([0, 1, 2, 3, 9, 10, g.u32()])));
  if (g.chance(0.5)) set64(16, BigInt(g.pick([1, 1000, 100000, g.u32()])));
  if (g.chance(0.3)) set64(24, BigInt(g.u32()));
  let flags = BigInt(g.pick([0, 1, 2, 3, 0x21, 0x401]));
  if (g.chance(0.15)) flags |= 1n << BigInt(g.int(64));
  if (g.chance(0.05)) flags |= (1n << 36n) | (1n << 37n); // remove_on_exec | sigtrap
  set64(40, flags);
  if (g.chance(0.3)) set32(48, g.u32());
  // Fields tsbpf never sets: the addon must refuse them.
  if (g.chance(0.1)) {
    const off = g.pick([32, 52, 56, 72, 80, 88, 96, 104, 112, 120, 128, 136, 200, 500]);
    if (off === 56) {
      c.planted = true;
      set64(56, c.baitAddress);
    } else set64(off, BigInt(g.u32()) || 1n);
  }
  if (g.chance(0.3)) set64(64, BigInt(g.u32()));
  if (g.chance(0.1)) for (let i = g.int(4) + 1; i > 0 && len > 0; i--) a[g.int(len)] = g.int(256);
  const v = len >= 48 ? dv.getBigUint64(40, true) : 0n;
  return { attr: a, signals: (v & ((1n << 37n) | (1n << 36n))) !== 0n || len < 48 };
}

/**
 * A perf event on another task or a whole CPU only counts (no sampling interrupts on
 * the neighbours' time); on the child itself, samples are at least 1 ms apart (or at
 * most 1000 a second).
 */
function tameSampling(attr: Uint8Array, self: boolean): void {
  if (attr.length < 24) return;
  const dv = new DataView(attr.buffer, attr.byteOffset, attr.byteLength);
  const freq = attr.length >= 48 && (dv.getBigUint64(40, true) & (1n << 10n)) !== 0n;
  const sample = dv.getBigUint64(16, true);
  if (!self) {
    dv.setBigUint64(16, 0n, true);
    if (attr.length >= 48) dv.setBigUint64(40, dv.getBigUint64(40, true) & ~(1n << 10n), true);
  } else if (sample !== 0n && (freq ? sample > 1000n : sample < 1_000_000n)) {
    dv.setBigUint64(16, freq ? 1000n : 1_000_000n, true);
  }
}

function genCall(c: Ctx, fn: string): unknown[] {
  const g = c.g;
  const num = (xs: number[]) => (g.chance(0.95) ? g.pick(xs) : weird(c));
  switch (fn) {
    case 'bpf': return genBpf(c, false);
    case 'bpfIo': return genBpf(c, true);
    case 'close': {
      const mine = c.pool.filter((p) => p.closable);
      if (mine.length && g.chance(0.7)) {
        const p = g.pick(mine);
        p.kind = 'closed';
        p.closable = false;
        return [p.fd];
      }
      // Never a number that could be node's own (its event loop's epoll and eventfd): free numbers or refused values.
      return [g.chance(0.8) ? g.pick([4000, 999, 0x7fffffff]) : weird(c, true)];
    }
    case 'ioctl': {
      const args: unknown[] = [g.chance(0.95) ? fdOf(c, g.chance(0.6) ? ['perf'] : undefined) : weird(c), num([...IOCTLS, g.u32()])];
      const r = g.int(4);
      if (r === 0) args.push(g.pick([0, 1, -1, fdOf(c), g.u32()]));
      else if (r === 1 && args[1] === 0x40082404) {
        // PERF_EVENT_IOC_PERIOD: a new sample period, never a storm of interrupts.
        const period = new Uint8Array(8);
        new DataView(period.buffer).setBigUint64(0, BigInt(g.pick([0, 1_000_000, 10_000_000])), true);
        args.push(makeBuffer(c, period));
      } else if (r === 1) args.push(makeBuffer(c, g.chance(0.5) ? content(c, bufLen(c, 8)) : cstr(c)));
      else if (r === 2) args.push(weird(c));
      return args;
    }
    case 'mmap': {
      const anon = g.chance(0.2);
      let flags = anon ? 0x22 : g.pick([1, 1, 2, 0x8001, 0x4001]);
      if (g.chance(0.08)) flags = g.pick([0x10, 0x40, 0x100, g.u32()]);
      let len = g.pick([PAGE, PAGE, 2 * PAGE, 3 * PAGE, 5 * PAGE, 17 * PAGE, 1, 100, 2 ** 40, 2 ** 41]);
      if (flags & 0x8000 && len > 16 * PAGE) len = 16 * PAGE; // no large MAP_POPULATE
      if (anon && len > 2 ** 34) len = 2 ** 34;
      // AF_XDP sockets: their rings sit at XDP_PGOFF_RX_RING (0), XDP_PGOFF_TX_RING, XDP_UMEM_PGOFF_FILL_RING and _COMPLETION_RING.
      const xsk = !anon && g.chance(0.15);
      return [anon && g.chance(0.9) ? -1 : fdOf(c, xsk ? ['xsk'] : g.chance(0.7) ? ['map', 'perf'] : undefined), num([len]), num([3, 3, 3, 1, 0, 7]), num([flags]),
        num(xsk ? [0, 0x80000000, 0x100000000, 0x180000000, PAGE] : [0, 0, 0, PAGE, 1, 2 ** 32])];
    }
    case 'munmap': {
      if (c.mappings.length && g.chance(0.6)) return [c.mappings.splice(g.int(c.mappings.length), 1)[0]];
      return [g.chance(0.5) ? new ArrayBuffer(PAGE) : weird(c)];
    }
    case 'perf_event_open': {
      const { attr, signals } = perfAttr(c);
      const pid = signals ? g.pick([0, process.pid]) : g.pick([0, 0, -1, process.pid, 1, g.u32() & 0x3fffff]);
      tameSampling(attr, pid === 0 || pid === process.pid);
      const cpu = pid === -1 ? g.pick([0, 1, -1]) : g.pick([-1, -1, 0, 1, 4096]);
      const name = g.chance(0.3) ? makeBuffer(c, cstr(c)) : g.chance(0.05) ? weird(c) : undefined;
      const args: unknown[] = [makeBuffer(c, attr, { view: 0, fixed: true }), pid, cpu, g.chance(0.8) ? -1 : fdOf(c), g.pick([0, 8, 8, 1, 2, 4, 16, g.u32()]), name];
      if (g.chance(0.04)) args[g.int(5)] = weird(c, true);
      return args;
    }
    case 'socket': {
      const [d, t, p] = g.chance(0.9)
        ? g.pick([[2, 2, 0], [2, 1, 0], [10, 2, 0], [1, 1, 0], [1, 2, 0], [1, 5, 0], [16, 3, 0], [2, 2 | 0x800, 0], [63, 1, 0], [64, 2, 0], [2, 999, 0], [16, 3, 99], [44, 3, 0], [44, 2, 0]])
        : [weird(c), weird(c), weird(c)];
      return [d, t, p];
    }
    case 'bind': {
      const sa = g.chance(0.7) ? content(c, g.pick([2, 8, 12, 16, 28, 110, 128, 129])) : new Uint8Array(g.int(4));
      if (sa.length >= 2 && g.chance(0.6)) new DataView(sa.buffer).setUint16(0, g.pick([1, 2, 10, 16, 0, 99]), true);
      // AF_UNIX: abstract names only (sun_path[0] = 0), never a file.
      if (sa.length >= 2 && sa[0] === 1 && sa[1] === 0 && sa.length > 2) sa[2] = 0;
      return [fdOf(c, g.chance(0.7) ? ['socket', 'netlink', 'unix'] : undefined), g.chance(0.95) ? makeBuffer(c, sa) : weird(c)];
    }
    case 'send': {
      const fd = fdOf(c, g.chance(0.7) ? ['socket', 'netlink', 'unix'] : undefined);
      const msg = content(c, g.pick([0, 1, 16, 32, 64, 512]));
      // Netlink: dumps only (read-only requests), whatever the payload.
      if (msg.length >= 8 && c.pool.some((p) => p.fd === fd && p.kind === 'netlink')) new DataView(msg.buffer).setUint32(4, 18 | (0x301 << 16), true);
      return [fd, g.chance(0.95) ? makeBuffer(c, msg) : weird(c), 0x40 | (g.chance(0.5) ? g.pick([0, 1, 0x8000, 0x800]) : 0)];
    }
    case 'recv':
      return [fdOf(c, g.chance(0.7) ? ['socket', 'netlink', 'unix', 'pipe'] : undefined), g.chance(0.95) ? makeBuffer(c, new Uint8Array(bufLen(c))) : weird(c),
        0x40 | (g.chance(0.5) ? g.pick([0, 2, 0x20, 0x100, 0x2000]) : 0)];
    case 'setsockopt':
    case 'getsockopt': {
      const [level, name, size] = g.chance(0.85)
        ? g.pick([[1, 50, 4], [1, 27, 4], [1, 52, 4], [1, 68, 4], [1, 20, 16], [1, 57, 8], [270, 10, 4], [270, 11, 4], [6, 35, 64], [1, 26, 16], [1, 8, 4], [0, 0, 4], [1, 1, 4],
          // SOL_XDP: offsets, ring sizes, XDP_UMEM_REG (refused: it carries an address), statistics, options
          [283, 1, 128], [283, 2, 4], [283, 3, 4], [283, 4, 32], [283, 5, 4], [283, 6, 4], [283, 7, 48], [283, 8, 4]])
        : [g.u32() & 0x7fffffff, g.u32() & 0x7fffffff, bufLen(c)];
      let value: unknown;
      if (fn === 'setsockopt' && g.chance(0.4)) value = g.pick([0, 1, fdOf(c, PROG), -1, 2 ** 31]);
      else value = g.chance(0.93) ? makeBuffer(c, content(c, bufLen(c, size))) : weird(c);
      const fd = fdOf(c, g.chance(0.8) ? (level === 283 ? ['xsk'] : ['socket', 'netlink', 'unix']) : undefined);
      return [fd, num([level]), num([name]), value];
    }
    case 'xskUmemReg': {
      // Small mappings only: the kernel pins the whole UMEM (a large one would only meet the memory cgroup).
      const small = c.mappings.filter((m) => m.byteLength > 0 && m.byteLength <= 16 * PAGE);
      const umem = small.length && g.chance(0.8) ? g.pick(small) : g.chance(0.5) ? new ArrayBuffer(PAGE) : weird(c);
      return [fdOf(c, g.chance(0.8) ? ['xsk'] : undefined), umem, num([2048, 4096, 4096, 3000, 0, 65536]), num([0, 0, 256, 4096]), num([0, 0, 1, 2, 3, 4])];
    }
    case 'ifNameToIndex':
      return [g.chance(0.9) ? g.pick(['lo', 'eth0', '', 'x'.repeat(15), 'x'.repeat(16), 'x'.repeat(300), 'l\0o']) : weird(c)];
    case 'ifIndexToName':
      return [num([0, 1, 2, 99, 0x7fffffff, 0xffffffff])];
    case 'setrlimit':
      return [num([8, 8, 0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 64, 65]), num([0, 1, -1, 65536, 2 ** 40]), num([0, 1, -1, 65536, 2 ** 40])];
    case 'getrlimit':
      return [num([0, 7, 8, 15, 16, 64, 65, -1])];
    case 'setnsNet':
      // Only a network namespace file is taken: none is in the pool, so every call is refused
      // (a pidfd, which setns would read as all of a process's namespaces, above all).
      return [g.chance(0.8) ? fdOf(c) : num([-1, 0, 1, 2, 2 ** 31 - 1, 2 ** 31])];
    case 'pidfdOpen':
      // Any pid: a pidfd only names a process (signals need pidfd_send_signal, which the addon lacks).
      return [num([process.pid, process.pid, 1, 0, -1, 2 ** 31 - 1, process.ppid]), num([0, 0, 0o4000, 1, 0o200, g.u32()])];
  }
  throw new Error(`no generator for ${fn}`);
}


// ---- the newer entry points ---------------------------------------------------------
// epoll, readiness watches, event-ring mappings, the element path over registered
// buffers (bpfElem, elemBuffer) and close, each as a V8 fast call where it has one.
// They draw from a random stream of their own, so that a seed without them (the
// regression seeds) replays exactly the calls it always made; with them (the default),
// about one call in five is one of these.

/** A buffer made by elemBuffer, and the map its attr was last laid out for. */
interface Elem {
  handle: number;
  buffer: ArrayBuffer;
}

interface Extra {
  /** Pool fds only the newer entry points use (a user ring buffer), so that the old stream's picks stay as they were. */
  fds: PoolFd[];
  elems: Elem[];
  /** Handles of buffers dropped since (stale once collected). */
  dropped: number[];
  watches: unknown[];
  /** mmapRing results: read, never written (their pages are read-only). */
  rings: ArrayBuffer[];
}

const KEY_VALUE_WORDS = (1 << 1) | (1 << 2);

/** The addon's functions outside the Kernel seam (native/fast.cc). */
type FastAddon = Kernel & { elemBuffer(length: number): Elem; fastCalls(): number; bpfElemFast(...a: unknown[]): unknown; closeFast(fd: unknown): unknown };

/**
 * bpfElemFast and closeFast, the V8 fast calls (they answer REFUSED, INT32_MIN, where
 * bpfElem and close throw, and must never throw): each through one warmed-up call site,
 * so that optimised code calls them with numbers, the fast path.
 */
function callElem(k: Kernel, cmd: unknown, handle: unknown, attrLen: unknown, mask: unknown): unknown {
  return (k as FastAddon).bpfElemFast(cmd, handle, attrLen, mask);
}
function callClose(k: Kernel, fd: unknown): unknown {
  return (k as FastAddon).closeFast(fd);
}

function extraFd(c: Ctx, kinds?: readonly FdKind[]): number {
  const all = c.pool.concat(c.extra.fds);
  const fits = kinds ? all.filter((p) => kinds.includes(p.kind)) : all;
  if (fits.length === 0 || c.g.chance(0.08)) return c.g.pick([0x7fffffff, 4000, 999, c.g.u32() & 0x7fffffff]);
  return c.g.pick(fits).fd;
}

/** bpfElem's arguments over one of the child's elemBuffers, laid out for a map of the pool (or not). */
function genElem(c: Ctx): unknown[] {
  const g = c.g;
  const x = c.extra;
  if (x.elems.length === 0 || g.chance(0.05)) {
    // A handle that names nothing: never made, another generation, dropped (stale once collected), or not a number.
    const e = x.elems.length ? g.pick(x.elems) : undefined;
    const handle = g.pick([0, 1, 2 ** 24, 2 ** 24 + 5000, 2 ** 53, -1, 0.5, NaN, (e?.handle ?? 2 ** 24) + 2 ** 24, x.dropped.length ? g.pick(x.dropped) : 7]);
    return [g.pick([1, 2, 3, 4]), g.chance(0.8) ? handle : weird(c), 32, KEY_VALUE_WORDS];
  }
  const e = g.pick(x.elems);
  const io = new Uint8Array(e.buffer);
  const dv = new DataView(e.buffer);
  const maps = c.pool.concat(x.fds).filter((p) => p.kind === 'map' && p.keySize !== undefined);
  const map = g.chance(0.9) && maps.length ? g.pick(maps) : undefined;
  const keySize = map?.keySize ?? g.pick([0, 4, 8]);
  const valueBytes = map?.valueBytes ?? 8;
  const keyOff = 32;
  const valueOff = keyOff + Math.ceil(keySize / 8) * 8;
  const cmd = g.chance(0.8) ? g.pick([1, 1, 2, 2, 3, 4, 21]) : g.pick([11, 12, 23, 31, 13, 14, 19, 30, 5, 6, 10, 15, 17, 18, 24, 28, 255, 256, 1000]);
  let attrLen = g.chance(0.8) ? (cmd === 3 ? 16 : 32) : g.pick([0, 1, 4, 8, 12, 15, 16, 24, 31, 33, 40, 64]);
  if (attrLen > io.length && g.chance(0.8)) attrLen = io.length;
  let mask = cmd === 3 ? 1 << 1 : KEY_VALUE_WORDS;
  if (io.length >= 32) {
    for (let i = 0; i < 32; i++) io[i] = 0;
    if (cmd >= 11 && cmd <= 31 && ![21, 24, 28].includes(cmd) && !(cmd === 15 || cmd === 17 || cmd === 18)) {
      // Commands without pointers: next ids, and the child's own objects by id.
      const space = ({ 13: 'prog', 14: 'map', 19: 'btf', 30: 'link' } as const)[cmd as 13];
      const ids = space ? c.ownIds[space] : [];
      dv.setUint32(0, space ? (ids.length ? g.pick(ids) : 0) : g.pick([0, 1, 100, g.u32()]), true);
      mask = 0;
    } else {
      dv.setUint32(0, map ? map.fd : extraFd(c), true);
      const fits = valueOff + valueBytes <= io.length;
      dv.setBigUint64(8, BigInt(g.chance(0.85) && fits ? keyOff : g.pick([0, 8, 31, io.length - 1, io.length, io.length + 8, g.u32()])), true);
      dv.setBigUint64(16, BigInt(g.chance(0.85) && fits ? valueOff : g.pick([0, 8, 31, io.length - 1, io.length, 2 ** 32 + 40])), true);
      if (cmd === 3) dv.setBigUint64(16, 0n, true);
      if (g.chance(0.1)) dv.setBigUint64(24, g.pick([1n, 2n, 4n, 1n << 62n, BigInt(g.u32())]), true);
      if (g.chance(0.08)) {
        // An address where the mask names no pointer: the addon must refuse it.
        c.planted = true;
        const word = g.pick([1, 2]);
        dv.setBigUint64(word * 8, c.baitAddress + BigInt(g.int(1024) * 8), true);
        mask &= ~(1 << word);
      }
      if (fits) {
        for (let i = keyOff; i < valueOff; i++) io[i] = i === keyOff ? g.int(4) : g.chance(0.7) ? 0 : g.int(256);
        for (let i = valueOff; i < valueOff + valueBytes; i++) io[i] = g.int(256);
      }
    }
  }
  if (g.chance(0.06)) mask = g.pick([0, 1, 8, 1 << 31, g.u32(), 0xffffffff]);
  const args: unknown[] = [cmd, e.handle, attrLen, mask >>> 0];
  if (g.chance(0.04)) args[g.int(4)] = g.chance(0.5) ? weird(c, true) : g.pick([-1, 2 ** 32, 0.5, NaN]);
  return args;
}

function genExtra(c: Ctx, fn: string): unknown[] {
  const g = c.g;
  const x = c.extra;
  const num = (xs: number[]) => (g.chance(0.95) ? g.pick(xs) : weird(c, true));
  switch (fn) {
    case 'epollCreate':
      return g.chance(0.9) ? [] : [weird(c)];
    case 'epollCtl':
      return [g.chance(0.95) ? extraFd(c, g.chance(0.8) ? ['epoll'] : undefined) : weird(c, true), num([1, 1, 2, 3, 0, 4]), g.chance(0.95) ? extraFd(c) : weird(c, true),
        num([1, 1, 4, 5, 0x2000, 1 << 31, 0x40000000, 0x10000000, 0xffffffff, 0]), num([0, 1, 7, 0xffffffff])];
    case 'epollWait': {
      // Never a blocking wait: timeouts 0 or 1 ms, or values the addon refuses.
      const out = g.chance(0.85) ? new Uint32Array(g.pick([1, 2, 8, 64, 65, 1000])) : g.chance(0.5) ? new Uint32Array(0) : weird(c);
      return [g.chance(0.95) ? extraFd(c, g.chance(0.8) ? ['epoll'] : undefined) : weird(c, true), out, g.chance(0.95) ? g.pick([0, 0, 0, 1]) : weird(c, true)];
    }
    case 'watch':
      return [g.chance(0.95) ? extraFd(c) : weird(c, true), g.chance(0.9) ? () => undefined : weird(c)];
    case 'unwatch': {
      if (x.watches.length && g.chance(0.7)) return [x.watches.splice(g.int(x.watches.length), 1)[0]];
      return [g.chance(0.3) ? { __watch: true } : weird(c)];
    }
    case 'mmapRing': {
      const rings = c.pool.concat(x.fds).filter((p) => p.tag === 'ringbuf' || p.tag === 'user_ringbuf' || p.kind === 'perf');
      const fd = rings.length && g.chance(0.7) ? g.pick(rings).fd : extraFd(c, g.chance(0.8) ? ['map', 'perf'] : undefined);
      const len = g.pick([PAGE, 2 * PAGE, 3 * PAGE, 3 * PAGE, 5 * PAGE, 9 * PAGE, 1, PAGE + 1, 2 ** 40, 2 ** 41]);
      return [g.chance(0.97) ? fd : weird(c, true), num([len]), num([0, 0, PAGE, PAGE, 2 * PAGE, 1, 2 ** 46, 2 ** 47])];
    }
    case 'elemBuffer':
      return [g.chance(0.9) ? g.pick([48, 48, 64, 88, 128, 4200, 16 + 4096 * 2, 1, 31, 32]) : g.chance(0.5) ? g.pick([0, -1, 0.5, NaN, 2 ** 32 + 1, 2 ** 53]) : weird(c)];
    case 'bpfElem':
    case 'bpfElemFast':
      return genElem(c);
    case 'close':
    case 'closeFast': {
      const mine = c.pool.filter((p) => p.closable);
      if (mine.length && g.chance(0.5)) {
        const p = g.pick(mine);
        p.kind = 'closed';
        p.closable = false;
        return [p.fd];
      }
      return [g.chance(0.8) ? g.pick([4000, 999, 0x7fffffff]) : g.pick([-1, 0.5, NaN, 2 ** 31, Infinity, '3', undefined])];
    }
  }
  throw new Error(`no generator for ${fn}`);
}

const EXTRA_POINTS: [string, number][] = [
  ['epollCreate', 2], ['epollCtl', 5], ['epollWait', 4], ['watch', 3], ['unwatch', 3], ['mmapRing', 5], ['elemBuffer', 3], ['bpfElem', 6], ['bpfElemFast', 16],
  ['closeFast', 3],
];
const EXTRA_WEIGHT = EXTRA_POINTS.reduce((s, [, w]) => s + w, 0);

function pickExtra(g: Gen): string {
  let x = g.int(EXTRA_WEIGHT);
  for (const [fn, w] of EXTRA_POINTS) {
    if (x < w) return fn;
    x -= w;
  }
  return 'bpfElem';
}

/** Makes the newer entry points' own fds, and warms their call sites up so that optimised code takes the fast paths. */
function makeExtra(k: Kernel, pool: PoolFd[]): Extra {
  const x: Extra = { fds: [], elems: [], dropped: [], watches: [], rings: [] };
  const userRing = bpfCall(k, 0, [[0, 31], [12, PAGE]], 72);
  if (userRing >= 0) x.fds.push({ fd: userRing, kind: 'map', tag: 'user_ringbuf', closable: false });
  const array = pool.find((p) => p.tag === 'array');
  const warm = (k as FastAddon).elemBuffer(64);
  const dv = new DataView(warm.buffer);
  dv.setUint32(0, array?.fd ?? 0, true);
  dv.setUint32(8, 32, true);
  dv.setUint32(16, 40, true);
  for (let i = 0; i < 20_000; i++) callElem(k, 1, warm.handle, 32, KEY_VALUE_WORDS);
  for (let i = 0; i < 20_000; i++) callClose(k, 0x7ffffff0);
  x.elems.push(warm);
  return x;
}

const ENTRY_POINTS: [string, number][] = [
  ['bpf', 30], ['bpfIo', 14], ['close', 3], ['ioctl', 6], ['mmap', 5], ['munmap', 3], ['perf_event_open', 8], ['socket', 3],
  ['bind', 3], ['send', 3], ['recv', 3], ['setsockopt', 4], ['getsockopt', 4], ['ifNameToIndex', 1], ['ifIndexToName', 1],
  ['setrlimit', 2], ['getrlimit', 1], ['pidfdOpen', 2], ['xskUmemReg', 2], ['setnsNet', 1],
];
const WEIGHT = ENTRY_POINTS.reduce((s, [, w]) => s + w, 0);

function pickEntry(g: Gen): string {
  let x = g.int(WEIGHT);
  for (const [fn, w] of ENTRY_POINTS) {
    if (x < w) return fn;
    x -= w;
  }
  return 'bpf';
}

/** Commands and functions whose non-negative result is a new descriptor. */
const FD_CMDS = new Set([0, 5, 7, 13, 14, 17, 18, 19, 28, 30, 32, 33, 36]);

// ---- the child: pool, bait, calls ---------------------------------------------------

function bpfCall(k: Kernel, cmd: number, fields: [number, number][], len: number, ptrs: [number, Uint8Array][] = []): number {
  const attr = new Uint8Array(len);
  const dv = new DataView(attr.buffer);
  for (const [off, v] of fields) dv.setUint32(off, v, true);
  let mask = 0;
  for (const [off] of ptrs) mask |= 1 << (off / 8);
  return k.bpf(cmd, attr, mask, ...ptrs.map(([, b]) => b));
}

function objectId(k: Kernel, fd: number, kind: FdKind): number | undefined {
  const info = new Uint8Array(256);
  const attr = new Uint8Array(16);
  new DataView(attr.buffer).setUint32(0, fd, true);
  new DataView(attr.buffer).setUint32(4, info.length, true);
  if (k.bpf(15, attr, 2, info) !== 0) return undefined;
  // bpf_prog_info, bpf_map_info, bpf_link_info: id @4; bpf_btf_info: id @12.
  return new DataView(info.buffer).getUint32(kind === 'btf' ? 12 : 4, true);
}

function makePool(k: Kernel, tmp: string): { pool: PoolFd[]; ownIds: Record<IdSpace, number[]>; uprobeType: number } {
  const pool: PoolFd[] = [];
  const ownIds: Record<IdSpace, number[]> = { map: [], prog: [], link: [], btf: [] };
  const add = (fd: number, kind: FdKind, tag: string, extra: Partial<PoolFd> = {}) => {
    if (fd < 0) return;
    pool.push({ fd, kind, tag, closable: false, ...extra });
  };
  const cpus = (() => {
    const text = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
    return Math.max(...text.split(',').map((p) => Number(p.split('-').pop()))) + 1;
  })();
  const maps: [string, number, number, number, number, number][] = [
    // tag, type, key, value, max_entries, flags
    ['array', 2, 4, 8, 4, 0], ['hash', 1, 8, 16, 16, 0], ['percpu_array', 6, 4, 8, 2, 0], ['percpu_hash', 5, 4, 12, 4, 0],
    ['lru_hash', 9, 4, 8, 8, 0], ['queue', 22, 0, 8, 4, 0], ['stack', 23, 0, 8, 4, 0], ['ringbuf', 27, 0, 0, PAGE, 0],
    ['mmapable', 2, 4, 8, 512, 1 << 10], ['prog_array', 3, 4, 4, 4, 0], ['bloom', 30, 0, 8, 16, 0], ['lpm', 11, 8, 8, 8, 1],
    ['big_value', 2, 4, 4096, 2, 0],
  ];
  for (const [tag, type, key, value, max, flags] of maps) {
    const fd = bpfCall(k, 0, [[0, type], [4, key], [8, value], [12, max], [16, flags]], 72);
    const percpu = type === 5 || type === 6;
    add(fd, 'map', tag, { keySize: key, valueBytes: percpu ? Math.ceil(value / 8) * 8 * cpus : value });
  }
  // Entries at index keys 0..3 (and the zero key), so that lookups find something.
  for (const p of pool) {
    if (!p.keySize || !p.valueBytes) continue;
    for (let i = 0; i < 4; i++) {
      const key = new Uint8Array(p.keySize);
      key[0] = i;
      bpfCall(k, 2, [[0, p.fd]], 32, [[8, key], [16, new Uint8Array(p.valueBytes).fill(0x10 + i)]]);
    }
  }
  const inner = pool.find((p) => p.tag === 'array');
  if (inner) add(bpfCall(k, 0, [[0, 12], [4, 4], [8, 4], [12, 4], [20, inner.fd]], 72), 'map', 'array_of_maps', { keySize: 4, valueBytes: 4 });
  const load = (type: number, attachType = 0) =>
    bpfCall(k, 5, [[0, type], [4, 2], [68, attachType]], 144, [[8, new Uint8Array(HARMLESS[0]!)], [16, new TextEncoder().encode('GPL\0')]]);
  for (const [tag, type] of [['socket_filter', 1], ['sched_cls', 3], ['tracepoint', 5], ['xdp', 6], ['perf_event', 7], ['raw_tp', 17]] as const) add(load(type), 'prog', tag);
  // Links: XDP on lo (this network namespace's own), a raw tracepoint that almost never
  // fires (a raw tracepoint runs for every process of the machine).
  const xdp = pool.find((p) => p.tag === 'xdp');
  if (xdp) add(bpfCall(k, 28, [[0, xdp.fd], [4, 1], [8, 37]], 64), 'link', 'xdp_link');
  const rawTp = pool.find((p) => p.tag === 'raw_tp');
  if (rawTp) add(bpfCall(k, 17, [[8, rawTp.fd]], 16, [[0, new TextEncoder().encode('xdp_exception\0')]]), 'link', 'raw_tp_link');
  add(bpfCall(k, 18, [[16, BTF_BLOB.length]], 32, [[0, BTF_BLOB]]), 'btf', 'btf');
  for (const p of pool) {
    if (p.kind !== 'map' && p.kind !== 'prog' && p.kind !== 'link' && p.kind !== 'btf') continue;
    const id = objectId(k, p.fd, p.kind);
    if (id !== undefined) {
      p.id = id;
      ownIds[p.kind].push(id);
    }
  }
  // Perf events: a counting software clock, a sampling one.
  const perf = (sample: boolean) => {
    const a = new Uint8Array(136);
    const dv = new DataView(a.buffer);
    dv.setUint32(0, 1, true);
    dv.setBigUint64(8, sample ? 1n : 0n, true);
    if (sample) dv.setBigUint64(16, 10_000_000n, true); // 10 ms
    dv.setBigUint64(40, 1n, true);
    return k.perf_event_open(a, 0, -1, -1, 8);
  };
  add(perf(false), 'perf', 'cpu_clock');
  add(perf(true), 'perf', 'task_clock_sampling');
  // Sockets.
  add(k.socket(2, 2, 0), 'socket', 'udp');
  add(k.socket(2, 1, 0), 'socket', 'tcp');
  add(k.socket(10, 2, 0), 'socket', 'udp6');
  add(k.socket(1, 2, 0), 'unix', 'unix_dgram');
  const nl = k.socket(16, 3, 0);
  add(nl, 'netlink', 'netlink_route');
  // AF_XDP: one bare socket, one with a UMEM and fill and RX rings, ready to be mapped.
  const bare = k.socket(44, 3, 0);
  if (bare >= 0) {
    add(bare, 'xsk', 'xsk_bare');
    const xsk = k.socket(44, 3, 0);
    const umem = k.mmap(-1, 4 * PAGE, 3, 0x22, 0);
    if (umem instanceof ArrayBuffer) k.xskUmemReg(xsk, umem, 2048, 0, 0);
    k.setsockopt(xsk, 283, 5, 8);
    k.setsockopt(xsk, 283, 2, 8);
    add(xsk, 'xsk', 'xsk_rings');
  }
  // Files, a directory, devices, a FIFO (a pipe), the standard streams.
  writeFileSync(join(tmp, 'file'), 'x'.repeat(100));
  add(openSync(join(tmp, 'file'), 'r+'), 'file', 'file');
  add(openSync(tmp, 'r'), 'dir', 'dir');
  add(openSync('/dev/null', 'r+'), 'dev', 'dev_null');
  add(openSync('/dev/zero', 'r'), 'dev', 'dev_zero');
  spawnSync('mkfifo', [join(tmp, 'fifo')]);
  if (existsSync(join(tmp, 'fifo'))) add(openSync(join(tmp, 'fifo'), 'r+'), 'pipe', 'fifo');
  add(0, 'pipe', 'stdin');
  add(1, 'std', 'stdout');
  add(2, 'std', 'stderr');
  // A number just closed, and node's own descriptors (epoll, eventfd, ...): used, never closed.
  const gone = openSync('/dev/null', 'r');
  closeSync(gone);
  add(gone, 'closed', 'closed');
  const known = new Set(pool.map((p) => p.fd));
  for (const name of readdirSync('/proc/self/fd')) if (!known.has(Number(name))) add(Number(name), 'internal', 'node');
  let uprobeType = 0xffffffff;
  try {
    uprobeType = Number(readFileSync('/sys/bus/event_source/devices/uprobe/type', 'utf8'));
  } catch {
    // no uprobe PMU: type 0xffffffff names no PMU
  }
  return { pool, ownIds, uprobeType };
}

/**
 * A 64 KiB ArrayBuffer from the malloc heap, which a non-PIE node keeps below 4 GiB so
 * that even the low half of a pointer word can name it; found by its contents in
 * /proc/self/mem. The fuzzer plants its address where JS may not pass pointers and
 * checks it stays untouched.
 */
function makeBait(g: Gen): { bait: Uint8Array; address: bigint } {
  const bait = new Uint8Array(new ArrayBuffer(64 * 1024));
  const marker = g.bytes(32);
  bait.set(marker);
  const mem = openSync('/proc/self/mem', 'r');
  try {
    const maps = readFileSync('/proc/self/maps', 'utf8').split('\n');
    const regions = maps.filter((l) => l.includes('[heap]')).concat(maps.filter((l) => / rw-p 00000000 00:00 0\s*$/.test(l)));
    for (const line of regions) {
      const m = /^([0-9a-f]+)-([0-9a-f]+)/.exec(line);
      if (!m) continue;
      const start = Number.parseInt(m[1]!, 16), end = Number.parseInt(m[2]!, 16);
      if (end - start > 256 << 20) continue;
      const chunk = Buffer.alloc(end - start);
      try {
        readSync(mem, chunk, 0, chunk.length, start);
      } catch {
        continue;
      }
      const at = chunk.indexOf(Buffer.from(marker));
      if (at >= 0) {
        bait.fill(BAIT_BYTE);
        return { bait, address: BigInt(start + at) };
      }
    }
  } finally {
    closeSync(mem);
  }
  bait.fill(BAIT_BYTE);
  return { bait, address: 0x10000n }; // not found: an unmapped address
}

function classify(r: unknown): string {
  if (typeof r === 'number') return r >= 0 ? 'ok' : `-${-r}`;
  if (r instanceof ArrayBuffer) return 'ArrayBuffer';
  if (Array.isArray(r)) return 'array';
  if (r === undefined) return 'undefined';
  return typeof r;
}

function describeArg(a: unknown): string {
  try {
    if (ArrayBuffer.isView(a)) {
      const buffer = a.buffer as ArrayBuffer & { resizable?: boolean; growable?: boolean; detached?: boolean };
      const store = buffer instanceof SharedArrayBuffer ? ((buffer as any).growable ? 'growable SAB' : 'SAB') : buffer.resizable ? 'resizable AB' : 'AB';
      if (buffer.byteLength === 0) return `${a.constructor.name}(${store}, detached or empty)`;
      let length: number;
      try {
        length = a.byteLength;
      } catch {
        return `${a.constructor.name}(${store}, out of bounds)`;
      }
      const bytes = length <= 512 ? Buffer.from(buffer, a.byteOffset, length).toString('hex') : `${length} bytes`;
      return `${a.constructor.name}(${length} B at ${a.byteOffset} of ${buffer.byteLength}, ${store}) ${bytes}`;
    }
    if (typeof a === 'bigint') return `${a}n`;
    if (typeof a === 'symbol') return 'Symbol()';
    if (typeof a === 'function') return 'function';
    if (a instanceof ArrayBuffer) return `ArrayBuffer(${a.byteLength})`;
    return JSON.stringify(a) ?? String(a);
  } catch (err) {
    return `(${String(err)})`;
  }
}

interface ChildResult {
  calls: number;
  /** bpfElem calls that took the V8 fast path (with the newer entry points). */
  fastCalls?: number;
  outcomes: Record<string, number>;
  failures: { index: number; call: string; problem: string }[];
}

/** What a call of the newer entry points made: descriptors, watches, ring mappings, buffers. */
function keepExtra(c: Ctx, fn: string, args: unknown[], r: unknown): void {
  const x = c.extra;
  const k = c.k;
  if (fn === 'epollCreate' && typeof r === 'number' && r > 2) {
    for (const p of c.pool) if (p.fd === r) p.kind = 'epoll';
    c.pool.push({ fd: r, kind: 'epoll', tag: 'made by epollCreate', closable: true });
  } else if (fn === 'watch' && r !== null && typeof r === 'object') {
    x.watches.push(r);
    if (x.watches.length > 16) k.unwatch(x.watches.shift() as never);
  } else if (fn === 'mmapRing' && r instanceof ArrayBuffer) {
    if (r.byteLength > 0) {
      const v = new Uint8Array(r);
      if (v[0]! + v[v.length - 1]! < 0) throw new Error('unreachable');
    }
    x.rings.push(r);
    if (x.rings.length > 8) k.munmap(x.rings.shift()!);
  } else if (fn === 'elemBuffer' && r !== null && typeof r === 'object') {
    x.elems.push(r as Elem);
    // Dropped buffers: their handles go stale when the ArrayBuffer is collected.
    if (x.elems.length > 12) x.dropped.push(x.elems.splice(1 + c.g.int(x.elems.length - 1), 1)[0]!.handle);
    if (x.dropped.length > 32) x.dropped.shift();
  } else if ((fn === 'bpfElem' || fn === 'bpfElemFast') && typeof r === 'number' && r > 2 && [13, 14, 19, 30].includes(args[0] as number)) {
    k.close(r); // an own object opened by id: not kept
  } else if ((fn === 'close' || fn === 'closeFast') && typeof args[0] === 'number' && r === 0) {
    for (const p of c.pool) if (p.fd === args[0]) p.kind = 'closed';
  }
}

function child(argv: string[]): void {
  const opt = (name: string) => argv[argv.indexOf(name) + 1];
  const seed = Number(opt('--seed'));
  const count = Number(opt('--count'));
  const out = opt('--out')!;
  const trace = argv.includes('--trace') ? openSync(join(dirname(out), 'trace.txt'), 'w') : undefined;
  // Only inside the namespaces runBatch makes: the pool attaches XDP to this namespace's lo.
  if (readlinkSync('/proc/self/ns/net') === opt('--parent-netns')) throw new Error('the fuzz child must run in a network namespace of its own');
  const k = createRequire(import.meta.url)(opt('--addon')!) as Kernel;
  const tmp = process.cwd();
  const g = new Gen(prng(seed));
  const { pool, ownIds, uprobeType } = makePool(k, tmp);
  const { bait, address } = makeBait(g);
  const reference = Buffer.from(bait);
  const extended = argv.includes('--extended');
  const g2 = new Gen(prng((seed ^ 0x5bd1e995) >>> 0));
  const extra = extended ? makeExtra(k, pool) : { fds: [], elems: [], dropped: [], watches: [], rings: [] };
  const fastBefore = extended ? (k as FastAddon).fastCalls() : 0;
  const c: Ctx = { g, k, pool, mappings: [], baitAddress: address, ownIds, uprobeType, tmp, guards: [], planted: false, extra };
  const result: ChildResult = { calls: 0, outcomes: {}, failures: [] };
  const profile: Record<string, number> | undefined = argv.includes('--profile') ? {} : undefined;
  const start = performance.now();
  if (trace) writeSync(trace, `pool ${pool.map((p) => `${p.fd}:${p.tag}`).join(' ')}\nbait 0x${address.toString(16)}\n`);
  for (let i = 0; i < count; i++) {
    c.guards = [];
    c.planted = false;
    const isExtra = extended && g2.chance(0.2);
    const fn = isExtra ? pickExtra(g2) : pickEntry(g);
    if (trace) writeSync(trace, `  (making ${fn})\n`);
    c.g = isExtra ? g2 : g;
    const args = isExtra ? genExtra(c, fn) : genCall(c, fn);
    c.g = g;
    const describe = () => `${fn}(${args.map(describeArg).join(', ')})`;
    if (trace) writeSync(trace, `${i} ${describe()}\n`);
    let r: unknown;
    let outcome: string;
    const t0 = profile ? performance.now() : 0;
    try {
      if (isExtra && fn === 'bpfElemFast') r = callElem(k, args[0], args[1], args[2], args[3]);
      else if (isExtra && fn === 'closeFast') r = callClose(k, args[0]);
      else r = (k as any)[fn](...args);
      outcome = classify(r);
    } catch (err) {
      outcome = (err as Error)?.name ?? String(err);
      if (!(err instanceof TypeError) && !(err instanceof RangeError)) result.failures.push({ index: i, call: describe(), problem: `threw ${String(err)}` });
      else if (fn === 'bpfElemFast' || fn === 'closeFast') result.failures.push({ index: i, call: describe(), problem: `a fast function threw ${String(err)} (it answers REFUSED)` });
    }
    if (profile) profile[fn] = (profile[fn] ?? 0) + performance.now() - t0;
    if (trace) writeSync(trace, `  => ${outcome}${typeof r === 'number' ? ` ${r}` : ''}\n`);
    result.calls++;
    const cmd = typeof args[0] === 'number' ? args[0] : typeof args[0];
    const key = `${fn === 'bpf' || fn === 'bpfIo' || fn === 'bpfElem' || fn === 'bpfElemFast' ? `${fn}(${cmd})` : fn} ${outcome}`;
    result.outcomes[key] = (result.outcomes[key] ?? 0) + 1;
    for (const gd of c.guards) {
      const headOk = gd.backing.subarray(0, gd.head).every((b) => b === GUARD_BYTE);
      const tailOk = gd.tail < 0 || gd.backing.byteLength < gd.tail + GUARD || gd.backing.subarray(gd.tail, gd.tail + GUARD).every((b) => b === GUARD_BYTE);
      if (!headOk || !tailOk) result.failures.push({ index: i, call: describe(), problem: 'the kernel wrote outside a buffer (guard bytes changed)' });
    }
    if (c.planted && reference.compare(bait) !== 0) {
      result.failures.push({ index: i, call: describe(), problem: 'the kernel wrote through an address JS planted (bait changed)' });
      bait.set(reference);
    }
    // An object opened by id must be the child's own (the generator's promise to the machine).
    const byId = (fn === 'bpf' || fn === 'bpfIo') && typeof r === 'number' && r >= 0 ? ({ 13: 'prog', 14: 'map', 19: 'btf', 30: 'link' } as const)[args[0] as 13] : undefined;
    if (byId && !c.ownIds[byId].includes(objectId(k, r as number, byId) ?? -1)) {
      k.close(r as number);
      result.failures.push({ index: i, call: describe(), problem: `opened a ${byId} the child does not own` });
      r = undefined;
    }
    if (isExtra) keepExtra(c, fn, args, r);
    // Keep what the call made: new descriptors join the pool, mappings are touched.
    if (typeof r === 'number' && r > 2 && (fn === 'perf_event_open' || fn === 'socket' || fn === 'pidfdOpen' || ((fn === 'bpf' || fn === 'bpfIo') && FD_CMDS.has(args[0] as number)))) {
      if (!pool.some((p) => p.fd === r && p.kind !== 'closed')) {
        const kind: FdKind = fn === 'pidfdOpen' ? 'pidfd' : fn === 'perf_event_open' ? 'perf' : fn === 'socket' ? (args[0] === 16 ? 'netlink' : args[0] === 1 ? 'unix' : args[0] === 44 ? 'xsk' : 'socket') : args[0] === 0 ? 'map' : args[0] === 5 ? 'prog' : args[0] === 18 ? 'btf' : 'link';
        for (const p of pool) if (p.fd === r) p.kind = kind; // a closed number taken again
        pool.push({ fd: r, kind, tag: `made by ${fn}`, closable: true });
        const made = pool.filter((p) => p.closable);
        if (made.length > 48) {
          const old = made[0]!;
          k.close(old.fd);
          old.kind = 'closed';
          old.closable = false;
        }
      }
    }
    if (r instanceof ArrayBuffer && r.byteLength > 0 && !(isExtra && fn === 'mmapRing')) {
      const v = new Uint8Array(r);
      v[0] = v[0]!;
      v[v.length - 1] = v[v.length - 1]!;
      c.mappings.push(r);
      if (c.mappings.length > 8) k.munmap(c.mappings.shift()!);
    }
    // Descriptors closed by close(): forget their kind everywhere.
    if (fn === 'close' && typeof args[0] === 'number' && r === 0) for (const p of pool) if (p.fd === args[0]) p.kind = 'closed';
  }
  // Watches keep the event loop alive: stopped, so that the child ends.
  for (const w of extra.watches) k.unwatch(w as never);
  for (const ring of extra.rings) k.munmap(ring);
  if (extended) result.fastCalls = (k as FastAddon).fastCalls() - fastBefore;
  writeFileSync(out, JSON.stringify(result));
  if (profile) process.stderr.write(`${JSON.stringify(Object.entries(profile).sort((a, b) => b[1] - a[1]).map(([f, ms]) => `${f} ${ms.toFixed(0)} ms`))} total ${(performance.now() - start).toFixed(0)} ms\n`);
}

// ---- the parent: batches in isolated children --------------------------------------

export interface NativeFuzzOptions {
  count: number;
  seed: number;
  /** Calls per child. */
  batch?: number;
  /** The addon to fuzz (default: the library's). */
  addon?: string;
  /** Also call the newer entry points (epoll, watch, mmapRing, bpfElem, elemBuffer, fast close); default true. Regression seeds run without, as they were found. */
  extended?: boolean;
  /** Called with a line of progress per batch. */
  log?: (line: string) => void;
  /** Asked between batches: true stops the run (what ran is reported). */
  stop?: () => boolean;
}

export interface NativeFuzzFailure {
  seed: number;
  /** The call's index in its batch, when known. */
  index?: number;
  call?: string;
  problem: string;
}

export interface NativeFuzzReport {
  calls: number;
  batches: number;
  ms: number;
  outcomes: Record<string, number>;
  failures: NativeFuzzFailure[];
  /** How the children were confined. */
  isolation: string;
  /** bpfElem calls that took the V8 fast path. */
  fastCalls: number;
}

function runBatch(seed: number, count: number, addon: string, procs: string, traced: boolean, extended: boolean): { result?: ChildResult; status: number | null; signal: string | null; stderr: string; trace?: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-native-fuzz-'));
  const work = join(dir, 'cwd');
  mkdirSync(work);
  const out = join(dir, 'result.json');
  const errFile = join(dir, 'stderr.txt');
  const errFd = openSync(errFile, 'w');
  try {
    // The child: its own mount and network namespaces, its own bpffs, lo up, in the cgroup.
    const setup = `echo $$ > ${procs} && mount -t bpf bpf /sys/fs/bpf && ip link set lo up && exec "$0" "$@"`;
    const args = [fileURLToPath(import.meta.url), '--child', '--seed', String(seed), '--count', String(count), '--out', out, '--addon', addon,
      '--parent-netns', readlinkSync('/proc/self/ns/net'), ...(traced ? ['--trace'] : []), ...(extended ? ['--extended'] : [])];
    const r = spawnSync('unshare', ['-m', '-n', '--propagation', 'private', 'sh', '-c', setup, process.execPath, ...args], {
      cwd: work,
      stdio: ['pipe', 'ignore', errFd],
      timeout: traced ? 600_000 : 300_000,
    });
    const stderr = readFileSync(errFile, 'utf8').slice(-4000);
    const result = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as ChildResult) : undefined;
    const trace = traced && existsSync(join(dir, 'trace.txt')) ? readFileSync(join(dir, 'trace.txt'), 'utf8') : undefined;
    return { result, status: r.status, signal: r.signal, stderr, trace };
  } finally {
    closeSync(errFd);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Fuzzes the addon with `count` calls in batches of isolated children; deterministic for a seed. */
export async function fuzzNative(o: NativeFuzzOptions): Promise<NativeFuzzReport> {
  const batch = o.batch ?? 10_000;
  const addon = o.addon ?? defaultAddon;
  const cg = makeMemoryCgroup(768, 'native-fuzz');
  if (!cg.path) throw new Error(`no memory cgroup for the children: ${cg.text}`);
  const procs = join(cg.path, 'cgroup.procs');
  const report: NativeFuzzReport = { calls: 0, batches: 0, ms: 0, outcomes: {}, failures: [], fastCalls: 0, isolation: `own mount and network namespace, own bpffs, memory cgroup ${cg.text}` };
  const t0 = performance.now();
  try {
    for (let done = 0, i = 0; done < o.count && !o.stop?.(); i++) {
      const n = Math.min(batch, o.count - done);
      const seed = (o.seed + i) >>> 0;
      const extended = o.extended !== false;
      const r = runBatch(seed, n, addon, procs, false, extended);
      report.batches++;
      if (r.result) {
        report.calls += r.result.calls;
        report.fastCalls += r.result.fastCalls ?? 0;
        for (const [key, v] of Object.entries(r.result.outcomes)) report.outcomes[key] = (report.outcomes[key] ?? 0) + v;
        for (const f of r.result.failures) report.failures.push({ seed, ...f });
      } else {
        // A crash or a hang: run the batch again, tracing each call, to name the one that did it.
        const t = runBatch(seed, n, addon, procs, true, extended);
        const lines = t.trace?.trimEnd().split('\n') ?? [];
        let at = lines.length - 1;
        while (at >= 0 && !/^\d+ /.test(lines[at]!)) at--;
        const last = lines[at];
        const index = last ? Number(last.slice(0, last.indexOf(' '))) : undefined;
        // A result line after the call: it returned, and what followed (touching a mapping) died.
        const after = at >= 0 && at < lines.length - 1 ? ` (after it returned${lines[at + 1]!.trim().replace('=>', '')})` : '';
        report.calls += index ?? 0;
        report.failures.push({
          seed,
          index,
          call: last?.slice(last.indexOf(' ') + 1),
          problem: `child ${r.signal ? `killed by ${r.signal}` : `exited with status ${r.status}`}${after}${t.result ? ' (not reproduced when traced)' : ''}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`,
        });
      }
      done += n;
      await new Promise((resolve) => setImmediate(resolve)); // signals are handled here
      o.log?.(`batch ${i} seed ${seed}: ${n} calls, ${r.result ? `${r.result.failures.length} failures` : `child ${r.signal ?? r.status}`}`);
    }
  } finally {
    cg.remove();
  }
  report.ms = performance.now() - t0;
  return report;
}

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--child')) {
    child(argv);
    return;
  }
  const o: NativeFuzzOptions = { count: 100_000, seed: 1 };
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`${a} needs a non-negative integer`);
      return v;
    };
    if (a === '--count') o.count = value();
    else if (a === '--seed') o.seed = value();
    else if (a === '--batch') o.batch = value();
    else if (a === '--addon') o.addon = resolve(argv[++i]!);
    else if (a === '--json') json = true;
    else throw new Error(`unknown option ${a} (--count N --seed S --batch N --addon file.node --json)`);
  }
  o.log = (line) => process.stderr.write(`${line}\n`);
  // Signals arrive between batches (a batch runs synchronously): stop there, report, clean up.
  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => (stopping = true));
  o.stop = () => stopping;
  const r = await fuzzNative(o);
  const rate = r.calls / (r.ms / 1000);
  console.log(`${r.calls} calls in ${r.batches} children, ${(r.ms / 1000).toFixed(1)} s, ${rate.toFixed(0)} calls/s (child start-up included); ${r.isolation}`);
  console.log(`failures: ${r.failures.length}; bpfElem calls on the V8 fast path: ${r.fastCalls}`);
  for (const f of r.failures.slice(0, 20)) console.log(`  seed ${f.seed} call ${f.index ?? '?'}: ${f.problem}\n    ${f.call ?? ''}`);
  const byFn: Record<string, Record<string, number>> = {};
  for (const [key, n] of Object.entries(r.outcomes)) {
    const [fn, outcome] = key.split(' ') as [string, string];
    const name = fn.replace(/\(.*\)/, '');
    (byFn[name] ??= {})[outcome] = (byFn[name]![outcome] ?? 0) + n;
  }
  console.log('outcomes per entry point (ok: a result; -N: -errno; TypeError/RangeError: refused):');
  for (const [fn, outcomes] of Object.entries(byFn).sort()) {
    const top = Object.entries(outcomes).sort((a, b) => b[1] - a[1]).slice(0, 8).map(([o, n]) => `${o} ${n}`).join(', ');
    console.log(`  ${fn.padEnd(16)} ${top}`);
  }
  if (json) console.log(JSON.stringify(r));
  if (r.failures.length) process.exitCode = 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
