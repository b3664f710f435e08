import type { Codec } from './codec.js';
import { MapData } from './map-data.js';
import { MapType } from './map-type.js';
import { checkCodec, checkMap, checkOptions, codecError, IndexedMap, type FromMapData, type TryFromOptions } from './typed-map.js';

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
export class ArrayMap<V> extends IndexedMap {
  static readonly mapTypes: readonly MapType[] = [MapType.Array];
  readonly #codec: Codec<V>;

  private constructor(map: MapData, codec: Codec<V>, owned: boolean) {
    super(map, owned, codec.size);
    this.#codec = codec;
  }

  /** Wraps `map`; MapError 'InvalidMapType' / 'InvalidKeySize' / 'InvalidValueSize' when it does not fit. */
  static tryFrom<V>(map: MapData, value: Codec<V>, options: TryFromOptions = {}): ArrayMap<V> {
    checkCodec(value, 'value codec');
    checkMap(map, ArrayMap.mapTypes, 'ArrayMap', 4, value.size);
    return new ArrayMap(map, value, checkOptions(options, 'ArrayMap.tryFrom').owned === true);
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

  /** The value at `index`. MapError 'OutOfBounds' past the end (no syscall). */
  get(index: number, flags: number = 0): V {
    this.setIndex(index);
    this.lookupExisting(flags, index);
    return this.#codec.decode(this.io.value, 0);
  }

  /** Sets the value at `index`. */
  set(index: number, value: V, flags: number = 0): void {
    this.setIndex(index);
    try {
      this.#codec.encode(this.io.value, 0, value);
    } catch (err) {
      throw codecError(err, 'value');
    }
    this.updateElem(flags);
  }

  /** `[index, value]` for every index. */
  *entries(): IterableIterator<[number, V]> {
    for (let i = 0; i < this.len(); i++) yield [i, this.get(i)];
  }

  [Symbol.iterator](): IterableIterator<[number, V]> {
    return this.entries();
  }
}
