import { MapError } from '../errors.js';
import { Errno } from '../sys/errors.js';
import { socketFd, type SocketLike } from '../socket-fd.js';
import type { MapData } from './map-data.js';
import { MapType } from './map-type.js';
import { createMap, IndexedMap, tryFromMap, type MapCreateOptions, type MapKind, type TryFromOptions, type ValueCodec } from './typed-map.js';

/** The create options of SockMap and SockHash. */
export interface SockMapCreateOptions extends MapCreateOptions {
  /** 8 (default) lets lookups return socket cookies; with 4 the kernel refuses lookups. */
  valueSize?: 4 | 8;
}

/**
 * Socket map values: user space writes a socket's fd (u32 or u64, as wide as the
 * map's values) and reads back the socket's cookie (SO_COOKIE, u64). @internal
 */
export const socketValue: ValueCodec<bigint, SocketLike> = {
  encode(s, offset, socket) {
    const fd = socketFd(socket, (why) => new MapError('InvalidArgument', why));
    if (s.bytes.length - offset === 8) s.view.setBigUint64(offset, BigInt(fd), true);
    else s.view.setUint32(offset, fd, true);
  },
  decode: (s, offset) => s.view.getBigUint64(offset, true),
};

/** What SockMap and SockHash share in their descriptors. @internal */
export const socketKind = (name: string) => ({
  createSpec: (options: SockMapCreateOptions) => ({ valueSize: options.valueSize ?? 8 }),
  unreadable: (map: MapData) => (map.valueSize === 8 ? undefined : `${name}: the kernel returns socket cookies only from maps with 8-byte values (this one has ${map.valueSize})`),
});

/**
 * A BPF_MAP_TYPE_SOCKMAP (4.14): sockets by u32 index, for sk_msg / sk_skb redirects
 * and sk_lookup. `set` puts a socket (TCP, established or listening, or UDP; its fd)
 * at an index, `get` reads back its cookie; the map holds a reference to the socket
 * itself, not to the fd.
 */
export class SockMap extends IndexedMap<bigint, SocketLike> {
  static readonly mapTypes: readonly MapType[] = [MapType.Sockmap];
  /** @internal */
  static readonly kind: MapKind<[], SockMap> = {
    name: 'SockMap',
    types: SockMap.mapTypes,
    ...socketKind('SockMap'),
    shape: () => ({ key: 'index', value: socketValue }),
    // An empty slot of a SOCKMAP is EINVAL, not ENOENT (kernel's __sock_map_delete).
    absentErrno: Errno.EINVAL,
    make: (map, owned, shape) => new SockMap(map, owned, SockMap.kind, shape),
  };

  /**
   * A typed view of an existing map: MapError `InvalidMapType` for a map of another type, `InvalidKeySize`
   * / `InvalidValueSize` when the codecs do not fit, `Closed` for a closed MapData. `owned: true` hands
   * the MapData over.
   */
  static tryFrom(map: MapData, options?: TryFromOptions): SockMap {
    return tryFromMap(SockMap.kind, map, [], options);
  }

  /**
   * Creates a new map of this class, owned by the result (close() closes it); `NotSupported` where the
   * kernel lacks the map type.
   */
  static create(options: SockMapCreateOptions): SockMap {
    return createMap(SockMap.kind, [], options);
  }

  /** Empties slot `index`; MapError 'KeyNotFound' when it is empty. */
  remove(index: number): void {
    this.removeIndex(index);
  }
}
