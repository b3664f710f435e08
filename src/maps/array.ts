import type { Codec } from '../codec/codec.js';
import type { MapData } from './map-data.js';
import { MapType } from './map-type.js';
import { ArrayMemory } from './mapped.js';
import { checkCodec, createMap, IndexedMap, tryFromMap, type FromMapData, type MapCreateOptions, type MapKind, type TryFromOptions, type MapTyping, type CodecValue } from './typed-map.js';

/** @internal ArrayMap's instance for the shape arguments of Ebpf.map (see MapTyping). */
export interface ArrayMapTyping extends MapTyping {
  readonly instance: ArrayMap<CodecValue<this['shape'][0]>>;
}

/**
 * A BPF_MAP_TYPE_ARRAY: fixed size, indexed by u32, every element exists (zeroed
 * at creation). Minimum kernel 3.19.
 */
export class ArrayMap<V> extends IndexedMap<V> {
  static readonly mapTypes: readonly MapType[] = [MapType.Array];
  /** @internal */
  static readonly kind: MapKind<[value: Codec<unknown>], ArrayMap<unknown>> = {
    name: 'ArrayMap',
    types: ArrayMap.mapTypes,
    shape: (value) => ({ key: 'index', value: checkCodec(value, 'value codec') }),
    make: (map, owned, shape) => new ArrayMap(map, owned, ArrayMap.kind, shape),
  };

  /** @internal How Ebpf.map types the shape arguments (MapTyping). */
  declare static readonly typing?: ArrayMapTyping;

  /** Wraps `map`; MapError 'InvalidMapType' / 'InvalidKeySize' / 'InvalidValueSize' when it does not fit. */
  static tryFrom<V>(map: MapData, value: Codec<V>, options?: TryFromOptions): ArrayMap<V> {
    return tryFromMap(ArrayMap.kind, map, [value], options) as ArrayMap<V>;
  }

  /** Creates an array of `options.maxEntries` values; the returned ArrayMap owns it. */
  static create<V>(value: Codec<V>, options: MapCreateOptions): ArrayMap<V> {
    return createMap(ArrayMap.kind, [value], options) as ArrayMap<V>;
  }

  /**
   * The array's values in memory (a map created with MapFlags.BPF_F_MMAPABLE, 5.5+):
   * get / set with no system call, visible to programs at once. Unmapped when the map
   * closes. MapError 'NotSupported' for an array without the flag, or a frozen one.
   */
  memory(): ArrayMemory<V> {
    return new ArrayMemory(this.map.memory(), this.valueCodec);
  }

  /** A FromMapData for maps of maps: `ArrayOfMaps.tryFrom(outer, ArrayMap.fromMapData(u32))`. */
  static fromMapData<V>(value: Codec<V>): FromMapData<ArrayMap<V>> {
    return (map) => ArrayMap.tryFrom(map, value, { owned: true });
  }
}
