// Memory-mapped arrays (BPF_F_MMAPABLE, 5.5+): the values of a BPF_MAP_TYPE_ARRAY
// read and written in place, with no system call per access. The mapping is the
// map's: made on first use, unmapped (its buffer detached) when the map is closed.
import { MapError } from '../errors.js';
import { kernel } from '../sys/native.js';
import { Errno } from '../sys/errors.js';
import { scratchAt, type Scratch } from '../sys/scratch.js';
import { MapType } from './map-type.js';

const PROT_READ_WRITE = 0x1 | 0x2;
const MAP_SHARED = 0x1;
const BPF_F_MMAPABLE = 1 << 10;

/** What a mapping is made from: a MapData (structurally, so that map-data.ts can use this module). */
export interface MappableMap {
  readonly fd: number;
  readonly type: number;
  readonly flags: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly name: string;
}

let unmapMemory: (memory: MapMemory) => void;

/**
 * The memory of a BPF_F_MMAPABLE array map: `bytes` and `view` over all its values,
 * value i at `i * stride` (the value size rounded up to 8, as the kernel lays the
 * array out). Valid while the map is open: closing the map unmaps it and detaches
 * the buffer (`closed` turns true; a typed view throws MapError 'Closed').
 * Kernel 5.5+ (BPF_F_MMAPABLE).
 */
export class MapMemory {
  /** The values, back to back at `stride`. */
  readonly bytes: Uint8Array;
  /** A little-endian view over `bytes`. */
  readonly view: DataView;
  /** Bytes from one value to the next: value_size rounded up to 8. */
  readonly stride: number;
  /** Number of values (max_entries). */
  readonly length: number;
  readonly #buffer: ArrayBuffer;
  #closed = false;

  static {
    unmapMemory = (memory) => {
      if (memory.#closed) return;
      memory.#closed = true;
      // The addon unmaps only its own, attached buffers, as this one is: a failure is
      // the seam's (fault injection). Once more, then reported; the mapping is then
      // released when the buffer is collected.
      const r = kernel.munmap(memory.#buffer) < 0 ? kernel.munmap(memory.#buffer) : 0;
      if (r < 0) throw new MapError('SyscallError', `munmap of a map's memory failed (errno ${-r}): it stays mapped until garbage-collected`, { feature: 'munmap' });
    };
  }

  /** @internal made by MapData.memory(). */
  constructor(buffer: ArrayBuffer, stride: number, length: number) {
    this.#buffer = buffer;
    this.bytes = new Uint8Array(buffer, 0, stride * length);
    this.view = new DataView(buffer, 0, stride * length);
    this.stride = stride;
    this.length = length;
  }

  /** True once the map was closed (the buffer is detached). */
  get closed(): boolean {
    return this.#closed;
  }

  /** A Scratch over the whole region, for codecs. @internal */
  scratch(): Scratch {
    return scratchAt(this.bytes, 0, this.bytes.length);
  }
}

/**
 * Maps the values of `map` read-write. MapError 'NotSupported' for a map that cannot
 * be: not an array, created without BPF_F_MMAPABLE, frozen (BPF_MAP_FREEZE: the kernel
 * refuses writable mappings, EPERM) or read-only to programs (.rodata: EACCES). @internal
 */
export function mapMemory(map: MappableMap): MapMemory {
  const what = `map${map.name ? ` ${map.name}` : ''}`;
  if (map.type !== MapType.Array) throw new MapError('NotSupported', `${what}: only BPF_MAP_TYPE_ARRAY maps are memory-mapped (created with BPF_F_MMAPABLE)`, { mapType: map.type });
  if ((map.flags & BPF_F_MMAPABLE) === 0) throw new MapError('NotSupported', `${what} was created without BPF_F_MMAPABLE (MapFlags.BPF_F_MMAPABLE): it cannot be memory-mapped`);
  const stride = Math.ceil(map.valueSize / 8) * 8;
  // The kernel rounds the length up to whole pages, as it allocated the array.
  const r = kernel.mmap(map.fd, stride * map.maxEntries, PROT_READ_WRITE, MAP_SHARED, 0);
  if (typeof r === 'number') {
    const why =
      r === -Errno.EPERM ? 'it is frozen (BPF_MAP_FREEZE): the kernel maps frozen maps read-only, which JavaScript cannot have; read it with lookup'
      : r === -Errno.EACCES ? 'it is read-only to programs (BPF_F_RDONLY_PROG, as .rodata): the kernel refuses writable mappings; read it with lookup'
      : `mmap failed (errno ${-r})`;
    throw new MapError('NotSupported', `${what} cannot be memory-mapped: ${why}`, { feature: 'mmap' });
  }
  return new MapMemory(r, stride, map.maxEntries);
}

/** Unmaps `memory` (the map is closing); its buffer is detached. @internal */
export function unmap(memory: MapMemory): void {
  unmapMemory(memory);
}

/** The codec side a typed view needs (a Codec, or a typed map's value codec). */
interface ValueBytes<V, In> {
  encode(s: Scratch, offset: number, value: In): void;
  decode(s: Scratch, offset: number): V;
}

/**
 * A typed view of a memory-mapped array (ArrayMap.memory()): `get(i)` / `set(i, v)`
 * through the map's value codec, straight on the mapped values, with no system call.
 * Programs see a write at once, and JS sees theirs; a value wider than 8 bytes is
 * not read or written atomically. MapError 'OutOfBounds' past the end, 'Closed' once
 * the map is closed.
 * Kernel 5.5+ (BPF_F_MMAPABLE).
 */
export class ArrayMemory<V, In = V> {
  /** The raw mapping: bytes, view, stride. */
  readonly memory: MapMemory;
  readonly #s: Scratch;
  readonly #codec: ValueBytes<V, In>;
  readonly #stride: number;
  readonly #length: number;

  /** @internal made by ArrayMap.memory(). */
  constructor(memory: MapMemory, codec: ValueBytes<V, In>) {
    this.memory = memory;
    this.#s = memory.scratch();
    this.#codec = codec;
    this.#stride = memory.stride;
    this.#length = memory.length;
  }

  /** Number of values (max_entries). */
  get length(): number {
    return this.#length;
  }

  /** The value at `index`, decoded from the mapped memory. */
  get(index: number): V {
    return this.#codec.decode(this.#s, this.#at(index));
  }

  /** Encodes `value` into the mapped memory at `index`. */
  set(index: number, value: In): void {
    const at = this.#at(index);
    try {
      this.#codec.encode(this.#s, at, value);
    } catch (err) {
      throw err instanceof TypeError || err instanceof RangeError ? new MapError('InvalidArgument', `value: ${err.message}`) : err;
    }
  }

  #at(index: number): number {
    if (this.memory.closed) throw new MapError('Closed', 'the map of this memory is closed (its mapping is gone)');
    if (!(index >>> 0 === index && index < this.#length)) {
      if (typeof index !== 'number' || !Number.isInteger(index) || index < 0) throw new MapError('InvalidArgument', `index must be a non-negative integer, got ${String(index)}`);
      throw new MapError('OutOfBounds', `index ${index} is out of bounds (max_entries ${this.#length})`, { index, maxEntries: this.#length });
    }
    return index * this.#stride;
  }
}
