import type { Codec } from '../codec/codec.js';
import type { MapData } from './map-data.js';
import { MapType } from './map-type.js';
import { socketKind, socketValue, type SockMapCreateOptions } from './sock-map.js';
import type { SocketLike } from '../socket-fd.js';
import { checkCodec, createMap, KeyedMap, tryFromMap, type MapKind, type TryFromOptions, type MapTyping, type CodecValue } from './typed-map.js';

/** @internal SockHash's instance for the shape arguments of Ebpf.map (see MapTyping). */
export interface SockHashTyping extends MapTyping {
  readonly instance: SockHash<CodecValue<this['shape'][0]>>;
}

/** A BPF_MAP_TYPE_SOCKHASH (4.18): sockets by key of any fixed size; `get` returns the socket's cookie. */
export class SockHash<K> extends KeyedMap<K, bigint, SocketLike> {
  static readonly mapTypes: readonly MapType[] = [MapType.Sockhash];
  /** @internal */
  static readonly kind: MapKind<[key: Codec<unknown>], SockHash<unknown>> = {
    name: 'SockHash',
    types: SockHash.mapTypes,
    ...socketKind('SockHash'),
    shape: (key) => ({ key: checkCodec(key, 'key codec'), value: socketValue }),
    make: (map, owned, shape) => new SockHash(map, owned, SockHash.kind, shape),
  };

  /** @internal How Ebpf.map types the shape arguments (MapTyping). */
  declare static readonly typing?: SockHashTyping;

  /**
   * A typed view of an existing map: MapError `InvalidMapType` for a map of another type, `InvalidKeySize`
   * / `InvalidValueSize` when the codecs do not fit, `Closed` for a closed MapData. `owned: true` hands
   * the MapData over.
   */
  static tryFrom<K>(map: MapData, key: Codec<K>, options?: TryFromOptions): SockHash<K> {
    return tryFromMap(SockHash.kind, map, [key], options) as SockHash<K>;
  }

  /**
   * Creates a new map of this class, owned by the result (close() closes it); `NotSupported` where the
   * kernel lacks the map type.
   */
  static create<K>(key: Codec<K>, options: SockMapCreateOptions): SockHash<K> {
    return createMap(SockHash.kind, [key], options) as SockHash<K>;
  }
}
