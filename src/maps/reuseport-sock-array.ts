import type { MapData } from './map-data.js';
import { MapType } from './map-type.js';
import { socketKind, socketValue, type SockMapCreateOptions } from './sock-map.js';
import type { SocketLike } from '../socket-fd.js';
import { createMap, IndexedMap, tryFromMap, type MapKind, type TryFromOptions } from './typed-map.js';

/**
 * A BPF_MAP_TYPE_REUSEPORT_SOCKARRAY (4.19): the sockets of one SO_REUSEPORT group by
 * index, from which an sk_reuseport program picks (`bpf_sk_select_reuseport`).
 * `set(index, socket)` takes a bound UDP or listening TCP socket with SO_REUSEPORT
 * (its fd or a Node socket), `get` returns its cookie (SO_COOKIE; only from maps with
 * 8-byte values, else 'NotSupported'), `remove` empties the slot. The map does not keep
 * the socket alive: a closed socket leaves its slot.
 */
export class ReusePortSockArray extends IndexedMap<bigint, SocketLike> {
  static readonly mapTypes: readonly MapType[] = [MapType.ReuseportSockarray];
  /** @internal */
  static readonly kind: MapKind<[], ReusePortSockArray> = {
    name: 'ReusePortSockArray',
    types: ReusePortSockArray.mapTypes,
    ...socketKind('ReusePortSockArray'),
    shape: () => ({ key: 'index', value: socketValue }),
    make: (map, owned, shape) => new ReusePortSockArray(map, owned, ReusePortSockArray.kind, shape),
  };

  /**
   * A typed view of an existing map: MapError `InvalidMapType` for a map of another type, `InvalidKeySize`
   * / `InvalidValueSize` when the codecs do not fit, `Closed` for a closed MapData. `owned: true` hands
   * the MapData over.
   */
  static tryFrom(map: MapData, options?: TryFromOptions): ReusePortSockArray {
    return tryFromMap(ReusePortSockArray.kind, map, [], options);
  }

  /**
   * Creates a new map of this class, owned by the result (close() closes it); `NotSupported` where the
   * kernel lacks the map type.
   */
  static create(options: SockMapCreateOptions): ReusePortSockArray {
    return createMap(ReusePortSockArray.kind, [], options);
  }

  /** Empties slot `index`; MapError 'KeyNotFound' when it was empty. */
  remove(index: number): void {
    this.removeIndex(index);
  }
}
