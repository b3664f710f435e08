// Batch operations (BPF_MAP_*_BATCH, 5.6+): many elements per system call. The raw
// layer works on caller buffers of packed keys and values (MapData's batch methods);
// the typed maps encode and decode through the same calls (typed-map.ts). A cursor
// carries the kernel's position from one lookup to the next.
import { MapError } from '../errors.js';
import { mapDeleteBatch, mapLookupAndDeleteBatch, mapLookupBatch, mapUpdateBatch, type BatchResult } from '../sys/bpf.js';
import { Errno } from '../sys/errors.js';
import { scratch, type Scratch } from '../sys/scratch.js';
import { describeValue } from '../describe.js';
import { MapType } from './map-type.js';

/** What a batch works on: a MapData (structurally, so that map-data.ts can use this module). */
export interface BatchTarget {
  readonly fd: number;
  readonly keySize: number;
  /** Bytes of one value as user space reads it (per-CPU: a slot per possible CPU). */
  readonly valueBytes: number;
}

let cursorStep: (cursor: MapBatchCursor, map: BatchTarget) => { inBatch: Uint8Array | null; outBatch: Uint8Array } | undefined;
let cursorAdvance: (cursor: MapBatchCursor, done: boolean) => void;

/**
 * The position of a walk over a map with getBatch / getAndRemoveBatch (the kernel's
 * in_batch / out_batch, opaque: a bucket index for hash maps, the last key for
 * arrays). A new cursor starts at the beginning; `done` turns true when the kernel
 * reports the end of the map, after the call that returned the last elements. A
 * cursor follows one map: using it on another is MapError 'InvalidArgument' until
 * reset().
 * Kernel 5.6+ (BPF_MAP_*_BATCH).
 */
export class MapBatchCursor {
  #map: BatchTarget | undefined;
  #position: Uint8Array | undefined;
  #started = false;
  #done = false;

  static {
    cursorStep = (cursor, map) => {
      if (cursor.#map === undefined) {
        cursor.#map = map;
        // Hash maps write a u32 bucket index, the generic walk (arrays) a key.
        cursor.#position = new Uint8Array(Math.max(map.keySize, 4));
      } else if (cursor.#map !== map) {
        throw new MapError('InvalidArgument', 'this MapBatchCursor walks another map: reset() it, or use a new cursor');
      }
      if (cursor.#done) return undefined;
      return { inBatch: cursor.#started ? cursor.#position! : null, outBatch: cursor.#position! };
    };
    cursorAdvance = (cursor, done) => {
      cursor.#started = true;
      cursor.#done = done;
    };
  }

  /** True once the walk has reached the end of the map: further calls return nothing. */
  get done(): boolean {
    return this.#done;
  }

  /** Starts again from the beginning (of any map). */
  reset(): void {
    this.#map = undefined;
    this.#position = undefined;
    this.#started = false;
    this.#done = false;
  }
}

/** The map types whose batch lookup tsbpf uses for entries(): the kernel has it for these (5.6+). */
const BATCH_TYPES: ReadonlySet<number> = new Set([MapType.Hash, MapType.PercpuHash, MapType.LruHash, MapType.LruPercpuHash, MapType.Array, MapType.PercpuArray]);
/** Map types whose batch lookup the kernel refused once: entries() walks them key by key from then on. */
const refusedTypes = new Set<number>();

/** What the kernel answers for a batch command it does not have (an older kernel, another map type). */
export function isBatchRefusal(errno: number | undefined): boolean {
  return errno === Errno.EINVAL || errno === Errno.ENOTSUPP || errno === Errno.EOPNOTSUPP || errno === Errno.ENOSYS;
}

/** Whether entries() should try a batch lookup on a map of `type`. @internal */
export function batchIterable(type: number): boolean {
  return BATCH_TYPES.has(type) && !refusedTypes.has(type);
}

/** Records that the kernel refused a batch lookup on maps of `type`. @internal */
export function refuseBatch(type: number): void {
  refusedTypes.add(type);
}

/** Forgets which map types the kernel refused batch lookups for (tests that injected the refusal). */
export function forgetBatchRefusals(): void {
  refusedTypes.clear();
}

function checkCount(count: unknown, what = 'count'): number {
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 0xffff_ffff) {
    throw new MapError('InvalidArgument', `${what} must be an integer in [1, 2^32), got ${describeValue(count)}`);
  }
  return count;
}

/** Checks `buf` holds `count` elements of `size` bytes. */
function checkBuffer(buf: unknown, count: number, size: number, what: 'keys' | 'values'): Uint8Array {
  if (!(buf instanceof Uint8Array)) throw new MapError('InvalidArgument', `${what} must be a Uint8Array, got ${describeValue(buf)}`);
  if (buf.length < count * size) {
    throw new MapError(what === 'keys' ? 'InvalidKeySize' : 'InvalidValueSize', `${what}: ${count} elements of ${size} bytes need ${count * size} bytes, the buffer has ${buf.length}`, {
      size: buf.length,
      expected: count * size,
    });
  }
  return buf;
}

function batchError(err: unknown, what: string): MapError {
  const e = MapError.fromSyscall(err);
  if (e.errno === Errno.ENOSPC) {
    return new MapError('InvalidArgument', `${what}: a hash bucket holds more elements than count: ask for more at once (${e.message})`, { cause: e.cause });
  }
  if (e.errno === Errno.ENOTSUPP || e.errno === Errno.EOPNOTSUPP || e.errno === Errno.ENOSYS) {
    return new MapError('NotSupported', `${what}: the kernel has no such batch operation for this map type (${e.message})`, { feature: what, cause: e.cause });
  }
  return e;
}

/**
 * BPF_MAP_LOOKUP_BATCH (or LOOKUP_AND_DELETE_BATCH) on `map` from `cursor`: up to
 * `count` keys and values packed into `keys` / `values` (key size and value bytes
 * each: per-CPU maps one 8-aligned slot per possible CPU). Returns how many; the
 * cursor is done after the last.
 */
export function lookupBatch(map: BatchTarget, cursor: MapBatchCursor, keys: Uint8Array, values: Uint8Array, count: number, andDelete: boolean, elemFlags: number | bigint = 0): number {
  if (!(cursor instanceof MapBatchCursor)) throw new MapError('InvalidArgument', `cursor must be a MapBatchCursor, got ${describeValue(cursor)}`);
  checkCount(count);
  checkBuffer(keys, count, map.keySize, 'keys');
  checkBuffer(values, count, map.valueBytes, 'values');
  const fd = map.fd;
  const at = cursorStep(cursor, map);
  if (at === undefined) return 0;
  let r: BatchResult;
  try {
    r = (andDelete ? mapLookupAndDeleteBatch : mapLookupBatch)(fd, at.inBatch, at.outBatch, keys, values, count, elemFlags);
  } catch (err) {
    throw batchError(err, andDelete ? 'BPF_MAP_LOOKUP_AND_DELETE_BATCH' : 'BPF_MAP_LOOKUP_BATCH');
  }
  cursorAdvance(cursor, r.done);
  return r.count;
}

/** BPF_MAP_UPDATE_BATCH of `count` packed keys and values; returns the count (all, or it throws). */
export function updateBatch(map: BatchTarget, keys: Uint8Array, values: Uint8Array, count: number, elemFlags: number | bigint = 0): number {
  if (count === 0) return 0;
  checkCount(count);
  checkBuffer(keys, count, map.keySize, 'keys');
  checkBuffer(values, count, map.valueBytes, 'values');
  try {
    return mapUpdateBatch(map.fd, keys, values, count, elemFlags).count;
  } catch (err) {
    throw batchError(err, 'BPF_MAP_UPDATE_BATCH');
  }
}

/**
 * BPF_MAP_DELETE_BATCH of `count` packed keys, in order. The kernel stops at the first
 * key not in the map: the count returned is the keys deleted before it.
 */
export function deleteBatch(map: BatchTarget, keys: Uint8Array, count: number, elemFlags: number | bigint = 0): number {
  if (count === 0) return 0;
  checkCount(count);
  checkBuffer(keys, count, map.keySize, 'keys');
  try {
    return mapDeleteBatch(map.fd, keys, count, elemFlags).count;
  } catch (err) {
    throw batchError(err, 'BPF_MAP_DELETE_BATCH');
  }
}

/** Packed keys and values for up to `capacity` elements of one map, grown on demand. @internal */
export class BatchBuffers {
  keys: Scratch;
  values: Scratch;
  #capacity = 0;
  readonly #keySize: number;
  readonly #valueBytes: number;

  constructor(keySize: number, valueBytes: number) {
    this.#keySize = keySize;
    this.#valueBytes = valueBytes;
    this.keys = this.values = scratch(0);
  }

  /** Room for `count` elements (the buffers may be replaced: read them after this). */
  reserve(count: number): this {
    if (count > this.#capacity) {
      this.keys = scratch(Math.max(1, count * this.#keySize));
      this.values = scratch(Math.max(1, count * this.#valueBytes));
      this.#capacity = count;
    }
    return this;
  }
}

const buffersOf = new WeakMap<BatchTarget, BatchBuffers>();

/** The batch buffers of `map`, with room for `count` elements. @internal */
export function batchBuffers(map: BatchTarget, count: number): BatchBuffers {
  let b = buffersOf.get(map);
  if (b === undefined) buffersOf.set(map, (b = new BatchBuffers(map.keySize, map.valueBytes)));
  return b.reserve(count);
}

export { checkCount as checkBatchCount };
