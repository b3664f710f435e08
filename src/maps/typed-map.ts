// What every typed map shares: the MapData it works on, whether it owns it, the
// type/size checks of tryFrom (driven by the map type table) and index checks.
import { MapError } from '../errors.js';
import type { Codec } from './codec.js';
import { MapData } from './map-data.js';
import { mapTypeName, type MapType } from './map-type.js';

export interface TryFromOptions {
  /**
   * Hand the MapData over: the typed map closes it on close(), and pin() consumes it.
   * Default false: a view, which never closes the map it was made from.
   */
  owned?: boolean;
}

/** Anything that holds a map file descriptor: a MapData or a typed map (the reference page's InnerMap). */
export interface InnerMap {
  readonly fd: number;
}

/** Turns the MapData of an inner map into the value `get` returns (the reference page's FromMapData). It takes ownership. */
export type FromMapData<V> = (map: MapData) => V;

export abstract class TypedMap implements Disposable {
  /** The map this wrapper works on. */
  readonly map: MapData;
  /** True when this wrapper owns (and will close) `map`. */
  readonly owned: boolean;

  protected constructor(map: MapData, owned: boolean) {
    this.map = map;
    this.owned = owned;
  }

  /** The map's file descriptor; lets a typed map be stored in a map of maps. */
  get fd(): number {
    return this.map.fd;
  }

  /**
   * Pins the map at `path` on bpffs (parent directories must exist). An owning
   * wrapper is consumed, as on the reference page: its descriptor is closed and the
   * map lives on through the pin. Throws PinError.
   */
  pin(path: string): void {
    this.map.pin(path);
    if (this.owned) this.map.close();
  }

  /** Closes the map if this wrapper owns it; a view leaves it open. */
  close(): void {
    if (this.owned) this.map.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** The checks of every tryFrom: a MapData of an accepted type whose key/value sizes match the codecs. */
export function checkMap(map: MapData, accepted: readonly MapType[], what: string, keySize?: number, valueSize?: number): void {
  if (!(map instanceof MapData)) throw new TypeError(`${what}.tryFrom takes a MapData`);
  const type = map.type;
  if (!accepted.includes(type as MapType)) {
    throw new MapError('InvalidMapType', `${what} needs ${accepted.map(mapTypeName).join(' or ')}, the map is ${mapTypeName(type)}`, {
      mapType: type,
      expected: accepted,
    });
  }
  if (keySize !== undefined && map.keySize !== keySize) {
    throw new MapError('InvalidKeySize', `${what}: the map's key size is ${map.keySize}, the key codec's ${keySize}`, { size: keySize, expected: map.keySize });
  }
  if (valueSize !== undefined && map.valueSize !== valueSize) {
    throw new MapError('InvalidValueSize', `${what}: the map's value size is ${map.valueSize}, the value codec's ${valueSize}`, { size: valueSize, expected: map.valueSize });
  }
}

export function checkCodec(codec: Codec<unknown>, what: string): void {
  if (typeof codec !== 'object' || codec === null || typeof codec.encode !== 'function' || typeof codec.decode !== 'function') {
    throw new TypeError(`${what} must be a codec (u32, u64, bytes(n), struct({...}), ...)`);
  }
}

/**
 * Checks an array index before any syscall: 'InvalidArgument' for anything but a
 * non-negative integer, 'OutOfBounds' at or past max_entries.
 */
export function checkIndex(index: number, maxEntries: number): void {
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0) {
    throw new MapError('InvalidArgument', `index must be a non-negative integer, got ${typeof index === 'number' ? index : typeof index}`);
  }
  if (index >= maxEntries) {
    throw new MapError('OutOfBounds', `index ${index} is out of bounds (max_entries ${maxEntries})`, { index, maxEntries });
  }
}

/** Wraps kernel failures of a typed-map operation as MapError 'SyscallError'. */
export function rethrow(err: unknown): never {
  throw MapError.fromSyscall(err);
}
