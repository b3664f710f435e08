import { MapError } from '../errors.js';
import { describeValue } from '../describe.js';
import { kernel } from '../sys/native.js';
import { SyscallError } from '../sys/errors.js';
import type { Codec } from '../codec/codec.js';
import { MapFlags, type MapData } from './map-data.js';
import { MapType } from './map-type.js';
import { withFlag } from './local-storage.js';
import { createMap, TypedMap, tryFromMap, type MapCreateOptions, type MapKind, type TryFromOptions, type ValueCodec } from './typed-map.js';

const PAGE = 4096;
const PROT_READ_WRITE = 3;
const MAP_SHARED = 1;

// An arena has no keys or values (both sizes 0): nothing is encoded.
const none: Codec<never> & ValueCodec<never> = {
  size: 0,
  align: 1,
  encode: () => undefined,
  decode: () => undefined as never,
};

/** The create options of Arena: max_entries is its size in pages. */
export interface ArenaCreateOptions extends Omit<MapCreateOptions, 'maxEntries' | 'type'> {
  /** The arena's size in pages (at most 4 GiB). */
  pages: number;
  /** map_extra: the user address the arena must be mapped at (0, the default: wherever the first mmap puts it). */
  address?: bigint;
}

/**
 * A BPF_MAP_TYPE_ARENA (6.9): memory shared by programs and user space, allocated a page
 * at a time (by `bpf_arena_alloc_pages` in a program, or when user space first touches a
 * page). `memory()` maps it into JS (an ArrayBuffer over the whole arena, detached by
 * close()). Kernels or builds without arenas refuse create with MapError 'NotSupported'
 * (ask isMapTypeSupported(MapType.Arena)). Arenas created with BPF_F_SEGV_ON_FAULT
 * cannot be mapped into JS (a fault would kill the process): memory() is 'NotSupported'.
 */
export class Arena extends TypedMap {
  static readonly mapTypes: readonly MapType[] = [MapType.Arena];
  /** @internal */
  static readonly kind: MapKind<[], Arena> = {
    name: 'Arena',
    types: Arena.mapTypes,
    createSpec: (options: object) => {
      const { address } = options as ArenaCreateOptions;
      return address === undefined ? {} : { mapExtra: address };
    },
    shape: () => ({ key: none, value: none }),
    make: (map, owned) => new Arena(map, owned),
  };

  #memory: ArrayBuffer | undefined;

  private constructor(map: MapData, owned: boolean) {
    super(map, owned, Arena.kind);
  }

  /**
   * A typed view of an existing map: MapError `InvalidMapType` for a map of another type, `InvalidKeySize`
   * / `InvalidValueSize` when the codecs do not fit, `Closed` for a closed MapData. `owned: true` hands
   * the MapData over.
   */
  static tryFrom(map: MapData, options?: TryFromOptions): Arena {
    return tryFromMap(Arena.kind, map, [], options);
  }

  /** Creates an arena of `options.pages` pages (BPF_F_MMAPABLE, as the kernel requires). */
  static create(options: ArenaCreateOptions): Arena {
    if (typeof options !== 'object' || options === null) throw new MapError('InvalidArgument', `Arena.create options must be an object with pages, got ${describeValue(options)}`);
    const { pages, ...rest } = options;
    if (typeof pages !== 'number' || !Number.isInteger(pages) || pages < 1 || pages > 2 ** 20) {
      throw new MapError('InvalidArgument', `pages must be an integer in [1, 2^20] (4 GiB), got ${describeValue(pages)}`);
    }
    return createMap(Arena.kind, [], { ...rest, maxEntries: pages, flags: withFlag(options.flags, MapFlags.BPF_F_MMAPABLE) });
  }

  /** The arena's size in bytes. */
  get byteLength(): number {
    return this.map.maxEntries * PAGE;
  }

  /**
   * The arena's memory, mapped once (MAP_SHARED) and kept until close(). Pages the
   * program has not allocated are allocated (zeroed) when JS first touches them.
   */
  memory(): ArrayBuffer {
    if (this.#memory !== undefined) return this.#memory;
    if ((this.map.flags & MapFlags.BPF_F_SEGV_ON_FAULT) !== 0) {
      throw new MapError('NotSupported', 'Arena: an arena created with BPF_F_SEGV_ON_FAULT cannot be mapped into JS (a touch of an unallocated page would kill the process)');
    }
    const r = kernel.mmap(this.map.fd, this.byteLength, PROT_READ_WRITE, MAP_SHARED, 0);
    if (typeof r === 'number') throw MapError.fromSyscall(new SyscallError('mmap', -r));
    this.#memory = r;
    return r;
  }

  /** Unmaps the memory (its ArrayBuffer is detached) and closes the map if owned. */
  override close(): void {
    if (this.#memory !== undefined) {
      kernel.munmap(this.#memory);
      this.#memory = undefined;
    }
    super.close();
  }
}
