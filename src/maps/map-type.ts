// The map type table: one row per BPF_MAP_TYPE_*, read by creation (size and
// inner-map checks), by the typed wrappers (which types they accept) and by value
// sizing (per-CPU, fd-valued). Add a row here, not a switch elsewhere.

import {
  arrayMemory,
  bloomMemory,
  devmapHashMemory,
  hashMemory,
  hashOfMapsMemory,
  type MemoryEstimate,
  pointerArrayMemory,
  queueMemory,
  ringMemory,
  sockhashMemory,
  stackTraceMemory,
  valueMemory,
} from './map-memory.js';
import { MapType, mapTypeNames } from '../sys/abi/enums.js';

// enum bpf_map_type, generated from the kernel's BTF.
export { MapType };

/** What user space writes into an element, when it is not plain bytes. */
export type FdValue = 'map' | 'prog' | 'perf' | 'sock' | 'cgroup' | 'xsk' | 'dev' | 'cpu';

/**
 * What tsbpf knows about a map type: its kernel name, the kernel version it arrived in, fixed
 * key and value sizes, whether it is per-CPU, holds file descriptors or needs an inner map.
 */
export interface MapTypeInfo {
  readonly type: MapType;
  /** The kernel's name: 'BPF_MAP_TYPE_ARRAY'. */
  readonly kernelName: string;
  /** key_size the kernel requires, when fixed. */
  readonly keySize?: number;
  /** value_size values the kernel accepts, when restricted. */
  readonly valueSizes?: readonly number[];
  /** Values are one slot per possible CPU, each rounded up to 8 bytes. */
  readonly perCpu?: boolean;
  /** Values are written as a file descriptor (or index) and read back as an id. */
  readonly fdValue?: FdValue;
  /** Creation needs inner_map_fd (map-in-map). */
  readonly needsInnerMap?: boolean;
  /** First kernel with this map type. */
  readonly since: string;
}

/** What creating a map of a type costs the kernel: read by MapData.create's size checks. @internal */
export interface CreationCost {
  /** An array indexed by key (array_map_alloc and its fd-array users): at most 2^31 entries. */
  readonly indexed?: boolean;
  /** Bytes the kernel allocates at creation, at least (a type without it: 0). */
  readonly memory?: MemoryEstimate;
}

type Row = Omit<MapTypeInfo, 'type' | 'kernelName'> & CreationCost;

const rows: Record<keyof typeof MapType & string, Row> = {
  Unspec: { since: '3.18' },
  Hash: { memory: hashMemory(false, false), since: '3.19' },
  Array: { keySize: 4, indexed: true, memory: arrayMemory(false), since: '3.19' },
  ProgArray: { keySize: 4, valueSizes: [4], fdValue: 'prog', indexed: true, memory: pointerArrayMemory, since: '4.2' },
  PerfEventArray: { keySize: 4, valueSizes: [4], fdValue: 'perf', indexed: true, memory: pointerArrayMemory, since: '4.3' },
  PercpuHash: { perCpu: true, memory: hashMemory(true, false), since: '4.6' },
  PercpuArray: { keySize: 4, perCpu: true, indexed: true, memory: arrayMemory(true), since: '4.6' },
  StackTrace: { keySize: 4, memory: stackTraceMemory, since: '4.6' },
  CgroupArray: { keySize: 4, valueSizes: [4], fdValue: 'cgroup', indexed: true, memory: pointerArrayMemory, since: '4.8' },
  LruHash: { memory: hashMemory(false, true), since: '4.10' },
  LruPercpuHash: { perCpu: true, memory: hashMemory(true, true), since: '4.10' },
  LpmTrie: { since: '4.11' }, // BPF_F_NO_PREALLOC only: nodes are allocated per element
  ArrayOfMaps: { keySize: 4, valueSizes: [4], fdValue: 'map', needsInnerMap: true, indexed: true, memory: pointerArrayMemory, since: '4.12' },
  HashOfMaps: { valueSizes: [4], fdValue: 'map', needsInnerMap: true, memory: hashOfMapsMemory, since: '4.12' },
  Devmap: { keySize: 4, valueSizes: [4, 8], fdValue: 'dev', memory: pointerArrayMemory, since: '4.14' },
  Sockmap: { keySize: 4, valueSizes: [4, 8], fdValue: 'sock', memory: pointerArrayMemory, since: '4.14' },
  Cpumap: { keySize: 4, valueSizes: [4, 8], fdValue: 'cpu', memory: pointerArrayMemory, since: '4.15' },
  Xskmap: { keySize: 4, valueSizes: [4], fdValue: 'xsk', memory: pointerArrayMemory, since: '4.18' },
  Sockhash: { valueSizes: [4, 8], fdValue: 'sock', memory: sockhashMemory, since: '4.18' },
  CgroupStorage: { since: '4.19' },
  ReuseportSockarray: { keySize: 4, valueSizes: [4, 8], fdValue: 'sock', memory: pointerArrayMemory, since: '4.19' },
  PercpuCgroupStorage: { perCpu: true, since: '4.20' },
  Queue: { keySize: 0, memory: queueMemory, since: '4.20' },
  Stack: { keySize: 0, memory: queueMemory, since: '4.20' },
  SkStorage: { keySize: 4, since: '5.2' },
  DevmapHash: { keySize: 4, valueSizes: [4, 8], fdValue: 'dev', memory: devmapHashMemory, since: '5.4' },
  StructOps: { keySize: 4, memory: valueMemory, since: '5.6' },
  Ringbuf: { keySize: 0, valueSizes: [0], memory: ringMemory, since: '5.8' },
  InodeStorage: { keySize: 4, since: '5.10' },
  TaskStorage: { keySize: 4, since: '5.11' },
  BloomFilter: { keySize: 0, memory: bloomMemory, since: '5.16' },
  UserRingbuf: { keySize: 0, valueSizes: [0], memory: ringMemory, since: '6.1' },
  CgrpStorage: { keySize: 4, since: '6.2' },
  Arena: { keySize: 0, valueSizes: [0], since: '6.9' }, // pages are allocated when touched
};

const table: MapTypeInfo[] = [];
const costs: CreationCost[] = [];
for (const [name, { indexed, memory, ...row }] of Object.entries(rows) as [keyof typeof MapType & string, Row][]) {
  table[MapType[name]] = Object.freeze({ type: MapType[name], kernelName: mapTypeNames[MapType[name]]!, ...row });
  costs[MapType[name]] = { indexed, memory };
}

/** The creation cost columns of `type`'s row (empty for a type newer than this table). @internal */
export function mapCreationCost(type: number): CreationCost {
  return costs[type] ?? {};
}

/** The table row of `type`, or undefined for a type newer than this table. */
export function mapTypeInfo(type: number): MapTypeInfo | undefined {
  return table[type];
}

export { mapTypeName } from '../sys/names.js';
