import { mapGetNextKey } from '../sys/bpf.js';
import { scratch, type Scratch } from './codec.js';
import type { MapData } from './map-data.js';
import { MapError } from '../errors.js';

/**
 * Walks a map's keys with BPF_MAP_GET_NEXT_KEY, yielding the raw key in a buffer
 * that is reused (two alternate): decode it before asking for the next one.
 * Keys deleted during the walk may make a hash map restart from its first key, as
 * the kernel documents.
 */
export function* keyCursor(map: MapData): Generator<Scratch, void, undefined> {
  const size = map.keySize;
  let prev: Scratch | null = null;
  let next = scratch(size);
  let spare = scratch(size);
  for (;;) {
    const fd = map.fd;
    let more: boolean;
    try {
      more = mapGetNextKey(fd, prev ? prev.bytes : null, next.bytes);
    } catch (err) {
      throw MapError.fromSyscall(err);
    }
    if (!more) return;
    yield next;
    prev = next;
    [next, spare] = [spare, next];
  }
}
