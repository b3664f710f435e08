// What a ring buffer reader and a user ring buffer writer share: the map's two mappings
// (consumer page; producer page and data, the data mapped twice in a row), the epoll set
// made on the first wait, and closing all of it (and the map, when owned) once.
import { MapError } from '../errors.js';
import { describeValue } from '../describe.js';
import { kernel } from '../sys/native.js';
import { SyscallError } from '../sys/errors.js';
import { MapData } from '../maps/map-data.js';
import type { MapType } from '../maps/map-type.js';
import { Readiness } from './readiness.js';
import { pageSize } from './page.js';

/** `max_entries` of a ring buffer: a power of two, a multiple of the page. */
export function checkRingSize(byteSize: unknown, what: string): number {
  const page = pageSize();
  if (typeof byteSize !== 'number' || !Number.isInteger(byteSize) || byteSize < page || byteSize > 2 ** 31 || (byteSize & (byteSize - 1)) !== 0) {
    throw new MapError('InvalidArgument', `${what}: the size must be a power of two multiple of the page size (${page}) up to 2^31, got ${describeValue(byteSize)}`);
  }
  return byteSize;
}

/**
 * Creates a ring map of `byteSize` bytes for a reader or writer that owns it (`make`);
 * the map is closed again if `make` fails.
 */
export function createRing<R>(type: MapType, byteSize: unknown, name: string | undefined, what: string, make: (map: MapData) => R): R {
  const size = checkRingSize(byteSize, what);
  const map = MapData.create({ type, keySize: 0, valueSize: 0, maxEntries: size, name });
  try {
    return make(map);
  } catch (err) {
    map.close();
    throw err;
  }
}

/** How one part is mapped: kernel.mmap or kernel.mmapRing, by the side that may write it. */
export type MapPart = (fd: number, length: number, offset: number) => ArrayBuffer | number;

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
/** The part user space publishes its position in (read-write; mmap never maps read-only memory). */
export const writablePart: MapPart = (fd, length, offset) => kernel.mmap(fd, length, PROT_READ | PROT_WRITE, MAP_SHARED, offset);
/** The part the kernel writes and user space only reads. */
export const readOnlyPart: MapPart = (fd, length, offset) => kernel.mmapRing(fd, length, offset);

export class RingMaps {
  readonly page = pageSize();
  /** The data size (max_entries). */
  readonly byteSize: number;
  readonly mask: number;
  /** Offset 0: one page holding consumer_pos. */
  consumer: ArrayBuffer | undefined;
  /** From the second page: producer_pos, then the data twice. */
  producer: ArrayBuffer | undefined;
  closed = false;
  #readiness: Readiness | undefined;

  /**
   * Maps both parts of `map` (each with its own mapper); MapError when the kernel refuses
   * one, with nothing left mapped. `readyOn`: the epoll events a wait waits for.
   */
  constructor(readonly map: MapData, readonly owned: boolean, consumer: MapPart, producer: MapPart, private readonly readyOn: number, what: string) {
    this.byteSize = map.maxEntries;
    this.mask = this.byteSize - 1;
    const c = consumer(map.fd, this.page, 0);
    if (typeof c === 'number') throw MapError.fromSyscall(new SyscallError('mmap', -c), 'SyscallError', `cannot map the consumer page of the ${what}`);
    const p = producer(map.fd, this.page + 2 * this.byteSize, this.page);
    if (typeof p === 'number') {
      kernel.munmap(c);
      throw MapError.fromSyscall(new SyscallError('mmap', -p), 'SyscallError', `cannot map the data of the ${what}`);
    }
    this.consumer = c;
    this.producer = p;
  }

  /** The epoll set of the ring's descriptor (made on first use). */
  ready(): Readiness {
    if (!this.#readiness) {
      const r = new Readiness();
      try {
        r.add(this.map.fd, 0, this.readyOn);
      } catch (err) {
        r.close();
        throw err;
      }
      this.#readiness = r;
    }
    return this.#readiness;
  }

  /** Unmaps both parts (views of them become detached), closes the epoll set and, if owned, the map. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#readiness?.close();
    this.#readiness = undefined;
    if (this.consumer) kernel.munmap(this.consumer);
    if (this.producer) kernel.munmap(this.producer);
    this.consumer = this.producer = undefined;
    if (this.owned) this.map.close();
  }
}
