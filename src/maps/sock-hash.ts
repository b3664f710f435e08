import type { Codec } from './codec.js';
import { MapData } from './map-data.js';
import { MapType } from './map-type.js';
import { checkCookieRoom, putSocket, type SockMapCreateOptions } from './sock-map.js';
import type { SocketLike } from '../socket-fd.js';
import { checkCodec, checkMap, checkOptions, KeyedMap, wrapNew, type TryFromOptions } from './typed-map.js';

/** A BPF_MAP_TYPE_SOCKHASH (4.18): sockets by key of any fixed size. */
export class SockHash<K> extends KeyedMap<K> {
  static readonly mapTypes: readonly MapType[] = [MapType.Sockhash];

  private constructor(map: MapData, key: Codec<K>, owned: boolean) {
    super(map, key, owned, map.valueSize);
  }

  static tryFrom<K>(map: MapData, key: Codec<K>, options: TryFromOptions = {}): SockHash<K> {
    checkCodec(key, 'key codec');
    checkMap(map, SockHash.mapTypes, 'SockHash', key.size);
    return new SockHash(map, key, checkOptions(options, 'SockHash.tryFrom').owned === true);
  }

  static create<K>(key: Codec<K>, maxEntries: number, options: SockMapCreateOptions = {}): SockHash<K> {
    checkCodec(key, 'key codec');
    const { valueSize = 8, ...rest } = checkOptions(options, 'SockHash.create');
    const map = MapData.create({ type: MapType.Sockhash, keySize: key.size, valueSize, maxEntries, ...rest });
    return wrapNew(map, () => new SockHash(map, key, true));
  }

  /** Inserts or replaces the socket of `key` (flags: BPF_ANY, BPF_NOEXIST, BPF_EXIST). */
  insert(key: K, socket: SocketLike, flags: number = 0): void {
    this.setKey(key);
    putSocket(this.io.value, socket);
    this.updateElem(flags);
  }

  /** The cookie of the socket of `key`; MapError 'KeyNotFound' when absent. */
  cookie(key: K): bigint {
    checkCookieRoom(this.map);
    this.setKey(key);
    this.lookupExisting(0);
    return this.io.value.view.getBigUint64(0, true);
  }
}
