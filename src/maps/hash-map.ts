import type { Codec } from './codec.js';
import type { CreateOptions } from './array.js';
import { MapData } from './map-data.js';
import { MapType } from './map-type.js';
import { wrapNew, checkCodec, checkMap, checkOptions, codecError, KeyedMap, type FromMapData, type TryFromOptions } from './typed-map.js';

/**
 * A BPF_MAP_TYPE_HASH (3.19) or BPF_MAP_TYPE_LRU_HASH (4.10): keys of a fixed size
 * mapped to values of a fixed size.
 */
export class HashMap<K, V> extends KeyedMap<K> {
  static readonly mapTypes: readonly MapType[] = [MapType.Hash, MapType.LruHash];
  readonly #valueCodec: Codec<V>;

  private constructor(map: MapData, key: Codec<K>, value: Codec<V>, owned: boolean) {
    super(map, key, owned, value.size);
    this.#valueCodec = value;
  }

  static tryFrom<K, V>(map: MapData, key: Codec<K>, value: Codec<V>, options: TryFromOptions = {}): HashMap<K, V> {
    checkCodec(key, 'key codec');
    checkCodec(value, 'value codec');
    checkMap(map, HashMap.mapTypes, 'HashMap', key.size, value.size);
    return new HashMap(map, key, value, checkOptions(options, 'HashMap.tryFrom').owned === true);
  }

  /** Creates a hash map (type Hash unless `options.type` is LruHash); the returned HashMap owns it. */
  static create<K, V>(key: Codec<K>, value: Codec<V>, maxEntries: number, options: CreateOptions & { type?: MapType } = {}): HashMap<K, V> {
    checkCodec(key, 'key codec');
    checkCodec(value, 'value codec');
    const { type = MapType.Hash, ...rest } = checkOptions(options, 'HashMap.create');
    const map = MapData.create({ type, keySize: key.size, valueSize: value.size, maxEntries, ...rest });
    return wrapNew(map, () => HashMap.tryFrom(map, key, value, { owned: true }));
  }

  static fromMapData<K, V>(key: Codec<K>, value: Codec<V>): FromMapData<HashMap<K, V>> {
    return (map) => HashMap.tryFrom(map, key, value, { owned: true });
  }

  /** The value of `key`; MapError 'KeyNotFound' when absent. */
  get(key: K, flags: number = 0): V {
    this.setKey(key);
    this.lookupExisting(flags);
    return this.#valueCodec.decode(this.io.value, 0);
  }

  /** Inserts or updates `key` (flags: BPF_ANY, BPF_NOEXIST, BPF_EXIST). */
  insert(key: K, value: V, flags: number = 0): void {
    this.setKey(key);
    try {
      this.#valueCodec.encode(this.io.value, 0, value);
    } catch (err) {
      throw codecError(err, 'value');
    }
    this.updateElem(flags);
  }

  /** `[key, value]` pairs; a key removed during the walk is skipped. */
  *entries(): IterableIterator<[K, V]> {
    for (const [key, value] of this.rawEntries(this.#valueCodec.size)) yield [key, this.#valueCodec.decode(value, 0)];
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }
}
