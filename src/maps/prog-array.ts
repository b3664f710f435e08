import { MapError } from '../errors.js';
import { describeValue } from '../describe.js';
import type { MapData } from './map-data.js';
import { MapType } from './map-type.js';
import { createMap, IndexedMap, tryFromMap, type MapCreateOptions, type MapKind, type TryFromOptions, type ValueCodec } from './typed-map.js';

/**
 * A loaded program, as maps take one: a tsbpf Program (its `fd`; ProgramError
 * 'NotLoaded' when it is not loaded). The kernel checks that the fd is a program of
 * a type the map accepts.
 */
export interface ProgramLike {
  readonly fd: number;
}

/** The fd of `program`, else MapError 'InvalidArgument'. @internal */
export function programFd(program: ProgramLike): number {
  if (typeof program !== 'object' || program === null || !('fd' in program)) {
    throw new MapError('InvalidArgument', `expected a loaded Program, got ${describeValue(program)}`);
  }
  const fd = program.fd;
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) throw new MapError('InvalidArgument', `expected a loaded Program, its fd is ${describeValue(fd)}`);
  return fd;
}

/** Program-valued slots: a program's fd written, its id read back. @internal */
const programValue: ValueCodec<number, ProgramLike> = {
  size: 4,
  encode: (s, offset, program) => s.view.setUint32(offset, programFd(program), true),
  decode: (s, offset) => s.view.getUint32(offset, true),
};

/**
 * A BPF_MAP_TYPE_PROG_ARRAY (4.2): the jump table of `bpf_tail_call(ctx, &map, index)`.
 * `set(index, program)` fills a slot with a loaded Program (all programs of one array
 * must share its type, and the kernel fixes the type at the first; EINVAL otherwise),
 * `get(index)` returns the id of the program in the slot (`Program.fromId` opens it),
 * `remove(index)` empties it: a tail call into an empty slot falls through to the
 * instruction after the call.
 *
 * Lifetime: the kernel empties every slot (from a work queue) when the last user-space
 * reference to the map (its descriptors and pins) goes, even while programs still use the map: keep
 * the map open (or pinned) as long as the tail calls must work.
 */
export class ProgramArray extends IndexedMap<number, ProgramLike> {
  static readonly mapTypes: readonly MapType[] = [MapType.ProgArray];
  /** @internal */
  static readonly kind: MapKind<[], ProgramArray> = {
    name: 'ProgramArray',
    types: ProgramArray.mapTypes,
    shape: () => ({ key: 'index', value: programValue }),
    make: (map, owned, shape) => new ProgramArray(map, owned, ProgramArray.kind, shape),
  };

  /** Wraps a PROG_ARRAY; MapError 'InvalidMapType' for another type. */
  static tryFrom(map: MapData, options?: TryFromOptions): ProgramArray {
    return tryFromMap(ProgramArray.kind, map, [], options);
  }

  /** Creates a PROG_ARRAY of `options.maxEntries` slots, all empty. */
  static create(options: MapCreateOptions): ProgramArray {
    return createMap(ProgramArray.kind, [], options);
  }

  /** Empties slot `index`; MapError 'KeyNotFound' when it was empty. */
  remove(index: number): void {
    this.removeIndex(index);
  }
}
