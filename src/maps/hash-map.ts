import { MapError } from '../errors.js';
import { checkFlags } from '../sys/attr.js';
import { mapDeleteElem, mapLookupElem, mapUpdateElem } from '../sys/bpf.js';
import { scratch, type Codec, type Scratch } from './codec.js';
import type { CreateOptions } from './array.js';
import { keyCursor } from './keys.js';
import { MapData } from './map-data.js';
import { MapType } from './map-type.js';
import { checkCodec, checkMap, rethrow, TypedMap, type FromMapData, type TryFromOptions } from './typed-map.js';

/**
 * A BPF_MAP_TYPE_HASH (3.19) or BPF_MAP_TYPE_LRU_HASH (4.10): keys of a fixed size
 * mapped to values of a fixed size.
 */
export class HashMap<K, V> extends TypedMap {
  static readonly mapTypes: readonly MapType[] = [MapType.Hash, MapType.LruHash];
  readonly #keyCodec: Codec<K>;
  readonly #valueCodec: Codec<V>;
  readonly #key: Scratch;
  readonly #value: Scratch;

  private constructor(map: MapData, key: Codec<K>, value: Codec<V>, owned: boolean) {
    super(map, owned);
    this.#keyCodec = key;
    this.#valueCodec = value;
    this.#key = scratch(key.size);
    this.#value = scratch(value.size);
  }

  static tryFrom<K, V>(map: MapData, key: Codec<K>, value: Codec<V>, options: TryFromOptions = {}): HashMap<K, V> {
    checkCodec(key, 'key codec');
    checkCodec(value, 'value codec');
    checkMap(map, HashMap.mapTypes, 'HashMap', key.size, value.size);
    return new HashMap(map, key, value, options.owned === true);
  }

  /** Creates a hash map (type Hash unless `options.type` is LruHash); the returned HashMap owns it. */
  static create<K, V>(key: Codec<K>, value: Codec<V>, maxEntries: number, options: CreateOptions & { type?: MapType } = {}): HashMap<K, V> {
    checkCodec(key, 'key codec');
    checkCodec(value, 'value codec');
    const { type = MapType.Hash, ...rest } = options;
    const map = MapData.create({ type, keySize: key.size, valueSize: value.size, maxEntries, ...rest });
    try {
      return HashMap.tryFrom(map, key, value, { owned: true });
    } catch (err) {
      map.close();
      throw err;
    }
  }

  static fromMapData<K, V>(key: Codec<K>, value: Codec<V>): FromMapData<HashMap<K, V>> {
    return (map) => HashMap.tryFrom(map, key, value, { owned: true });
  }

  /** The value of `key`; MapError 'KeyNotFound' when absent. */
  get(key: K, flags: number = 0): V {
    const fd = this.map.fd;
    this.#keyCodec.encode(this.#key, 0, key);
    let found: boolean;
    try {
      found = mapLookupElem(fd, this.#key.bytes, this.#value.bytes, flags);
    } catch (err) {
      rethrow(err);
    }
    if (!found) throw new MapError('KeyNotFound', 'key not found');
    return this.#valueCodec.decode(this.#value, 0);
  }

  /** Inserts or updates `key` (flags: BPF_ANY, BPF_NOEXIST, BPF_EXIST). */
  insert(key: K, value: V, flags: number = 0): void {
    const fd = this.map.fd;
    checkFlags(flags);
    this.#keyCodec.encode(this.#key, 0, key);
    this.#valueCodec.encode(this.#value, 0, value);
    try {
      mapUpdateElem(fd, this.#key.bytes, this.#value.bytes, flags);
    } catch (err) {
      rethrow(err);
    }
  }

  /** Removes `key`; MapError 'KeyNotFound' when absent. */
  remove(key: K): void {
    const fd = this.map.fd;
    this.#keyCodec.encode(this.#key, 0, key);
    let found: boolean;
    try {
      found = mapDeleteElem(fd, this.#key.bytes);
    } catch (err) {
      rethrow(err);
    }
    if (!found) throw new MapError('KeyNotFound', 'key not found');
  }

  *keys(): IterableIterator<K> {
    for (const raw of keyCursor(this.map)) yield this.#keyCodec.decode(raw, 0);
  }

  /** `[key, value]` pairs; a key removed during the walk is skipped. */
  *entries(): IterableIterator<[K, V]> {
    const value = scratch(this.#valueCodec.size);
    for (const raw of keyCursor(this.map)) {
      let found: boolean;
      try {
        found = mapLookupElem(this.map.fd, raw.bytes, value.bytes, 0);
      } catch (err) {
        rethrow(err);
      }
      if (found) yield [this.#keyCodec.decode(raw, 0), this.#valueCodec.decode(value, 0)];
    }
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }
}
