import { u32 } from '../codec/codec.js';
import { MapError } from '../errors.js';
import type { Scratch } from '../sys/scratch.js';
import { MapFlags, type MapData } from './map-data.js';
import { MapType } from './map-type.js';
import { createMap, KeyedMap, tryFromMap, type MapCreateOptions, type MapKind, type TryFromOptions, type ValueCodec } from './typed-map.js';

/** The create options of StackTraceMap. */
export interface StackTraceCreateOptions extends MapCreateOptions {
  /** Frames kept per stack (PERF_MAX_STACK_DEPTH is 127 by default); value_size = 8 * depth, 32 * depth with BPF_F_STACK_BUILD_ID. */
  depth?: number;
}

/** A frame of a BPF_F_STACK_BUILD_ID stack map (struct bpf_stack_build_id). */
export interface BuildIdFrame {
  /** BPF_STACK_BUILD_ID_EMPTY 0 (no frame), _VALID 1 (buildId and offset), _IP 2 (only ip: the kernel found no build id). */
  status: number;
  /** 20 bytes, for status 1. */
  buildId: Uint8Array;
  /** For status 1: the offset into the object with buildId; for status 2: the address. */
  offsetOrIp: bigint;
}

const BUILD_ID_FRAME = 32;
const BPF_STACK_BUILD_ID_EMPTY = 0;

/** The addresses of a stack: u64s up to the first 0 (the kernel zeroes the slots past the stack's depth). */
const addresses: ValueCodec<bigint[], never> = {
  encode() {
    throw new TypeError('stack trace maps are written by bpf_get_stackid only');
  },
  decode(s: Scratch, offset: number) {
    const out: bigint[] = [];
    for (let o = offset; o + 8 <= s.bytes.length; o += 8) {
      const ip = s.view.getBigUint64(o, true);
      if (ip === 0n) break;
      out.push(ip);
    }
    return out;
  },
};

/**
 * A BPF_MAP_TYPE_STACK_TRACE (4.6): the stacks BPF programs record with
 * bpf_get_stackid, by the stack id it returns. `get(id)` gives the frames as
 * addresses (innermost first); KernelSymbols and ProcessSymbols turn them into
 * names. User space reads and removes stacks; only BPF programs add them.
 */
export class StackTraceMap extends KeyedMap<number, bigint[], never> {
  static readonly mapTypes: readonly MapType[] = [MapType.StackTrace];
  /** @internal */
  static readonly kind: MapKind<[], StackTraceMap> = {
    name: 'StackTraceMap',
    types: StackTraceMap.mapTypes,
    shape: () => ({ key: u32, value: addresses }),
    createSpec: (options: StackTraceCreateOptions) => {
      const depth = options.depth ?? 127;
      if (typeof depth !== 'number' || !Number.isInteger(depth) || depth < 1 || depth * BUILD_ID_FRAME > 0xffff_ffff) throw new MapError('InvalidArgument', `StackTraceMap.create: depth must be a positive integer, got ${String(depth)}`);
      const flags = options.flags;
      const buildIds = typeof flags === 'number' && Number.isInteger(flags) && flags >= 0 && flags <= 0xffff_ffff && (flags & MapFlags.BPF_F_STACK_BUILD_ID) !== 0;
      return { valueSize: depth * (buildIds ? BUILD_ID_FRAME : 8) };
    },
    make: (map, owned, shape) => new StackTraceMap(map, owned, StackTraceMap.kind, shape),
  };

  /** Wraps `map`; MapError 'InvalidMapType' unless it is a stack trace map. */
  static tryFrom(map: MapData, options?: TryFromOptions): StackTraceMap {
    return tryFromMap(StackTraceMap.kind, map, [], options);
  }

  /** Creates a stack trace map of `options.maxEntries` stacks of `options.depth` frames (default 127). */
  static create(options: StackTraceCreateOptions): StackTraceMap {
    return createMap(StackTraceMap.kind, [], options);
  }

  /** True when the map records build ids and offsets instead of addresses (BPF_F_STACK_BUILD_ID). */
  get buildIds(): boolean {
    return (this.map.flags & MapFlags.BPF_F_STACK_BUILD_ID) !== 0;
  }

  /**
   * The addresses of stack `stackId`, innermost frame first; MapError 'KeyNotFound' when
   * there is no such stack, 'InvalidArgument' for a BPF_F_STACK_BUILD_ID map (getBuildIds).
   */
  override get(stackId: number, flags: number = 0): bigint[] {
    if (this.buildIds) throw new MapError('InvalidArgument', 'StackTraceMap.get: this map records build ids (BPF_F_STACK_BUILD_ID): use getBuildIds');
    return super.get(stackId, flags);
  }

  /** `[stackId, addresses]` for every stack; MapError 'InvalidArgument' for a BPF_F_STACK_BUILD_ID map. */
  override *entries(): IterableIterator<[number, bigint[]]> {
    if (this.buildIds) throw new MapError('InvalidArgument', 'StackTraceMap.entries: this map records build ids (BPF_F_STACK_BUILD_ID): use keys() and getBuildIds');
    yield* super.entries();
  }

  /** The frames of stack `stackId` in a BPF_F_STACK_BUILD_ID map, up to the first empty one. */
  getBuildIds(stackId: number): BuildIdFrame[] {
    if (!this.buildIds) throw new MapError('InvalidArgument', 'StackTraceMap.getBuildIds: this map records addresses: use get');
    const s = this.valueAt(stackId, 0);
    const out: BuildIdFrame[] = [];
    for (let o = 0; o + BUILD_ID_FRAME <= s.bytes.length; o += BUILD_ID_FRAME) {
      const status = s.view.getInt32(o, true);
      if (status === BPF_STACK_BUILD_ID_EMPTY) break;
      out.push({ status, buildId: s.bytes.slice(o + 4, o + 24), offsetOrIp: s.view.getBigUint64(o + 24, true) });
    }
    return out;
  }
}
