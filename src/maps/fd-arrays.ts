// Arrays whose slots hold a kernel object given by file descriptor that user space
// cannot read back (the kernel has no syscall lookup for them): AF_XDP sockets and
// cgroups. `set` and `remove`; `get` and entries() are MapError 'NotSupported'.
import { closeSync, openSync } from 'node:fs';
import { MapError } from '../errors.js';
import { describeValue } from '../describe.js';
import { socketFd, type SocketLike } from '../socket-fd.js';
import type { MapData } from './map-data.js';
import { MapType } from './map-type.js';
import { createMap, IndexedMap, tryFromMap, type MapCreateOptions, type MapKind, type TryFromOptions, type ValueCodec } from './typed-map.js';

/** A 4-byte fd value that is never read back (lookups are refused before any syscall). */
function writeOnlyFd<In>(fdOf: (value: In) => number): ValueCodec<never, In> {
  return {
    size: 4,
    encode: (s, offset, value) => s.view.setUint32(offset, fdOf(value), true),
    decode: () => {
      throw new MapError('NotSupported', 'unreadable');
    },
  };
}

/**
 * A BPF_MAP_TYPE_XSKMAP (4.18): AF_XDP sockets by queue index, the targets of
 * `bpf_redirect_map` that hand frames to user space. `set(index, fd)` takes the fd of
 * an AF_XDP socket (any: frames redirected to it arrive only once it is bound to a
 * device and queue with its UMEM and rings, as an XdpSocket is: `set(queue, xsk.fd)`;
 * another kind of socket is EOPNOTSUPP),
 * `remove(index)` empties a slot. The kernel does not return the sockets to user
 * space: `get` and `entries()` are MapError 'NotSupported'.
 */
export class XskMap extends IndexedMap<never, SocketLike> {
  static readonly mapTypes: readonly MapType[] = [MapType.Xskmap];
  /** @internal */
  static readonly kind: MapKind<[], XskMap> = {
    name: 'XskMap',
    types: XskMap.mapTypes,
    shape: () => ({ key: 'index', value: writeOnlyFd<SocketLike>((socket) => socketFd(socket, (why) => new MapError('InvalidArgument', why))) }),
    unreadable: () => 'XskMap: the kernel does not return AF_XDP sockets to user space (lookup is EOPNOTSUPP)',
    make: (map, owned, shape) => new XskMap(map, owned, XskMap.kind, shape),
  };

  /**
   * A typed view of an existing map: MapError `InvalidMapType` for a map of another type, `InvalidKeySize`
   * / `InvalidValueSize` when the codecs do not fit, `Closed` for a closed MapData. `owned: true` hands
   * the MapData over.
   */
  static tryFrom(map: MapData, options?: TryFromOptions): XskMap {
    return tryFromMap(XskMap.kind, map, [], options);
  }

  /**
   * Creates a new map of this class, owned by the result (close() closes it); `NotSupported` where the
   * kernel lacks the map type.
   */
  static create(options: MapCreateOptions): XskMap {
    return createMap(XskMap.kind, [], options);
  }

  /** Empties slot `index`. An empty slot is no error: the kernel's delete does not tell. */
  remove(index: number): void {
    this.removeIndex(index);
  }
}

/**
 * A cgroup: the fd of its cgroup v2 directory (opened read-only), or the directory's
 * path (opened for the call and closed again).
 */
export type CgroupLike = number | string;

/** Runs `use` with the fd of `cgroup`: the number itself, or the path opened for the call. @internal */
export function withCgroupFd<T>(cgroup: CgroupLike, use: (fd: number) => T): T {
  if (typeof cgroup === 'number') {
    if (!Number.isInteger(cgroup) || cgroup < 0 || cgroup > 0x7fffffff) throw new MapError('InvalidArgument', `invalid cgroup file descriptor ${describeValue(cgroup)}`);
    return use(cgroup);
  }
  if (typeof cgroup !== 'string') throw new MapError('InvalidArgument', `expected a cgroup directory's fd or path, got ${describeValue(cgroup)}`);
  let fd: number;
  try {
    fd = openSync(cgroup, 'r');
  } catch (err) {
    throw new MapError('InvalidArgument', `cannot open cgroup ${cgroup}: ${(err as Error).message}`);
  }
  try {
    return use(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * A BPF_MAP_TYPE_CGROUP_ARRAY (4.8): cgroups (v2) by index, for
 * `bpf_current_task_under_cgroup` and `bpf_skb_under_cgroup`. `set(index, cgroup)`
 * takes a cgroup directory's fd or path; the map holds the cgroup itself. The kernel
 * does not return cgroups to user space: `get` and `entries()` are MapError 'NotSupported'.
 */
export class CgroupArray extends IndexedMap<never, CgroupLike> {
  static readonly mapTypes: readonly MapType[] = [MapType.CgroupArray];
  /** @internal */
  static readonly kind: MapKind<[], CgroupArray> = {
    name: 'CgroupArray',
    types: CgroupArray.mapTypes,
    shape: () => ({ key: 'index', value: writeOnlyFd<number>((fd) => fd) }),
    unreadable: () => 'CgroupArray: the kernel does not return cgroups to user space (lookup is ENOTSUPP)',
    make: (map, owned, shape) => new CgroupArray(map, owned, CgroupArray.kind, shape),
  };

  /**
   * A typed view of an existing map: MapError `InvalidMapType` for a map of another type, `InvalidKeySize`
   * / `InvalidValueSize` when the codecs do not fit, `Closed` for a closed MapData. `owned: true` hands
   * the MapData over.
   */
  static tryFrom(map: MapData, options?: TryFromOptions): CgroupArray {
    return tryFromMap(CgroupArray.kind, map, [], options);
  }

  /**
   * Creates a new map of this class, owned by the result (close() closes it); `NotSupported` where the
   * kernel lacks the map type.
   */
  static create(options: MapCreateOptions): CgroupArray {
    return createMap(CgroupArray.kind, [], options);
  }

  /** Puts `cgroup` (a directory's fd or path) at `index`. */
  override set(index: number, cgroup: CgroupLike, flags: number = 0): void {
    withCgroupFd(cgroup, (fd) => super.set(index, fd, flags));
  }

  /** Empties slot `index`; MapError 'KeyNotFound' when it was empty. */
  remove(index: number): void {
    this.removeIndex(index);
  }
}
