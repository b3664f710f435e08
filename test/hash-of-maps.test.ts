// HashOfMaps (BPF_MAP_TYPE_HASH_OF_MAPS) on the real kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, rmSync } from 'node:fs';
import { ArrayMap, ElemFlags, HashMap, HashOfMaps, MapData, MapError, MapFlags, MapType, PinError, SyscallError, bytes, struct, u16, u32, u64, u8 } from '../src/index.js';
import type { MapSpec } from '../src/index.js';
import { bpffsDir, fdCount, bpfCalls, thrown, bpfFds } from './helpers.js';

const fdsAtStart = fdCount();


const innerSpec: MapSpec = { type: MapType.Hash, keySize: 4, valueSize: 4, maxEntries: 8 };

/** An inner u32→u32 hash holding `entries`. */
function innerHash(entries: [number, number][]): HashMap<number, number> {
  const h = HashMap.create(u32, u32, { maxEntries: 8 });
  for (const [k, v] of entries) h.insert(k, v);
  return h;
}

const FlowKey = struct({ ifindex: u32, proto: u8 });

test('create: info(), owned, starts empty', () => {
  const hom = HashOfMaps.create(u32, { maxEntries: 4, innerMap: innerSpec, name: 'hom_create', numaNode: 0 });
  try {
    assert.equal(hom.owned, true);
    const info = hom.map.info();
    assert.equal(info.type, MapType.HashOfMaps);
    assert.equal(info.keySize, 4);
    assert.equal(info.valueSize, 4);
    assert.equal(info.maxEntries, 4);
    assert.equal(info.name, 'hom_create');
    assert.equal(info.flags, MapFlags.BPF_F_NUMA_NODE);
    assert.deepEqual([...hom.keys()], []);
    assert.deepEqual([...hom], []);
  } finally {
    hom.close();
  }
});

test('u32 keys: insert/get/getId/keys/entries/remove', () => {
  const hom = HashOfMaps.create(u32, { maxEntries: 8, innerMap: innerSpec });
  const a = innerHash([[1, 10]]);
  const b = innerHash([[2, 20], [3, 30]]);
  try {
    hom.insert(100, a);
    hom.insert(200, b);
    hom.insert(300, a.map);
    assert.equal(hom.getId(100), a.map.id);
    assert.equal(hom.getId(200), b.map.id);
    assert.equal(hom.getId(300), a.map.id);
    assert.deepEqual([...hom.keys()].sort((x, y) => x - y), [100, 200, 300]);
    assert.deepEqual(
      [...hom.entries()].sort((x, y) => x[0] - y[0]),
      [
        [100, a.map.id],
        [200, b.map.id],
        [300, a.map.id],
      ],
    );
    assert.deepEqual([...hom].sort((x, y) => x[0] - y[0]), [...hom.entries()].sort((x, y) => x[0] - y[0]));

    const before = fdCount();
    const got = hom.get(200);
    try {
      assert.ok(got instanceof MapData);
      assert.equal(fdCount(), before + 1);
      assert.equal(got.id, b.map.id);
      const typed = HashMap.tryFrom(got, u32, u32);
      assert.deepEqual([...typed.entries()].sort((x, y) => x[0] - y[0]), [
        [2, 20],
        [3, 30],
      ]);
    } finally {
      got.close();
    }
    assert.equal(fdCount(), before);

    hom.remove(100);
    assert.deepEqual([...hom.keys()].sort((x, y) => x - y), [200, 300]);
    // Replace the map under a key.
    hom.insert(300, b);
    assert.equal(hom.getId(300), b.map.id);
  } finally {
    hom.close();
    a.close();
    b.close();
  }
});

test('struct keys: equal keys find the same inner map; keys() decodes them', () => {
  assert.equal(FlowKey.size, 8);
  const hom = HashOfMaps.create(FlowKey, { maxEntries: 4, innerMap: innerSpec });
  const tcp = innerHash([[6, 1]]);
  const udp = innerHash([[17, 1]]);
  try {
    assert.equal(hom.map.keySize, 8);
    hom.insert({ ifindex: 2, proto: 6 }, tcp);
    hom.insert({ ifindex: 2, proto: 17 }, udp);
    assert.equal(hom.getId({ proto: 6, ifindex: 2 }), tcp.map.id);
    assert.equal(hom.getId({ ifindex: 2, proto: 17 }), udp.map.id);
    assert.deepEqual(
      [...hom.keys()].sort((x, y) => x.proto - y.proto),
      [
        { ifindex: 2, proto: 6 },
        { ifindex: 2, proto: 17 },
      ],
    );
    assert.deepEqual(
      [...hom].sort((x, y) => x[0].proto - y[0].proto),
      [
        [{ ifindex: 2, proto: 6 }, tcp.map.id],
        [{ ifindex: 2, proto: 17 }, udp.map.id],
      ],
    );
    const inner = hom.get({ ifindex: 2, proto: 17 });
    try {
      assert.equal(inner.id, udp.map.id);
    } finally {
      inner.close();
    }
    hom.remove({ ifindex: 2, proto: 6 });
    assert.equal(thrown(() => hom.getId({ ifindex: 2, proto: 6 })).kind, 'KeyNotFound');
    assert.equal(thrown(() => hom.getId({ ifindex: 3, proto: 17 })).kind, 'KeyNotFound');
  } finally {
    hom.close();
    tcp.close();
    udp.close();
  }
});

test('KeyNotFound on get, getId and remove of a missing key', () => {
  const hom = HashOfMaps.create(u32, { maxEntries: 2, innerMap: innerSpec });
  try {
    const before = fdCount();
    for (const op of [() => hom.get(9), () => hom.getId(9), () => hom.remove(9)]) {
      const err = thrown(op);
      assert.ok(err instanceof MapError);
      assert.equal(err.kind, 'KeyNotFound');
      assert.equal(err.cause, undefined);
    }
    assert.equal(fdCount(), before);
  } finally {
    hom.close();
  }
});

test('flags: BPF_NOEXIST on an existing key is EEXIST; BPF_EXIST on a missing key is ENOENT', () => {
  const hom = HashOfMaps.create(u32, { maxEntries: 4, innerMap: innerSpec });
  const a = innerHash([]);
  const b = innerHash([]);
  try {
    hom.insert(1, a, ElemFlags.BPF_NOEXIST);
    const exists = thrown(() => hom.insert(1, b, ElemFlags.BPF_NOEXIST));
    assert.ok(exists instanceof MapError);
    assert.equal(exists.kind, 'SyscallError');
    assert.equal(exists.call, 'bpf_map_update_elem');
    assert.equal(exists.code, 'EEXIST');
    assert.ok(exists.cause instanceof SyscallError);
    assert.equal(hom.getId(1), a.map.id, 'the refused insert changed nothing');
    const missing = thrown(() => hom.insert(2, b, ElemFlags.BPF_EXIST));
    assert.equal(missing.kind, 'SyscallError');
    assert.equal(missing.call, 'bpf_map_update_elem');
    assert.equal(missing.code, 'ENOENT');
    hom.insert(1, b, ElemFlags.BPF_EXIST);
    assert.equal(hom.getId(1), b.map.id);
  } finally {
    hom.close();
    a.close();
    b.close();
  }
});

test('a full hash of maps refuses a new key with E2BIG', () => {
  const hom = HashOfMaps.create(u32, { maxEntries: 2, innerMap: innerSpec });
  const a = innerHash([]);
  try {
    hom.insert(1, a);
    hom.insert(2, a);
    const err = thrown(() => hom.insert(3, a));
    assert.equal(err.kind, 'SyscallError');
    assert.equal(err.code, 'E2BIG');
    assert.deepEqual([...hom.keys()].sort(), [1, 2]);
  } finally {
    hom.close();
    a.close();
  }
});

test('insert of an incompatible inner map: SyscallError EINVAL from bpf_map_update_elem', () => {
  const hom = HashOfMaps.create(u32, { maxEntries: 4, innerMap: innerSpec });
  const array = MapData.create({ type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 8 });
  const wideKey = MapData.create({ type: MapType.Hash, keySize: 8, valueSize: 4, maxEntries: 8 });
  const lru = MapData.create({ type: MapType.LruHash, keySize: 4, valueSize: 4, maxEntries: 8 });
  const otherSize = innerHash([]);
  try {
    for (const bad of [array, wideKey, lru]) {
      const err = thrown(() => hom.insert(1, bad));
      assert.ok(err instanceof MapError);
      assert.equal(err.kind, 'SyscallError');
      assert.equal(err.call, 'bpf_map_update_elem');
      assert.equal(err.code, 'EINVAL');
    }
    assert.deepEqual([...hom.keys()], []);
    // The kernel does not compare max_entries of hash inner maps (only arrays check it).
    hom.insert(1, otherSize);
    const bigger = MapData.create({ ...innerSpec, maxEntries: 64 });
    try {
      hom.insert(2, bigger);
      assert.equal(hom.getId(2), bigger.id);
    } finally {
      bigger.close();
    }
  } finally {
    hom.close();
    array.close();
    wideKey.close();
    lru.close();
    otherSize.close();
  }
});

test('array inner maps: other max_entries refused without BPF_F_INNER_MAP, accepted with it', () => {
  const arraySpec: MapSpec = { type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 4 };
  const strict = HashOfMaps.create(u32, { maxEntries: 2, innerMap: arraySpec });
  const loose = HashOfMaps.create(u32, { maxEntries: 2, innerMap: { ...arraySpec, flags: MapFlags.BPF_F_INNER_MAP } });
  const other = ArrayMap.create(u32, { maxEntries: 16 });
  const flagged = ArrayMap.create(u32, { maxEntries: 16, flags: MapFlags.BPF_F_INNER_MAP });
  try {
    const err = thrown(() => strict.insert(1, other));
    assert.equal(err.call, 'bpf_map_update_elem');
    assert.equal(err.code, 'EINVAL');
    loose.insert(1, flagged);
    assert.equal(loose.getId(1), flagged.map.id);
  } finally {
    strict.close();
    loose.close();
    other.close();
    flagged.close();
  }
});

test('tryFrom: InvalidMapType for other types, InvalidKeySize for a key codec of another size', () => {
  const hom = MapData.create({ type: MapType.HashOfMaps, keySize: 4, valueSize: 4, maxEntries: 2, innerMap: innerSpec });
  const aom = MapData.create({ type: MapType.ArrayOfMaps, keySize: 4, valueSize: 4, maxEntries: 2, innerMap: innerSpec });
  const hash = MapData.create({ type: MapType.Hash, keySize: 4, valueSize: 4, maxEntries: 2 });
  try {
    for (const map of [aom, hash]) {
      const err = thrown(() => HashOfMaps.tryFrom(map, u32));
      assert.ok(err instanceof MapError);
      assert.equal(err.kind, 'InvalidMapType');
      assert.equal(err.mapType, map.type);
      assert.deepEqual(err.expected, [MapType.HashOfMaps]);
    }
    const key = thrown(() => HashOfMaps.tryFrom(hom, u64));
    assert.equal(key.kind, 'InvalidKeySize');
    assert.equal(key.size, 8);
    assert.equal(key.expected, 4);
    assert.equal(thrown(() => HashOfMaps.tryFrom(hom, u16)).kind, 'InvalidKeySize');
    assert.ok(thrown(() => HashOfMaps.tryFrom(hom, 'u32' as unknown as typeof u32)) instanceof MapError);
    assert.ok(thrown(() => HashOfMaps.tryFrom(hom, u32, 5 as unknown as undefined)) instanceof MapError);
    const view = HashOfMaps.tryFrom(hom, bytes(4));
    assert.equal(view.owned, false);
    view.close();
    assert.equal(hom.closed, false);
  } finally {
    hom.close();
    aom.close();
    hash.close();
  }
});

test('keys and values the codec refuses never reach the kernel', () => {
  const hom = HashOfMaps.create(u32, { maxEntries: 2, innerMap: innerSpec });
  const a = innerHash([]);
  try {
    for (const op of [() => hom.insert(-1, a), () => hom.get(2 ** 32), () => hom.getId(1.5), () => hom.remove(-2)]) {
      let err: unknown;
      const calls = bpfCalls(() => {
        err = thrown(op);
      });
      assert.ok(err instanceof MapError);
      assert.deepEqual(calls, []);
    }
    let err: any;
    const calls = bpfCalls(() => {
      err = thrown(() => hom.insert(1, {} as MapData));
    });
    assert.ok(err instanceof MapError);
    assert.equal(err.kind, 'InvalidArgument');
    assert.deepEqual(calls, []);
    assert.deepEqual([...hom.keys()], []);
  } finally {
    hom.close();
    a.close();
  }
});

test('get with a converter: an owned HashMap whose close() closes the descriptor; a failing converter leaks nothing', () => {
  const hom = HashOfMaps.create(u32, { maxEntries: 2, innerMap: innerSpec });
  const inner = innerHash([[4, 40]]);
  try {
    hom.insert(1, inner);
    const typed = HashOfMaps.tryFrom(hom.map, u32, HashMap.fromMapData(u32, u32));
    const before = fdCount();
    const got = typed.get(1);
    assert.ok(got instanceof HashMap);
    assert.equal(got.owned, true);
    assert.equal(got.get(4), 40);
    assert.equal(fdCount(), before + 1);
    const fd = got.fd;
    got.close();
    assert.equal(existsSync(`/proc/self/fd/${fd}`), false);
    assert.equal(fdCount(), before);
    assert.equal(thrown(() => HashOfMaps.tryFrom(hom.map, u32, HashMap.fromMapData(u32, u64)).get(1)).kind, 'InvalidValueSize');
    assert.equal(thrown(() => HashOfMaps.tryFrom(hom.map, u32, ArrayMap.fromMapData(u32)).get(1)).kind, 'InvalidMapType');
    assert.equal(fdCount(), before);
    typed.close();
    assert.equal(hom.map.closed, false);
  } finally {
    hom.close();
    inner.close();
  }
});

test('innerMap as a MapData, a typed map or a spec; the spec template leaves no descriptor', () => {
  const data = MapData.create(innerSpec);
  const typed = innerHash([]);
  const inner = innerHash([[1, 1]]);
  try {
    const before = fdCount();
    const fromSpec = HashOfMaps.create(u32, { maxEntries: 2, innerMap: innerSpec });
    assert.equal(fdCount(), before + 1);
    const fromData = HashOfMaps.create(u32, { maxEntries: 2, innerMap: data });
    const fromTyped = HashOfMaps.create(u32, { maxEntries: 2, innerMap: typed });
    assert.equal(fdCount(), before + 3);
    for (const hom of [fromSpec, fromData, fromTyped]) {
      hom.insert(7, inner);
      assert.equal(hom.getId(7), inner.map.id);
      hom.close();
    }
    assert.equal(fdCount(), before);
    assert.equal(data.closed, false);
    assert.equal(typed.map.closed, false);
  } finally {
    data.close();
    typed.close();
    inner.close();
  }
});

test('create with a converter that is not a function: MapError and no descriptor left open', () => {
  const before = bpfFds();
  const err = thrown(() => HashOfMaps.create(u32, 'x' as unknown as undefined, { maxEntries: 2, innerMap: innerSpec }));
  assert.ok(err instanceof MapError);
  const leaked = bpfFds().filter((fd) => !before.includes(fd));
  for (const fd of leaked) closeSync(fd);
  assert.deepEqual(leaked, [], 'the created outer map was closed');
});

test('create: argument and kernel errors leak nothing', () => {
  const before = fdCount();
  assert.ok(thrown(() => HashOfMaps.create(null as unknown as typeof u32, { maxEntries: 2, innerMap: innerSpec })) instanceof MapError);
  assert.equal(thrown(() => HashOfMaps.create(u32, { maxEntries: 0, innerMap: innerSpec })).kind, 'CreateError');
  assert.equal(thrown(() => HashOfMaps.create(u32, { maxEntries: 2, innerMap: undefined as unknown as MapSpec })).kind, 'InvalidArgument');
  assert.equal(thrown(() => HashOfMaps.create(u32, { maxEntries: 2, innerMap: { ...innerSpec, keySize: 0 } })).kind, 'CreateError');
  assert.equal(fdCount(), before);
});

test('pin: a view pins and stays open; an owned HashOfMaps is consumed', (t) => {
  const dir = bpffsDir('hash-of-maps-pin');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const hom = HashOfMaps.create(u32, { maxEntries: 2, innerMap: innerSpec });
  const inner = innerHash([[1, 2]]);
  try {
    hom.insert(5, inner);
    const view = HashOfMaps.tryFrom(hom.map, u32);
    view.pin(`${dir}/view`);
    assert.equal(hom.map.closed, false);
    assert.equal(view.getId(5), inner.map.id);

    const twice = thrown(() => hom.pin(`${dir}/view`));
    assert.ok(twice instanceof PinError);
    assert.equal(twice.kind, 'SyscallError');
    assert.equal(twice.call, 'bpf_obj_pin');
    assert.equal(twice.code, 'EEXIST');
    assert.equal(hom.map.closed, false, 'a failed pin does not consume');

    hom.pin(`${dir}/owned`);
    assert.equal(hom.map.closed, true);
    assert.equal(thrown(() => hom.getId(5)).kind, 'Closed');
    assert.equal(thrown(() => [...hom.keys()]).kind, 'Closed');
    for (const path of [`${dir}/view`, `${dir}/owned`]) {
      const again = HashOfMaps.tryFrom(MapData.fromPin(path), u32, undefined, { owned: true });
      try {
        assert.equal(again.getId(5), inner.map.id);
      } finally {
        again.close();
      }
    }
  } finally {
    hom.close();
    inner.close();
  }
});

test('no file descriptor leaked by this file', () => {
  assert.equal(fdCount(), fdsAtStart);
});
