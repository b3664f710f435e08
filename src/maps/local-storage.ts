// Local storage maps: one value per kernel object (socket, task, inode, cgroup),
// stored with the object and freed with it. User space names the object by a file
// descriptor used as the 4-byte key (a socket's fd, a pidfd, a file's fd, a cgroup
// directory's fd); programs by a pointer (bpf_sk_storage_get(&map, sk, ...), ...).
// The kernel wants BTF for key (int) and value (a type of value_size bytes) and
// BPF_F_NO_PREALLOC, and has no key iteration for them.
import { MapError } from '../errors.js';
import { describeValue } from '../describe.js';
import { btfLoad } from '../sys/bpf.js';
import { kernel } from '../sys/native.js';
import { socketFd, type SocketLike } from '../socket-fd.js';
import { Btf } from '../obj/btf.js';
import type { Codec } from '../codec/codec.js';
import { MapFlags, type MapData } from './map-data.js';
import { MapType } from './map-type.js';
import { withCgroupFd, type CgroupLike } from './fd-arrays.js';
import { Pidfd } from './pidfd.js';
import { checkCodec, createMap, KeyedMap, tryFromMap, type MapCreateOptions, type MapKind, type Shape, type TryFromOptions, type MapTyping, type CodecValue } from './typed-map.js';

/** The create options of local storage maps: no max_entries (the objects decide), BPF_F_NO_PREALLOC always set. */
export type LocalStorageCreateOptions = Omit<MapCreateOptions, 'maxEntries' | 'type'>;

/** `flags` (undefined: 0) with `bit` set; MapError 'InvalidArgument' for anything but a u32. @internal */
export function withFlag(flags: unknown, bit: number): number {
  if (flags === undefined) return bit;
  if (typeof flags !== 'number' || !Number.isInteger(flags) || flags < 0 || flags > 0xffff_ffff) {
    throw new MapError('InvalidArgument', `flags must be an integer in [0, 2^32) (MapFlags), got ${describeValue(flags)}`);
  }
  return (flags | bit) >>> 0;
}

/** A file descriptor as a 4-byte key. */
function fdKey<K>(fdOf: (key: K) => number): Codec<K> {
  return {
    size: 4,
    align: 4,
    encode: (s, offset, key) => s.view.setUint32(offset, fdOf(key), true),
    decode: (s, offset) => s.view.getUint32(offset, true) as K,
  };
}

function plainFd(what: string): (fd: number) => number {
  return (fd) => {
    if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) throw new MapError('InvalidArgument', `expected ${what}, got ${describeValue(fd)}`);
    return fd;
  };
}

/** BTF with `int` (type 1) for the key and `unsigned char[size]` (type 3) for the value. */
function storageBtf(valueSize: number): number {
  const btf = Btf.fromTypes([
    { id: 0, kind: 'void' },
    { id: 1, kind: 'int', name: 'int', size: 4, encoding: 1, bitOffset: 0, bits: 32 },
    { id: 2, kind: 'int', name: 'unsigned char', size: 1, encoding: 0, bitOffset: 0, bits: 8 },
    { id: 3, kind: 'array', type: 2, indexType: 1, nelems: valueSize },
  ]);
  try {
    return btfLoad(btf.marshal());
  } catch (err) {
    throw MapError.fromSyscall(err, 'CreateError', 'cannot load the BTF of a local storage map');
  }
}

/** The create of every local storage: BTF made and released around BPF_MAP_CREATE. */
function createStorage<M>(kind: MapKind<[value: Codec<unknown>], M>, value: Codec<unknown>, options: LocalStorageCreateOptions = {}): M {
  checkCodec(value, 'value codec');
  if (typeof options !== 'object' || options === null) throw new MapError('InvalidArgument', `${kind.name}.create options must be an object, got ${describeValue(options)}`);
  if (value.size === 0) throw new MapError('InvalidValueSize', `${kind.name}: values must have at least one byte`, { size: 0 });
  const flags = withFlag(options.flags, MapFlags.BPF_F_NO_PREALLOC);
  const btfFd = storageBtf(value.size);
  try {
    const spec = { ...options, maxEntries: 0, flags, btf: { fd: btfFd, keyTypeId: 1, valueTypeId: 3 } };
    return createMap(kind, [value], spec);
  } finally {
    // The map keeps its own reference to the BTF.
    kernel.close(btfFd);
  }
}

/** What every local storage map shares: keyed by an object's fd, no iteration. */
export abstract class LocalStorage<K, V> extends KeyedMap<K, V> {
  /** MapError 'NotSupported': the kernel cannot walk a local storage map's keys. */
  override *keys(): IterableIterator<K> {
    throw noWalk();
  }

  /** MapError 'NotSupported', as keys(). */
  override *entries(): IterableIterator<[K, V]> {
    throw noWalk();
  }
}

function noWalk(): MapError {
  return new MapError('NotSupported', 'local storage maps have no keys to walk (BPF_MAP_GET_NEXT_KEY is EOPNOTSUPP): the values live with their objects');
}

const storageKind = <M>(name: string, type: MapType, key: Codec<unknown>, make: (map: MapData, owned: boolean, kind: MapKind<[value: Codec<unknown>], M>, shape: Shape) => M): MapKind<[value: Codec<unknown>], M> => {
  const kind: MapKind<[value: Codec<unknown>], M> = {
    name,
    types: [type],
    shape: (value) => ({ key, value: checkCodec(value, 'value codec') }),
    make: (map, owned, shape) => make(map, owned, kind, shape),
  };
  return kind;
};

/** @internal SkStorage's instance for the shape arguments of Ebpf.map (see MapTyping). */
export interface SkStorageTyping extends MapTyping {
  readonly instance: SkStorage<CodecValue<this['shape'][0]>>;
}

/**
 * A BPF_MAP_TYPE_SK_STORAGE (5.2): a value per socket. User space keys it by the
 * socket (a Node socket or its fd); programs call `bpf_sk_storage_get(&map, sk, ...)`.
 */
export class SkStorage<V> extends LocalStorage<SocketLike, V> {
  static readonly mapTypes: readonly MapType[] = [MapType.SkStorage];
  /** @internal */
  static readonly kind = storageKind<SkStorage<unknown>>('SkStorage', MapType.SkStorage, fdKey<SocketLike>((s) => socketFd(s, (why) => new MapError('InvalidArgument', why))), (m, o, k, s) => new SkStorage(m, o, k, s));

  /** @internal How Ebpf.map types the shape arguments (MapTyping). */
  declare static readonly typing?: SkStorageTyping;

  /**
   * A typed view of an existing map: MapError `InvalidMapType` for a map of another type, `InvalidKeySize`
   * / `InvalidValueSize` when the codecs do not fit, `Closed` for a closed MapData. `owned: true` hands
   * the MapData over.
   */
  static tryFrom<V>(map: MapData, value: Codec<V>, options?: TryFromOptions): SkStorage<V> {
    return tryFromMap(SkStorage.kind, map, [value], options) as SkStorage<V>;
  }

  /**
   * Creates a new map of this class, owned by the result (close() closes it); `NotSupported` where the
   * kernel lacks the map type.
   */
  static create<V>(value: Codec<V>, options?: LocalStorageCreateOptions): SkStorage<V> {
    return createStorage(SkStorage.kind, value, options) as SkStorage<V>;
  }
}

/**
 * A task as TaskStorage keys it from user space: a pidfd (a number, as libbpf and
 * cilium/ebpf take it), a Pidfd from openPidfd, or `{ pid }`, for which a pidfd is
 * opened for the one call and closed after it.
 */
export type TaskLike = number | Pidfd | { readonly pid: number };

function taskFd(task: TaskLike): number {
  if (task instanceof Pidfd) return task.fd;
  if (typeof task === 'number') return plainFd('a pidfd')(task);
  throw new MapError('InvalidArgument', `expected a pidfd (a number or a Pidfd from openPidfd)${typeof task === 'object' && task !== null && 'pid' in task ? ': { pid } keys are for get, insert and remove only' : `, got ${describeValue(task)}`}`);
}

/** Runs `use` with the pidfd of `task`: `{ pid }` opens one for the call. */
function withTaskFd<T>(task: TaskLike, use: (fd: number) => T): T {
  if (typeof task !== 'object' || task === null || task instanceof Pidfd) return use(taskFd(task));
  const pidfd = Pidfd.open((task as { pid: number }).pid);
  try {
    return use(pidfd.fd);
  } finally {
    pidfd.close();
  }
}

/** @internal TaskStorage's instance for the shape arguments of Ebpf.map (see MapTyping). */
export interface TaskStorageTyping extends MapTyping {
  readonly instance: TaskStorage<CodecValue<this['shape'][0]>>;
}

/**
 * A BPF_MAP_TYPE_TASK_STORAGE (5.11): a value per task. User space keys it by a pidfd
 * (a number, a Pidfd from openPidfd, or `{ pid }`); programs call
 * `bpf_task_storage_get(&map, task, ...)`.
 */
export class TaskStorage<V> extends LocalStorage<TaskLike, V> {
  static readonly mapTypes: readonly MapType[] = [MapType.TaskStorage];
  /** @internal */
  static readonly kind = storageKind<TaskStorage<unknown>>('TaskStorage', MapType.TaskStorage, fdKey<TaskLike>(taskFd), (m, o, k, s) => new TaskStorage(m, o, k, s));

  /** @internal How Ebpf.map types the shape arguments (MapTyping). */
  declare static readonly typing?: TaskStorageTyping;

  /**
   * A typed view of an existing map: MapError `InvalidMapType` for a map of another type, `InvalidKeySize`
   * / `InvalidValueSize` when the codecs do not fit, `Closed` for a closed MapData. `owned: true` hands
   * the MapData over.
   */
  static tryFrom<V>(map: MapData, value: Codec<V>, options?: TryFromOptions): TaskStorage<V> {
    return tryFromMap(TaskStorage.kind, map, [value], options) as TaskStorage<V>;
  }

  /**
   * Creates a new map of this class, owned by the result (close() closes it); `NotSupported` where the
   * kernel lacks the map type.
   */
  static create<V>(value: Codec<V>, options?: LocalStorageCreateOptions): TaskStorage<V> {
    return createStorage(TaskStorage.kind, value, options) as TaskStorage<V>;
  }

  override get(task: TaskLike, flags: number = 0): V {
    return withTaskFd(task, (fd) => super.get(fd, flags));
  }

  override insert(task: TaskLike, value: V, flags: number = 0): void {
    withTaskFd(task, (fd) => super.insert(fd, value, flags));
  }

  override remove(task: TaskLike): void {
    withTaskFd(task, (fd) => super.remove(fd));
  }
}

/** @internal InodeStorage's instance for the shape arguments of Ebpf.map (see MapTyping). */
export interface InodeStorageTyping extends MapTyping {
  readonly instance: InodeStorage<CodecValue<this['shape'][0]>>;
}

/**
 * A BPF_MAP_TYPE_INODE_STORAGE (5.10): a value per inode, for BPF LSM programs
 * (`bpf_inode_storage_get`). User space keys it by the fd of an open file (the key is
 * the inode: any descriptor of the file reads the value). The kernel keeps the value in
 * the BPF LSM's part of the inode's security blob: where that part is missing (a kernel
 * built or booted without the BPF LSM) element operations may fail with EBADF.
 */
export class InodeStorage<V> extends LocalStorage<number, V> {
  static readonly mapTypes: readonly MapType[] = [MapType.InodeStorage];
  /** @internal */
  static readonly kind = storageKind<InodeStorage<unknown>>('InodeStorage', MapType.InodeStorage, fdKey(plainFd("an open file's fd")), (m, o, k, s) => new InodeStorage(m, o, k, s));

  /** @internal How Ebpf.map types the shape arguments (MapTyping). */
  declare static readonly typing?: InodeStorageTyping;

  /**
   * A typed view of an existing map: MapError `InvalidMapType` for a map of another type, `InvalidKeySize`
   * / `InvalidValueSize` when the codecs do not fit, `Closed` for a closed MapData. `owned: true` hands
   * the MapData over.
   */
  static tryFrom<V>(map: MapData, value: Codec<V>, options?: TryFromOptions): InodeStorage<V> {
    return tryFromMap(InodeStorage.kind, map, [value], options) as InodeStorage<V>;
  }

  /**
   * Creates a new map of this class, owned by the result (close() closes it); `NotSupported` where the
   * kernel lacks the map type.
   */
  static create<V>(value: Codec<V>, options?: LocalStorageCreateOptions): InodeStorage<V> {
    return createStorage(InodeStorage.kind, value, options) as InodeStorage<V>;
  }
}

/** @internal CgrpStorage's instance for the shape arguments of Ebpf.map (see MapTyping). */
export interface CgrpStorageTyping extends MapTyping {
  readonly instance: CgrpStorage<CodecValue<this['shape'][0]>>;
}

/**
 * A BPF_MAP_TYPE_CGRP_STORAGE (6.2): a value per cgroup (v2). User space keys it by
 * a cgroup directory's fd or path (opened for the call); programs call
 * `bpf_cgrp_storage_get(&map, cgrp, ...)`.
 */
export class CgrpStorage<V> extends LocalStorage<CgroupLike, V> {
  static readonly mapTypes: readonly MapType[] = [MapType.CgrpStorage];
  /** @internal */
  static readonly kind = storageKind<CgrpStorage<unknown>>('CgrpStorage', MapType.CgrpStorage, fdKey(plainFd("a cgroup directory's fd")), (m, o, k, s) => new CgrpStorage(m, o, k, s));

  /** @internal How Ebpf.map types the shape arguments (MapTyping). */
  declare static readonly typing?: CgrpStorageTyping;

  /**
   * A typed view of an existing map: MapError `InvalidMapType` for a map of another type, `InvalidKeySize`
   * / `InvalidValueSize` when the codecs do not fit, `Closed` for a closed MapData. `owned: true` hands
   * the MapData over.
   */
  static tryFrom<V>(map: MapData, value: Codec<V>, options?: TryFromOptions): CgrpStorage<V> {
    return tryFromMap(CgrpStorage.kind, map, [value], options) as CgrpStorage<V>;
  }

  /**
   * Creates a new map of this class, owned by the result (close() closes it); `NotSupported` where the
   * kernel lacks the map type.
   */
  static create<V>(value: Codec<V>, options?: LocalStorageCreateOptions): CgrpStorage<V> {
    return createStorage(CgrpStorage.kind, value, options) as CgrpStorage<V>;
  }

  override get(cgroup: CgroupLike, flags: number = 0): V {
    return withCgroupFd(cgroup, (fd) => super.get(fd, flags));
  }

  override insert(cgroup: CgroupLike, value: V, flags: number = 0): void {
    withCgroupFd(cgroup, (fd) => super.insert(fd, value, flags));
  }

  override remove(cgroup: CgroupLike): void {
    withCgroupFd(cgroup, (fd) => super.remove(fd));
  }
}
