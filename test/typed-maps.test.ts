// The contract every typed map class is built from (src/maps/typed-map.ts), on the real
// kernel: create(...shape, options), the verbs and their one behaviour each, iteration,
// the element buffer the raw and typed paths share, and a class that is a descriptor only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArrayMap, ArrayOfMaps, HashMap, HashOfMaps, MapData, MapError, MapType, SockHash, SockMap, u32, u64 } from '../src/index.js';
import { KeyedMap, createMap, tryFromMap, type MapCreateOptions, type MapKind, type TryFromOptions } from '../src/maps/typed-map.js';
import type { Codec } from '../src/codec/index.js';
import { bpfCalls, fdCount, le32, le64, thrown } from './helpers.js';

const fdsAtStart = fdCount();
const INNER = { type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 2 };

test('create takes the shape, then options (required, one MapCreateOptions for every class)', () => {
  const maps = [
    ArrayMap.create(u32, { maxEntries: 3 }),
    HashMap.create(u32, u64, { maxEntries: 3 }),
    ArrayOfMaps.create({ maxEntries: 3, innerMap: INNER }),
    ArrayOfMaps.create(ArrayMap.fromMapData(u32), { maxEntries: 3, innerMap: INNER }),
    HashOfMaps.create(u32, { maxEntries: 3, innerMap: INNER }),
    HashOfMaps.create(u32, undefined, { maxEntries: 3, innerMap: INNER }),
    SockMap.create({ maxEntries: 3 }),
    SockHash.create(u32, { maxEntries: 3, name: 'sh' }),
  ];
  try {
    const types = [MapType.Array, MapType.Hash, MapType.ArrayOfMaps, MapType.ArrayOfMaps, MapType.HashOfMaps, MapType.HashOfMaps, MapType.Sockmap, MapType.Sockhash];
    assert.deepEqual(maps.map((m) => m.map.info().type), types);
    assert.deepEqual(maps.map((m) => m.map.info().maxEntries), maps.map(() => 3));
    assert.ok(maps.every((m) => m.owned));
    assert.equal(maps[7].map.info().name, 'sh');
    // Socket maps default to 8-byte values, so that get returns cookies.
    assert.equal(maps[6].map.valueSize, 8);
  } finally {
    for (const m of maps) m.close();
  }
  const fds = fdCount();
  // Options are required; their absence is refused before any syscall.
  for (const create of [() => ArrayMap.create(u32, undefined as never), () => SockMap.create(undefined as never), () => HashMap.create(u32, u64, 8 as never)]) {
    const err = thrown(create);
    assert.ok(err instanceof MapError);
    assert.equal(err.kind, 'InvalidArgument');
  }
  // options.type: one of the class's map types, the first by default.
  using lru = HashMap.create(u32, u64, { maxEntries: 2, type: MapType.LruHash });
  assert.equal(lru.map.info().type, MapType.LruHash);
  assert.deepEqual(bpfCalls(() => assert.equal(thrown(() => HashMap.create(u32, u64, { maxEntries: 2, type: MapType.Array })).kind, 'InvalidMapType')), []);
  lru.close();
  assert.equal(fdCount(), fds);
});

test('arrays: keys() lists every index, entries() the slots that hold a value', () => {
  using arr = ArrayMap.create(u64, { maxEntries: 3 });
  arr.set(1, 7n);
  assert.deepEqual([...arr.keys()], [0, 1, 2]);
  assert.deepEqual([...arr.entries()], [[0, 0n], [1, 7n], [2, 0n]]);
  assert.equal(arr.isEmpty(), false);
  assert.equal(String(arr), 'ArrayMap(len 3, owned)');

  using outer = ArrayOfMaps.create({ maxEntries: 3, innerMap: INNER });
  using inner = MapData.create(INNER);
  outer.set(2, inner);
  assert.deepEqual([...outer.keys()], [0, 1, 2]);
  assert.deepEqual([...outer], [[2, inner.id]]);
});

test('remove: one verb, KeyNotFound when absent, wherever the kernel can delete (maps of maps, socket maps, hashes)', () => {
  using outer = ArrayOfMaps.create({ maxEntries: 2, innerMap: INNER });
  using inner = MapData.create(INNER);
  outer.set(0, inner);
  outer.remove(0);
  assert.equal(thrown(() => outer.remove(0)).kind, 'KeyNotFound');
  assert.equal(thrown(() => outer.remove(2)).kind, 'OutOfBounds');

  // An empty SOCKMAP slot is EINVAL in the kernel: the same KeyNotFound here.
  using sm = SockMap.create({ maxEntries: 2 });
  const err = thrown(() => sm.remove(1));
  assert.equal(err.kind, 'KeyNotFound');
  assert.equal(err.index, 1);
  using sh = SockHash.create(u32, { maxEntries: 2 });
  assert.equal(thrown(() => sh.remove(5)).kind, 'KeyNotFound');

  using hom = HashOfMaps.create(u32, { maxEntries: 2, innerMap: INNER });
  hom.insert(9, inner);
  hom.remove(9);
  assert.equal(thrown(() => hom.remove(9)).kind, 'KeyNotFound');

  // ArrayMap has no remove: an array's elements always exist.
  assert.equal('remove' in ArrayMap.prototype, false);
});

test('get of an absent key is KeyNotFound in the typed layer; lookup/delete report absence as a value in the raw one', () => {
  using h = HashMap.create(u32, u64, { maxEntries: 4 });
  assert.equal(thrown(() => h.get(1)).kind, 'KeyNotFound');
  assert.equal(h.map.lookup(le32(1)), undefined);
  assert.equal(h.map.delete(le32(1)), false);
  h.insert(1, 5n);
  assert.equal(h.map.delete(le32(1)), true);
  // A socket map with 4-byte values cannot return cookies: refused before any syscall.
  using small = SockHash.create(u32, { maxEntries: 2, valueSize: 4 });
  assert.deepEqual(bpfCalls(() => assert.equal(thrown(() => small.get(1)).kind, 'NotSupported')), []);
  assert.equal(thrown(() => [...small.entries()]).kind, 'NotSupported');
});

test('the raw and typed paths share the element buffer of their MapData: results are copies', () => {
  using h = HashMap.create(u32, u64, { maxEntries: 4 });
  h.insert(1, 10n);
  const raw = h.map.lookup(le32(1))!;
  assert.deepEqual(raw, le64(10n));
  h.insert(2, 20n);
  assert.equal(h.get(2), 20n);
  assert.deepEqual(raw, le64(10n)); // not the buffer the next operation wrote into
  h.map.update(le32(1), le64(11n));
  assert.equal(h.get(1), 11n);
  // A second view over the same MapData uses the same buffer.
  const view = HashMap.tryFrom(h.map, u32, u64);
  assert.equal(view.get(2), 20n);
  assert.equal(h.get(1), 11n);
});

test('key iteration has its own cursor: the loop body may use the map; nextKey walks from any key', () => {
  using h = HashMap.create(u32, u64, { maxEntries: 8 });
  for (let k = 0; k < 5; k++) h.insert(k, BigInt(k) * 3n);
  const seen: [number, bigint][] = [];
  // (Lookups only: an update moves the key to the head of its bucket, and a walk that
  // updates what it visits can go round a bucket for ever.)
  for (const k of h.keys()) {
    assert.equal(thrown(() => h.get(100)).kind, 'KeyNotFound');
    seen.push([k, h.get(k)]);
  }
  assert.deepEqual(seen.sort((a, b) => a[0] - b[0]), [0, 1, 2, 3, 4].map((k) => [k, BigInt(k) * 3n]));
  assert.deepEqual([...h.entries()].sort((a, b) => a[0] - b[0]), seen);
  const order = [...h.map.keys()];
  assert.equal(order.length, 5);
  assert.deepEqual(h.map.nextKey(null), order[0]);
  for (let i = 0; i + 1 < order.length; i++) assert.deepEqual(h.map.nextKey(order[i]), order[i + 1]);
  assert.equal(h.map.nextKey(order[4]), undefined);
});

/** A class that is only a descriptor: an LRU hash (the contract the next map classes are made from). */
class LruOnly<K, V> extends KeyedMap<K, V> {
  static readonly kind: MapKind<[key: Codec<unknown>, value: Codec<unknown>], LruOnly<unknown, unknown>> = {
    name: 'LruOnly',
    types: [MapType.LruHash],
    shape: (key, value) => ({ key, value }),
    make: (map, owned, shape) => new LruOnly(map, owned, LruOnly.kind, shape),
  };
  static tryFrom<K, V>(map: MapData, key: Codec<K>, value: Codec<V>, options?: TryFromOptions): LruOnly<K, V> {
    return tryFromMap(LruOnly.kind, map, [key, value], options) as LruOnly<K, V>;
  }
  static create<K, V>(key: Codec<K>, value: Codec<V>, options: MapCreateOptions): LruOnly<K, V> {
    return createMap(LruOnly.kind, [key, value], options) as LruOnly<K, V>;
  }
}

test('a class made of a descriptor alone gets tryFrom, create, the verbs, iteration, ownership', () => {
  const m = LruOnly.create(u32, u64, { maxEntries: 4 });
  assert.equal(m.map.info().type, MapType.LruHash);
  m.insert(3, 9n);
  assert.equal(m.get(3), 9n);
  assert.deepEqual([...m], [[3, 9n]]);
  m.remove(3);
  assert.equal(thrown(() => m.remove(3)).kind, 'KeyNotFound');
  using hash = MapData.create({ type: MapType.Hash, keySize: 4, valueSize: 8, maxEntries: 2 });
  assert.equal(thrown(() => LruOnly.tryFrom(hash, u32, u64)).kind, 'InvalidMapType');
  assert.equal(thrown(() => LruOnly.tryFrom(m.map, u32, u32)).kind, 'InvalidValueSize');
  const view = LruOnly.tryFrom(m.map, u32, u64);
  view.close();
  assert.equal(m.map.closed, false); // a view never closes
  m.close();
  assert.equal(m.map.closed, true);
  assert.equal(thrown(() => m.get(3)).kind, 'Closed');
});

test('no descriptor leaked', () => {
  assert.equal(fdCount(), fdsAtStart);
});
