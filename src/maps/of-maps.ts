// What ArrayOfMaps and HashOfMaps share: user space writes an inner map's fd into a
// slot and reads back its id; `get` turns the id into a new descriptor.
import { MapError } from '../errors.js';
import { mapGetFdById } from '../sys/bpf.js';
import { MapData } from './map-data.js';
import { ownedInner, TypedMap, type FromMapData, type InnerMap } from './typed-map.js';

export const identity: FromMapData<MapData> = (map) => map;

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
