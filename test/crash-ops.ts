// What the crash-consistency child does to its pinned maps, and what the parent expects
// to find: operation `seq` (1, 2, ...) is a pure function of seq, so the state after the
// first n operations is known without asking the child. Shared by test/crash-child.ts
// (which performs them) and test/crash.ts (which kills it and checks).
//
// The pin directory holds, made by the parent before any child runs:
//   counters   ARRAY u32 -> u64, 64 entries
//   table      HASH u32 -> u64, 256 entries
//   outer      ARRAY_OF_MAPS, 4 slots, inner template ARRAY u32 -> u64 of 4
//   inner0..3  the inner maps the slots may refer to
//   program    soak_getppid of bpf/soak.o (when the kernel has perf_event links)
// and, made and replaced by the children:
//   gen        an ARRAY u32 -> u64 of 2, element 0 = the seq that made it; replaced by
//              pinning a new map at gen-next and renaming it over gen (atomic)
//   p0..p3     a HASH u32 -> u64 of 8 holding {1: seq}; replaced by removing the pin,
//              then pinning a new map (absent in between)
//   link       a perf_event link of `program` on tracepoint syscalls/sys_enter_getppid
//              or sys_exit_getppid (in turn); replaced like gen through link-next
// (bpffs refuses names with a dot, hence the dashes.)
import { MapType, type MapSpec } from '../src/index.js';

export const COUNTERS = 64;
export const TABLE = 256;
export const SLOTS = 4;
export const PINS = 4;

export const INNER: MapSpec = { type: MapType.Array, keySize: 4, valueSize: 8, maxEntries: 4 };
/** Type and sizes of every map pin, by name. */
export const SHAPES: Record<string, MapSpec> = {
  counters: { type: MapType.Array, keySize: 4, valueSize: 8, maxEntries: COUNTERS },
  table: { type: MapType.Hash, keySize: 4, valueSize: 8, maxEntries: TABLE },
  outer: { type: MapType.ArrayOfMaps, keySize: 4, valueSize: 4, maxEntries: SLOTS },
  gen: { type: MapType.Array, keySize: 4, valueSize: 8, maxEntries: 2 },
  pin: { type: MapType.Hash, keySize: 4, valueSize: 8, maxEntries: 8 },
  inner: INNER,
};

export type Op =
  | { kind: 'counter'; index: number; value: bigint }
  | { kind: 'insert'; key: number; value: bigint }
  | { kind: 'remove'; key: number }
  | { kind: 'slot'; slot: number; inner: number }
  | { kind: 'gen'; value: bigint }
  | { kind: 'pin'; index: number; value: bigint }
  | { kind: 'link'; tracepoint: string };

/** Operation `seq`; without links, the link operation is a counter update instead. */
export function opAt(seq: number, links: boolean): Op {
  // A multiplicative hash spreads keys so that removes meet inserted keys now and then.
  const h = Math.imul(seq, 0x9e3779b1) >>> 0;
  switch (seq % 7) {
    case 1:
      return { kind: 'insert', key: h % TABLE, value: BigInt(seq) };
    case 2:
      return { kind: 'remove', key: (h >>> 8) % 32 };
    case 3:
      return { kind: 'slot', slot: h % SLOTS, inner: (h >>> 4) % SLOTS };
    case 4:
      return { kind: 'gen', value: BigInt(seq) };
    case 5:
      return { kind: 'pin', index: h % PINS, value: BigInt(seq) };
    case 6:
      if (links) return { kind: 'link', tracepoint: ((seq - 6) / 7) % 2 === 0 ? 'sys_enter_getppid' : 'sys_exit_getppid' };
      return { kind: 'counter', index: h % COUNTERS, value: BigInt(seq) };
    default:
      return { kind: 'counter', index: h % COUNTERS, value: BigInt(seq) };
  }
}

/** What the pins hold after some operations. Kernel ids of gen and link come from the acknowledgements. */
export interface State {
  counters: bigint[];
  table: Map<number, bigint>;
  /** The inner map (0..3) in each slot, or undefined when empty. */
  slots: (number | undefined)[];
  gen: { value: bigint; id: number } | undefined;
  pins: (bigint | undefined)[];
  link: { id: number } | undefined;
}

export function initialState(): State {
  return {
    counters: new Array<bigint>(COUNTERS).fill(0n),
    table: new Map(),
    slots: new Array<number | undefined>(SLOTS).fill(undefined),
    gen: undefined,
    pins: new Array<bigint | undefined>(PINS).fill(undefined),
    link: undefined,
  };
}

export function cloneState(s: State): State {
  return { counters: [...s.counters], table: new Map(s.table), slots: [...s.slots], gen: s.gen && { ...s.gen }, pins: [...s.pins], link: s.link && { ...s.link } };
}

/** Applies `op` to `s`; `id` is the kernel id the child acknowledged for gen and link. */
export function apply(s: State, op: Op, id: number): void {
  switch (op.kind) {
    case 'counter':
      s.counters[op.index] = op.value;
      break;
    case 'insert':
      s.table.set(op.key, op.value);
      break;
    case 'remove':
      s.table.delete(op.key);
      break;
    case 'slot':
      s.slots[op.slot] = op.inner;
      break;
    case 'gen':
      s.gen = { value: op.value, id };
      break;
    case 'pin':
      s.pins[op.index] = op.value;
      break;
    case 'link':
      s.link = { id };
      break;
  }
}

/** An acknowledgement line: `seq id` (id 0 when the operation made no kernel object). */
export function ackLine(seq: number, id: number): string {
  return `${seq} ${id}\n`;
}
