import type { Codec } from '../codec/codec.js';
import { MapError } from '../errors.js';
import { describeValue } from '../describe.js';
import type { MapData } from './map-data.js';
import { MapType } from './map-type.js';
import { noKey } from './queue-stack.js';
import { checkCodec, codecError, createMap, tryFromMap, TypedMap, type MapCreateOptions, type MapKind, type Shape, type TryFromOptions, type ValueCodec, type MapTyping, type CodecValue } from './typed-map.js';

/** The create options of BloomFilter. */
export interface BloomFilterCreateOptions extends MapCreateOptions {
  /** Hash functions per value, 1 to 15 (map_extra); the kernel's default is 5. */
  hashFunctions?: number;
}

/** @internal BloomFilter's instance for the shape arguments of Ebpf.map (see MapTyping). */
export interface BloomFilterTyping extends MapTyping {
  readonly instance: BloomFilter<CodecValue<this['shape'][0]>>;
}

/**
 * A BPF_MAP_TYPE_BLOOM_FILTER (5.16): a set that answers "maybe present" or "certainly
 * absent". `insert` adds a value; `contains` is false only for a value never inserted
 * (true may be a false positive). Values cannot be removed or listed.
 */
export class BloomFilter<V> extends TypedMap {
  static readonly mapTypes: readonly MapType[] = [MapType.BloomFilter];
  /** @internal */
  static readonly kind: MapKind<[value: Codec<unknown>], BloomFilter<unknown>> = {
    name: 'BloomFilter',
    types: BloomFilter.mapTypes,
    shape: (value) => ({ key: noKey, value: checkCodec(value, 'value codec') }),
    createSpec: (options: BloomFilterCreateOptions) => {
      const n = options.hashFunctions;
      if (n === undefined) return {};
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 15) {
        throw new MapError('InvalidArgument', `BloomFilter.create: hashFunctions must be an integer from 1 to 15, got ${describeValue(n)}`);
      }
      return { mapExtra: n };
    },
    make: (map, owned, shape) => new BloomFilter(map, owned, shape),
  };
  readonly #value: ValueCodec<V>;

  private constructor(map: MapData, owned: boolean, shape: Shape) {
    super(map, owned, BloomFilter.kind);
    this.#value = shape.value;
  }

  /** @internal How Ebpf.map types the shape arguments (MapTyping). */
  declare static readonly typing?: BloomFilterTyping;

  /**
   * A typed view of an existing map: MapError `InvalidMapType` for a map of another type, `InvalidKeySize`
   * / `InvalidValueSize` when the codecs do not fit, `Closed` for a closed MapData. `owned: true` hands
   * the MapData over.
   */
  static tryFrom<V>(map: MapData, value: Codec<V>, options?: TryFromOptions): BloomFilter<V> {
    return tryFromMap(BloomFilter.kind, map, [value], options) as BloomFilter<V>;
  }

  /** Creates a bloom filter sized for `options.maxEntries` values; the returned BloomFilter owns it. */
  static create<V>(value: Codec<V>, options: BloomFilterCreateOptions): BloomFilter<V> {
    return createMap(BloomFilter.kind, [value], options) as BloomFilter<V>;
  }

  /** Adds `value` (BPF_MAP_UPDATE_ELEM with no key; flags must be BPF_ANY). */
  insert(value: V, flags: number = 0): void {
    this.#encode(value);
    this.updateElem(flags);
  }

  /** False when `value` was certainly never inserted; true when it may have been (BPF_MAP_LOOKUP_ELEM: ENOENT is absent). */
  contains(value: V): boolean {
    this.#encode(value);
    return this.lookupElem(0);
  }

  #encode(value: V): void {
    try {
      this.#value.encode(this.io.value, 0, value);
    } catch (err) {
      throw codecError(err, 'value');
    }
  }
}
