// Device and CPU maps of XDP redirects: the value names a target (an ifindex, a CPU's
// queue size) and, in its 8-byte form, a program run on each frame redirected there
// (struct bpf_devmap_val / bpf_cpumap_val: the program's fd written, its id read back).
import { MapError } from '../errors.js';
import { describeValue } from '../describe.js';
import type { Scratch } from '../sys/scratch.js';
import type { MapData } from './map-data.js';
import { MapType } from './map-type.js';
import { programFd, type ProgramLike } from './prog-array.js';
import { createMap, IndexedMap, KeyedMap, tryFromMap, type MapCreateOptions, type MapKind, type TryFromOptions, type ValueCodec } from './typed-map.js';
import { u32 } from '../codec/index.js';

/** The create options of DevMap, DevMapHash and CpuMap. */
export interface TargetMapCreateOptions extends MapCreateOptions {
  /** 8 (default): the value carries a program (5.8 devmaps, 5.9 cpumaps); 4: the target alone. */
  valueSize?: 4 | 8;
}

/** What DevMap and DevMapHash store: an ifindex, and a program (SEC("xdp/devmap")) run on the frames sent there. */
export interface DevMapValue {
  ifindex: number;
  /** Only in maps with 8-byte values. */
  program?: ProgramLike;
}

/** What DevMap and DevMapHash read back: the ifindex and the id of the slot's program (0: none, or a 4-byte map). */
export interface DevMapEntry {
  ifindex: number;
  programId: number;
}

/** What CpuMap stores: the size of the CPU's queue of frames, and a program (SEC("xdp/cpumap")) run on that CPU. */
export interface CpuMapValue {
  qsize: number;
  /** Only in maps with 8-byte values. */
  program?: ProgramLike;
}

/** What CpuMap reads back: the queue size and the id of the slot's program (0: none, or a 4-byte map). */
export interface CpuMapEntry {
  qsize: number;
  programId: number;
}

function u32Arg(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new MapError('InvalidArgument', `${what} must be an integer in [0, 2^32), got ${describeValue(value)}`);
  }
  return value;
}

/** A { first, program } value (or the bare first field) as 4 or 8 bytes, as wide as the map's values. */
function targetValue<In extends object, Out>(first: string, make: (target: number, programId: number) => Out): ValueCodec<Out, In | number> {
  return {
    encode(s: Scratch, offset: number, value: In | number) {
      const wide = s.bytes.length - offset === 8;
      let target: number;
      let program: ProgramLike | undefined;
      if (typeof value === 'number') target = u32Arg(value, first);
      else if (typeof value === 'object' && value !== null) {
        target = u32Arg((value as Record<string, unknown>)[first], first);
        program = (value as { program?: ProgramLike }).program;
      } else throw new MapError('InvalidArgument', `expected a number or { ${first}, program? }, got ${describeValue(value)}`);
      const fd = program === undefined ? 0 : programFd(program);
      if (program !== undefined && !wide) throw new MapError('InvalidArgument', 'a program needs a map with 8-byte values (valueSize: 8)');
      s.view.setUint32(offset, target, true);
      // No program: -1 (the kernel takes any fd <= 0 as none; 0 would read as stdin elsewhere).
      if (wide) s.view.setInt32(offset + 4, program === undefined ? -1 : fd, true);
    },
    decode: (s, offset) => make(s.view.getUint32(offset, true), s.bytes.length - offset === 8 ? s.view.getUint32(offset + 4, true) : 0),
  };
}

const devValue = targetValue<DevMapValue, DevMapEntry>('ifindex', (ifindex, programId) => ({ ifindex, programId }));
const cpuValue = targetValue<CpuMapValue, CpuMapEntry>('qsize', (qsize, programId) => ({ qsize, programId }));
const valueSizeSpec = (options: TargetMapCreateOptions) => ({ valueSize: options.valueSize ?? 8 });

/**
 * A BPF_MAP_TYPE_DEVMAP (4.14; values with a program 5.8): network devices by u32
 * index, the targets of `bpf_redirect_map` in XDP programs. `set(index, ifindex)` or
 * `set(index, { ifindex, program })` (a program loaded from SEC("xdp/devmap"), run on
 * each frame before it is sent); `get` returns `{ ifindex, programId }`.
 */
export class DevMap extends IndexedMap<DevMapEntry, DevMapValue | number> {
  static readonly mapTypes: readonly MapType[] = [MapType.Devmap];
  /** @internal */
  static readonly kind: MapKind<[], DevMap> = {
    name: 'DevMap',
    types: DevMap.mapTypes,
    createSpec: valueSizeSpec,
    shape: () => ({ key: 'index', value: devValue }),
    make: (map, owned, shape) => new DevMap(map, owned, DevMap.kind, shape),
  };

  /**
   * A typed view of an existing map: MapError `InvalidMapType` for a map of another type, `InvalidKeySize`
   * / `InvalidValueSize` when the codecs do not fit, `Closed` for a closed MapData. `owned: true` hands
   * the MapData over.
   */
  static tryFrom(map: MapData, options?: TryFromOptions): DevMap {
    return tryFromMap(DevMap.kind, map, [], options);
  }

  /**
   * Creates a new map of this class, owned by the result (close() closes it); `NotSupported` where the
   * kernel lacks the map type.
   */
  static create(options: TargetMapCreateOptions): DevMap {
    return createMap(DevMap.kind, [], options);
  }

  /** Empties slot `index`. An empty slot is no error: the kernel's delete does not tell. */
  remove(index: number): void {
    this.removeIndex(index);
  }
}

/**
 * A BPF_MAP_TYPE_DEVMAP_HASH (5.4): network devices by any u32 key (the ifindex
 * itself, say), for sparse sets of targets. Values as DevMap.
 */
export class DevMapHash extends KeyedMap<number, DevMapEntry, DevMapValue | number> {
  static readonly mapTypes: readonly MapType[] = [MapType.DevmapHash];
  /** @internal */
  static readonly kind: MapKind<[], DevMapHash> = {
    name: 'DevMapHash',
    types: DevMapHash.mapTypes,
    createSpec: valueSizeSpec,
    shape: () => ({ key: u32, value: devValue }),
    make: (map, owned, shape) => new DevMapHash(map, owned, DevMapHash.kind, shape),
  };

  /**
   * A typed view of an existing map: MapError `InvalidMapType` for a map of another type, `InvalidKeySize`
   * / `InvalidValueSize` when the codecs do not fit, `Closed` for a closed MapData. `owned: true` hands
   * the MapData over.
   */
  static tryFrom(map: MapData, options?: TryFromOptions): DevMapHash {
    return tryFromMap(DevMapHash.kind, map, [], options);
  }

  /**
   * Creates a new map of this class, owned by the result (close() closes it); `NotSupported` where the
   * kernel lacks the map type.
   */
  static create(options: TargetMapCreateOptions): DevMapHash {
    return createMap(DevMapHash.kind, [], options);
  }
}

/**
 * A BPF_MAP_TYPE_CPUMAP (4.15; values with a program 5.9): CPUs by index, the targets
 * of `bpf_redirect_map` that move a frame's processing (skb building, the stack) to
 * another CPU. `set(cpu, qsize)` or `set(cpu, { qsize, program })` (a program loaded
 * from SEC("xdp/cpumap"), run on that CPU); `get` returns `{ qsize, programId }`.
 * max_entries is at most the number of possible CPUs' bound (NR_CPUS).
 */
export class CpuMap extends IndexedMap<CpuMapEntry, CpuMapValue | number> {
  static readonly mapTypes: readonly MapType[] = [MapType.Cpumap];
  /** @internal */
  static readonly kind: MapKind<[], CpuMap> = {
    name: 'CpuMap',
    types: CpuMap.mapTypes,
    createSpec: valueSizeSpec,
    shape: () => ({ key: 'index', value: cpuValue }),
    make: (map, owned, shape) => new CpuMap(map, owned, CpuMap.kind, shape),
  };

  /**
   * A typed view of an existing map: MapError `InvalidMapType` for a map of another type, `InvalidKeySize`
   * / `InvalidValueSize` when the codecs do not fit, `Closed` for a closed MapData. `owned: true` hands
   * the MapData over.
   */
  static tryFrom(map: MapData, options?: TryFromOptions): CpuMap {
    return tryFromMap(CpuMap.kind, map, [], options);
  }

  /**
   * Creates a new map of this class, owned by the result (close() closes it); `NotSupported` where the
   * kernel lacks the map type.
   */
  static create(options: TargetMapCreateOptions): CpuMap {
    return createMap(CpuMap.kind, [], options);
  }

  /** Empties slot `cpu` (stops its kthread). An empty slot is no error: the kernel's delete does not tell. */
  remove(cpu: number): void {
    this.removeIndex(cpu);
  }
}
