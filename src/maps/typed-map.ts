// The one contract every typed map class is built from. A class is a descriptor
// (MapKind: its name, the map types it accepts, how its shape arguments become a key
// and a value codec) over one of two bases: IndexedMap (arrays: u32 index, `get` /
// `set`) or KeyedMap (hashes and other keyed maps: `get` / `insert` / `remove`).
// tryFrom, create, ownership, the size checks, iteration and pin are written here once.
import { MapError } from '../errors.js';
import type { ElemIo } from '../sys/bpf.js';
import type { Codec } from '../codec/codec.js';
import type { Scratch } from '../sys/scratch.js';
import { checkElemFlags, keyCursor, MapData, type MapSpec } from './map-data.js';
import { describeValue } from '../describe.js';
import { mapTypeName, type MapType } from './map-type.js';
import { BatchBuffers, batchBuffers, batchIterable, checkBatchCount, deleteBatch, isBatchRefusal, lookupBatch, MapBatchCursor, refuseBatch, updateBatch } from './batch.js';
import { Errno } from '../sys/errors.js';

/** Options of every typed map's `tryFrom`. */
export interface TryFromOptions {
  /**
   * Hand the MapData over: the typed map closes it on close(), and pin() consumes it.
   * Default false: a view, which never closes the map it was made from.
   */
  owned?: boolean;
}

/** What every typed map's `create` takes after its shape arguments. */
export interface MapCreateOptions {
  maxEntries: number;
  /** One of the class's `mapTypes`; the first by default. */
  type?: MapType;
  /** BPF_F_* flags (MapFlags). */
  flags?: number;
  /** At most 15 characters of [A-Za-z0-9_.]. */
  name?: string;
  /** NUMA node to allocate on (sets BPF_F_NUMA_NODE). */
  numaNode?: number;
}

/**
 * What a map of maps stores: a MapData or a typed map of tsbpf, never any other
 * object with an `fd`, whose number could name anything.
 */
export type InnerMap = MapData | TypedMap;

/**
 * Turns the MapData of an inner map into the value `get` returns. `get` hands the new
 * descriptor over with the MapData: the converter returns that MapData or a typed map
 * over it (a view made with tryFrom becomes the owner), or closes it.
 */
export type FromMapData<V> = (map: MapData) => V;

/**
 * How a typed map's values become bytes and back: a Codec, or a value kind of its
 * own (inner maps, sockets). `get` returns V, `set` / `insert` take In, `entries()`
 * lists E. @internal
 */
export interface ValueCodec<V, In = V, E = V> {
  /** The value_size it fixes; undefined: the map's own (checked by the kernel). */
  readonly size?: number;
  encode(s: Scratch, offset: number, value: In): void;
  decode(s: Scratch, offset: number): V;
  /** What entries() lists for a value; decode when absent (maps of maps list ids without opening them). */
  entry?(s: Scratch, offset: number): E;
}

/** The key side of a shape: a codec (keyed maps) or 'index' (arrays: u32 checked against max_entries). */
export type KeyShape = Codec<any> | 'index';

/** What a class's shape arguments (those after `map` in tryFrom) come to. @internal */
export interface Shape {
  readonly key: KeyShape;
  readonly value: ValueCodec<any, any, any>;
}

/** The descriptor a typed map class is built from. @internal */
export interface MapKind<S extends unknown[], M> {
  /** The class name, for messages. */
  readonly name: string;
  /** The map types tryFrom accepts; create makes the first unless options.type names another. */
  readonly types: readonly MapType[];
  /** Checks the shape arguments (MapError 'InvalidArgument') and names the key and value codecs. */
  shape(...shape: S): Shape;
  /** Creation fields the class adds to MapCreateOptions (SockMap: valueSize). */
  createSpec?(options: object): Partial<MapSpec>;
  /** Why user space cannot read `map`'s values, if it cannot: MapError 'NotSupported' before any syscall. */
  unreadable?(map: MapData): string | undefined;
  /** The errno the kernel's delete of an absent element gives where not ENOENT (a SOCKMAP's empty slot: EINVAL). */
  readonly absentErrno?: number;
  /** The class's constructor. */
  make(map: MapData, owned: boolean, shape: Shape): M;
}

/** What an instance keeps of its descriptor. */
type KindName = Pick<MapKind<never, unknown>, 'name' | 'absentErrno' | 'unreadable'>;

/** The tryFrom of every class: MapError 'InvalidMapType' / 'InvalidKeySize' / 'InvalidValueSize' when `map` does not fit. */
export function tryFromMap<S extends unknown[], M>(kind: MapKind<S, M>, map: MapData, shape: S, options: TryFromOptions | undefined): M {
  const parts = kind.shape(...shape);
  checkMap(map, kind.types, kind.name, parts.key === 'index' ? 4 : parts.key.size, parts.value.size);
  return kind.make(map, checkOptions(options, `${kind.name}.tryFrom`).owned === true, parts);
}

/** The create of every class: a new map of the shape and options; the returned object owns it. */
export function createMap<S extends unknown[], M>(kind: MapKind<S, M>, shape: S, options: MapCreateOptions): M {
  const parts = kind.shape(...shape);
  if (typeof options !== 'object' || options === null) {
    throw new MapError('InvalidArgument', `${kind.name}.create options must be an object with maxEntries, got ${describeValue(options)}`);
  }
  const { type = kind.types[0], ...rest } = options;
  if (!kind.types.includes(type)) {
    throw new MapError('InvalidMapType', `${kind.name} needs ${kind.types.map(mapTypeName).join(' or ')}, options.type is ${describeValue(type)}`, { expected: kind.types });
  }
  const keySize = parts.key === 'index' ? 4 : parts.key.size;
  const map = MapData.create({ ...rest, type, keySize, valueSize: parts.value.size as number, ...kind.createSpec?.(rest) });
  try {
    return kind.make(map, true, parts);
  } catch (err) {
    map.close();
    throw err;
  }
}

/** `create(...shape, options)` where the last shape argument may be left out (the converter of maps of maps). @internal */
export function optionalLast<A extends unknown[]>(args: unknown[], arity: number): A {
  return (args.length < arity + 1 ? [...args.slice(0, -1), undefined, args[args.length - 1]] : args) as A;
}

let makeOwner: (typed: TypedMap) => void;

/** What every typed map shares: the MapData it works on, whether it owns it, and its element operations. */
export abstract class TypedMap implements Disposable {
  /** The map this wrapper works on. */
  readonly map: MapData;
  #owned: boolean;
  /** The map's element buffer: attr, key and value in one (the hot path). @internal */
  protected readonly io: ElemIo;
  readonly #absentErrno: number | undefined;
  /** Why get and entries() are refused, when they are. */
  protected readonly unreadable: string | undefined;

  static {
    makeOwner = (typed) => {
      typed.#owned = true;
    };
  }

  /** @internal typed maps are made by create, tryFrom and the loader. */
  protected constructor(map: MapData, owned: boolean, kind: KindName) {
    this.map = map;
    this.#owned = owned;
    this.io = map.elemIo();
    this.#absentErrno = kind.absentErrno;
    this.unreadable = kind.unreadable?.(map);
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
   * wrapper is consumed: its descriptor is closed and the map lives on through the
   * pin. Throws PinError.
   */
  pin(path: string): void {
    this.map.pin(path);
    if (this.#owned) this.map.close();
  }

  /** Closes the map if this wrapper owns it; a view leaves it open. */
  close(): void {
    if (this.#owned) this.map.close();
  }

  /** Same as `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  // The element operations, on io.key / io.value: through the map's fd (which throws
  // once closed), kernel failures as MapError 'SyscallError'.

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

  /** getBatch / getAndRemoveBatch: one batch lookup, decoded. @internal */
  protected readBatch<K, E>(cursor: MapBatchCursor, count: number, flags: number, andDelete: boolean, key: KeyDecoder<K>, value: ValueCodec<any, any, E>): BatchEntries<K, E> {
    if (this.unreadable !== undefined) throw notReadable(this.unreadable);
    checkElemFlags(flags);
    const map = this.map;
    const b = batchBuffers(map, checkBatchCount(count));
    const n = lookupBatch(map, cursor, b.keys.bytes, b.values.bytes, count, andDelete, flags);
    const keySize = map.keySize;
    const valueBytes = map.valueBytes;
    const keys = new Array<K>(n);
    const values = new Array<E>(n);
    const ks = b.keys;
    const vs = b.values;
    if (value.entry) {
      for (let i = 0; i < n; i++) {
        keys[i] = key.decode(ks, i * keySize);
        values[i] = value.entry(vs, i * valueBytes);
      }
    } else {
      for (let i = 0; i < n; i++) {
        keys[i] = key.decode(ks, i * keySize);
        values[i] = value.decode(vs, i * valueBytes) as unknown as E;
      }
    }
    return { keys, values };
  }

  /** insertBatch (arrays and keyed maps): encodes every pair, then one batch update. @internal */
  protected writeBatch<K, In>(keys: readonly K[], values: readonly In[], flags: number, putKey: (s: Scratch, at: number, key: K) => void, value: ValueCodec<any, In, any>): number {
    if (!Array.isArray(keys) || !Array.isArray(values) || keys.length !== values.length) {
      throw new MapError('InvalidArgument', `keys and values must be arrays of one length, got ${describeValue(keys)} and ${describeValue(values)}`);
    }
    checkElemFlags(flags);
    if (keys.length === 0) return 0;
    const map = this.map;
    const b = batchBuffers(map, checkBatchCount(keys.length, 'keys.length'));
    const keySize = map.keySize;
    const valueBytes = map.valueBytes;
    for (let i = 0; i < keys.length; i++) {
      try {
        putKey(b.keys, i * keySize, keys[i]!);
      } catch (err) {
        throw codecError(err, 'key');
      }
      try {
        value.encode(b.values, i * valueBytes, values[i]!);
      } catch (err) {
        throw codecError(err, 'value');
      }
    }
    return updateBatch(map, b.keys.bytes, b.values.bytes, keys.length, flags);
  }

  /** Deletes io.key; an absent key is MapError 'KeyNotFound'. */
  protected deleteExisting(index?: number): void {
    const fd = this.map.fd;
    let found: boolean;
    try {
      found = this.io.delete(fd);
    } catch (err) {
      if (this.#absentErrno !== undefined && MapError.fromSyscall(err).errno === this.#absentErrno) throw notFound(index);
      rethrow(err);
    }
    if (!found) throw notFound(index);
  }
}

/**
 * What getBatch and getAndRemoveBatch return: keys (indices for arrays) and their
 * values as entries() lists them (maps of maps: the inner maps' ids, nothing opened),
 * in the kernel's order.
 */
export interface BatchEntries<K, V> {
  keys: K[];
  values: V[];
}

/** Elements a batch call asks for when not told: enough to amortise the call, small enough for any bucket. */
const DEFAULT_BATCH = 256;
/** Elements entries() asks for at once. */
const ENTRIES_BATCH = 1024;

/** How a batch key is read: a key codec, or an array's u32 index. */
interface KeyDecoder<K> {
  decode(s: Scratch, offset: number): K;
}

const indexAt: KeyDecoder<number> = { decode: (s, offset) => s.view.getUint32(offset, true) };

/**
 * entries() a batch at a time, each batch in buffers of its own (the loop body may
 * use the map). A plain iterator rather than a generator: a for-of loop calls its
 * next() like any method (optimised code inlines it), where a generator is resumed
 * through a builtin at every element. Lazy like a generator: nothing is checked or
 * read before the first next(). Where the kernel refuses the first batch lookup (no
 * batch operations for the type: recorded), or the map's type has none, the rest
 * comes from `walk`, key by key.
 */
class BatchEntryIterator<K, E> implements IterableIterator<[K, E]> {
  readonly #map: MapData;
  readonly #key: KeyDecoder<K>;
  readonly #value: ValueCodec<any, any, E>;
  /** Checks before the first element (a map user space cannot read throws there). */
  readonly #check: () => void;
  readonly #walk: () => Iterator<[K, E]>;
  #fallback: Iterator<[K, E]> | undefined;
  #cursor: MapBatchCursor | undefined;
  #buffers: BatchBuffers | undefined;
  #count = ENTRIES_BATCH;
  #keySize = 0;
  #valueBytes = 0;
  /** Elements in the buffers, and the next one to hand out. */
  #n = 0;
  #i = 0;
  #first = true;
  #ended = false;

  constructor(map: MapData, key: KeyDecoder<K>, value: ValueCodec<any, any, E>, check: () => void, walk: () => Iterator<[K, E]>) {
    this.#map = map;
    this.#key = key;
    this.#value = value;
    this.#check = check;
    this.#walk = walk;
  }

  next(): IteratorResult<[K, E], undefined> {
    if (this.#i === this.#n && !this.#fill()) {
      return this.#fallback !== undefined ? this.#fallback.next() : { done: true, value: undefined };
    }
    const i = this.#i++;
    const b = this.#buffers!;
    const value = this.#value;
    const k = this.#key.decode(b.keys, i * this.#keySize);
    const v = value.entry ? value.entry(b.values, i * this.#valueBytes) : (value.decode(b.values, i * this.#valueBytes) as unknown as E);
    return { done: false, value: [k, v] };
  }

  /** Reads the next batch; false at the end (or when the fallback takes over). */
  #fill(): boolean {
    if (this.#fallback !== undefined || this.#ended) return false;
    const map = this.#map;
    if (this.#cursor === undefined) {
      this.#check();
      if (!batchIterable(map.type)) {
        this.#fallback = this.#walk();
        return false;
      }
      this.#cursor = new MapBatchCursor();
      this.#keySize = map.keySize;
      this.#valueBytes = map.valueBytes;
      this.#buffers = new BatchBuffers(this.#keySize, this.#valueBytes).reserve(this.#count);
    }
    const cursor = this.#cursor;
    const b = this.#buffers!;
    this.#i = this.#n = 0;
    while (!cursor.done) {
      let n: number;
      try {
        n = lookupBatch(map, cursor, b.keys.bytes, b.values.bytes, this.#count, false);
      } catch (err) {
        if (err instanceof MapError && err.errno === Errno.ENOSPC) {
          // A bucket larger than the batch: ask again, for more (the cursor has not moved).
          b.reserve((this.#count *= 2));
          continue;
        }
        if (this.#first && err instanceof MapError && isBatchRefusal(err.errno)) {
          refuseBatch(map.type);
          this.#fallback = this.#walk();
          return false;
        }
        this.#ended = true;
        throw err;
      }
      this.#first = false;
      if (n > 0) {
        this.#n = n;
        return true;
      }
    }
    this.#ended = true;
    return false;
  }

  return(): IteratorResult<[K, E], undefined> {
    this.#ended = true;
    this.#i = this.#n = 0;
    const fallback = this.#fallback;
    this.#fallback = undefined;
    fallback?.return?.();
    return { done: true, value: undefined };
  }

  /** The entries, as `entries()` gives them. */
  [Symbol.iterator](): this {
    return this;
  }
}

function notFound(index: number | undefined): MapError {
  return index === undefined ? new MapError('KeyNotFound', 'key not found') : new MapError('KeyNotFound', `nothing at index ${index} (empty slot)`, { index });
}

function notReadable(why: string): MapError {
  return new MapError('NotSupported', why);
}

/**
 * Arrays: a u32 index checked against max_entries before any syscall; `get` / `set`,
 * and `remove` in the classes whose kernel type can empty a slot.
 */
export abstract class IndexedMap<V, In = V, E = V> extends TypedMap {
  readonly #len: number;
  readonly #name: string;
  readonly #value: ValueCodec<V, In, E>;

  /** @internal typed maps are made by create, tryFrom and the loader. */
  protected constructor(map: MapData, owned: boolean, kind: KindName, shape: Shape) {
    super(map, owned, kind);
    this.#len = map.maxEntries;
    this.#name = kind.name;
    this.#value = shape.value;
  }

  /** The value codec (memory-mapped views decode through it). @internal */
  protected get valueCodec(): ValueCodec<V, In, E> {
    return this.#value;
  }

  /** The number of elements: max_entries. */
  len(): number {
    return this.#len;
  }

  /** True when the array has no slots. */
  isEmpty(): boolean {
    return this.#len === 0;
  }

  /** The value at `index`. MapError 'OutOfBounds' past the end (no syscall), 'KeyNotFound' for an empty slot. */
  get(index: number, flags: number = 0): V {
    return this.#value.decode(this.valueAt(index, flags), 0);
  }

  /** Sets the value at `index` (flags: BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK). */
  set(index: number, value: In, flags: number = 0): void {
    this.setIndex(index);
    try {
      this.#value.encode(this.io.value, 0, value);
    } catch (err) {
      throw codecError(err, 'value');
    }
    this.updateElem(flags);
  }

  /** The value bytes at `index` (valid until the next operation on the map). */
  protected valueAt(index: number, flags: number): Scratch {
    if (this.unreadable !== undefined) throw notReadable(this.unreadable);
    this.setIndex(index);
    this.lookupExisting(flags, index);
    return this.io.value;
  }

  /** Empties slot `index`; MapError 'KeyNotFound' when it was empty. */
  protected removeIndex(index: number): void {
    this.setIndex(index);
    this.deleteExisting(index);
  }

  /** Puts `index` in io.key, after the bounds check. */
  protected setIndex(index: number): void {
    checkIndex(index, this.#len);
    this.io.key.view.setUint32(0, index, true);
  }

  /** Every index, 0 to len() - 1. */
  *keys(): IterableIterator<number> {
    for (let i = 0; i < this.#len; i++) yield i;
  }

  /**
   * Up to `count` indices and their values from `cursor` (BPF_MAP_LOOKUP_BATCH, 5.6+:
   * one system call for them all); `cursor.done` once the end is reached. MapError
   * 'NotSupported' where the kernel has no batch lookup for the map type.
   */
  getBatch(cursor: MapBatchCursor, count: number = DEFAULT_BATCH, flags: number = 0): BatchEntries<number, E> {
    return this.readBatch(cursor, count, flags, false, indexAt, this.#value);
  }

  /**
   * Sets `values[i]` at `indices[i]` for every i (BPF_MAP_UPDATE_BATCH, 5.6+), in one
   * system call; indices are checked against max_entries before it. Returns the count.
   */
  insertBatch(indices: readonly number[], values: readonly In[], flags: number = 0): number {
    return this.writeBatch(indices, values, flags, (s, at, index) => {
      checkIndex(index, this.#len);
      s.view.setUint32(at, index, true);
    }, this.#value);
  }

  /**
   * `[index, value]` for every index that holds one (maps of maps: the inner map's id).
   * Read a batch at a time where the kernel has batch lookups (arrays, per-CPU arrays),
   * one lookup per index otherwise.
   */
  entries(): IterableIterator<[number, E]> {
    return new BatchEntryIterator(this.map, indexAt, this.#value, () => this.#checkReadable(), () => this.#walk());
  }

  #checkReadable(): void {
    if (this.unreadable !== undefined) throw notReadable(this.unreadable);
  }

  /** entries() one lookup per index. */
  *#walk(): IterableIterator<[number, E]> {
    const value = this.#value;
    for (let i = 0; i < this.#len; i++) {
      this.setIndex(i);
      if (this.lookupElem(0)) yield [i, value.entry ? value.entry(this.io.value, 0) : (value.decode(this.io.value, 0) as unknown as E)];
    }
  }

  /** The entries, as `entries()` gives them. */
  [Symbol.iterator](): IterableIterator<[number, E]> {
    return this.entries();
  }

  override toString(): string {
    return `${this.#name}(len ${this.#len}${this.owned ? ', owned' : ''})`;
  }
}

/** Hashes and other keyed maps: keys of a codec; `get` / `insert` / `remove`, key iteration. */
export abstract class KeyedMap<K, V, In = V, E = V> extends TypedMap {
  readonly #key: Codec<K>;
  readonly #value: ValueCodec<V, In, E>;

  /** @internal typed maps are made by create, tryFrom and the loader. */
  protected constructor(map: MapData, owned: boolean, kind: KindName, shape: Shape) {
    super(map, owned, kind);
    this.#key = shape.key as Codec<K>;
    this.#value = shape.value;
  }

  /** The value of `key`; MapError 'KeyNotFound' when absent. */
  get(key: K, flags: number = 0): V {
    return this.#value.decode(this.valueAt(key, flags), 0);
  }

  /** Inserts or updates `key` (flags: BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK). */
  insert(key: K, value: In, flags: number = 0): void {
    this.setKey(key);
    try {
      this.#value.encode(this.io.value, 0, value);
    } catch (err) {
      throw codecError(err, 'value');
    }
    this.updateElem(flags);
  }

  /** Removes `key`; MapError 'KeyNotFound' when absent. */
  remove(key: K): void {
    this.setKey(key);
    this.deleteExisting();
  }

  /** The value bytes of `key` (valid until the next operation on the map). */
  protected valueAt(key: K, flags: number): Scratch {
    if (this.unreadable !== undefined) throw notReadable(this.unreadable);
    this.setKey(key);
    this.lookupExisting(flags);
    return this.io.value;
  }

  /** Puts `key` in io.key. */
  protected setKey(key: K): void {
    try {
      this.#key.encode(this.io.key, 0, key);
    } catch (err) {
      throw codecError(err, 'key');
    }
  }

  /** The keys, in the kernel's order. */
  *keys(): IterableIterator<K> {
    for (const raw of keyCursor(this.map)) yield this.#key.decode(raw, 0);
  }

  /**
   * Up to `count` keys and their values from `cursor` (BPF_MAP_LOOKUP_BATCH, 5.6+: one
   * system call for them all); `cursor.done` once the end is reached (the last call
   * may return fewer, or none). A hash map is walked a bucket at a time: `count` must
   * hold the largest bucket (MapError 'InvalidArgument' otherwise, kernel ENOSPC).
   * MapError 'NotSupported' where the kernel has no batch lookup for the map type.
   */
  getBatch(cursor: MapBatchCursor, count: number = DEFAULT_BATCH, flags: number = 0): BatchEntries<K, E> {
    return this.readBatch(cursor, count, flags, false, this.#key, this.#value);
  }

  /** As getBatch, and removes what it returns (BPF_MAP_LOOKUP_AND_DELETE_BATCH, hash maps). */
  getAndRemoveBatch(cursor: MapBatchCursor, count: number = DEFAULT_BATCH, flags: number = 0): BatchEntries<K, E> {
    return this.readBatch(cursor, count, flags, true, this.#key, this.#value);
  }

  /** Inserts or updates `keys[i]` with `values[i]` for every i, in one system call (BPF_MAP_UPDATE_BATCH, 5.6+). Returns the count. */
  insertBatch(keys: readonly K[], values: readonly In[], flags: number = 0): number {
    const key = this.#key;
    return this.writeBatch(keys, values, flags, (s, at, k) => key.encode(s, at, k), this.#value);
  }

  /**
   * Removes `keys` in order, in one system call (BPF_MAP_DELETE_BATCH, hash maps, 5.6+).
   * The kernel stops at the first key not in the map: the count returned is the keys
   * removed before it (keys.length when all were there).
   */
  removeBatch(keys: readonly K[]): number {
    if (!Array.isArray(keys)) throw new MapError('InvalidArgument', `keys must be an array, got ${describeValue(keys)}`);
    if (keys.length === 0) return 0;
    const b = batchBuffers(this.map, checkBatchCount(keys.length, 'keys.length'));
    const key = this.#key;
    const size = this.map.keySize;
    for (let i = 0; i < keys.length; i++) {
      try {
        key.encode(b.keys, i * size, keys[i]!);
      } catch (err) {
        throw codecError(err, 'key');
      }
    }
    return deleteBatch(this.map, b.keys.bytes, keys.length);
  }

  /**
   * `[key, value]` pairs (maps of maps: the inner map's id). Read a batch at a time
   * where the kernel has batch lookups (hash and per-CPU hash maps, LRU or not): each
   * batch is as the map was when it was read. Elsewhere key by key, where a key
   * removed during the walk is skipped.
   */
  entries(): IterableIterator<[K, E]> {
    return new BatchEntryIterator(this.map, this.#key, this.#value, () => this.#checkReadable(), () => this.#walk());
  }

  #checkReadable(): void {
    if (this.unreadable !== undefined) throw notReadable(this.unreadable);
  }

  /** entries() key by key. */
  *#walk(): IterableIterator<[K, E]> {
    const value = this.#value;
    for (const raw of keyCursor(this.map)) {
      this.io.key.bytes.set(raw.bytes);
      if (this.lookupElem(0)) yield [this.#key.decode(raw, 0), value.entry ? value.entry(this.io.value, 0) : (value.decode(this.io.value, 0) as unknown as E)];
    }
  }

  /** The entries, as `entries()` gives them. */
  [Symbol.iterator](): IterableIterator<[K, E]> {
    return this.entries();
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

/** `codec` if it is one, else MapError 'InvalidArgument'. */
export function checkCodec<T>(codec: Codec<T>, what: string): Codec<T> {
  if (typeof codec !== 'object' || codec === null || typeof codec.encode !== 'function' || typeof codec.decode !== 'function') {
    throw new MapError('InvalidArgument', `${what} must be a codec (u32, u64, bytes(n), struct({...}), ...), got ${describeValue(codec)}`);
  }
  return codec;
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

/** The options argument of tryFrom: undefined or an object. */
export function checkOptions<T extends object>(options: T | undefined, what: string): T {
  if (options === undefined) return {} as T;
  if (typeof options !== 'object' || options === null) throw new MapError('InvalidArgument', `${what} options must be an object, got ${describeValue(options)}`);
  return options;
}

/** Wraps kernel failures of a typed-map operation as MapError 'SyscallError'. */
export function rethrow(err: unknown): never {
  throw MapError.fromSyscall(err);
}

/**
 * Type-level only (nothing of it exists at run time): how a generic class's shape
 * arguments type its instance, for `Ebpf.map(name, HashMap, u32, u64)`. TypeScript
 * cannot apply a generic static tryFrom to arguments inside a type, so each generic
 * class declares `typing` as an interface whose `instance` reads `this['shape']` (the
 * arguments given); a class without it is typed by its tryFrom's return type, which
 * is exact where tryFrom is not generic (RingBuf, SockMap, ...).
 */
export interface MapTyping {
  /** The shape arguments given (filled in by MapInstanceOf). */
  readonly shape: readonly unknown[];
  /** The class's instance for them. */
  readonly instance: unknown;
}

/** A class Ebpf.map can view a map as: one with a static tryFrom(map, ...shape). */
export interface MapClass {
  /** Wraps `map`, checking its type and sizes against the shape. */
  tryFrom(map: MapData, ...shape: any[]): unknown;
  /** Type-level only: how a generic class's shape arguments type its instance. */
  readonly typing?: MapTyping;
}

/** The arguments `C.tryFrom` takes after the map (its generics as their constraints). */
export type MapShapeOf<C extends MapClass> = C['tryFrom'] extends (map: MapData, ...shape: infer A) => unknown ? A : never;

/** What `C.tryFrom(map, ...shape)` returns, for shape arguments of types `A`. */
export type MapInstanceOf<C extends MapClass, A extends readonly unknown[]> = C extends { readonly typing?: infer F extends MapTyping }
  ? (F & { readonly shape: A })['instance']
  : ReturnType<C['tryFrom']>;

/** The value type of a codec among shape arguments; `Else` when it is none. @internal */
export type CodecValue<C, Else = never> = C extends Codec<infer T> ? T : Else;
