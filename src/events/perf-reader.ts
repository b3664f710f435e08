// Perf buffers: one BPF-output software perf event per CPU, its ring memory-mapped and
// read in JavaScript, every CPU waited on through one epoll set (events/readiness.ts).
//
// The ring (include/uapi/linux/perf_event.h) is a struct perf_event_mmap_page followed
// by 2^n data pages, mapped read-write so that the kernel honours the data_tail user
// space publishes; the data pages themselves are read-only to user space (a write
// faults) and are only ever read here. The kernel writes records at data_head and
// stops (counting lost samples) when they would overwrite data_tail. Unlike a BPF ring
// buffer the data is mapped once: a record that runs past the end continues at the
// start, and is copied into a scratch buffer before it is handed out (libbpf's
// perf_buffer copy_mem does the same).
import { closeSync, openSync, readSync } from 'node:fs';
import { MapError } from '../errors.js';
import { describeValue } from '../describe.js';
import { FdOwner } from '../sys/fd.js';
import { kernel } from '../sys/native.js';
import { SyscallError } from '../sys/errors.js';
import { onlineCpus } from '../sys/cpus.js';
import { PerfIoctl, PerfType, SoftwareEvent, perfEventIoctl, perfEventOpen } from '../sys/perf.js';
import { Readiness } from './readiness.js';
import type { MapData } from '../maps/map-data.js';

// struct perf_event_mmap_page: data_head @1024, data_tail @1032, data_offset @1040,
// data_size @1048 (u64 each; checked against this kernel's BTF). Indices of a BigInt64Array.
const DATA_TAIL = 1032 / 8;
const DATA_OFFSET = 1040 / 8;
/** data_head's low word, an index of a Uint32Array (little-endian). */
const HEAD_LOW = 1024 / 4;
const DATA_SIZE = 1048 / 8;

// enum perf_event_type
const PERF_RECORD_LOST = 2;
const PERF_RECORD_SAMPLE = 9;
// enum perf_event_sample_format
const PERF_SAMPLE_RAW = 1 << 10;
/** struct perf_event_header (8 bytes) + the u32 size of PERF_SAMPLE_RAW. */
const RAW_DATA = 12;
/** perf_event_header.size is a u16: no record is longer. */
const RECORD_MAX = 0xffff;

let cachedPageSize = 0;

/** The kernel's page size, from the first KernelPageSize of /proc/self/smaps (4096 if unreadable). */
function pageSize(): number {
  if (cachedPageSize) return cachedPageSize;
  let size = 4096;
  try {
    const fd = openSync('/proc/self/smaps', 'r');
    try {
      const buf = Buffer.alloc(4096);
      const n = readSync(fd, buf, 0, buf.length, null);
      const m = /KernelPageSize:\s+(\d+) kB/.exec(buf.toString('latin1', 0, n));
      if (m) size = Number(m[1]) * 1024;
    } finally {
      closeSync(fd);
    }
  } catch {
    // keep 4096
  }
  return (cachedPageSize = size);
}

/** What PerfEventArray.reader takes. */
export interface PerfReaderOptions {
  /** Data pages per CPU, a power of two (default 64: 256 KiB with 4 KiB pages). */
  pageCount?: number;
  /**
   * Wake a waiting reader after this many samples (default 1, as libbpf). Waking is
   * for `poll` and `records()`; `read()` takes whatever is there without waiting.
   */
  wakeupEvents?: number;
  /** Instead of wakeupEvents: wake when this many bytes are waiting (less than the ring's size). */
  watermark?: number;
  /** The CPUs to read (default: every online CPU below the map's max_entries). */
  cpus?: readonly number[];
}

/** Called with each sample: its CPU and a view of its raw bytes, valid only during the call. */
export type PerfSampleCallback = (cpu: number, data: Uint8Array) => void;
/**
 * The allocation-free form: `buffer[offset ... offset + size)` are the sample's bytes;
 * `buffer` is the CPU's ring (or a scratch copy of a record that wrapped), valid only
 * during the call.
 */
export type PerfRawSampleCallback = (cpu: number, buffer: Uint8Array, offset: number, size: number) => void;
/** Called when the kernel reports `count` samples lost on `cpu` because the ring was full. */
export type PerfLostCallback = (cpu: number, count: number) => void;

/**
 * One item of `records()`: a sample (`data`, copied, `lost` 0), or a report of `lost`
 * samples the kernel could not write because the ring was full (`data` empty).
 */
export interface PerfRecord {
  cpu: number;
  data: Uint8Array;
  lost: number;
}

const EMPTY = new Uint8Array(0);
/** Records records() takes from one CPU before looking at the next. */
const RECORDS_BATCH = 256;

/** What the reader uses of its PerfEventArray (declared here: that module imports this one). @internal */
export interface PerfEventSlots {
  readonly map: MapData;
  len(): number;
  set(index: number, fd: number): void;
  remove(index: number): void;
}

/**
 * Which reader put the perf event in each slot of a map, by map: close() and the
 * collection of an unclosed reader empty only the slots still holding their own events
 * (a later reader on the same CPUs replaced them; PerfEventArray.set and remove forget
 * a slot). Keyed by the MapData, which every PerfEventArray over one map shares.
 */
const slotOwners = new WeakMap<MapData, Map<number, number>>();
let readerTokens = 0;

/** Slot `index` of `map` no longer holds a reader's event (PerfEventArray.set / remove). @internal */
export function forgetSlot(map: MapData, index: number): void {
  slotOwners.get(map)?.delete(index);
}

/** What a reader leaves behind for its finalizer: not the reader itself. */
interface ReaderSlots {
  readonly slots: PerfEventSlots;
  readonly token: number;
  readonly cpus: number[];
  /** Set by close(): nothing left to do. */
  done: boolean;
}

/**
 * Empties the slots still holding the reader's events. The slot holds a reference to
 * the perf event: while it does, a program's bpf_perf_event_output keeps writing into a
 * ring nobody reads (and the event and its ring stay allocated) after the reader's
 * fds are closed and its rings unmapped.
 */
function releaseSlots(r: ReaderSlots): void {
  if (r.done) return;
  r.done = true;
  const map = r.slots.map;
  const owners = slotOwners.get(map);
  for (const cpu of r.cpus) {
    if (owners?.get(cpu) !== r.token) continue;
    owners.delete(cpu);
    if (map.closed) continue;
    try {
      r.slots.remove(cpu);
    } catch {
      // Emptied already (by another process, or through the map's raw form).
    }
  }
}

/**
 * The safety net of a reader garbage-collected without close(): its slots are emptied
 * here; its perf fds, epoll fd and ring mappings are released by their own owners'
 * finalizers (FdOwner, the mapping's ArrayBuffer).
 */
const readerRegistry = new FinalizationRegistry<ReaderSlots>(releaseSlots);

/** One CPU's perf event: the fd, owned, and its ring. */
class CpuRing extends FdOwner {
  readonly cpu: number;
  readonly #mem: ArrayBuffer;
  /** The page's u64 fields. */
  readonly meta: BigInt64Array;
  /** The same as u32 (data_head's low word is read alone: no BigInt per look). */
  readonly meta32: Uint32Array;
  readonly data: Uint8Array;
  readonly d32: Uint32Array;
  readonly size: number;
  readonly mask: number;
  /** data_tail as published (a JS number: exact below 2^53 bytes). */
  tail: number;

  constructor(fd: number, cpu: number, length: number) {
    super(fd);
    this.cpu = cpu;
    let mem: ArrayBuffer | number;
    try {
      mem = kernel.mmapRing(fd, length, 0);
    } catch (err) {
      super.close();
      throw err;
    }
    if (typeof mem === 'number') {
      super.close();
      throw MapError.fromSyscall(new SyscallError('mmap', -mem), 'SyscallError', `perf buffer of CPU ${cpu}`);
    }
    this.#mem = mem;
    this.meta = new BigInt64Array(mem, 0, 1088 / 8);
    this.meta32 = new Uint32Array(mem, 0, 1088 / 4);
    const offset = Number(this.meta[DATA_OFFSET]) || pageSize();
    this.size = Number(this.meta[DATA_SIZE]) || length - offset;
    this.mask = this.size - 1;
    this.data = new Uint8Array(mem, offset, this.size);
    this.d32 = new Uint32Array(mem, offset, this.size >>> 2);
    this.tail = Number(Atomics.load(this.meta, DATA_TAIL));
  }

  protected closedError(): Error {
    return new MapError('Closed', 'the perf reader is closed');
  }

  /**
   * Bytes waiting from data_tail to data_head (acquire). Positions are u64 but never
   * more than the ring's size (below 2^32) apart, so their low words suffice: an aligned
   * 32-bit load of the kernel's 64-bit store is a consistent half.
   */
  pending(): number {
    return (Atomics.load(this.meta32, HEAD_LOW) - this.tail) >>> 0;
  }

  /** Publishes data_tail (release: the kernel may then overwrite what was read). */
  publish(tail: number): void {
    this.tail = tail;
    Atomics.store(this.meta, DATA_TAIL, BigInt(tail));
  }

  override close(): void {
    if (this.closed) return;
    kernel.munmap(this.#mem);
    super.close();
  }
}

/**
 * Reads a perf event array's buffers: one BPF-output perf event per CPU
 * (PERF_COUNT_SW_BPF_OUTPUT, PERF_SAMPLE_RAW), memory-mapped and read in JavaScript,
 * all waited on through one epoll set. Made by PerfEventArray.reader(); owns its
 * events, rings and epoll descriptor until close().
 */
export class PerfReader implements Disposable, AsyncIterable<PerfRecord> {
  readonly #rings: CpuRing[] = [];
  readonly #readiness: Readiness;
  /** A record that wraps around the end of its ring, made contiguous. */
  readonly #scratch = new Uint8Array(RECORD_MAX + 1);
  readonly #scratch32 = new Uint32Array(this.#scratch.buffer);
  #lost = 0;
  #closed = false;
  readonly #slots: ReaderSlots;

  /** @internal made by PerfEventArray.reader. */
  constructor(map: PerfEventSlots, options: PerfReaderOptions = {}) {
    const o = checkOptions(options, map.len());
    this.#readiness = new Readiness({ oneShot: true });
    this.#slots = { slots: map, token: ++readerTokens, cpus: [], done: false };
    let owners = slotOwners.get(map.map);
    if (owners === undefined) slotOwners.set(map.map, (owners = new Map()));
    readerRegistry.register(this, this.#slots, this.#slots);
    const page = pageSize();
    try {
      for (const cpu of o.cpus) {
        const fd = perfEventOpen(
          {
            type: PerfType.Software,
            config: SoftwareEvent.BpfOutput,
            sample: 1,
            sampleType: PERF_SAMPLE_RAW,
            disabled: true,
            wakeupEvents: o.watermark ?? o.wakeupEvents,
            watermark: o.watermark !== undefined,
          },
          { pid: -1, cpu },
        );
        const ring = new CpuRing(fd, cpu, page * (1 + o.pageCount));
        this.#rings.push(ring);
        perfEventIoctl(fd, PerfIoctl.Enable);
        map.set(cpu, fd);
        owners.set(cpu, this.#slots.token);
        this.#slots.cpus.push(cpu);
        this.#readiness.add(fd, this.#rings.length - 1);
      }
    } catch (err) {
      this.close();
      throw err instanceof SyscallError ? MapError.fromSyscall(err, 'SyscallError', 'PerfEventArray.reader') : err;
    }
  }

  /** The CPUs read, in order. */
  get cpus(): number[] {
    return this.#rings.map((r) => r.cpu);
  }

  /** Samples the kernel reported lost (ring full) since the reader was made, over all CPUs. */
  get lost(): number {
    return this.#lost;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Reads every record waiting in every CPU's ring, without waiting: `callback(cpu, data)`
   * for each sample, with a zero-copy view of its raw bytes valid only during the call
   * (copy it to keep it; PERF_SAMPLE_RAW pads the data to 4 bytes before an 8-byte
   * boundary, so the view may be up to 7 bytes longer than what the program wrote), and
   * `onLost(cpu, count)` for each report of lost samples (also summed in `lost`). The
   * ring space is given back to the kernel once per CPU, after its batch. Returns the
   * number of samples and lost reports.
   */
  read(callback: PerfSampleCallback, onLost?: PerfLostCallback): number {
    const rings = this.#live();
    let n = 0;
    for (let i = 0; i < rings.length; i++) n += this.#consumeViews(rings[i]!, callback, onLost);
    return n;
  }

  /**
   * read() without a view per sample, the fastest way:
   * `callback(cpu, buffer, offset, size)` (PerfRawSampleCallback), `buffer` being the
   * CPU's ring or, for a record that wraps, a scratch copy.
   */
  readRaw(callback: PerfRawSampleCallback, onLost?: PerfLostCallback): number {
    const rings = this.#live();
    let n = 0;
    for (let i = 0; i < rings.length; i++) n += this.#consumeRaw(rings[i]!, callback, onLost);
    return n;
  }

  /**
   * Waits up to timeoutMs (-1: forever, 0: not at all) for a CPU's buffer to wake the
   * reader (wakeupEvents / watermark), then reads every CPU's buffer, as read(). Every
   * buffer, not only those that woke it: a perf event reports a wakeup to one poll only
   * (the next poll of it says nothing), so a buffer whose wakeup some other poll took
   * (a records() loop's, say) would otherwise wait for its next one. Returns the number
   * of samples and lost reports read (0 when nothing woke it in time).
   */
  poll(timeoutMs: number, callback: PerfSampleCallback, onLost?: PerfLostCallback): number {
    if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < -1) {
      throw new MapError('InvalidArgument', `timeoutMs must be an integer >= -1, got ${describeValue(timeoutMs)}`);
    }
    const rings = this.#live();
    if (this.#readiness.wait(timeoutMs).length === 0) return 0;
    let n = 0;
    for (let i = 0; i < rings.length; i++) n += this.#consumeViews(rings[i]!, callback, onLost);
    return n;
  }

  /**
   * The records of every CPU as they come, copied: samples, and lost-sample reports
   * (`lost` above 0, empty `data`). Reads every ring before it waits and after each
   * wakeup; waits through the event loop (libuv watches the epoll descriptor: no timer,
   * no thread) when nothing is waiting; a buffer wakes it after `wakeupEvents` samples
   * or `watermark` bytes (records written with fewer pending are read at the next
   * wakeup). Stops when `signal` aborts (rejecting with its reason) or the reader is
   * closed. Each record is taken from its ring as it is yielded: stopping early loses
   * nothing.
   */
  async *records(options: { signal?: AbortSignal } = {}): AsyncGenerator<PerfRecord, void, undefined> {
    const signal = options.signal;
    while (!this.#closed) {
      signal?.throwIfAborted();
      // Take the readiness reported so far before looking: a wakeup after the look
      // makes the epoll descriptor readable again.
      this.#readiness.wait(0);
      let found = false;
      for (let i = 0; i < this.#rings.length && !this.#closed; i++) {
        // At most a batch per CPU per pass: a busy CPU does not starve the others.
        let record: PerfRecord | undefined;
        for (let k = 0; k < RECORDS_BATCH && !this.#closed && (record = this.#take(this.#rings[i]!)) !== undefined; k++) {
          found = true;
          yield record;
          signal?.throwIfAborted();
        }
      }
      if (!found && !this.#closed) await this.#readiness.readable(signal);
    }
  }

  /** The records as they arrive, for `for await`. */
  [Symbol.asyncIterator](): AsyncGenerator<PerfRecord, void, undefined> {
    return this.records();
  }

  /**
   * Empties the map's slots that still hold this reader's events (when the map is still
   * open; not those a later reader or PerfEventArray.set filled since), closes every
   * CPU's perf event, unmaps the rings and closes the epoll descriptor. Waiting
   * `records()` loops end. Calling it again does nothing. A reader garbage-collected
   * without close() has the same done by a finalizer.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    readerRegistry.unregister(this.#slots);
    releaseSlots(this.#slots);
    for (const ring of this.#rings) ring.close();
    this.#rings.length = 0;
    this.#readiness.close();
  }

  /** Same as `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  toString(): string {
    return `PerfReader(${this.#closed ? 'closed' : `cpus ${this.cpus.join(',')}`})`;
  }

  #live(): CpuRing[] {
    if (this.#closed) throw new MapError('Closed', 'the perf reader is closed');
    return this.#rings;
  }

  /**
   * The hot loops, one per form (no test of the form per record): every record from data_tail
   * to data_head of one ring. data_head is read once (acquire), data_tail published once
   * (release), also when a callback throws (the records before it and itself count as
   * consumed). Positions within the batch are int32 offsets from data_tail.
   */
  #consumeRaw(ring: CpuRing, callback: PerfRawSampleCallback, onLost: PerfLostCallback | undefined): number {
    const avail = ring.pending();
    if (avail === 0) return 0;
    const data = ring.data;
    const d32 = ring.d32;
    const mask = ring.mask;
    const size = ring.size;
    const cpu = ring.cpu;
    const start = ring.tail & mask;
    let pos = 0;
    let n = 0;
    try {
      while (pos < avail) {
        const off = (start + pos) & mask;
        const h = off >>> 2;
        const len = d32[h + 1]! >>> 16;
        if (len < 8) break; // not a record: the ring is corrupt; stop rather than spin
        pos += len;
        if (d32[h] === PERF_RECORD_SAMPLE && off + len <= size) {
          n++;
          callback(cpu, data, off + RAW_DATA, d32[h + 2]!);
        } else {
          // Rare: a lost report, a record that runs past the end, or another kind.
          n += this.#other(ring, off, len, undefined, callback, onLost);
        }
      }
    } catch (err) {
      ring.publish(ring.tail + pos);
      throw err;
    }
    ring.publish(ring.tail + pos);
    return n;
  }

  /**
   * read()'s loop: a new view of the ring per sample (zero-copy). Copying small samples
   * into a scratch buffer behind views made once per length was tried: it saved about
   * 2 ns a 16-byte sample and cost about 10 ns a 1 KiB one, even when no small sample
   * came (measured, cause not pinned down).
   */
  #consumeViews(ring: CpuRing, callback: PerfSampleCallback, onLost: PerfLostCallback | undefined): number {
    const avail = ring.pending();
    if (avail === 0) return 0;
    const d32 = ring.d32;
    const buffer = ring.data.buffer;
    const byteOffset = ring.data.byteOffset;
    const mask = ring.mask;
    const size = ring.size;
    const cpu = ring.cpu;
    const start = ring.tail & mask;
    let pos = 0;
    let n = 0;
    try {
      while (pos < avail) {
        const off = (start + pos) & mask;
        const h = off >>> 2;
        const len = d32[h + 1]! >>> 16;
        if (len < 8) break;
        pos += len;
        if (d32[h] === PERF_RECORD_SAMPLE && off + len <= size) {
          n++;
          const bytes = d32[h + 2]!;
          callback(cpu, new Uint8Array(buffer, byteOffset + off + RAW_DATA, bytes));
        } else {
          n += this.#other(ring, off, len, callback, undefined, onLost);
        }
      }
    } catch (err) {
      ring.publish(ring.tail + pos);
      throw err;
    }
    ring.publish(ring.tail + pos);
    return n;
  }

  /** Records off the hot path: lost reports, records that wrap, other kinds. 1 for a sample or a lost report. */
  #other(ring: CpuRing, off: number, len: number, view: PerfSampleCallback | undefined, raw: PerfRawSampleCallback | undefined, onLost: PerfLostCallback | undefined): number {
    if (off + len > ring.size) return this.#wrapped(ring.data, off, len, ring.cpu, view, raw, onLost);
    const h = off >>> 2;
    const type = ring.d32[h]!;
    if (type === PERF_RECORD_LOST) {
      this.#lostRecord(ring.d32, h, ring.cpu, onLost);
      return 1;
    }
    // other records (throttling, ...) carry no sample; samples that do not wrap never come here
    return 0;
  }

  #lostRecord(b32: Uint32Array, h: number, cpu: number, onLost: PerfLostCallback | undefined): void {
    // struct { perf_event_header; u64 id; u64 lost; }
    const count = b32[h + 4]! + b32[h + 5]! * 0x100000000;
    this.#lost += count;
    onLost?.(cpu, count);
  }

  /** A record that wraps: copied into the scratch buffer, then handed out from there. 1 if it was a sample or a lost report. */
  #wrapped(data: Uint8Array, off: number, len: number, cpu: number, view: PerfSampleCallback | undefined, raw: PerfRawSampleCallback | undefined, onLost: PerfLostCallback | undefined): number {
    this.#unwrap(data, off, len);
    const buf = this.#scratch;
    const b32 = this.#scratch32;
    const type = b32[0]!;
    if (type === PERF_RECORD_SAMPLE) {
      if (raw !== undefined) raw(cpu, buf, RAW_DATA, b32[2]!);
      else view!(cpu, new Uint8Array(buf.buffer, RAW_DATA, b32[2]!));
      return 1;
    }
    if (type === PERF_RECORD_LOST) {
      this.#lostRecord(b32, 0, cpu, onLost);
      return 1;
    }
    return 0;
  }

  /** One record from `ring`, copied and consumed, or undefined when it is empty. */
  #take(ring: CpuRing): PerfRecord | undefined {
    if (ring.closed) return undefined;
    for (;;) {
      if (ring.pending() === 0) return undefined;
      let tail = ring.tail;
      const off = tail & ring.mask;
      const h = off >>> 2;
      const type = ring.d32[h]!;
      const len = ring.d32[h + 1]! >>> 16;
      if (len < 8) return undefined;
      let buf = ring.data;
      let at = off;
      if (off + len > ring.size) {
        this.#unwrap(ring.data, off, len);
        buf = this.#scratch;
        at = 0;
      }
      let record: PerfRecord | undefined;
      const view = new DataView(buf.buffer, buf.byteOffset + at, len);
      if (type === PERF_RECORD_SAMPLE) {
        const rawSize = view.getUint32(8, true);
        record = { cpu: ring.cpu, data: buf.slice(at + RAW_DATA, at + RAW_DATA + rawSize), lost: 0 };
      } else if (type === PERF_RECORD_LOST) {
        const lost = Number(view.getBigUint64(16, true));
        this.#lost += lost;
        record = { cpu: ring.cpu, data: EMPTY, lost };
      }
      tail += len;
      ring.publish(tail);
      if (record) return record;
    }
  }

  /** Copies a record that runs past the end of the ring into the scratch buffer. */
  #unwrap(data: Uint8Array, off: number, len: number): void {
    const first = data.length - off;
    this.#scratch.set(data.subarray(off), 0);
    this.#scratch.set(data.subarray(0, len - first), first);
  }
}

interface CheckedOptions {
  pageCount: number;
  wakeupEvents: number;
  watermark: number | undefined;
  cpus: number[];
}

function checkOptions(options: PerfReaderOptions, maxEntries: number): CheckedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new MapError('InvalidArgument', `PerfEventArray.reader options must be an object, got ${describeValue(options)}`);
  }
  const known = new Set(['pageCount', 'wakeupEvents', 'watermark', 'cpus']);
  for (const k of Object.keys(options)) if (!known.has(k)) throw new MapError('InvalidArgument', `PerfEventArray.reader: unknown option ${describeValue(k)}`);
  const pageCount = options.pageCount ?? 64;
  if (!Number.isInteger(pageCount) || pageCount < 1 || pageCount > 1 << 20 || (pageCount & (pageCount - 1)) !== 0) {
    throw new MapError('InvalidArgument', `pageCount must be a power of two (1, 2, 4, ...), got ${describeValue(pageCount)}`);
  }
  if (options.wakeupEvents !== undefined && options.watermark !== undefined) {
    throw new MapError('InvalidArgument', 'give wakeupEvents or watermark, not both');
  }
  const wakeupEvents = options.wakeupEvents ?? 1;
  if (!Number.isInteger(wakeupEvents) || wakeupEvents < 1 || wakeupEvents > 0xffffffff) {
    throw new MapError('InvalidArgument', `wakeupEvents must be a positive integer, got ${describeValue(options.wakeupEvents)}`);
  }
  const watermark = options.watermark;
  const ringBytes = pageCount * pageSize();
  // Offsets in the ring are int32 in the hot loops.
  if (ringBytes > 2 ** 30) throw new MapError('InvalidArgument', `pageCount ${pageCount} makes a ring of ${ringBytes} bytes: at most 1 GiB per CPU`);
  if (watermark !== undefined && (!Number.isInteger(watermark) || watermark < 1 || watermark >= ringBytes)) {
    throw new MapError('InvalidArgument', `watermark must be a byte count from 1 to below the ring's ${ringBytes} bytes, got ${describeValue(watermark)}`);
  }
  let cpus: number[];
  if (options.cpus === undefined) {
    cpus = onlineCpus().filter((c) => c < maxEntries);
  } else {
    if (!Array.isArray(options.cpus)) throw new MapError('InvalidArgument', `cpus must be an array of CPU numbers, got ${describeValue(options.cpus)}`);
    cpus = [...options.cpus];
    for (const c of cpus) {
      if (typeof c !== 'number' || !Number.isInteger(c) || c < 0) throw new MapError('InvalidArgument', `cpus: ${describeValue(c)} is not a CPU number`);
      if (c >= maxEntries) throw new MapError('OutOfBounds', `cpus: CPU ${c} has no slot in the map (max_entries ${maxEntries})`, { index: c, maxEntries });
    }
    if (new Set(cpus).size !== cpus.length) throw new MapError('InvalidArgument', `cpus: ${cpus.join(',')} names a CPU twice`);
  }
  if (cpus.length === 0) throw new MapError('InvalidArgument', 'no CPU to read');
  return { pageCount, wakeupEvents, watermark, cpus };
}
