import { MapError } from '../errors.js';
import { Errno, SyscallError } from '../sys/errors.js';
import { mapUpdateBatch } from '../sys/bpf.js';
import { checkElemFlags, MapData, type MapSpec } from './map-data.js';
import { MapType } from './map-type.js';
import { identity, innerFd, openInner } from './of-maps.js';
import { checkIndex, checkMap, checkOptions, IndexedMap, rethrow, wrapNew, type FromMapData, type InnerMap, type TryFromOptions } from './typed-map.js';

export interface MapOfMapsCreateOptions {
  maxEntries: number;
  /** The template every inner map must match (type, key and value size, flags; max_entries too unless BPF_F_INNER_MAP). */
  innerMap: MapData | { readonly map: MapData } | MapSpec;
  flags?: number;
  name?: string;
  numaNode?: number;
}

// Whether BPF_MAP_UPDATE_BATCH works on fd arrays here; learnt on first use.
let batchSupported: boolean | undefined;

/**
 * An array of eBPF maps (BPF_MAP_TYPE_ARRAY_OF_MAPS): slot `i` refers to another map.
 *
 * Minimum kernel: 4.12 for the map type; 4.13 for `get`, which needs
 * BPF_MAP_GET_FD_BY_ID.
 *
 * `V` is what `get` returns, made by the `inner` converter (the reference page's
 * FromMapData); by default the inner map's MapData.
 */
export class ArrayOfMaps<V = MapData> extends IndexedMap {
  static readonly mapTypes: readonly MapType[] = [MapType.ArrayOfMaps];
  readonly #inner: FromMapData<V>;

  private constructor(map: MapData, inner: FromMapData<V>, owned: boolean) {
    super(map, owned, 4);
    this.#inner = inner;
  }

  /**
   * Wraps an ARRAY_OF_MAPS. MapError 'InvalidMapType' for another type,
   * 'InvalidKeySize' / 'InvalidValueSize' unless both are 4.
   */
  static tryFrom<V = MapData>(map: MapData, inner?: FromMapData<V>, options: TryFromOptions = {}): ArrayOfMaps<V> {
    checkMap(map, ArrayOfMaps.mapTypes, 'ArrayOfMaps', 4, 4);
    if (inner !== undefined && typeof inner !== 'function') throw new MapError('InvalidArgument', 'inner must be a function (map: MapData) => V');
    return new ArrayOfMaps(map, inner ?? (identity as FromMapData<V>), checkOptions(options, 'ArrayOfMaps.tryFrom').owned === true);
  }

  /** Creates an ARRAY_OF_MAPS; the returned object owns it. */
  static create<V = MapData>(options: MapOfMapsCreateOptions, inner?: FromMapData<V>): ArrayOfMaps<V> {
    const map = MapData.create({ type: MapType.ArrayOfMaps, keySize: 4, valueSize: 4, ...options });
    return wrapNew(map, () => ArrayOfMaps.tryFrom(map, inner, { owned: true }));
  }

  /** True when the array has no slots. */
  isEmpty(): boolean {
    return this.len() === 0;
  }

  /**
   * The inner map at `index`, as `V`.
   *
   * Descriptor cost: each call opens a new file descriptor, owned by the returned
   * object; close it (`close()` or `using`) rather than leaving it to the garbage
   * collector in a loop.
   *
   * Errors: MapError 'OutOfBounds' (before any syscall), 'KeyNotFound' for an empty
   * slot, 'SyscallError' naming bpf_map_lookup_elem or bpf_map_get_fd_by_id.
   */
  get(index: number, flags: number = 0): V {
    return openInner(this.getId(index, flags), this.#inner);
  }

  /** The kernel id of the inner map at `index`, without opening a descriptor. */
  getId(index: number, flags: number = 0): number {
    this.setIndex(index);
    this.lookupExisting(flags, index);
    return this.io.value.view.getUint32(0, true);
  }

  /**
   * Stores `value` (a MapData or typed map) at `index`. The caller keeps its handle;
   * the array holds its own reference. Errors: 'OutOfBounds'; 'SyscallError' naming
   * bpf_map_update_elem (EINVAL when the map does not match the template).
   */
  set(index: number, value: InnerMap, flags: number = 0): void {
    this.setIndex(index);
    this.io.value.view.setUint32(0, innerFd(value), true);
    this.updateElem(flags);
  }

  /** Empties slot `index`; MapError 'KeyNotFound' when it was empty. */
  delete(index: number): void {
    this.setIndex(index);
    this.deleteExisting(index);
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
    const keys = new Uint8Array(4 * list.length);
    const values = new Uint8Array(4 * list.length);
    const kv = new DataView(keys.buffer);
    const vv = new DataView(values.buffer);
    for (const entry of list) if (!Array.isArray(entry) || entry.length !== 2) throw new MapError('InvalidArgument', 'setMany takes [index, map] pairs');
    list.forEach(([index, map], i) => {
      checkIndex(index, this.len());
      kv.setUint32(4 * i, index, true);
      vv.setUint32(4 * i, innerFd(map), true);
    });
    if (list.length === 0) return;
    if (batchSupported !== false) {
      try {
        mapUpdateBatch(fd, keys, values, list.length, flags);
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

  /** `[index, id]` for every filled slot. */
  *entries(): IterableIterator<[number, number]> {
    for (let i = 0; i < this.len(); i++) {
      this.setIndex(i);
      if (this.lookupElem(0)) yield [i, this.io.value.view.getUint32(0, true)];
    }
  }

  [Symbol.iterator](): IterableIterator<[number, number]> {
    return this.entries();
  }

  override toString(): string {
    return `ArrayOfMaps(len ${this.len()}${this.owned ? ', owned' : ''})`;
  }
}
