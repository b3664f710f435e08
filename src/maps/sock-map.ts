import { MapError } from '../errors.js';
import { Errno } from '../sys/errors.js';
import { socketFd, type SocketLike } from '../socket-fd.js';
import type { CreateOptions } from './array.js';
import type { Scratch } from './codec.js';
import { MapData } from './map-data.js';
import { MapType } from './map-type.js';
import { checkMap, checkOptions, IndexedMap, wrapNew, type TryFromOptions } from './typed-map.js';

/** Socket map values: user space writes a socket fd (u32 or u64), reads back the socket's cookie (u64). */
export interface SockMapCreateOptions extends CreateOptions {
  /** 8 (default) lets lookups return socket cookies; with 4 the kernel refuses lookups. */
  valueSize?: 4 | 8;
}

/** Writes `socket`'s fd as the value (4 or 8 bytes). */
export function putSocket(value: Scratch, socket: SocketLike): void {
  const fd = socketFd(socket, (why) => new MapError('InvalidArgument', why));
  if (value.bytes.length === 8) value.view.setBigUint64(0, BigInt(fd), true);
  else value.view.setUint32(0, fd, true);
}

/** The socket cookie a lookup left in `value`; MapError 'NotSupported' when the value has no room for one. */
export function checkCookieRoom(map: MapData): void {
  if (map.valueSize !== 8) {
    throw new MapError('NotSupported', `${mapName(map)}: the kernel returns socket cookies only from maps with 8-byte values (this one has ${map.valueSize})`);
  }
}

function mapName(map: MapData): string {
  return map.type === MapType.Sockmap ? 'SockMap' : 'SockHash';
}

/**
 * A BPF_MAP_TYPE_SOCKMAP (4.14): sockets by u32 index, for sk_msg / sk_skb redirects
 * and sk_lookup. User space inserts a socket (its fd) and reads back its cookie;
 * the map holds a reference to the socket itself, not to the fd.
 */
export class SockMap extends IndexedMap {
  static readonly mapTypes: readonly MapType[] = [MapType.Sockmap];

  private constructor(map: MapData, owned: boolean) {
    super(map, owned, map.valueSize);
  }

  static tryFrom(map: MapData, options: TryFromOptions = {}): SockMap {
    checkMap(map, SockMap.mapTypes, 'SockMap', 4);
    return new SockMap(map, checkOptions(options, 'SockMap.tryFrom').owned === true);
  }

  static create(maxEntries: number, options: SockMapCreateOptions = {}): SockMap {
    const { valueSize = 8, ...rest } = checkOptions(options, 'SockMap.create');
    const map = MapData.create({ type: MapType.Sockmap, keySize: 4, valueSize, maxEntries, ...rest });
    return wrapNew(map, () => new SockMap(map, true));
  }

  /** Puts `socket` (a TCP socket, established or listening, or a UDP socket) at `index`. */
  set(index: number, socket: SocketLike, flags: number = 0): void {
    this.setIndex(index);
    putSocket(this.io.value, socket);
    this.updateElem(flags);
  }

  /** The cookie of the socket at `index` (SO_COOKIE); MapError 'KeyNotFound' when the slot is empty. */
  cookie(index: number): bigint {
    checkCookieRoom(this.map);
    this.setIndex(index);
    this.lookupExisting(0, index);
    return this.io.value.view.getBigUint64(0, true);
  }

  /** Empties slot `index`; MapError 'KeyNotFound' when it is empty. */
  remove(index: number): void {
    this.setIndex(index);
    try {
      this.deleteExisting(index);
    } catch (err) {
      // An empty slot of a SOCKMAP is EINVAL, not ENOENT (kernel's __sock_map_delete).
      if (err instanceof MapError && err.errno === Errno.EINVAL) throw new MapError('KeyNotFound', `nothing at index ${index} (empty slot)`, { index });
      throw err;
    }
  }
}
