import type { Codec } from '../codec/codec.js';
import type { MapData } from './map-data.js';
import { MapType } from './map-type.js';
import { checkCodec, createMap, KeyedMap, tryFromMap, type FromMapData, type MapCreateOptions, type MapKind, type TryFromOptions, type MapTyping, type CodecValue } from './typed-map.js';

/** @internal HashMap's instance for the shape arguments of Ebpf.map (see MapTyping). */
export interface HashMapTyping extends MapTyping {
  readonly instance: HashMap<CodecValue<this['shape'][0]>, CodecValue<this['shape'][1]>>;
}

/**
 * A BPF_MAP_TYPE_HASH (3.19) or BPF_MAP_TYPE_LRU_HASH (4.10): keys of a fixed size
 * mapped to values of a fixed size.
 */
export class HashMap<K, V> extends KeyedMap<K, V> {
  static readonly mapTypes: readonly MapType[] = [MapType.Hash, MapType.LruHash];
  /** @internal */
  static readonly kind: MapKind<[key: Codec<unknown>, value: Codec<unknown>], HashMap<unknown, unknown>> = {
    name: 'HashMap',
    types: HashMap.mapTypes,
    shape: (key, value) => ({ key: checkCodec(key, 'key codec'), value: checkCodec(value, 'value codec') }),
    make: (map, owned, shape) => new HashMap(map, owned, HashMap.kind, shape),
  };

  /** @internal How Ebpf.map types the shape arguments (MapTyping). */
  declare static readonly typing?: HashMapTyping;

  /**
   * A typed view of an existing map: MapError `InvalidMapType` for a map of another type, `InvalidKeySize`
   * / `InvalidValueSize` when the codecs do not fit, `Closed` for a closed MapData. `owned: true` hands
   * the MapData over.
   */
  static tryFrom<K, V>(map: MapData, key: Codec<K>, value: Codec<V>, options?: TryFromOptions): HashMap<K, V> {
    return tryFromMap(HashMap.kind, map, [key, value], options) as HashMap<K, V>;
  }

  /** Creates a hash map (type Hash unless `options.type` is LruHash); the returned HashMap owns it. */
  static create<K, V>(key: Codec<K>, value: Codec<V>, options: MapCreateOptions): HashMap<K, V> {
    return createMap(HashMap.kind, [key, value], options) as HashMap<K, V>;
  }

  /** A converter for maps of maps: views each inner MapData as this class with these codecs. */
  static fromMapData<K, V>(key: Codec<K>, value: Codec<V>): FromMapData<HashMap<K, V>> {
    return (map) => HashMap.tryFrom(map, key, value, { owned: true });
  }
}
