import type { Codec } from '../codec/codec.js';
import type { MapData } from './map-data.js';
import { MapType } from './map-type.js';
import { innerMapValue, type MapOfMapsCreateOptions } from './of-maps.js';
import { checkCodec, createMap, KeyedMap, optionalLast, tryFromMap, type FromMapData, type InnerMap, type MapKind, type TryFromOptions, type MapTyping, type CodecValue } from './typed-map.js';

/** @internal HashOfMaps's instance for the shape arguments of Ebpf.map (see MapTyping). */
export interface HashOfMapsTyping extends MapTyping {
  readonly instance: HashOfMaps<CodecValue<this['shape'][0]>, this['shape'] extends readonly [unknown, FromMapData<infer V>, ...unknown[]] ? V : MapData>;
}

/**
 * A hash of eBPF maps (BPF_MAP_TYPE_HASH_OF_MAPS): keys map to other maps.
 * Minimum kernel 4.12; `get` needs 4.13 (BPF_MAP_GET_FD_BY_ID). `get` opens a new
 * descriptor owned by the result (as ArrayOfMaps.get); `entries()` lists inner map ids.
 */
export class HashOfMaps<K, V = MapData> extends KeyedMap<K, V, InnerMap, number> {
  static readonly mapTypes: readonly MapType[] = [MapType.HashOfMaps];
  /** @internal */
  static readonly kind: MapKind<[key: Codec<unknown>, convert: FromMapData<unknown> | undefined], HashOfMaps<unknown, unknown>> = {
    name: 'HashOfMaps',
    types: HashOfMaps.mapTypes,
    shape: (key, convert) => ({ key: checkCodec(key, 'key codec'), value: innerMapValue(convert) }),
    make: (map, owned, shape) => new HashOfMaps(map, owned, HashOfMaps.kind, shape),
  };

  /** @internal How Ebpf.map types the shape arguments (MapTyping). */
  declare static readonly typing?: HashOfMapsTyping;

  /**
   * A typed view of an existing map: MapError `InvalidMapType` for a map of another type, `InvalidKeySize`
   * / `InvalidValueSize` when the codecs do not fit, `Closed` for a closed MapData. `owned: true` hands
   * the MapData over.
   */
  static tryFrom<K, V = MapData>(map: MapData, key: Codec<K>, convert?: FromMapData<V>, options?: TryFromOptions): HashOfMaps<K, V> {
    return tryFromMap(HashOfMaps.kind, map, [key, convert], options) as HashOfMaps<K, V>;
  }

  /** Creates a HASH_OF_MAPS; the returned object owns it. */
  static create<K>(key: Codec<K>, options: MapOfMapsCreateOptions): HashOfMaps<K, MapData>;
  /** Creates a HASH_OF_MAPS whose values `convert` turns into typed maps; the returned object owns it. */
  static create<K, V>(key: Codec<K>, convert: FromMapData<V> | undefined, options: MapOfMapsCreateOptions): HashOfMaps<K, V>;
  static create<K, V>(...args: [Codec<K>, MapOfMapsCreateOptions] | [Codec<K>, FromMapData<V> | undefined, MapOfMapsCreateOptions]): HashOfMaps<K, V> {
    const [key, convert, options] = optionalLast<[Codec<K>, FromMapData<V> | undefined, MapOfMapsCreateOptions]>(args, 2);
    return createMap(HashOfMaps.kind, [key, convert], options) as HashOfMaps<K, V>;
  }

  /** The kernel id of the inner map of `key`, without opening a descriptor. */
  getId(key: K, flags: number = 0): number {
    return this.valueAt(key, flags).view.getUint32(0, true);
  }
}
