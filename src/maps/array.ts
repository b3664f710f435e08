import { MapError } from '../errors.js';
import { mapLookupElem, mapUpdateElem } from '../sys/bpf.js';
import { checkFlags } from '../sys/attr.js';
import { scratch, type Codec, type Scratch } from './codec.js';
import { MapData } from './map-data.js';
import { MapType } from './map-type.js';
import { checkCodec, checkIndex, checkMap, rethrow, TypedMap, type FromMapData, type TryFromOptions } from './typed-map.js';

export interface CreateOptions {
  /** BPF_F_* flags. */
  flags?: number;
  name?: string;
  numaNode?: number;
}

/**
 * A BPF_MAP_TYPE_ARRAY: fixed size, indexed by u32, every element exists (zeroed
 * at creation). Minimum kernel 3.19.
 */
export class ArrayMap<V> extends TypedMap {
  static readonly mapTypes: readonly MapType[] = [MapType.Array];
  readonly #codec: Codec<V>;
  readonly #len: number;
  readonly #key: Scratch = scratch(4);
  readonly #value: Scratch;

  private constructor(map: MapData, codec: Codec<V>, owned: boolean) {
    super(map, owned);
    this.#codec = codec;
    this.#len = map.maxEntries;
    this.#value = scratch(codec.size);
  }

  /** Wraps `map`; MapError 'InvalidMapType' / 'InvalidKeySize' / 'InvalidValueSize' when it does not fit. */
  static tryFrom<V>(map: MapData, value: Codec<V>, options: TryFromOptions = {}): ArrayMap<V> {
    checkCodec(value, 'value codec');
    checkMap(map, ArrayMap.mapTypes, 'ArrayMap', 4, value.size);
    return new ArrayMap(map, value, options.owned === true);
  }

  /** Creates an array of `maxEntries` values; the returned ArrayMap owns it. */
  static create<V>(value: Codec<V>, maxEntries: number, options: CreateOptions = {}): ArrayMap<V> {
    checkCodec(value, 'value codec');
    const map = MapData.create({ type: MapType.Array, keySize: 4, valueSize: value.size, maxEntries, ...options });
    return new ArrayMap(map, value, true);
  }

  /** A FromMapData for maps of maps: `ArrayOfMaps.tryFrom(outer, ArrayMap.fromMapData(u32))`. */
  static fromMapData<V>(value: Codec<V>): FromMapData<ArrayMap<V>> {
    return (map) => ArrayMap.tryFrom(map, value, { owned: true });
  }

  /** max_entries. */
  len(): number {
    return this.#len;
  }

  /** The value at `index`. MapError 'OutOfBounds' past the end (no syscall). */
  get(index: number, flags: number = 0): V {
    const fd = this.map.fd;
    checkIndex(index, this.#len);
    this.#key.view.setUint32(0, index, true);
    let found: boolean;
    try {
      found = mapLookupElem(fd, this.#key.bytes, this.#value.bytes, flags);
    } catch (err) {
      rethrow(err);
    }
    if (!found) throw new MapError('KeyNotFound', `index ${index} not found`, { index });
    return this.#codec.decode(this.#value, 0);
  }

  /** Sets the value at `index`. */
  set(index: number, value: V, flags: number = 0): void {
    const fd = this.map.fd;
    checkIndex(index, this.#len);
    checkFlags(flags);
    this.#key.view.setUint32(0, index, true);
    this.#codec.encode(this.#value, 0, value);
    try {
      mapUpdateElem(fd, this.#key.bytes, this.#value.bytes, flags);
    } catch (err) {
      rethrow(err);
    }
  }

  /** `[index, value]` for every index. */
  *entries(): IterableIterator<[number, V]> {
    for (let i = 0; i < this.#len; i++) yield [i, this.get(i)];
  }

  [Symbol.iterator](): IterableIterator<[number, V]> {
    return this.entries();
  }
}
