// What every typed map shares: the MapData it works on, whether it owns it, the
// type/size checks of tryFrom (driven by the map type table) and index checks.
import { MapError } from '../errors.js';
import { ElemIo, mapLookupElem } from '../sys/bpf.js';
import { scratch, type Codec, type Scratch } from './codec.js';
import { keyCursor } from './keys.js';
import { checkElemFlags, MapData } from './map-data.js';
import { describeValue } from '../describe.js';
import { mapTypeName, type MapType } from './map-type.js';

export interface TryFromOptions {
  /**
   * Hand the MapData over: the typed map closes it on close(), and pin() consumes it.
   * Default false: a view, which never closes the map it was made from.
   */
  owned?: boolean;
}

/**
 * What a map of maps stores (the reference page's InnerMap): a MapData or a typed map
 * of tsbpf, never any other object with an `fd`, whose number could name anything.
 */
export type InnerMap = MapData | TypedMap;

/**
 * Turns the MapData of an inner map into the value `get` returns (the reference page's
 * FromMapData). `get` hands the new descriptor over with the MapData: the converter
 * returns that MapData or a typed map over it (a view made with tryFrom becomes the
 * owner), or closes it.
 */
export type FromMapData<V> = (map: MapData) => V;

let makeOwner: (typed: TypedMap) => void;

export abstract class TypedMap implements Disposable {
  /** The map this wrapper works on. */
  readonly map: MapData;
  #owned: boolean;
  /** attr, key and value of the element commands, in one buffer (the hot path). @internal */
  protected readonly io: ElemIo;

  static {
    makeOwner = (typed) => {
      typed.#owned = true;
    };
  }

  /** @internal typed maps are made by create, tryFrom and the loader. */
  protected constructor(map: MapData, owned: boolean, keySize: number, valueSize: number) {
    this.map = map;
    this.#owned = owned;
    this.io = new ElemIo(keySize, valueSize);
  }

  /** True when this wrapper owns (and will close) `map`. */
  get owned(): boolean {
    return this.#owned;
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
    if (this.#owned) this.map.close();
  }

  /** Closes the map if this wrapper owns it; a view leaves it open. */
  close(): void {
    if (this.#owned) this.map.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  // The element operations every typed map is made of, on io.key / io.value: through
  // the map's fd (which throws once closed), kernel failures as MapError 'SyscallError'.

  /** Fills io.value for io.key; false when the key is absent. */
  protected lookupElem(flags: number): boolean {
    checkElemFlags(flags);
    const fd = this.map.fd;
    try {
      return this.io.lookup(fd, flags);
    } catch (err) {
      rethrow(err);
    }
  }

  /** Like lookupElem, but an absent key is MapError 'KeyNotFound' (`index` for arrays). */
  protected lookupExisting(flags: number, index?: number): void {
    if (!this.lookupElem(flags)) throw notFound(index);
  }

  protected updateElem(flags: number): void {
    checkElemFlags(flags);
    const fd = this.map.fd;
    try {
      this.io.update(fd, flags);
    } catch (err) {
      rethrow(err);
    }
  }

  /** Deletes io.key; an absent key is MapError 'KeyNotFound'. */
  protected deleteExisting(index?: number): void {
    const fd = this.map.fd;
    let found: boolean;
    try {
      found = this.io.delete(fd);
    } catch (err) {
      rethrow(err);
    }
    if (!found) throw notFound(index);
  }
}

function notFound(index: number | undefined): MapError {
  return index === undefined ? new MapError('KeyNotFound', 'key not found') : new MapError('KeyNotFound', `nothing at index ${index} (empty slot)`, { index });
}

/** A typed map indexed by u32 (arrays): checks the index against max_entries before any syscall. */
export abstract class IndexedMap extends TypedMap {
  readonly #len: number;

  /** @internal typed maps are made by create, tryFrom and the loader. */
  protected constructor(map: MapData, owned: boolean, valueSize: number) {
    super(map, owned, 4, valueSize);
    this.#len = map.maxEntries;
  }

  /** The number of elements: max_entries. */
  len(): number {
    return this.#len;
  }

  /** Puts `index` in io.key, after the bounds check. */
  protected setIndex(index: number): void {
    checkIndex(index, this.#len);
    this.io.key.view.setUint32(0, index, true);
  }
}

/** A typed map with keys of a codec (hashes): encoding, remove, and key iteration. */
export abstract class KeyedMap<K> extends TypedMap {
  readonly #keyCodec: Codec<K>;

  /** @internal typed maps are made by create, tryFrom and the loader. */
  protected constructor(map: MapData, key: Codec<K>, owned: boolean, valueSize: number) {
    super(map, owned, key.size, valueSize);
    this.#keyCodec = key;
  }

  /** Puts `key` in io.key. */
  protected setKey(key: K): void {
    try {
      this.#keyCodec.encode(this.io.key, 0, key);
    } catch (err) {
      throw codecError(err, 'key');
    }
  }

  /** Removes `key`; MapError 'KeyNotFound' when absent. */
  remove(key: K): void {
    this.setKey(key);
    this.deleteExisting();
  }

  /** The keys, in the kernel's order. */
  *keys(): IterableIterator<K> {
    for (const raw of keyCursor(this.map)) yield this.#keyCodec.decode(raw, 0);
  }

  /** `[key, value bytes]` for every key still present when visited; the value buffer is reused. */
  protected *rawEntries(valueSize: number): Generator<[K, Scratch]> {
    const value = scratch(valueSize);
    for (const raw of keyCursor(this.map)) {
      let found: boolean;
      try {
        found = mapLookupElem(this.map.fd, raw.bytes, value.bytes, 0);
      } catch (err) {
        rethrow(err);
      }
      if (found) yield [this.#keyCodec.decode(raw, 0), value];
    }
  }
}

/** The checks of every tryFrom: a MapData of an accepted type whose key/value sizes match the codecs. */
export function checkMap(map: MapData, accepted: readonly MapType[], what: string, keySize?: number, valueSize?: number): void {
  if (!(map instanceof MapData)) throw new MapError('InvalidArgument', `${what}.tryFrom takes a MapData, got ${describeValue(map)}`);
  if (map.closed) throw new MapError('Closed', `${what}.tryFrom: the map is closed`);
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
    throw new MapError('InvalidArgument', `${what} must be a codec (u32, u64, bytes(n), struct({...}), ...), got ${describeValue(codec)}`);
  }
}

/**
 * Checks an array index before any syscall: 'InvalidArgument' for anything but a
 * non-negative integer, 'OutOfBounds' at or past max_entries.
 */
export function checkIndex(index: number, maxEntries: number): void {
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0) {
    throw new MapError('InvalidArgument', `index must be a non-negative integer, got ${describeValue(index)}`);
  }
  if (index >= maxEntries) {
    throw new MapError('OutOfBounds', `index ${index} is out of bounds (max_entries ${maxEntries})`, { index, maxEntries });
  }
}

/**
 * What a FromMapData converter returned for `map`, now owning it: `map` itself, or a
 * typed map over it, which becomes its owner. Anything else would leave the descriptor
 * without an owner: the map is closed and MapError 'InvalidArgument' thrown (unless the
 * converter closed the map itself, having taken what it needed).
 */
export function ownedInner<V>(value: V, map: MapData): V {
  if ((value as unknown) === map || map.closed) return value;
  if (value instanceof TypedMap && value.map === map) {
    makeOwner(value);
    return value;
  }
  map.close();
  throw new MapError('InvalidArgument', 'the inner-map converter must return the MapData it is given or a typed map over it (such as ArrayMap.tryFrom(map, u32)), or close that MapData');
}

/**
 * What to throw when a codec refuses a key or value: its TypeError or RangeError as
 * MapError 'InvalidArgument', as every wrong argument of a map is. (Called from each
 * encode's own catch, so that every call site of encode stays monomorphic.)
 */
export function codecError(err: unknown, what: 'key' | 'value'): unknown {
  return err instanceof TypeError || err instanceof RangeError ? new MapError('InvalidArgument', `${what}: ${err.message}`, { cause: err as never }) : err;
}

/** The options argument of tryFrom / create: undefined or an object. */
export function checkOptions<T extends object>(options: T | undefined, what: string): T {
  if (options === undefined) return {} as T;
  if (typeof options !== 'object' || options === null) throw new MapError('InvalidArgument', `${what} options must be an object, got ${describeValue(options)}`);
  return options;
}

/** Wraps a freshly created map: closes it when wrapping throws, so create() never leaks. */
export function wrapNew<T>(map: MapData, wrap: () => T): T {
  try {
    return wrap();
  } catch (err) {
    map.close();
    throw err;
  }
}

/** Wraps kernel failures of a typed-map operation as MapError 'SyscallError'. */
export function rethrow(err: unknown): never {
  throw MapError.fromSyscall(err);
}
