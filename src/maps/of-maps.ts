// What ArrayOfMaps and HashOfMaps share: user space writes an inner map's fd into a
// slot and reads back its id; `get` turns the id into a new descriptor.
import { MapError } from '../errors.js';
import { mapGetFdById } from '../sys/bpf.js';
import { MapData, type MapSpec } from './map-data.js';
import { ownedInner, TypedMap, type FromMapData, type InnerMap, type MapCreateOptions, type ValueCodec } from './typed-map.js';

/** The create options of ArrayOfMaps and HashOfMaps. */
export interface MapOfMapsCreateOptions extends MapCreateOptions {
  /** The template every inner map must match (type, key and value size, flags; max_entries too unless BPF_F_INNER_MAP). */
  innerMap: MapData | { readonly map: MapData } | MapSpec;
}

const identity: FromMapData<MapData> = (map) => map;

/**
 * The values of a map of maps: an inner map's fd written, its id read back; `get`
 * opens the id (a new descriptor, owned by what `convert` returns), entries() lists ids.
 */
export function innerMapValue<V>(convert: FromMapData<V> | undefined): ValueCodec<V, InnerMap, number> {
  if (convert !== undefined && typeof convert !== 'function') throw new MapError('InvalidArgument', 'inner must be a function (map: MapData) => V');
  const open = convert ?? (identity as FromMapData<V>);
  return {
    size: 4,
    encode: (s, offset, value) => s.view.setUint32(offset, innerFd(value), true),
    decode: (s, offset) => openInner(s.view.getUint32(offset, true), open),
    entry: (s, offset) => s.view.getUint32(offset, true),
  };
}

/** Opens inner map `id` (BPF_MAP_GET_FD_BY_ID) and converts it; the result owns the new fd (see ownedInner). */
export function openInner<V>(id: number, convert: FromMapData<V>): V {
  let fd: number;
  try {
    fd = mapGetFdById(id);
  } catch (err) {
    throw MapError.fromSyscall(err);
  }
  const map = MapData.adopt(fd);
  let value: V;
  try {
    value = convert(map);
  } catch (err) {
    map.close();
    throw err;
  }
  return ownedInner(value, map);
}

/** The fd of an inner map: a MapData or typed map of tsbpf only (MapError 'Closed' once closed). */
export function innerFd(value: InnerMap): number {
  if (value instanceof MapData) return value.fd;
  if (value instanceof TypedMap) return value.map.fd;
  throw new MapError('InvalidArgument', 'an inner map must be a MapData or a typed map (ArrayMap, HashMap, ...) of tsbpf');
}
