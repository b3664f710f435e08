import { MapError } from '../errors.js';
import { Errno, SyscallError } from '../sys/errors.js';
import { mapUpdateBatch } from '../sys/bpf.js';
import { checkElemFlags, type MapData } from './map-data.js';
import { batchBuffers } from './batch.js';
import { MapType } from './map-type.js';
import { innerFd, innerMapValue, type MapOfMapsCreateOptions } from './of-maps.js';
import { checkIndex, createMap, IndexedMap, optionalLast, rethrow, tryFromMap, type FromMapData, type InnerMap, type MapKind, type TryFromOptions, type MapTyping } from './typed-map.js';

// Whether BPF_MAP_UPDATE_BATCH works on fd arrays here; learnt on first use.
let batchSupported: boolean | undefined;

/** @internal ArrayOfMaps's instance for the shape arguments of Ebpf.map (see MapTyping). */
export interface ArrayOfMapsTyping extends MapTyping {
  readonly instance: ArrayOfMaps<this['shape'] extends readonly [FromMapData<infer V>, ...unknown[]] ? V : MapData>;
}

/**
 * An array of eBPF maps (BPF_MAP_TYPE_ARRAY_OF_MAPS): slot `i` refers to another map.
 *
 * Minimum kernel: 4.12 for the map type; 4.13 for `get`, which needs
 * BPF_MAP_GET_FD_BY_ID.
 *
 * `V` is what `get` returns, made by the `convert` function (FromMapData); by
 * default the inner map's MapData. Each `get` opens a new file descriptor, owned by
 * the returned object: close it (`close()` or `using`) rather than leaving it to the
 * garbage collector in a loop. `set` stores a MapData or typed map; the caller keeps
 * its handle, the array holds its own reference (EINVAL from bpf_map_update_elem
 * when the map does not match the template). `entries()` lists inner map ids.
 */
export class ArrayOfMaps<V = MapData> extends IndexedMap<V, InnerMap, number> {
  static readonly mapTypes: readonly MapType[] = [MapType.ArrayOfMaps];
  /** @internal */
  static readonly kind: MapKind<[convert: FromMapData<unknown> | undefined], ArrayOfMaps<unknown>> = {
    name: 'ArrayOfMaps',
    types: ArrayOfMaps.mapTypes,
    shape: (convert) => ({ key: 'index', value: innerMapValue(convert) }),
    make: (map, owned, shape) => new ArrayOfMaps(map, owned, ArrayOfMaps.kind, shape),
  };

  /** @internal How Ebpf.map types the shape arguments (MapTyping). */
  declare static readonly typing?: ArrayOfMapsTyping;

  /**
   * Wraps an ARRAY_OF_MAPS. MapError 'InvalidMapType' for another type,
   * 'InvalidKeySize' / 'InvalidValueSize' unless both are 4.
   */
  static tryFrom<V = MapData>(map: MapData, convert?: FromMapData<V>, options?: TryFromOptions): ArrayOfMaps<V> {
    return tryFromMap(ArrayOfMaps.kind, map, [convert], options) as ArrayOfMaps<V>;
  }

  /** Creates an ARRAY_OF_MAPS; the returned object owns it. */
  static create(options: MapOfMapsCreateOptions): ArrayOfMaps<MapData>;
  /** Creates an ARRAY_OF_MAPS whose values `convert` turns into typed maps; the returned object owns it. */
  static create<V>(convert: FromMapData<V> | undefined, options: MapOfMapsCreateOptions): ArrayOfMaps<V>;
  static create<V>(...args: [MapOfMapsCreateOptions] | [FromMapData<V> | undefined, MapOfMapsCreateOptions]): ArrayOfMaps<V> {
    const [convert, options] = optionalLast<[FromMapData<V> | undefined, MapOfMapsCreateOptions]>(args, 1);
    return createMap(ArrayOfMaps.kind, [convert], options) as ArrayOfMaps<V>;
  }

  /** The kernel id of the inner map at `index`, without opening a descriptor. */
  getId(index: number, flags: number = 0): number {
    return this.valueAt(index, flags).view.getUint32(0, true);
  }

  /** Empties slot `index`; MapError 'KeyNotFound' when it was empty. */
  remove(index: number): void {
    this.removeIndex(index);
  }

  /**
   * Fills several slots with one BPF_MAP_UPDATE_BATCH (5.6+), so the kernel waits
   * for one RCU grace period instead of one per slot. Falls back to one update per
   * slot where the kernel lacks batch updates for this map type. All indices are
   * checked before any syscall.
   */
  setMany(entries: Iterable<readonly [number, InnerMap]>, flags: number = 0): void {
    const fd = this.map.fd;
    checkElemFlags(flags);
    if (typeof (entries as Iterable<unknown> | null)?.[Symbol.iterator] !== 'function') throw new MapError('InvalidArgument', 'setMany takes an iterable of [index, map] pairs');
    const list = [...entries];
    for (const entry of list) if (!Array.isArray(entry) || entry.length !== 2) throw new MapError('InvalidArgument', 'setMany takes [index, map] pairs');
    if (list.length === 0) return;
    // The map's own batch buffers: no allocation per call (setMany is called in loops).
    const b = batchBuffers(this.map, list.length);
    const kv = b.keys.view;
    const vv = b.values.view;
    const len = this.len();
    for (let i = 0; i < list.length; i++) {
      const [index, map] = list[i]!;
      checkIndex(index, len);
      kv.setUint32(4 * i, index, true);
      vv.setUint32(4 * i, innerFd(map), true);
    }
    if (batchSupported !== false) {
      try {
        mapUpdateBatch(fd, b.keys.bytes, b.values.bytes, list.length, flags);
        batchSupported = true;
        return;
      } catch (err) {
        // ENOTSUPP: no batch op for this map type. EINVAL before batching ever worked:
        // perhaps a kernel before 5.6 that does not know the command; the updates below
        // decide (a real EINVAL recurs there and leaves the question open).
        if (!(err instanceof SyscallError)) throw err;
        if (err.errno === Errno.ENOTSUPP) batchSupported = false;
        else if (!(err.errno === Errno.EINVAL && batchSupported === undefined)) rethrow(err);
      }
    }
    for (const [index, map] of list) this.set(index, map, flags);
    batchSupported ??= false;
  }
}
