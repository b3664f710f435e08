// BPF_MAP_TYPE_USER_RINGBUF (6.1) written from JavaScript: user space produces, a BPF
// program consumes with bpf_user_ringbuf_drain. The layout is a ring buffer's with the
// roles swapped (libbpf's user_ring_buffer__new):
//
//   offset 0            consumer page, read-only:  u64 consumer_pos (the kernel's)
//   offset PAGE         producer page, read-write: u64 producer_pos (published by us)
//   offset 2*PAGE       data, read-write, mapped twice in a row
//
// reserve writes the header {len | BPF_RINGBUF_BUSY_BIT, 0} and publishes the producer
// position at once (release); submit / discard clear the busy bit (an atomic exchange,
// as libbpf), so samples may be completed out of order: the kernel stops at a busy one.
import { MapError } from '../errors.js';
import type { MapData } from '../maps/map-data.js';
import { MapType } from '../maps/map-type.js';
import { checkMap, type TryFromOptions } from '../maps/typed-map.js';
import { describeValue } from '../describe.js';
import { BPF_RINGBUF_BUSY_BIT, BPF_RINGBUF_DISCARD_BIT, BPF_RINGBUF_HDR_SZ } from './ringbuf.js';
import { createRing, readOnlyPart, RingMaps, writablePart } from './ring-maps.js';

const EPOLLOUT = 4;

/** A reserved sample: write `data`, then submit() it to the BPF side, or discard() it. */
export interface UserRingBufSample {
  /** The sample's bytes in the ring (zeroed or not: whatever the ring held). Valid until submit / discard. */
  readonly data: Uint8Array;
  /** Hands the sample to the kernel. Once: a second submit or discard throws MapError 'InvalidArgument'. */
  submit(): void;
  /** Gives the space back without the kernel's program seeing the sample. */
  discard(): void;
}

/** A writer of a BPF_MAP_TYPE_USER_RINGBUF (6.1). One producer at a time, as in libbpf. */
export class UserRingBuf implements Disposable {
  static readonly mapTypes: readonly MapType[] = [MapType.UserRingbuf];
  readonly map: MapData;
  /** The data size (max_entries). */
  readonly byteSize: number;
  readonly #ring: RingMaps;
  readonly #page: number;
  readonly #mask: number;
  #cons32: Int32Array;
  #prod32: Int32Array;
  #prod64: BigInt64Array;
  /** producer_pos, ours alone: its low and high words. */
  #lo: number;
  #hi: number;

  private constructor(map: MapData, owned: boolean) {
    // The roles of a ring buffer's parts swapped: the consumer page read-only, the
    // producer page and data read-write; waits are for room (the kernel's poll says
    // EPOLLOUT while there is some).
    const ring = new RingMaps(map, owned, readOnlyPart, writablePart, EPOLLOUT, 'user ring buffer');
    this.#ring = ring;
    this.map = map;
    this.byteSize = ring.byteSize;
    this.#page = ring.page;
    this.#mask = ring.mask;
    this.#cons32 = new Int32Array(ring.consumer!, 0, 2);
    this.#prod32 = new Int32Array(ring.producer!);
    this.#prod64 = new BigInt64Array(ring.producer!, 0, 1);
    this.#lo = Atomics.load(this.#prod32, 0) >>> 0;
    this.#hi = this.#prod32[1]!;
  }

  /** Writes to `map`; MapError 'InvalidMapType' unless it is a BPF_MAP_TYPE_USER_RINGBUF. With `owned`, close() closes the map. */
  static tryFrom(map: MapData, options?: TryFromOptions): UserRingBuf {
    checkMap(map, UserRingBuf.mapTypes, 'UserRingBuf');
    if (options !== undefined && (typeof options !== 'object' || options === null)) throw new MapError('InvalidArgument', `UserRingBuf.tryFrom options must be an object, got ${describeValue(options)}`);
    return new UserRingBuf(map, options?.owned === true);
  }

  /** Creates a user ring buffer of `byteSize` bytes (a power of two multiple of the page size), owned by the writer. */
  static create(byteSize: number, options: { name?: string } = {}): UserRingBuf {
    return createRing(MapType.UserRingbuf, byteSize, options.name, 'UserRingBuf.create', (map) => new UserRingBuf(map, true));
  }

  get closed(): boolean {
    return this.#ring.closed;
  }

  /** Bytes free for samples (each takes 8 bytes of header and is padded to 8). */
  get available(): number {
    this.#check();
    return this.byteSize - ((this.#lo - Atomics.load(this.#cons32, 0)) >>> 0);
  }

  #check(): void {
    if (this.#ring.closed) throw new MapError('Closed', 'the user ring buffer writer is closed');
  }

  /**
   * Reserves a sample of `size` bytes, or returns null when the ring has no room now
   * (libbpf's user_ring_buffer__reserve: NULL with ENOSPC). A size that can never fit
   * is MapError 'InvalidArgument' (libbpf: E2BIG).
   */
  reserve(size: number): UserRingBufSample | null {
    this.#check();
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) throw new MapError('InvalidArgument', `UserRingBuf.reserve: the size must be a non-negative integer, got ${describeValue(size)}`);
    const total = (size + BPF_RINGBUF_HDR_SZ + 7) & ~7;
    if (size > 0x3fffffff || total > this.byteSize) {
      throw new MapError('InvalidArgument', `UserRingBuf.reserve: a sample of ${size} bytes cannot fit a ring of ${this.byteSize} (E2BIG)`, { size, expected: this.byteSize - BPF_RINGBUF_HDR_SZ });
    }
    const cons = Atomics.load(this.#cons32, 0) >>> 0;
    if (total > this.byteSize - ((this.#lo - cons) >>> 0)) return null;
    const at = this.#page + (this.#lo & this.#mask);
    const header = at >> 2;
    const prod32 = this.#prod32;
    prod32[header + 1] = 0;
    Atomics.store(prod32, header, size | BPF_RINGBUF_BUSY_BIT);
    const lo = (this.#lo + total) >>> 0;
    if (lo < this.#lo) {
      this.#hi = (this.#hi + 1) | 0;
      Atomics.store(this.#prod64, 0, BigInt(this.#hi) * 0x1_0000_0000n + BigInt(lo));
    } else {
      Atomics.store(prod32, 0, lo | 0);
    }
    this.#lo = lo;
    const producer = this.#ring.producer!;
    let done = false;
    const complete = (flags: number) => {
      if (done) throw new MapError('InvalidArgument', 'UserRingBuf: the sample was already submitted or discarded');
      done = true;
      // The writer may be closed meanwhile: the mapping is gone, nothing to complete.
      if (this.#ring.producer !== producer) return;
      Atomics.exchange(prod32, header, size | flags);
    };
    return {
      data: new Uint8Array(producer, at + BPF_RINGBUF_HDR_SZ, size),
      submit: () => complete(0),
      discard: () => complete(BPF_RINGBUF_DISCARD_BIT),
    };
  }

  /**
   * reserve, waiting up to `timeoutMs` (-1: forever) for room when the ring is full: the
   * kernel wakes writers when a BPF program drains samples. Blocks the thread, as
   * libbpf's user_ring_buffer__reserve_blocking. Null when the time ran out.
   */
  reserveBlocking(size: number, timeoutMs: number): UserRingBufSample | null {
    if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < -1) {
      throw new MapError('InvalidArgument', `UserRingBuf.reserveBlocking: the timeout must be an integer of milliseconds or -1, got ${describeValue(timeoutMs)}`);
    }
    const deadline = timeoutMs < 0 ? Infinity : Date.now() + timeoutMs;
    for (;;) {
      const sample = this.reserve(size);
      if (sample) return sample;
      const left = deadline === Infinity ? -1 : deadline - Date.now();
      if (left <= 0 && deadline !== Infinity) return null;
      this.#ring.ready().wait(left);
    }
  }

  /** Unmaps the ring (sample views become detached) and closes the map if owned. Idempotent. */
  close(): void {
    this.#ring.close();
  }

  /** Same as `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
