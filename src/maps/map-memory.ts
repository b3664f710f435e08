// What BPF_MAP_CREATE makes the kernel allocate at once: estimates from the kernel's own
// layouts (kernel/bpf/arraymap.c, hashtab.c, ...) that the map type table (map-type.ts)
// assigns per type, so that a map that cannot fit in memory is refused before the kernel
// tries (a PROG_ARRAY of 2^31 entries is a 16 GiB vmalloc). Types whose memory comes later
// (per element, or per page touched) count only what creation allocates.
import { readFileSync } from 'node:fs';
import { freemem } from 'node:os';

export interface MapSize {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  mapExtra: bigint;
}

const BPF_F_NO_PREALLOC = 1;
/** sizeof(struct htab_elem) before the key (x86-64). */
const HTAB_ELEM = 48;
/** sizeof(struct bucket): a list head and a lock. */
const HTAB_BUCKET = 16;
const POINTER = 8;

const round8 = (n: number): number => Math.ceil(n / 8) * 8;

/** roundup_pow_of_two, for n up to 2^32. */
function pow2(n: number): number {
  return n <= 1 ? 1 : 2 ** (32 - Math.clz32(n - 1));
}

/** Bytes the kernel allocates when it creates a map of one type, at least: a column of the map type table. */
export type MemoryEstimate = (m: MapSize, cpus: number) => number;

/** Plain arrays: one 8-aligned value per entry, per CPU for the per-CPU kind (plus a pointer each). */
export const arrayMemory = (perCpu: boolean): MemoryEstimate => (m, cpus) =>
  perCpu ? m.maxEntries * (POINTER + round8(m.valueSize) * cpus) : m.maxEntries * round8(m.valueSize);

/** Arrays of pointers (fd arrays, devmap, sockmap, cpumap, xskmap, reuseport): 8 bytes an entry. */
export const pointerArrayMemory: MemoryEstimate = (m) => m.maxEntries * POINTER;

/** Hash tables: the buckets always; the elements too unless BPF_F_NO_PREALLOC (LRU maps always preallocate). */
export const hashMemory = (perCpu: boolean, lru: boolean): MemoryEstimate => (m, cpus) => {
  const buckets = pow2(m.maxEntries) * HTAB_BUCKET;
  if (!lru && m.flags & BPF_F_NO_PREALLOC) return buckets;
  const value = perCpu ? POINTER + round8(m.valueSize) * cpus : round8(m.valueSize);
  return buckets + m.maxEntries * (HTAB_ELEM + round8(m.keySize) + value);
};

/** Hash of maps: a hash table of 8-byte map pointers. */
export const hashOfMapsMemory: MemoryEstimate = (m, cpus) => hashMemory(false, false)({ ...m, valueSize: 8 }, cpus);

/** Stack traces: the buckets (a pointer each, rounded up to a power of two) and the preallocated stacks. */
export const stackTraceMemory: MemoryEstimate = (m) => pow2(m.maxEntries) * POINTER + m.maxEntries * m.valueSize;

/** Sockhash: its buckets (a list head and a lock each) only. */
export const sockhashMemory: MemoryEstimate = (m) => pow2(m.maxEntries) * HTAB_BUCKET;

/** Devmap hash: its buckets (a pointer each) only. */
export const devmapHashMemory: MemoryEstimate = (m) => pow2(m.maxEntries) * POINTER;

/** Queue and stack: one slot more than max_entries. */
export const queueMemory: MemoryEstimate = (m) => (m.maxEntries + 1) * m.valueSize;

/** Ring buffers: the data pages (max_entries bytes). */
export const ringMemory: MemoryEstimate = (m) => m.maxEntries;

/** struct_ops: the kernel value. */
export const valueMemory: MemoryEstimate = (m) => m.valueSize;

/** Bloom filter: max_entries * hash functions * 7/5 bits, a power of two, at most 2^32 bits. */
export const bloomMemory: MemoryEstimate = (m) => {
  const hashes = Number(m.mapExtra & 0xfn) || 5;
  const bits = Math.floor((m.maxEntries * hashes) / 5) * 7;
  return bits > 2 ** 31 ? 2 ** 29 : Math.max(64, pow2(bits)) / 8;
};

/** Array maps index with a mask of max_entries rounded up to a power of two: past 2^31 it overflows u32. */
export const ARRAY_MAX_ENTRIES = 2 ** 31;

/**
 * The memory a new map can take now: what the machine has available (MemAvailable),
 * or less when this process's memory cgroup (v2 memory.max, v1 memory.limit_in_bytes,
 * or an ancestor's) leaves less room, since BPF maps are charged to it.
 */
export function memoryForMaps(): number {
  return Math.min(freemem(), cgroupRoom());
}

/** The smallest limit-less-usage over this process's memory cgroup and its ancestors; Infinity when none is known. */
function cgroupRoom(): number {
  let text: string;
  try {
    text = readFileSync('/proc/self/cgroup', 'utf8');
  } catch {
    return Infinity;
  }
  let room = Infinity;
  for (const line of text.split('\n')) {
    const [, controllers, path] = line.split(':', 3) as [string, string | undefined, string | undefined];
    if (path === undefined || controllers === undefined || !path.startsWith('/')) continue;
    const v2 = controllers === '';
    if (!v2 && !controllers.split(',').includes('memory')) continue;
    for (let dir = path; ; dir = dir.slice(0, dir.lastIndexOf('/')) || '/') {
      const base = v2 ? `/sys/fs/cgroup${dir === '/' ? '' : dir}` : `/sys/fs/cgroup/memory${dir === '/' ? '' : dir}`;
      const limit = readNumber(`${base}/${v2 ? 'memory.max' : 'memory.limit_in_bytes'}`);
      const usage = readNumber(`${base}/${v2 ? 'memory.current' : 'memory.usage_in_bytes'}`);
      if (limit !== undefined) room = Math.min(room, Math.max(0, limit - (usage ?? 0)));
      if (dir === '/') break;
    }
  }
  return room;
}

/** A number file of cgroupfs; undefined when missing or not a number ('max'). */
function readNumber(file: string): number | undefined {
  try {
    const value = Number(readFileSync(file, 'utf8').trim());
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
