// MapData: a live kernel map, owner of its file descriptor. Typed wrappers
// (ArrayMap, HashMap, ArrayOfMaps, ...) are built over it.
import { readlinkSync } from 'node:fs';
import { MapError } from '../errors.js';
import { checkPinPath, openPinned, pinFd } from '../pin.js';
import { bpfMapInfoLayout, decodeBpfMapInfo } from '../sys/abi/info.js';
import { describeValue } from '../describe.js';
import { ElemIo, mapCreate, mapFreeze, mapGetFdById, objGetInfoByFd } from '../sys/bpf.js';
import type { Scratch } from '../sys/scratch.js';
import { FdOwner, isOwnedFd } from '../sys/fd.js';
import { kernel } from '../sys/native.js';
import { possibleCpus } from '../sys/cpus.js';
import { SyscallError } from '../sys/errors.js';
import { isRefusal, mapCapabilities, refusedMapFeature } from '../features.js';
import { mapCreationCost, MapType, mapTypeInfo, mapTypeName } from './map-type.js';
import { ARRAY_MAX_ENTRIES, memoryForMaps, type MapSize } from './map-memory.js';
import { deleteBatch, lookupBatch, updateBatch, type MapBatchCursor } from './batch.js';
import { mapMemory, unmap, type MapMemory } from './mapped.js';

/** Up to this many bytes are copied by a loop: a TypedArray builtin (set, slice) costs more than the copy. */
const SMALL_COPY = 32;

/** `src` into `dst` (the same length). */
function copyInto(dst: Uint8Array, src: Uint8Array): void {
  const n = src.length;
  if (n > SMALL_COPY) {
    dst.set(src);
    return;
  }
  for (let i = 0; i < n; i++) dst[i] = src[i]!;
}

/** A copy of `src` (small ones in V8's heap, with no backing store to allocate). */
function copyOf(src: Uint8Array): Uint8Array {
  const n = src.length;
  if (n > SMALL_COPY) return src.slice();
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = src[i]!;
  return out;
}

/** BPF_F_* map creation flags. */
export const MapFlags = {
  BPF_F_NO_PREALLOC: 1 << 0,
  BPF_F_NO_COMMON_LRU: 1 << 1,
  BPF_F_NUMA_NODE: 1 << 2,
  BPF_F_RDONLY: 1 << 3,
  BPF_F_WRONLY: 1 << 4,
  BPF_F_STACK_BUILD_ID: 1 << 5,
  BPF_F_ZERO_SEED: 1 << 6,
  BPF_F_RDONLY_PROG: 1 << 7,
  BPF_F_WRONLY_PROG: 1 << 8,
  BPF_F_CLONE: 1 << 9,
  BPF_F_MMAPABLE: 1 << 10,
  BPF_F_PRESERVE_ELEMS: 1 << 11,
  BPF_F_INNER_MAP: 1 << 12,
  BPF_F_LINK: 1 << 13,
  BPF_F_PATH_FD: 1 << 14,
  BPF_F_VTYPE_BTF_OBJ_FD: 1 << 15,
  BPF_F_TOKEN_FD: 1 << 16,
  BPF_F_SEGV_ON_FAULT: 1 << 17,
  BPF_F_NO_USER_CONV: 1 << 18,
} as const;

/** BPF_MAP_UPDATE_ELEM / LOOKUP flags. */
export const ElemFlags = { BPF_ANY: 0, BPF_NOEXIST: 1, BPF_EXIST: 2, BPF_F_LOCK: 4 } as const;

/** What a map is made of: the data of BPF_MAP_CREATE. */
export interface MapSpec {
  type: MapType | number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** BPF_F_* flags (MapFlags). */
  flags?: number;
  /** At most 15 characters of [A-Za-z0-9_.]. */
  name?: string;
  /** Map-in-map: the template inner map. A spec is created, used and closed. */
  innerMap?: MapData | { readonly map: MapData } | MapSpec;
  /** NUMA node to allocate on (sets BPF_F_NUMA_NODE). */
  numaNode?: number;
  /** map_extra: bloom filter hash count, arena start address. */
  mapExtra?: bigint | number;
  /** BTF describing key and value (an fd from BPF_BTF_LOAD, which the caller keeps owning). */
  btf?: { fd: number; keyTypeId?: number; valueTypeId?: number };
  /** struct_ops: the id of the kernel's `struct bpf_struct_ops_<name>` in vmlinux BTF. */
  btfVmlinuxValueTypeId?: number;
}

/** struct bpf_map_info, as far as tsbpf reads it. */
export interface MapInfo {
  id: number;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
  btfId: number;
  mapExtra: bigint;
}

const infoBuf = new Uint8Array(bpfMapInfoLayout.size);
// The kernel reads bpf_map_info.hash as a pointer: it is asked for the fields before it.
const infoAsked = infoBuf.subarray(0, bpfMapInfoLayout.hash);
const NAME_RE = /^[A-Za-z0-9_.]{0,15}$/;

function u32Field(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new MapError('InvalidArgument', `${what} must be an integer in [0, 2^32), got ${describeValue(value)}`);
  }
  return value;
}

/** Below this, creation does not look up how much memory the process may use. */
const LARGE_MAP = 64 << 20;

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/**
 * Refuses, before the kernel tries to allocate it, a map the kernel could not index
 * or whose preallocated memory does not fit in half of what is available: the kernel
 * would attempt the allocation (charged to the memory cgroup, or to no limit at all).
 */
function checkSize(m: MapSize, name: string): void {
  const what = `${mapTypeName(m.type)}${name ? ` '${name}'` : ''}`;
  const cost = mapCreationCost(m.type);
  if (cost.indexed && m.maxEntries > ARRAY_MAX_ENTRIES) {
    throw new MapError('TooLarge', `${what}: ${m.maxEntries} entries, more than an array map can index (2^31)`, { maxEntries: m.maxEntries, mapType: m.type });
  }
  const bytes = cost.memory?.(m, mapTypeInfo(m.type)?.perCpu ? possibleCpus() : 1) ?? 0;
  if (bytes < LARGE_MAP) return;
  // Half at most: a map that takes all the room there is leaves the process (and the
  // machine, or its cgroup) to the OOM killer at its next allocation.
  const available = memoryForMaps();
  if (bytes > available / 2) {
    throw new MapError('TooLarge', `${what} (${m.maxEntries} entries of ${m.keySize}-byte keys and ${m.valueSize}-byte values) needs at least ${mib(bytes)} of kernel memory at creation, more than half of the ${mib(available)} available to this process (free memory, less if its memory cgroup has less room)`, {
      maxEntries: m.maxEntries,
      mapType: m.type,
    });
  }
}

/**
 * Flags of an element operation (ElemFlags): a u64 as a non-negative safe integer or a
 * bigint, else MapError 'InvalidArgument' (invalid flags are that everywhere). @internal
 */
export function checkElemFlags(flags: unknown, what = 'flags'): void {
  if (flags === 0) return;
  if (typeof flags === 'number' ? Number.isSafeInteger(flags) && flags >= 0 : typeof flags === 'bigint' && flags >= 0n && flags < 1n << 64n) return;
  throw new MapError('InvalidArgument', `${what} must be a non-negative integer (u64), got ${describeValue(flags)}`);
}

function isMapData(x: unknown): x is MapData {
  return x instanceof MapData;
}

/** MapError 'InvalidMapType' unless `fd` is an open BPF map, 'InvalidArgument' when it is not open. */
function checkIsMap(fd: number): void {
  let target = '';
  try {
    target = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    throw new MapError('InvalidArgument', `file descriptor ${fd} is not open`);
  }
  if (target !== 'anon_inode:bpf-map') {
    throw new MapError('InvalidMapType', `file descriptor ${fd} is not a BPF map (${target})`);
  }
}

function alreadyOwned(fd: number): MapError {
  return new MapError(
    'InvalidArgument',
    `file descriptor ${fd} is owned by another tsbpf object, which will close it: fromFd takes over a descriptor nothing else closes (for a second handle, use MapData.fromId or fromPin)`,
  );
}

/** The part of struct bpf_map_info that BPF_MAP_CREATE takes as given. */
type MapShape = Pick<MapInfo, 'type' | 'keySize' | 'valueSize' | 'maxEntries' | 'name'>;

/**
 * A BPF map as bytes: create, look up, update, delete, iterate, pin, freeze, batch and mmap; the owner of
 * its file descriptor. Typed maps are views over one.
 */
export class MapData extends FdOwner {
  #info: MapInfo | undefined;
  /** What the map was created with, or read back; undefined until one of them. */
  #shape: MapShape | undefined;
  /** The element I/O buffer of this map, made on first use. */
  #io: ElemIo | undefined;
  /** The map's memory mapping (BPF_F_MMAPABLE arrays), made on first use. */
  #memory: MapMemory | undefined;

  /** Takes ownership of `fd`; with `refuse`, only if no live tsbpf object owns it. @internal */
  private constructor(fd: number, shape?: MapShape, refuse?: (fd: number) => Error) {
    super(fd, refuse);
    this.#shape = shape;
  }

  protected closedError(): Error {
    const name = this.#shape?.name;
    return new MapError('Closed', `map${name ? ` ${name}` : ''} is closed`);
  }

  /**
   * Creates a map (BPF_MAP_CREATE). Throws MapError 'InvalidName', 'InvalidKeySize',
   * 'InvalidValueSize', 'InvalidArgument' before the call, 'CreateError' (with the
   * SyscallError as cause) when the kernel refuses.
   */
  static create(spec: MapSpec): MapData {
    if (typeof spec !== 'object' || spec === null) throw new MapError('InvalidArgument', 'MapData.create takes a MapSpec object');
    const type = u32Field(spec.type, 'type');
    const keySize = u32Field(spec.keySize, 'keySize');
    const valueSize = u32Field(spec.valueSize, 'valueSize');
    const maxEntries = u32Field(spec.maxEntries, 'maxEntries');
    let flags = u32Field(spec.flags ?? 0, 'flags');
    const name = spec.name ?? '';
    if (typeof name !== 'string' || !NAME_RE.test(name)) {
      throw new MapError('InvalidName', `invalid map name ${describeValue(name)}: at most 15 characters of [A-Za-z0-9_.]`, { mapName: typeof name === 'string' ? name : describeValue(name) });
    }
    const row = mapTypeInfo(type);
    if (row?.keySize !== undefined && keySize !== row.keySize) {
      throw new MapError('InvalidKeySize', `${row.kernelName} needs key size ${row.keySize}, got ${keySize}`, { size: keySize, expected: row.keySize, mapType: type });
    }
    if (row?.valueSizes && !row.valueSizes.includes(valueSize)) {
      throw new MapError('InvalidValueSize', `${row.kernelName} needs value size ${row.valueSizes.join(' or ')}, got ${valueSize}`, { size: valueSize, expected: row.valueSizes, mapType: type });
    }
    if (row?.needsInnerMap && spec.innerMap === undefined) {
      throw new MapError('InvalidArgument', `${row.kernelName} needs innerMap (the template of its inner maps)`);
    }
    let numaNode = 0;
    if (spec.numaNode !== undefined) {
      numaNode = u32Field(spec.numaNode, 'numaNode');
      flags |= MapFlags.BPF_F_NUMA_NODE;
    }
    if (spec.mapExtra !== undefined) checkElemFlags(spec.mapExtra, 'mapExtra');
    if (spec.btf !== undefined) {
      if (typeof spec.btf !== 'object' || spec.btf === null) throw new MapError('InvalidArgument', `btf must be { fd, keyTypeId?, valueTypeId? }, got ${describeValue(spec.btf)}`);
      u32Field(spec.btf.fd, 'btf.fd');
      if (spec.btf.keyTypeId !== undefined) u32Field(spec.btf.keyTypeId, 'btf.keyTypeId');
      if (spec.btf.valueTypeId !== undefined) u32Field(spec.btf.valueTypeId, 'btf.valueTypeId');
    }
    if (spec.btfVmlinuxValueTypeId !== undefined) u32Field(spec.btfVmlinuxValueTypeId, 'btfVmlinuxValueTypeId');
    checkSize({ type, keySize, valueSize, maxEntries, flags, mapExtra: BigInt(spec.mapExtra ?? 0) }, name);

    let template: MapData | undefined;
    let innerMapFd = 0;
    const inner = spec.innerMap;
    if (inner !== undefined && (typeof inner !== 'object' || inner === null)) {
      throw new MapError('InvalidArgument', `innerMap must be a MapData, a typed map or a MapSpec, got ${describeValue(inner)}`);
    }
    if (inner !== undefined) {
      if (isMapData(inner)) innerMapFd = inner.fd;
      else if ('map' in inner && isMapData(inner.map)) innerMapFd = inner.map.fd;
      else {
        template = MapData.create(inner as MapSpec);
        innerMapFd = template.fd;
      }
    }
    try {
      const fd = mapCreate({
        mapType: type,
        keySize,
        valueSize,
        maxEntries,
        mapFlags: flags,
        innerMapFd,
        numaNode,
        mapName: name,
        mapExtra: spec.mapExtra,
        btfFd: spec.btf?.fd,
        btfKeyTypeId: spec.btf?.keyTypeId,
        btfValueTypeId: spec.btf?.valueTypeId,
        btfVmlinuxValueTypeId: spec.btfVmlinuxValueTypeId,
      });
      // The kernel keeps type, sizes, max_entries and name as given; what it adjusts
      // (flags: drops BPF_F_RDONLY, adds BPF_F_RDONLY_PROG to devmaps) and assigns (the
      // id) is read back (BPF_OBJ_GET_INFO_BY_FD) when first asked for, as libbpf never does.
      return new MapData(fd, { type, keySize, valueSize, maxEntries, name });
    } catch (err) {
      const what = `cannot create ${mapTypeName(type)}${name ? ` '${name}'` : ''}`;
      // Refused where the feature probe's own create is refused too: the kernel lacks or forbids the type.
      const feature = err instanceof SyscallError && row && type !== MapType.Unspec && isRefusal(err.errno, mapCapabilities(type)) ? refusedMapFeature(type) : undefined;
      if (feature) throw new MapError('NotSupported', `${what}: this kernel refuses ${feature} maps (${(err as SyscallError).code}, as for a minimal map of the type)`, { feature, mapType: type, cause: err as SyscallError });
      throw MapError.fromSyscall(err, 'CreateError', what);
    } finally {
      // The outer map keeps its own copy of the template's metadata.
      template?.close();
    }
  }

  /** Opens the map pinned at `path` (BPF_OBJ_GET). Throws PinError, or MapError 'InvalidMapType' for a pinned non-map. */
  static fromPin(path: string): MapData {
    const fd = openPinned(path);
    try {
      checkIsMap(fd);
    } catch (err) {
      kernel.close(fd);
      throw err;
    }
    return new MapData(fd);
  }

  /** Opens the map with kernel id `id` (BPF_MAP_GET_FD_BY_ID, 4.13+). */
  static fromId(id: number): MapData {
    u32Field(id, 'id');
    let fd: number;
    try {
      fd = mapGetFdById(id);
    } catch (err) {
      throw MapError.fromSyscall(err);
    }
    return new MapData(fd);
  }

  /**
   * Takes over a map file descriptor: this object closes it from now on, so the caller
   * must not (as aya's `from_fd(OwnedFd)` and cilium's NewMapFromFD). A descriptor that
   * a live tsbpf object (map, program, link; of any thread) owns already is refused
   * with MapError 'InvalidArgument' and left alone: two owners would each close the
   * number, and the survivor would then work on whatever the kernel reuses it for.
   * For a second handle on a map, open a new descriptor: MapData.fromId, fromPin.
   */
  static fromFd(fd: number): MapData {
    if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
      throw new MapError('InvalidArgument', `invalid file descriptor ${String(fd)}`);
    }
    if (isOwnedFd(fd)) throw alreadyOwned(fd);
    checkIsMap(fd);
    return new MapData(fd, undefined, alreadyOwned);
  }

  /** Adopts an fd known to be a map, loading metadata on first use. @internal */
  static adopt(fd: number): MapData {
    return new MapData(fd);
  }

  /** The map's metadata as the kernel reports it now (BPF_OBJ_GET_INFO_BY_FD). */
  info(): MapInfo {
    const fd = this.fd;
    infoBuf.fill(0);
    try {
      objGetInfoByFd(fd, infoAsked);
    } catch (err) {
      throw MapError.fromSyscall(err);
    }
    const k = decodeBpfMapInfo(infoBuf);
    const info: MapInfo = {
      type: k.type,
      id: k.id,
      keySize: k.keySize,
      valueSize: k.valueSize,
      maxEntries: k.maxEntries,
      flags: k.mapFlags,
      name: k.name,
      btfId: k.btfId,
      mapExtra: k.mapExtra,
    };
    this.#info = info;
    this.#shape = info;
    return { ...info };
  }

  #meta(): MapInfo {
    if (this.#info === undefined) this.info();
    return this.#info!;
  }

  #known(): MapShape {
    if (this.#shape === undefined) this.info();
    return this.#shape!;
  }

  /** The kernel's id of this map (stable, unlike the fd). */
  get id(): number {
    if (this.#info === undefined || this.#info.id === 0) this.info();
    return this.#info!.id;
  }

  get type(): number {
    return this.#known().type;
  }
  get keySize(): number {
    return this.#known().keySize;
  }
  get valueSize(): number {
    return this.#known().valueSize;
  }
  get maxEntries(): number {
    return this.#known().maxEntries;
  }
  get flags(): number {
    return this.#meta().flags;
  }
  get name(): string {
    return this.#known().name;
  }

  /** Bytes of one value as user space reads it: per-CPU maps hold one 8-aligned slot per possible CPU. */
  get valueBytes(): number {
    const m = this.#known();
    return mapTypeInfo(m.type)?.perCpu ? Math.ceil(m.valueSize / 8) * 8 * possibleCpus() : m.valueSize;
  }

  /** Pins the map at `path` on bpffs; parent directories must exist. Throws PinError. */
  pin(path: string): void {
    checkPinPath(path);
    pinFd(this.fd, path);
  }

  /** Makes the map read-only for user space (BPF_MAP_FREEZE, 5.2+). */
  freeze(): void {
    try {
      mapFreeze(this.fd);
    } catch (err) {
      throw MapError.fromSyscall(err);
    }
  }

  // ---- raw byte access: sizes checked against the map --------------------------------

  #checkKey(key: Uint8Array | null): void {
    const size = this.keySize;
    if (key === null ? size !== 0 : !(key instanceof Uint8Array) || key.length !== size) {
      throw new MapError('InvalidKeySize', `key must be ${size} bytes, got ${key === null ? 'null' : key instanceof Uint8Array ? key.length : typeof key}`, { size: key?.length, expected: size });
    }
  }

  /**
   * The one buffer every element operation on this map goes through (attr, key of
   * keySize bytes, value of valueBytes), shared by this MapData and the typed maps
   * over it. @internal
   */
  elemIo(): ElemIo {
    return (this.#io ??= new ElemIo(this.keySize, this.valueBytes));
  }

  /** The key in the element buffer, after the size check. */
  #putKey(key: Uint8Array | null): ElemIo {
    this.#checkKey(key);
    const io = this.elemIo();
    if (key !== null) copyInto(io.key.bytes, key);
    return io;
  }

  /** Looks up `key`; returns a copy of the value bytes, or undefined when absent. */
  lookup(key: Uint8Array, flags: number = 0): Uint8Array | undefined {
    const io = this.#putKey(key);
    checkElemFlags(flags);
    try {
      return io.lookup(this.fd, flags) ? copyOf(io.value.bytes) : undefined;
    } catch (err) {
      throw MapError.fromSyscall(err);
    }
  }

  /** Creates or updates `key` (flags: ElemFlags). */
  update(key: Uint8Array, value: Uint8Array, flags: number = 0): void {
    const io = this.#putKey(key);
    checkElemFlags(flags);
    const size = this.valueBytes;
    if (!(value instanceof Uint8Array) || value.length !== size) {
      throw new MapError('InvalidValueSize', `value must be ${size} bytes`, { size: value?.length, expected: size });
    }
    copyInto(io.value.bytes, value);
    try {
      io.update(this.fd, flags);
    } catch (err) {
      throw MapError.fromSyscall(err);
    }
  }

  /** Deletes `key`; returns false when it was absent. */
  delete(key: Uint8Array): boolean {
    const io = this.#putKey(key);
    try {
      return io.delete(this.fd);
    } catch (err) {
      throw MapError.fromSyscall(err);
    }
  }

  /** The key after `key` (the first key for null), undefined at the end. */
  nextKey(key: Uint8Array | null): Uint8Array | undefined {
    if (key !== null) this.#checkKey(key);
    const cursor = keyCursor(this, key);
    const next = cursor.next();
    cursor.return();
    return next.done ? undefined : next.value.bytes.slice();
  }

  /** Iterates the keys as bytes (BPF_MAP_GET_NEXT_KEY), each a copy. */
  *keys(): IterableIterator<Uint8Array> {
    for (const key of keyCursor(this)) yield key.bytes.slice();
  }

  // ---- batches (5.6+) and memory mapping ---------------------------------------------

  /**
   * BPF_MAP_LOOKUP_BATCH: up to `count` elements from `cursor` packed into `keys`
   * (keySize bytes each) and `values` (valueBytes each). Returns how many; `cursor.done`
   * once the end is reached. See the typed maps' getBatch.
   */
  lookupBatch(cursor: MapBatchCursor, keys: Uint8Array, values: Uint8Array, count: number, flags: number = 0): number {
    checkElemFlags(flags);
    return lookupBatch(this, cursor, keys, values, count, false, flags);
  }

  /** BPF_MAP_LOOKUP_AND_DELETE_BATCH (hash maps): as lookupBatch, deleting what it returns. */
  lookupAndDeleteBatch(cursor: MapBatchCursor, keys: Uint8Array, values: Uint8Array, count: number, flags: number = 0): number {
    checkElemFlags(flags);
    return lookupBatch(this, cursor, keys, values, count, true, flags);
  }

  /** BPF_MAP_UPDATE_BATCH of `count` packed keys and values (flags: ElemFlags). Returns `count`. */
  updateBatch(keys: Uint8Array, values: Uint8Array, count: number, flags: number = 0): number {
    checkElemFlags(flags);
    return updateBatch(this, keys, values, count, flags);
  }

  /** BPF_MAP_DELETE_BATCH of `count` packed keys (hash maps): the count deleted before the first absent key. */
  deleteBatch(keys: Uint8Array, count: number): number {
    return deleteBatch(this, keys, count);
  }

  /**
   * The map's values in memory, read and written without system calls (a
   * BPF_MAP_TYPE_ARRAY created with BPF_F_MMAPABLE, 5.5+). One mapping per MapData,
   * unmapped when it closes. MapError 'NotSupported' for any other map, or a frozen one.
   */
  memory(): MapMemory {
    const fd = this.fd;
    if (this.#memory === undefined) {
      const m = this.#known();
      this.#memory = mapMemory({ fd, type: m.type, flags: this.flags, valueSize: m.valueSize, maxEntries: m.maxEntries, name: m.name });
    }
    return this.#memory;
  }

  /** Closes the map's descriptor; its memory mapping, if any, is unmapped first. */
  override close(): void {
    try {
      if (this.#memory !== undefined) unmap(this.#memory);
    } finally {
      super.close();
    }
  }

  override toString(): string {
    return `MapData(${this.closed ? 'closed' : `fd ${this.fd}`})`;
  }
}


/**
 * Walks `map`'s keys with BPF_MAP_GET_NEXT_KEY from the key after `after` (from the
 * first without it), yielding each key in one buffer that is reused: decode or copy
 * it before asking for the next. Keys deleted during the walk may make a hash map
 * restart from its first key, as the kernel documents. The cursor has its own buffer,
 * so the loop body may use the map. @internal
 */
export function* keyCursor(map: MapData, after: Uint8Array | null = null): Generator<Scratch, void, undefined> {
  const size = map.keySize;
  // key: the previous key; value: where the kernel writes the next one.
  const io = new ElemIo(size, size);
  let first = after === null;
  if (after !== null) io.key.bytes.set(after);
  for (;;) {
    let more: boolean;
    try {
      more = io.nextKey(map.fd, first);
    } catch (err) {
      throw MapError.fromSyscall(err);
    }
    if (!more) return;
    first = false;
    io.key.bytes.set(io.value.bytes);
    yield io.key;
  }
}
