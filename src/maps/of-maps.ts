// What ArrayOfMaps and HashOfMaps share: user space writes an inner map's fd into a
// slot and reads back its id; `get` turns the id into a new descriptor.
import { MapError } from '../errors.js';
import { mapGetFdById } from '../sys/bpf.js';
import { MapData } from './map-data.js';
import type { FromMapData, InnerMap } from './typed-map.js';

export const identity: FromMapData<MapData> = (map) => map;

/** Opens inner map `id` (BPF_MAP_GET_FD_BY_ID) and converts it; the result owns the new fd. */
export function openInner<V>(id: number, convert: FromMapData<V>): V {
  let fd: number;
  try {
    fd = mapGetFdById(id);
  } catch (err) {
    throw MapError.fromSyscall(err);
  }
  const map = MapData.adopt(fd);
  try {
    return convert(map);
  } catch (err) {
    map.close();
    throw err;
  }
}

/** The fd of something that holds a map (MapData or typed map). */
export function innerFd(value: InnerMap): number {
  const fd = typeof value === 'object' && value !== null ? value.fd : undefined;
  if (typeof fd !== 'number') throw new MapError('InvalidArgument', 'value must hold a map: a MapData or a typed map');
  return fd;
}
