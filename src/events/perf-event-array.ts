// BPF_MAP_TYPE_PERF_EVENT_ARRAY: a typed map over the shared contract whose values are
// perf event fds (one per CPU), and the door to a PerfReader. It lives beside the
// reader rather than in maps/: maps/ may not import events/.
import { MapError } from '../errors.js';
import type { MapData } from '../maps/map-data.js';
import { MapType } from '../maps/map-type.js';
import { createMap, IndexedMap, tryFromMap, type MapCreateOptions, type MapKind, type TryFromOptions, type ValueCodec } from '../maps/typed-map.js';
import { describeValue } from '../describe.js';
import { possibleCpus } from '../sys/cpus.js';
import { forgetSlot, PerfReader, type PerfReaderOptions } from './perf-reader.js';

/** A perf event array's values: the fd of a perf event (u32) is written; the kernel never returns one. */
const perfFdValue: ValueCodec<never, number> = {
  size: 4,
  encode(s, offset, fd) {
    if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
      throw new MapError('InvalidArgument', `a perf event array's value is a perf event fd, got ${describeValue(fd)}`);
    }
    s.view.setUint32(offset, fd, true);
  },
  decode() {
    throw new MapError('NotSupported', 'PerfEventArray: the kernel does not return perf event array elements to user space');
  },
};

/** PerfEventArray.create's options: maxEntries defaults to the number of possible CPUs. */
export type PerfEventArrayCreateOptions = Partial<MapCreateOptions>;

/**
 * A BPF_MAP_TYPE_PERF_EVENT_ARRAY (4.3): slot i holds the perf event that
 * bpf_perf_event_output(ctx, &map, i or BPF_F_CURRENT_CPU, ...) writes to. `reader()`
 * opens one BPF-output perf event per CPU, maps its ring and puts it in the map.
 * `set(index, perfFd)` and `remove(index)` manage slots by hand; `get` is refused (the
 * kernel returns no element of this map type: MapError 'NotSupported').
 */
export class PerfEventArray extends IndexedMap<never, number> {
  static readonly mapTypes: readonly MapType[] = [MapType.PerfEventArray];
  /** @internal */
  static readonly kind: MapKind<[], PerfEventArray> = {
    name: 'PerfEventArray',
    types: PerfEventArray.mapTypes,
    shape: () => ({ key: 'index', value: perfFdValue }),
    unreadable: () => 'PerfEventArray: the kernel does not return perf event array elements to user space',
    make: (map, owned, shape) => new PerfEventArray(map, owned, PerfEventArray.kind, shape),
  };

  /** Wraps `map`; MapError 'InvalidMapType' when it is not a perf event array. */
  static tryFrom(map: MapData, options?: TryFromOptions): PerfEventArray {
    return tryFromMap(PerfEventArray.kind, map, [], options);
  }

  /**
   * Creates a perf event array with one slot per possible CPU (libbpf's rule for
   * max_entries 0) unless `options.maxEntries` says otherwise; the object owns it.
   */
  static create(options: PerfEventArrayCreateOptions = {}): PerfEventArray {
    if (typeof options !== 'object' || options === null) {
      throw new MapError('InvalidArgument', `PerfEventArray.create options must be an object, got ${describeValue(options)}`);
    }
    return createMap(PerfEventArray.kind, [], { ...options, maxEntries: options.maxEntries ?? possibleCpus() });
  }

  /** Puts the perf event `fd` in slot `index` (a reader's event there is replaced: its close() leaves the slot alone). */
  override set(index: number, fd: number, flags: number = 0): void {
    super.set(index, fd, flags);
    forgetSlot(this.map, index);
  }

  /** Empties slot `index` (the perf event stays open if someone else holds it); MapError 'KeyNotFound' when empty. */
  remove(index: number): void {
    this.removeIndex(index);
    forgetSlot(this.map, index);
  }

  /** Sets `values[i]` (perf event fds) at `indices[i]` in one system call (IndexedMap.insertBatch); a reader's events there are replaced. */
  override insertBatch(indices: readonly number[], values: readonly number[], flags: number = 0): number {
    const n = super.insertBatch(indices, values, flags);
    for (const i of indices) forgetSlot(this.map, i);
    return n;
  }

  /**
   * Opens a perf buffer per online CPU (or per `options.cpus`), below max_entries, and
   * stores each in the slot of its CPU. The reader owns the events and their rings;
   * `close()` releases them and empties the slots.
   */
  reader(options?: PerfReaderOptions): PerfReader {
    return new PerfReader(this, options);
  }
}
