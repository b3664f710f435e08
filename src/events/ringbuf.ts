// BPF_MAP_TYPE_RINGBUF read in JavaScript, straight from the memory-mapped ring, as
// libbpf's ring_buffer__consume does (src/ringbuf.c) and cilium's ringbuf/ reader:
//
//   offset 0            consumer page, read-write: u64 consumer_pos (published by us)
//   offset PAGE         producer page, read-only:  u64 producer_pos (the kernel's)
//   offset 2*PAGE       data, read-only, mapped twice in a row (a record that wraps
//                       past the end is contiguous in the second copy)
//
// Each record is an 8-byte header {u32 len, u32 pg_off} and len bytes, padded to 8.
// BPF_RINGBUF_BUSY_BIT in len: reserved, not yet committed (stop there, in order);
// BPF_RINGBUF_DISCARD_BIT: committed as discarded (skip it).
//
// Positions are u64 but never more than the ring's size (at most 2^31) apart, so the
// loop works on their low 32 bits (plain numbers, no BigInt): the low word of the
// producer position is read alone (an aligned 32-bit load of a 64-bit value is a
// consistent half), and the consumer position is published with one 32-bit store while
// its high word stays (the kernel's 64-bit load sees old or new, never a mix), with one
// 64-bit store when it carries. Atomics are sequentially consistent: at least the
// acquire (reading positions) and release (publishing) the protocol needs.
//
// Record headers need acquire too (the kernel commits with an exchange): a reader must
// not see a cleared busy bit and then stale bytes. Node 20's Atomics.load is a call, not
// an inlined load (measured: 10-100 ns a record against 3 ns for a plain load), so on
// x86, where every load is an acquire load (TSO) and the JIT does not move typed-array
// loads across the call that read producer_pos nor across the callback, headers are read
// with plain loads; on other architectures with Atomics.load.
import { MapError } from '../errors.js';
import type { Codec } from '../codec/codec.js';
import type { Scratch } from '../sys/scratch.js';
import type { MapData } from '../maps/map-data.js';
import { MapType } from '../maps/map-type.js';
import { checkCodec, checkMap, type TryFromOptions } from '../maps/typed-map.js';
import { describeValue } from '../describe.js';
import { Readiness } from './readiness.js';
import { createRing, readOnlyPart, RingMaps, writablePart } from './ring-maps.js';

export const BPF_RINGBUF_BUSY_BIT = 1 << 31;
export const BPF_RINGBUF_DISCARD_BIT = 1 << 30;
export const BPF_RINGBUF_HDR_SZ = 8;

const EPOLLIN = 1;
/** drain copies records up to this size (a multiple of 4) instead of making a view into the ring. */
const SMALL_RECORD = 64;
const LEN_MASK = 0x3fffffff;
/** Plain loads are acquire loads here (x86 TSO). */
const TSO = process.arch === 'x64' || process.arch === 'ia32';
/** Batches in a row after which a reader lets the event loop turn. */
const YIELD_EVERY = 64;
/**
 * A copy of a record. Records under 4 KiB are copied into 64 KiB slabs shared by the
 * copies (as Node's Buffer pool does): a new ArrayBuffer per record (zeroed, off the V8
 * heap) was measured 3-10x slower for 1 KiB records. A copy's `buffer` may hold other
 * records' copies; its bytes are its own.
 */
const SLAB = 1 << 16;
const SLAB_MAX_RECORD = 4096;
let slab = new ArrayBuffer(0);
let slab32 = new Int32Array(0);
let slabUsed = SLAB;
/** A copy of `length` bytes at `offset` (a multiple of 8) of the ring, `words` being its Int32Array. */
function copyOut(words: Int32Array, bytes: Uint8Array, offset: number, length: number): Uint8Array {
  if (length >= SLAB_MAX_RECORD) return bytes.slice(offset, offset + length);
  if (slabUsed + length > SLAB) {
    slab = new ArrayBuffer(SLAB);
    slab32 = new Int32Array(slab);
    slabUsed = 0;
  }
  const copy = new Uint8Array(slab, slabUsed, length);
  if (length <= SMALL_RECORD) {
    // Word by word (as drain): no view of the source, no call into set(). The words past
    // the record's end land in its own padding in the slab.
    for (let i = 0, to = slabUsed >> 2, from = offset >> 2, n = (length + 3) >> 2; i < n; i++) slab32[to + i] = words[from + i]!;
  } else {
    copy.set(bytes.subarray(offset, offset + length));
  }
  slabUsed += (length + 7) & ~7;
  return copy;
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Called with each record of a drain: a view valid only during the call (into the ring, or a reused copy of a record of up to 64 bytes). */
export type RingBufCallback = (record: Uint8Array) => void;

/**
 * Called with each record of drainRaw: the whole mapped ring, and where the record is in
 * it (`bytes[offset]` to `bytes[offset + length - 1]`), valid only during the call.
 */
export type RingBufRawCallback = (bytes: Uint8Array, offset: number, length: number) => void;

/** Options of a ring buffer drain (BPF_MAP_TYPE_RINGBUF, 5.8+). */
export interface DrainOptions {
  /** At most this many records (default: all that are there). */
  max?: number;
}

/** Options of `records()`: the async iteration over a ring buffer (5.8+). */
export interface RecordsOptions<T = Uint8Array> {
  /** Ends the iteration: the pending next() rejects with `signal.reason` (as `events.on`). */
  signal?: AbortSignal;
  /** Decodes each record instead of copying it. */
  codec?: Codec<T>;
}

function checkTryFromOptions(options: TryFromOptions | undefined, what: string): boolean {
  if (options === undefined) return false;
  if (typeof options !== 'object' || options === null) throw new MapError('InvalidArgument', `${what} options must be an object, got ${describeValue(options)}`);
  return options.owned === true;
}

function checkMax(options: DrainOptions | undefined): number {
  if (options === undefined || options.max === undefined) return Infinity;
  const max = options.max;
  if (typeof max !== 'number' || !(max >= 0) || (max !== Infinity && !Number.isInteger(max))) {
    throw new MapError('InvalidArgument', `drain max must be a non-negative integer, got ${describeValue(max)}`);
  }
  return max;
}

/**
 * A reader of a BPF_MAP_TYPE_RINGBUF (5.8). One consumer at a time, as in libbpf: two
 * readers of one ring would consume each other's records.
 */
export class RingBuf implements Disposable, AsyncIterable<Uint8Array> {
  static readonly mapTypes: readonly MapType[] = [MapType.Ringbuf];
  /** The ring buffer map. */
  readonly map: MapData;
  /** The data size (max_entries). */
  readonly byteSize: number;
  readonly #ring: RingMaps;
  readonly #page: number;
  readonly #mask: number;
  /** The consumer page: [0] low, [1] high word of consumer_pos. */
  #cons32: Int32Array;
  #cons64: BigInt64Array;
  /** The producer page and data: [0] is producer_pos's low word; headers at (page + off) / 4. */
  #prod32: Int32Array;
  #bytes: Uint8Array;
  #scratch: Scratch;
  /** drain's copies of small records: one view per length over one buffer. */
  #small: Uint8Array[];
  #small32: Int32Array;

  private constructor(map: MapData, owned: boolean) {
    // libbpf ring_buffer__add: the consumer page read-write, then the producer page and
    // twice the data read-only from the second page; waits are for readable.
    const ring = new RingMaps(map, owned, writablePart, readOnlyPart, EPOLLIN, 'ring buffer');
    this.#ring = ring;
    this.map = map;
    this.byteSize = ring.byteSize;
    this.#page = ring.page;
    this.#mask = ring.mask;
    this.#cons32 = new Int32Array(ring.consumer!, 0, 2);
    this.#cons64 = new BigInt64Array(ring.consumer!, 0, 1);
    this.#prod32 = new Int32Array(ring.producer!);
    this.#bytes = new Uint8Array(ring.producer!);
    this.#scratch = { bytes: this.#bytes, view: new DataView(ring.producer!) };
    const copies = new ArrayBuffer(SMALL_RECORD);
    this.#small32 = new Int32Array(copies);
    this.#small = Array.from({ length: SMALL_RECORD + 1 }, (_, length) => new Uint8Array(copies, 0, length));
  }

  /** Reads `map`; MapError 'InvalidMapType' unless it is a BPF_MAP_TYPE_RINGBUF. With `owned`, close() closes the map too. */
  static tryFrom(map: MapData, options?: TryFromOptions): RingBuf {
    checkMap(map, RingBuf.mapTypes, 'RingBuf');
    return new RingBuf(map, checkTryFromOptions(options, 'RingBuf.tryFrom'));
  }

  /**
   * Creates a ring buffer of `byteSize` bytes (a power of two multiple of the page size)
   * that the returned reader owns; MapError 'InvalidArgument' for another size,
   * 'NotSupported' where the kernel has no ring buffers.
   */
  static create(byteSize: number, options: { name?: string } = {}): RingBuf {
    return createRing(MapType.Ringbuf, byteSize, options.name, 'RingBuf.create', (map) => new RingBuf(map, true));
  }

  get closed(): boolean {
    return this.#ring.closed;
  }

  #check(): void {
    if (this.#ring.closed) throw new MapError('Closed', 'the ring buffer reader is closed');
  }

  /** Bytes committed or reserved by the kernel and not yet consumed. */
  get pending(): number {
    this.#check();
    return (Atomics.load(this.#prod32, 0) - Atomics.load(this.#cons32, 0)) >>> 0;
  }

  /** Publishes the consumer position: its low word, or all of it when the high word changed. */
  #publish(lo: number, hi: number): void {
    if (hi === this.#cons32[1]) Atomics.store(this.#cons32, 0, lo | 0);
    else Atomics.store(this.#cons64, 0, BigInt(hi) * 0x1_0000_0000n + BigInt(lo >>> 0));
  }

  /**
   * Calls `callback` with each record there is now (up to `max`), in order, with a view
   * valid only during the call (copy what you keep). A record of up to 64 bytes is
   * copied into a buffer of this reader's, reused by the next record of its length; a
   * longer one is a view straight into the ring, whose space the kernel reuses once the
   * position is published. Discarded records are skipped; a record still being written
   * ends the batch. The consumer position is published once, after the batch, and before
   * an exception from the callback propagates (the record that threw counts as consumed).
   * Returns the number of records.
   */
  drain(callback: RingBufCallback, options?: DrainOptions): number {
    // drainRaw's loop, with a view per record: written twice so that each has one call
    // site of one kind of callback, which the JIT can inline. A new Uint8Array costs
    // 15-25 ns, several times the rest of a record's work; copying a small record word
    // by word into a view made once costs a few.
    this.#check();
    const max = checkMax(options);
    const cons32 = this.#cons32;
    const prod32 = this.#prod32;
    const buffer = this.#ring.producer!;
    const small = this.#small;
    const small32 = this.#small32;
    const mask = this.#mask;
    const page = this.#page;
    let lo = Atomics.load(cons32, 0) >>> 0;
    const hi = cons32[1]!;
    const start = lo;
    let avail = (Atomics.load(prod32, 0) - lo) >>> 0;
    let n = 0;
    try {
      while (avail !== 0 && n < max) {
        const at = page + (lo & mask);
        const len = TSO ? prod32[at >> 2]! : Atomics.load(prod32, at >> 2);
        if (len < 0) break; // BPF_RINGBUF_BUSY_BIT
        const size = (len & LEN_MASK) + 15 & ~7; // header and record, rounded up to 8
        lo = (lo + size) >>> 0;
        avail -= size;
        if ((len & BPF_RINGBUF_DISCARD_BIT) === 0) {
          n++;
          const length = len & LEN_MASK;
          if (length <= SMALL_RECORD) {
            // 16 bytes at a time (unrolled: twice as fast as a loop of words); the ring
            // pads a record to 8 bytes and the data is followed by its second mapping,
            // so the bytes read past the record are there.
            let from = (at + 8) >> 2;
            let i = 0;
            do {
              small32[i] = prod32[from]!;
              small32[i + 1] = prod32[from + 1]!;
              small32[i + 2] = prod32[from + 2]!;
              small32[i + 3] = prod32[from + 3]!;
              i += 4;
              from += 4;
            } while (i < (length + 3) >> 2);
            callback(small[length]!);
          } else {
            callback(new Uint8Array(buffer, at + 8, length));
          }
        }
      }
    } finally {
      if (lo !== start) this.#publish(lo, lo < start ? (hi + 1) | 0 : hi);
    }
    return n;
  }

  /**
   * drain without a view per record: `callback(bytes, offset, length)` with `bytes` the
   * whole mapped ring (the same Uint8Array every time; `dataView` is a DataView over it).
   * Creating a Uint8Array per record is most of drain's cost; this is the fastest way to
   * read records. The same rules as drain: valid during the call only, one publication
   * per batch.
   */
  drainRaw(callback: RingBufRawCallback, options?: DrainOptions): number {
    this.#check();
    const max = checkMax(options);
    const cons32 = this.#cons32;
    const prod32 = this.#prod32;
    const bytes = this.#bytes;
    const mask = this.#mask;
    const page = this.#page;
    let lo = Atomics.load(cons32, 0) >>> 0;
    const hi = cons32[1]!;
    const start = lo;
    let avail = (Atomics.load(prod32, 0) - lo) >>> 0;
    let n = 0;
    try {
      while (avail !== 0 && n < max) {
        const at = page + (lo & mask);
        const len = TSO ? prod32[at >> 2]! : Atomics.load(prod32, at >> 2);
        if (len < 0) break; // BPF_RINGBUF_BUSY_BIT
        const size = (len & LEN_MASK) + 15 & ~7;
        lo = (lo + size) >>> 0;
        avail -= size;
        if ((len & BPF_RINGBUF_DISCARD_BIT) === 0) {
          n++;
          callback(bytes, at + 8, len & LEN_MASK);
        }
      }
    } finally {
      if (lo !== start) this.#publish(lo, lo < start ? (hi + 1) | 0 : hi);
    }
    return n;
  }

  /** The whole mapped ring as bytes (for drainRaw); detached by close(). */
  get bytes(): Uint8Array {
    this.#check();
    return this.#bytes;
  }

  /** A DataView over the whole mapped ring (for drainRaw); detached by close(). */
  get dataView(): DataView {
    this.#check();
    return this.#scratch.view;
  }

  /**
   * One record, copied (or decoded with `codec`), or null when there is none. A record
   * shorter than the codec's size is consumed and refused (MapError 'InvalidValueSize').
   */
  next(): Uint8Array | null;
  next<T>(codec: Codec<T>): T | null;
  next<T>(codec?: Codec<T>): T | Uint8Array | null {
    this.#check();
    if (codec !== undefined) checkCodec(codec, 'RingBuf.next codec');
    // drainRaw's loop for one record, without a callback: no closure per call.
    const cons32 = this.#cons32;
    const prod32 = this.#prod32;
    let lo = Atomics.load(cons32, 0) >>> 0;
    const hi = cons32[1]!;
    const start = lo;
    let avail = (Atomics.load(prod32, 0) - lo) >>> 0;
    try {
      while (avail !== 0) {
        const at = this.#page + (lo & this.#mask);
        const len = TSO ? prod32[at >> 2]! : Atomics.load(prod32, at >> 2);
        if (len < 0) break; // BPF_RINGBUF_BUSY_BIT
        const size = (len & LEN_MASK) + 15 & ~7;
        lo = (lo + size) >>> 0;
        avail -= size;
        if ((len & BPF_RINGBUF_DISCARD_BIT) === 0) {
          // Copied or decoded before the position is published (in finally).
          return codec ? this.#decode(codec, at + 8, len & LEN_MASK) : copyOut(prod32, this.#bytes, at + 8, len & LEN_MASK);
        }
      }
      return null;
    } finally {
      if (lo !== start) this.#publish(lo, lo < start ? (hi + 1) | 0 : hi);
    }
  }

  #decode<T>(codec: Codec<T>, offset: number, len: number): T {
    if (len < codec.size) {
      throw new MapError('InvalidValueSize', `RingBuf: a record of ${len} bytes is shorter than the codec's ${codec.size}`, { size: len, expected: codec.size });
    }
    return codec.decode(this.#scratch, offset);
  }

  /** drain() until a drain finds nothing (the position published in between): all there is. */
  drainAll(callback: RingBufCallback): number {
    let total = 0;
    for (let n; (n = this.drain(callback)) > 0; ) total += n;
    return total;
  }

  /**
   * libbpf's ring_buffer__poll for one ring: consumes what there is; when there is
   * nothing, waits up to `timeoutMs` (-1: forever, 0: not at all) for the kernel's
   * wakeup, blocking the thread, and consumes. Returns the number of records.
   */
  poll(timeoutMs: number, callback: RingBufCallback): number {
    const n = this.drainAll(callback);
    if (n > 0 || timeoutMs === 0) return n;
    this.#ring.ready().wait(timeoutMs);
    return this.drainAll(callback);
  }

  /**
   * The records as they come, copied (or decoded with `codec`), waiting for the kernel's
   * wakeups through the event loop (libuv watches the ring's descriptor: no timer, no
   * spinning). Aborting `signal` rejects the pending next() with `signal.reason`, as
   * `events.on` does; close() ends the iteration. Breaking out of the loop stops waiting.
   */
  records(): AsyncIterableIterator<Uint8Array>;
  records<T = Uint8Array>(options: RecordsOptions<T>): AsyncIterableIterator<T>;
  records<T>(options: RecordsOptions<T> = {}): AsyncIterableIterator<T | Uint8Array> {
    this.#check();
    if (typeof options !== 'object' || options === null) throw new MapError('InvalidArgument', `RingBuf.records options must be an object, got ${describeValue(options)}`);
    const { signal, codec } = options;
    if (codec !== undefined) checkCodec(codec, 'RingBuf.records codec');
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new MapError('InvalidArgument', `RingBuf.records signal must be an AbortSignal, got ${describeValue(signal)}`);
    return this.#records(signal, codec);
  }

  #records<T>(signal: AbortSignal | undefined, codec: Codec<T> | undefined): AsyncIterableIterator<T | Uint8Array> {
    const collect = (batch: (T | Uint8Array)[]): RingBufRawCallback =>
      codec ? (_, offset, length) => void batch.push(this.#decode(codec, offset, length)) : (bytes, offset, length) => void batch.push(copyOut(this.#prod32, bytes, offset, length));
    return new RecordIterator<T | Uint8Array>(
      (cb) => (this.#ring.closed ? -1 : this.drainRaw(cb)),
      () => this.#ring.ready().readable(signal),
      signal,
      collect,
    );
  }

  /** records() without a signal. */
  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    return this.records();
  }

  /**
   * Unmaps the ring (views into it become detached: length 0; drain's copies of small
   * records are not ring memory and stay as they are) and closes the map if this reader
   * owns it. Idempotent.
   */
  close(): void {
    this.#ring.close();
  }

  /** Same as `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** The map's descriptor, for a poller. @internal */
  get fd(): number {
    return this.map.fd;
  }
}

/**
 * The iterator of records(), written out rather than an async generator: a record already
 * copied is handed over with one resolved promise, without resuming a generator.
 */
class RecordIterator<T> implements AsyncIterableIterator<T> {
  #batch: T[] = [];
  #next = 0;
  #done = false;
  /** An error met after the records before it in the batch were read (a codec's). */
  #failed: { error: unknown } | undefined;
  #filling: Promise<IteratorResult<T, undefined>> | undefined;
  #batches = 0;
  readonly #collect: RingBufRawCallback;

  constructor(
    /** drainRaw, or -1 once the ring is closed. */
    private readonly drain: (cb: RingBufRawCallback) => number,
    private readonly wait: () => Promise<void>,
    private readonly signal: AbortSignal | undefined,
    collect: (batch: T[]) => RingBufRawCallback,
  ) {
    this.#collect = collect(this.#batch);
  }

  next(): Promise<IteratorResult<T, undefined>> {
    if (this.#next < this.#batch.length) return Promise.resolve({ done: false, value: this.#batch[this.#next++]! });
    // Calls made before the previous one settled wait for it (as an async generator's queue).
    if (this.#filling) return this.#filling.then(() => this.next());
    const filling = this.#fill();
    this.#filling = filling;
    const clear = () => {
      if (this.#filling === filling) this.#filling = undefined;
    };
    filling.then(clear, clear);
    return filling;
  }

  async #fill(): Promise<IteratorResult<T, undefined>> {
    this.#batch.length = 0;
    this.#next = 0;
    if (this.#failed) {
      const { error } = this.#failed;
      this.#failed = undefined;
      throw error;
    }
    for (;;) {
      if (this.#done) return { done: true, value: undefined };
      try {
        this.signal?.throwIfAborted();
      } catch (err) {
        this.#done = true;
        throw err;
      }
      let n: number;
      try {
        n = this.drain(this.#collect);
      } catch (err) {
        // The records before the one that failed are handed over first.
        if (this.#batch.length === 0) throw err;
        this.#failed = { error: err };
        n = this.#batch.length;
      }
      if (n < 0) {
        this.#done = true;
        continue;
      }
      if (n > 0) {
        // A producer faster than the consumer would keep this loop in microtasks: let
        // the event loop turn now and then.
        if (++this.#batches % YIELD_EVERY === 0) await yieldToLoop();
        return { done: false, value: this.#batch[this.#next++]! };
      }
      this.#batches = 0;
      try {
        await this.wait();
      } catch (err) {
        this.#done = true;
        throw err;
      }
    }
  }

  return(): Promise<IteratorResult<T, undefined>> {
    this.#done = true;
    this.#batch.length = 0;
    this.#next = 0;
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

interface PollerEntry {
  ring: RingBuf;
  callback: RingBufCallback;
}

/**
 * Several ring buffers waited on together (one epoll set), each with its callback:
 * libbpf's ring_buffer__add / __poll / __consume. The poller does not own the rings:
 * close them yourself (closing the poller first).
 */
export class RingBufPoller implements Disposable {
  readonly #readiness = new Readiness();
  readonly #entries: PollerEntry[] = [];

  /** Adds `ring`, whose records go to `callback` (a view valid during the call, as in drain). */
  add(ring: RingBuf, callback: RingBufCallback): this {
    if (!(ring instanceof RingBuf)) throw new MapError('InvalidArgument', `RingBufPoller.add takes a RingBuf, got ${describeValue(ring)}`);
    if (typeof callback !== 'function') throw new MapError('InvalidArgument', `RingBufPoller.add takes a callback, got ${describeValue(callback)}`);
    if (ring.closed) throw new MapError('Closed', 'RingBufPoller.add: the ring buffer reader is closed');
    this.#readiness.add(ring.fd, this.#entries.length);
    this.#entries.push({ ring, callback });
    return this;
  }

  /** The rings added. */
  get size(): number {
    return this.#entries.length;
  }

  /** Consumes every ring (ring_buffer__consume); the number of records. */
  consume(): number {
    let n = 0;
    for (const e of this.#entries) if (!e.ring.closed) n += e.ring.drainAll(e.callback);
    return n;
  }

  /**
   * ring_buffer__poll: consumes what there is; when there is nothing, waits up to
   * `timeoutMs` (-1: forever) for a ring's wakeup, blocking the thread, and consumes
   * the rings that woke. The number of records.
   */
  poll(timeoutMs: number): number {
    const n = this.consume();
    if (n > 0 || timeoutMs === 0) return n;
    let total = 0;
    for (const i of this.#readiness.wait(timeoutMs)) {
      const e = this.#entries[i]!;
      if (!e.ring.closed) total += e.ring.drainAll(e.callback);
    }
    return total;
  }

  /**
   * Consumes as records come, waiting through the event loop, until `signal` aborts or
   * the poller is closed; resolves then with the number of records (aborting is how a
   * run ends, not an error). A callback's exception rejects it.
   */
  async run(options: { signal?: AbortSignal } = {}): Promise<number> {
    const { signal } = options;
    let total = 0;
    let batches = 0;
    while (!signal?.aborted && !this.#readiness.closed) {
      const n = this.consume();
      total += n;
      if (n > 0) {
        if (++batches % YIELD_EVERY === 0) await yieldToLoop();
        continue;
      }
      batches = 0;
      try {
        await this.#readiness.readable(signal);
      } catch (err) {
        if (signal?.aborted && err === signal.reason) break;
        throw err;
      }
    }
    return total;
  }

  /** Stops polling and closes the epoll set; the ring buffers added stay open (their owners close them). */
  close(): void {
    this.#readiness.close();
  }

  /** Same as `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
