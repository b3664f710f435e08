import type { Codec } from '../codec/codec.js';
import { possibleCpus } from '../sys/cpus.js';
import type { MapData } from './map-data.js';
import { MapType } from './map-type.js';
import {
  checkCodec,
  createMap,
  IndexedMap,
  KeyedMap,
  tryFromMap,
  type FromMapData,
  type MapCreateOptions,
  type MapKind,
  type TryFromOptions,
  type ValueCodec,
  type MapTyping,
  type CodecValue,
} from './typed-map.js';

/**
 * What `set` / `insert` of a per-CPU map take: one value per possible CPU (an array
 * of exactly possibleCpus() values), or one value written to every CPU's slot.
 * With a codec whose values are themselves arrays, give the per-CPU array.
 */
export type PerCpuInput<V> = readonly V[] | V;

/**
 * A per-CPU value codec: the map's value_size is `codec.size`, but user space reads and
 * writes one slot per possible CPU, each rounded up to 8 bytes (the kernel's
 * bpf_long_memcpy copies 8-byte words), in a buffer of possibleCpus() slots that
 * MapData sizes the same way (valueBytes). Padding between slots is written as zero.
 * @internal
 */
export function perCpuValue<V>(codec: Codec<V>): ValueCodec<V[], PerCpuInput<V>> {
  const cpus = possibleCpus();
  const size = codec.size;
  const stride = Math.ceil(size / 8) * 8;
  return {
    size,
    encode(s, offset, value) {
      if (stride !== size) s.bytes.fill(0, offset, offset + stride * cpus);
      if (Array.isArray(value)) {
        if (value.length !== cpus) throw new RangeError(`per-CPU values: ${cpus} values are needed (one per possible CPU), got ${value.length}`);
        for (let i = 0; i < cpus; i++) codec.encode(s, offset + i * stride, value[i] as V);
        return;
      }
      codec.encode(s, offset, value as V);
      // The same bytes in every other slot.
      for (let i = 1; i < cpus; i++) s.bytes.copyWithin(offset + i * stride, offset, offset + size);
    },
    decode(s, offset) {
      const out = new Array<V>(cpus);
      for (let i = 0; i < cpus; i++) out[i] = codec.decode(s, offset + i * stride);
      return out;
    },
  };
}

/** @internal PerCpuArray's instance for the shape arguments of Ebpf.map (see MapTyping). */
export interface PerCpuArrayTyping extends MapTyping {
  readonly instance: PerCpuArray<CodecValue<this['shape'][0]>>;
}

/**
 * A BPF_MAP_TYPE_PERCPU_ARRAY (4.6): an array with one value per possible CPU in each
 * slot. `get(i)` returns an array of possibleCpus() values (index = CPU number); `set`
 * takes such an array or one value for all CPUs.
 */
export class PerCpuArray<V> extends IndexedMap<V[], PerCpuInput<V>> {
  static readonly mapTypes: readonly MapType[] = [MapType.PercpuArray];
  /** @internal */
  static readonly kind: MapKind<[value: Codec<unknown>], PerCpuArray<unknown>> = {
    name: 'PerCpuArray',
    types: PerCpuArray.mapTypes,
    shape: (value) => ({ key: 'index', value: perCpuValue(checkCodec(value, 'value codec')) }),
    make: (map, owned, shape) => new PerCpuArray(map, owned, PerCpuArray.kind, shape),
  };

  /** @internal How Ebpf.map types the shape arguments (MapTyping). */
  declare static readonly typing?: PerCpuArrayTyping;

  /** Wraps `map`; MapError 'InvalidMapType' / 'InvalidKeySize' / 'InvalidValueSize' when it does not fit. */
  static tryFrom<V>(map: MapData, value: Codec<V>, options?: TryFromOptions): PerCpuArray<V> {
    return tryFromMap(PerCpuArray.kind, map, [value], options) as PerCpuArray<V>;
  }

  /** Creates a per-CPU array of `options.maxEntries` slots; the returned PerCpuArray owns it. */
  static create<V>(value: Codec<V>, options: MapCreateOptions): PerCpuArray<V> {
    return createMap(PerCpuArray.kind, [value], options) as PerCpuArray<V>;
  }

  /** A converter for maps of maps: views each inner MapData as this class with these codecs. */
  static fromMapData<V>(value: Codec<V>): FromMapData<PerCpuArray<V>> {
    return (map) => PerCpuArray.tryFrom(map, value, { owned: true });
  }
}

/** @internal PerCpuHashMap's instance for the shape arguments of Ebpf.map (see MapTyping). */
export interface PerCpuHashMapTyping extends MapTyping {
  readonly instance: PerCpuHashMap<CodecValue<this['shape'][0]>, CodecValue<this['shape'][1]>>;
}

/**
 * A BPF_MAP_TYPE_PERCPU_HASH (4.6) or BPF_MAP_TYPE_LRU_PERCPU_HASH (4.10): a hash map
 * whose every key holds one value per possible CPU. `get(key)` returns an array of
 * possibleCpus() values; `insert` takes such an array or one value for all CPUs.
 */
export class PerCpuHashMap<K, V> extends KeyedMap<K, V[], PerCpuInput<V>> {
  static readonly mapTypes: readonly MapType[] = [MapType.PercpuHash, MapType.LruPercpuHash];
  /** @internal */
  static readonly kind: MapKind<[key: Codec<unknown>, value: Codec<unknown>], PerCpuHashMap<unknown, unknown>> = {
    name: 'PerCpuHashMap',
    types: PerCpuHashMap.mapTypes,
    shape: (key, value) => ({ key: checkCodec(key, 'key codec'), value: perCpuValue(checkCodec(value, 'value codec')) }),
    make: (map, owned, shape) => new PerCpuHashMap(map, owned, PerCpuHashMap.kind, shape),
  };

  /** @internal How Ebpf.map types the shape arguments (MapTyping). */
  declare static readonly typing?: PerCpuHashMapTyping;

  /**
   * A typed view of an existing map: MapError `InvalidMapType` for a map of another type, `InvalidKeySize`
   * / `InvalidValueSize` when the codecs do not fit, `Closed` for a closed MapData. `owned: true` hands
   * the MapData over.
   */
  static tryFrom<K, V>(map: MapData, key: Codec<K>, value: Codec<V>, options?: TryFromOptions): PerCpuHashMap<K, V> {
    return tryFromMap(PerCpuHashMap.kind, map, [key, value], options) as PerCpuHashMap<K, V>;
  }

  /** Creates a per-CPU hash map (PercpuHash unless `options.type` is LruPercpuHash); the returned object owns it. */
  static create<K, V>(key: Codec<K>, value: Codec<V>, options: MapCreateOptions): PerCpuHashMap<K, V> {
    return createMap(PerCpuHashMap.kind, [key, value], options) as PerCpuHashMap<K, V>;
  }

  /** A converter for maps of maps: views each inner MapData as this class with these codecs. */
  static fromMapData<K, V>(key: Codec<K>, value: Codec<V>): FromMapData<PerCpuHashMap<K, V>> {
    return (map) => PerCpuHashMap.tryFrom(map, key, value, { owned: true });
  }
}
