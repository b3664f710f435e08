import type { Codec } from './codec.js';
import type { MapOfMapsCreateOptions } from './array-of-maps.js';
import { MapData } from './map-data.js';
import { MapType } from './map-type.js';
import { identity, innerFd, openInner } from './of-maps.js';
import { MapError } from '../errors.js';
import { checkCodec, checkMap, checkOptions, KeyedMap, wrapNew, type FromMapData, type InnerMap, type TryFromOptions } from './typed-map.js';

/**
 * A hash of eBPF maps (BPF_MAP_TYPE_HASH_OF_MAPS): keys map to other maps.
 * Minimum kernel 4.12; `get` needs 4.13 (BPF_MAP_GET_FD_BY_ID).
 */
export class HashOfMaps<K, V = MapData> extends KeyedMap<K> {
  static readonly mapTypes: readonly MapType[] = [MapType.HashOfMaps];
  readonly #inner: FromMapData<V>;

  private constructor(map: MapData, key: Codec<K>, inner: FromMapData<V>, owned: boolean) {
    super(map, key, owned, 4);
    this.#inner = inner;
  }

  static tryFrom<K, V = MapData>(map: MapData, key: Codec<K>, inner?: FromMapData<V>, options: TryFromOptions = {}): HashOfMaps<K, V> {
    checkCodec(key, 'key codec');
    checkMap(map, HashOfMaps.mapTypes, 'HashOfMaps', key.size, 4);
    if (inner !== undefined && typeof inner !== 'function') throw new MapError('InvalidArgument', 'inner must be a function (map: MapData) => V');
    return new HashOfMaps(map, key, inner ?? (identity as FromMapData<V>), checkOptions(options, 'HashOfMaps.tryFrom').owned === true);
  }

  /** Creates a HASH_OF_MAPS; the returned object owns it. */
  static create<K, V = MapData>(key: Codec<K>, options: MapOfMapsCreateOptions, inner?: FromMapData<V>): HashOfMaps<K, V> {
    checkCodec(key, 'key codec');
    const map = MapData.create({ type: MapType.HashOfMaps, keySize: key.size, valueSize: 4, ...options });
    return wrapNew(map, () => HashOfMaps.tryFrom(map, key, inner, { owned: true }));
  }

  /** The inner map of `key` as `V`; opens a new descriptor owned by the result (see ArrayOfMaps.get). */
  get(key: K, flags: number = 0): V {
    return openInner(this.getId(key, flags), this.#inner);
  }

  /** The kernel id of the inner map of `key`, without opening a descriptor. */
  getId(key: K, flags: number = 0): number {
    this.setKey(key);
    this.lookupExisting(flags);
    return this.io.value.view.getUint32(0, true);
  }

  /** Stores `value` (a MapData or typed map) under `key` (flags: BPF_ANY, BPF_NOEXIST, BPF_EXIST). */
  insert(key: K, value: InnerMap, flags: number = 0): void {
    this.setKey(key);
    this.io.value.view.setUint32(0, innerFd(value), true);
    this.updateElem(flags);
  }

  /** `[key, id]` pairs. */
  *entries(): IterableIterator<[K, number]> {
    for (const [key, value] of this.rawEntries(4)) yield [key, value.view.getUint32(0, true)];
  }

  [Symbol.iterator](): IterableIterator<[K, number]> {
    return this.entries();
  }
}
