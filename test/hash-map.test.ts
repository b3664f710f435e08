// HashMap (BPF_MAP_TYPE_HASH and BPF_MAP_TYPE_LRU_HASH) on the real kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { ElemFlags, HashMap, MapData, MapError, MapFlags, MapType, PinError, SyscallError, bytes, i64, struct, u16, u32, u64, u8 } from '../src/index.js';
import { bpffsDir, fdCount, bpfCalls, thrown } from './helpers.js';

const fdsAtStart = fdCount();


const byNumber = (a: number, b: number): number => a - b;

for (const type of [MapType.Hash, MapType.LruHash]) {
  const label = type === MapType.Hash ? 'Hash' : 'LruHash';

  test(`${label}: create, insert/get round trip, info()`, () => {
    const map = HashMap.create(u32, u64, { maxEntries: 8, type, name: `hm_${label}` });
    try {
      const info = map.map.info();
      assert.equal(info.type, type);
      assert.equal(info.keySize, 4);
      assert.equal(info.valueSize, 8);
      assert.equal(info.maxEntries, 8);
      assert.equal(info.name, `hm_${label}`);
      assert.equal(map.owned, true);
      map.insert(1, 100n);
      map.insert(0xffffffff, (1n << 64n) - 1n);
      assert.equal(map.get(1), 100n);
      assert.equal(map.get(0xffffffff), (1n << 64n) - 1n);
      map.insert(1, 101n);
      assert.equal(map.get(1), 101n);
    } finally {
      map.close();
    }
  });

  test(`${label}: keys, entries, iteration and remove`, () => {
    const map = HashMap.create(u16, i64, { maxEntries: 16, type });
    try {
      assert.deepEqual([...map.keys()], []);
      assert.deepEqual([...map], []);
      for (const k of [5, 1, 9, 3]) map.insert(k, BigInt(-k));
      assert.deepEqual([...map.keys()].sort(byNumber), [1, 3, 5, 9]);
      assert.deepEqual(
        [...map.entries()].sort((a, b) => a[0] - b[0]),
        [
          [1, -1n],
          [3, -3n],
          [5, -5n],
          [9, -9n],
        ],
      );
      assert.deepEqual([...map].sort((a, b) => a[0] - b[0]), [...map.entries()].sort((a, b) => a[0] - b[0]));
      map.remove(5);
      assert.deepEqual([...map.keys()].sort(byNumber), [1, 3, 9]);
      assert.equal(thrown(() => map.get(5)).kind, 'KeyNotFound');
      // Removing every key during a walk empties the map.
      for (const k of [...map.keys()]) map.remove(k);
      assert.deepEqual([...map.keys()], []);
    } finally {
      map.close();
    }
  });

  test(`${label}: KeyNotFound on get and remove of a missing key`, () => {
    const map = HashMap.create(u32, u32, { maxEntries: 4, type });
    try {
      const get = thrown(() => map.get(7));
      assert.ok(get instanceof MapError);
      assert.equal(get.kind, 'KeyNotFound');
      assert.equal(get.cause, undefined);
      const remove = thrown(() => map.remove(7));
      assert.ok(remove instanceof MapError);
      assert.equal(remove.kind, 'KeyNotFound');
      map.insert(7, 1);
      map.remove(7);
      assert.equal(thrown(() => map.remove(7)).kind, 'KeyNotFound');
    } finally {
      map.close();
    }
  });

  test(`${label}: BPF_NOEXIST on an existing key is EEXIST, BPF_EXIST on a missing key is ENOENT`, () => {
    const map = HashMap.create(u32, u32, { maxEntries: 4, type });
    try {
      map.insert(1, 10, ElemFlags.BPF_NOEXIST);
      const exists = thrown(() => map.insert(1, 11, ElemFlags.BPF_NOEXIST));
      assert.ok(exists instanceof MapError);
      assert.equal(exists.kind, 'SyscallError');
      assert.equal(exists.call, 'bpf_map_update_elem');
      assert.equal(exists.code, 'EEXIST');
      assert.ok(exists.cause instanceof SyscallError);
      assert.equal(map.get(1), 10);
      const missing = thrown(() => map.insert(2, 20, ElemFlags.BPF_EXIST));
      assert.equal(missing.kind, 'SyscallError');
      assert.equal(missing.call, 'bpf_map_update_elem');
      assert.equal(missing.code, 'ENOENT');
      assert.equal(missing.errno, 2);
      assert.equal(thrown(() => map.get(2)).kind, 'KeyNotFound');
      map.insert(1, 12, ElemFlags.BPF_EXIST);
      assert.equal(map.get(1), 12);
      const bad = thrown(() => map.insert(1, 1, 8));
      assert.equal(bad.code, 'EINVAL');
    } finally {
      map.close();
    }
  });
}

test('Hash: a full map refuses a new key with E2BIG but updates existing keys', () => {
  const map = HashMap.create(u32, u32, { maxEntries: 2 });
  try {
    map.insert(1, 1);
    map.insert(2, 2);
    const err = thrown(() => map.insert(3, 3));
    assert.equal(err.kind, 'SyscallError');
    assert.equal(err.call, 'bpf_map_update_elem');
    assert.equal(err.code, 'E2BIG');
    assert.equal(err.errno, 7);
    map.insert(2, 22);
    assert.equal(map.get(2), 22);
    assert.deepEqual([...map.keys()].sort(byNumber), [1, 2]);
  } finally {
    map.close();
  }
});

test('Hash with BPF_F_NO_PREALLOC behaves the same', () => {
  const map = HashMap.create(u32, u32, { maxEntries: 2, flags: MapFlags.BPF_F_NO_PREALLOC });
  try {
    assert.equal(map.map.info().flags, MapFlags.BPF_F_NO_PREALLOC);
    map.insert(1, 1);
    map.insert(2, 2);
    assert.equal(thrown(() => map.insert(3, 3)).code, 'E2BIG');
  } finally {
    map.close();
  }
});

test('LruHash: a full map evicts instead of failing, keeping the newest key', () => {
  const map = HashMap.create(u32, u32, { maxEntries: 4, type: MapType.LruHash });
  try {
    for (let k = 0; k < 50; k++) map.insert(k, k * 2);
    const keys = [...map.keys()];
    assert.ok(keys.length >= 1 && keys.length <= 4, `keys ${keys}`);
    assert.ok(keys.includes(49));
    assert.equal(map.get(49), 98);
    for (const k of keys) assert.equal(map.get(k), k * 2);
  } finally {
    map.close();
  }
});

test('struct keys and struct values', () => {
  const key = struct({ addr: bytes(4), port: u16, proto: u8 });
  const value = struct({ packets: u64, bytes: u64 });
  assert.equal(key.size, 8);
  const map = HashMap.create(key, value, { maxEntries: 8 });
  try {
    const k1 = { addr: Uint8Array.of(10, 0, 0, 1), port: 443, proto: 6 };
    const k2 = { addr: Uint8Array.of(10, 0, 0, 1), port: 443, proto: 17 };
    map.insert(k1, { packets: 1n, bytes: 1500n });
    map.insert(k2, { packets: 2n, bytes: 3000n });
    assert.deepEqual(map.get({ proto: 6, port: 443, addr: Uint8Array.of(10, 0, 0, 1) }), { packets: 1n, bytes: 1500n });
    assert.deepEqual(map.get(k2), { packets: 2n, bytes: 3000n });
    const keys = [...map.keys()].sort((a, b) => a.proto - b.proto);
    assert.deepEqual(keys, [k1, k2]);
    map.remove(k1);
    assert.equal(thrown(() => map.get(k1)).kind, 'KeyNotFound');
  } finally {
    map.close();
  }
});

test('bad keys and values are refused by the codec before any syscall', () => {
  const map = HashMap.create(u32, u8, { maxEntries: 4 });
  try {
    for (const op of [() => map.get(-1), () => map.insert(1, 256), () => map.insert(2 ** 32, 1), () => map.remove(1.5)]) {
      let err: unknown;
      const calls = bpfCalls(() => {
        err = thrown(op);
      });
      assert.ok(err instanceof MapError);
      assert.deepEqual(calls, []);
    }
    let typeErr: unknown;
    const calls = bpfCalls(() => {
      typeErr = thrown(() => map.get('1' as unknown as number));
    });
    assert.ok(typeErr instanceof MapError);
    assert.deepEqual(calls, []);
    assert.deepEqual([...map.keys()], []);
  } finally {
    map.close();
  }
});

test('tryFrom: InvalidMapType for an array, InvalidKeySize / InvalidValueSize for codecs of another size', () => {
  const array = MapData.create({ type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 2 });
  const percpu = MapData.create({ type: MapType.PercpuHash, keySize: 4, valueSize: 4, maxEntries: 2 });
  const hash = MapData.create({ type: MapType.Hash, keySize: 4, valueSize: 4, maxEntries: 2 });
  try {
    const err = thrown(() => HashMap.tryFrom(array, u32, u32));
    assert.ok(err instanceof MapError);
    assert.equal(err.kind, 'InvalidMapType');
    assert.equal(err.mapType, MapType.Array);
    assert.deepEqual(err.expected, [MapType.Hash, MapType.LruHash]);
    assert.equal(thrown(() => HashMap.tryFrom(percpu, u32, u32)).kind, 'InvalidMapType');
    const key = thrown(() => HashMap.tryFrom(hash, u64, u32));
    assert.equal(key.kind, 'InvalidKeySize');
    assert.equal(key.size, 8);
    assert.equal(key.expected, 4);
    const value = thrown(() => HashMap.tryFrom(hash, u32, u16));
    assert.equal(value.kind, 'InvalidValueSize');
    assert.equal(value.size, 2);
    assert.equal(value.expected, 4);
    assert.ok(thrown(() => HashMap.tryFrom(hash, 4 as unknown as typeof u32, u32)) instanceof MapError);
    assert.ok(thrown(() => HashMap.tryFrom(hash, u32, null as unknown as typeof u32)) instanceof MapError);
    const view = HashMap.tryFrom(hash, bytes(4), u32);
    view.insert(Uint8Array.of(1, 2, 3, 4), 5);
    assert.equal(HashMap.tryFrom(hash, u32, u32).get(0x04030201), 5);
  } finally {
    array.close();
    percpu.close();
    hash.close();
  }
});

test('create with a non-hash type closes the map it made', () => {
  const before = fdCount();
  const err = thrown(() => HashMap.create(u32, u32, { maxEntries: 4, type: MapType.Array }));
  assert.equal(err.kind, 'InvalidMapType');
  assert.equal(fdCount(), before);
  assert.equal(thrown(() => HashMap.create(u32, u32, { maxEntries: 0 })).kind, 'CreateError');
  assert.equal(thrown(() => HashMap.create(u32, u32, { maxEntries: 4, name: 'x'.repeat(16) })).kind, 'InvalidName');
  assert.equal(fdCount(), before);
});

test('a view leaves the map open; an owned HashMap closes it; fromMapData makes owned wrappers', () => {
  const hash = MapData.create({ type: MapType.Hash, keySize: 4, valueSize: 4, maxEntries: 2 });
  try {
    const view = HashMap.tryFrom(hash, u32, u32);
    view.insert(1, 2);
    view.close();
    assert.equal(hash.closed, false);
    const before = fdCount();
    const owned = HashMap.fromMapData(u32, u32)(MapData.fromId(hash.id));
    assert.equal(owned.owned, true);
    assert.equal(owned.get(1), 2);
    assert.equal(fdCount(), before + 1);
    owned.close();
    assert.equal(fdCount(), before);
    const err = thrown(() => owned.get(1));
    assert.equal(err.kind, 'Closed');
    assert.equal(thrown(() => [...owned.keys()]).kind, 'Closed');
    // A converter that does not fit leaves the MapData to its caller.
    const byId = MapData.fromId(hash.id);
    assert.equal(thrown(() => HashMap.fromMapData(u64, u32)(byId)).kind, 'InvalidKeySize');
    byId.close();
  } finally {
    hash.close();
  }
});

test('pin: view stays open, owned is consumed', (t) => {
  const dir = bpffsDir('hash-map-pin');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const map = HashMap.create(u32, u32, { maxEntries: 4 });
  try {
    map.insert(3, 33);
    HashMap.tryFrom(map.map, u32, u32).pin(`${dir}/view`);
    assert.equal(map.map.closed, false);
    const err = thrown(() => map.pin(`${dir}/view`));
    assert.ok(err instanceof PinError);
    assert.equal(err.code, 'EEXIST');
    assert.equal(map.map.closed, false);
    map.pin(`${dir}/owned`);
    assert.equal(map.map.closed, true);
    const again = HashMap.tryFrom(MapData.fromPin(`${dir}/owned`), u32, u32, { owned: true });
    try {
      assert.equal(again.get(3), 33);
    } finally {
      again.close();
    }
  } finally {
    map.close();
  }
});

test('no file descriptor leaked by this file', () => {
  assert.equal(fdCount(), fdsAtStart);
});
