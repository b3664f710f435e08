// What BPF_MAP_CREATE makes the kernel allocate at once, by map type: a lower bound
// from the kernel's own layouts (kernel/bpf/arraymap.c, hashtab.c, ...), so that a map
// that cannot fit in memory is refused before the kernel tries (a PROG_ARRAY of 2^31
// entries is a 16 GiB vmalloc). Types whose memory comes later (per element, or per
// page touched) count only what creation allocates.
import { readFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { MapType } from './map-type.js';

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

/** Plain arrays: one 8-aligned value per entry, per CPU for the per-CPU kind (plus a pointer each). */
const array = (m: MapSize, cpus: number, perCpu: boolean): number =>
  perCpu ? m.maxEntries * (POINTER + round8(m.valueSize) * cpus) : m.maxEntries * round8(m.valueSize);

/** Arrays of pointers (fd arrays, devmap, sockmap, cpumap, xskmap, reuseport): 8 bytes an entry. */
const pointers = (m: MapSize): number => m.maxEntries * POINTER;

/** Hash tables: the buckets always; the elements too unless BPF_F_NO_PREALLOC (LRU maps always preallocate). */
function hash(m: MapSize, cpus: number, perCpu: boolean, lru: boolean): number {
  const buckets = pow2(m.maxEntries) * HTAB_BUCKET;
  if (!lru && m.flags & BPF_F_NO_PREALLOC) return buckets;
  const value = perCpu ? POINTER + round8(m.valueSize) * cpus : round8(m.valueSize);
  return buckets + m.maxEntries * (HTAB_ELEM + round8(m.keySize) + value);
}

/** Bloom filter: max_entries * hash functions * 7/5 bits, a power of two, at most 2^32 bits. */
function bloom(m: MapSize): number {
  const hashes = Number(m.mapExtra & 0xfn) || 5;
  const bits = Math.floor((m.maxEntries * hashes) / 5) * 7;
  return bits > 2 ** 31 ? 2 ** 29 : Math.max(64, pow2(bits)) / 8;
}

type Estimate = (m: MapSize, cpus: number) => number;

const none: Estimate = () => 0;

/** By map type: bytes allocated at creation, at least. */
const estimates: Record<keyof typeof MapType, Estimate> = {
  Unspec: none,
  Hash: (m, cpus) => hash(m, cpus, false, false),
  Array: (m, cpus) => array(m, cpus, false),
  ProgArray: pointers,
  PerfEventArray: pointers,
  PercpuHash: (m, cpus) => hash(m, cpus, true, false),
  PercpuArray: (m, cpus) => array(m, cpus, true),
  // The buckets (a pointer each, rounded up to a power of two) and the preallocated stacks.
  StackTrace: (m) => pow2(m.maxEntries) * POINTER + m.maxEntries * m.valueSize,
  CgroupArray: pointers,
  LruHash: (m, cpus) => hash(m, cpus, false, true),
  LruPercpuHash: (m, cpus) => hash(m, cpus, true, true),
  LpmTrie: none, // BPF_F_NO_PREALLOC only: nodes are allocated per element
  ArrayOfMaps: pointers,
  HashOfMaps: (m, cpus) => hash({ ...m, valueSize: 8 }, cpus, false, false),
  Devmap: pointers,
  Sockmap: pointers,
  Cpumap: pointers,
  Xskmap: pointers,
  Sockhash: (m) => pow2(m.maxEntries) * HTAB_BUCKET,
  CgroupStorage: none,
  ReuseportSockarray: pointers,
  PercpuCgroupStorage: none,
  Queue: (m) => (m.maxEntries + 1) * m.valueSize,
  Stack: (m) => (m.maxEntries + 1) * m.valueSize,
  SkStorage: none,
  DevmapHash: (m) => pow2(m.maxEntries) * POINTER,
  StructOps: (m) => m.valueSize,
  Ringbuf: (m) => m.maxEntries,
  InodeStorage: none,
  TaskStorage: none,
  BloomFilter: bloom,
  UserRingbuf: (m) => m.maxEntries,
  CgrpStorage: none,
  Arena: none, // pages are allocated when touched
};

const byType: Estimate[] = [];
for (const [name, estimate] of Object.entries(estimates)) byType[MapType[name as keyof typeof MapType]] = estimate;

/** Bytes the kernel allocates when it creates this map, at least (0 for a type this table does not know). */
export function mapMemory(m: MapSize, cpus: number): number {
  return byType[m.type]?.(m, cpus) ?? 0;
}

/** Array maps index with a mask of max_entries rounded up to a power of two: past 2^31 it overflows u32. */
export const ARRAY_MAX_ENTRIES = 2 ** 31;

/** Map types that are arrays indexed by key (the kernel's array_map_alloc and its fd-array users). */
export const ARRAY_TYPES: ReadonlySet<number> = new Set([
  MapType.Array,
  MapType.PercpuArray,
  MapType.ProgArray,
  MapType.PerfEventArray,
  MapType.CgroupArray,
  MapType.ArrayOfMaps,
]);

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
