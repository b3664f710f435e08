// ArrayMap on the real kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { ArrayMap, ElemFlags, MapData, MapError, MapFlags, MapType, PinError, SyscallError, bytes, struct, u16, u32, u64, u8 } from '../src/index.js';
import { bpffsDir, fdCount, bpfCalls, thrown, refusedBeforeSyscall } from './helpers.js';

const fdsAtStart = fdCount();


test('create: len is max_entries, every element starts at zero, info() matches', () => {
  const arr = ArrayMap.create(u64, { maxEntries: 5, name: 'arr_create', flags: MapFlags.BPF_F_MMAPABLE, numaNode: 0 });
  try {
    assert.equal(arr.len(), 5);
    assert.equal(arr.owned, true);
    const info = arr.map.info();
    assert.equal(info.type, MapType.Array);
    assert.equal(info.keySize, 4);
    assert.equal(info.valueSize, 8);
    assert.equal(info.maxEntries, 5);
    assert.equal(info.name, 'arr_create');
    assert.equal(info.flags, MapFlags.BPF_F_MMAPABLE | MapFlags.BPF_F_NUMA_NODE);
    assert.equal(arr.fd, arr.map.fd);
    for (let i = 0; i < 5; i++) assert.equal(arr.get(i), 0n);
  } finally {
    arr.close();
  }
});

test('get/set round trip for several codecs', () => {
  const a = ArrayMap.create(u32, { maxEntries: 4 });
  const b = ArrayMap.create(u64, { maxEntries: 2 });
  const point = struct({ x: u8, y: u64, z: u16 });
  const c = ArrayMap.create(point, { maxEntries: 3 });
  const d = ArrayMap.create(bytes(5), { maxEntries: 2 });
  try {
    a.set(0, 0);
    a.set(1, 1);
    a.set(3, 0xffffffff);
    assert.deepEqual([a.get(0), a.get(1), a.get(2), a.get(3)], [0, 1, 0, 0xffffffff]);
    a.set(1, 42);
    assert.equal(a.get(1), 42);
    b.set(1, (1n << 64n) - 1n);
    assert.equal(b.get(1), (1n << 64n) - 1n);
    assert.equal(c.map.valueSize, 24);
    c.set(2, { x: 1, y: 2n, z: 3 });
    assert.deepEqual(c.get(2), { x: 1, y: 2n, z: 3 });
    assert.deepEqual(c.get(0), { x: 0, y: 0n, z: 0 });
    d.set(1, Uint8Array.of(1, 2, 3, 4, 5));
    assert.deepEqual(d.get(1), Uint8Array.of(1, 2, 3, 4, 5));
    // The raw bytes agree with the codec.
    assert.deepEqual(a.map.lookup(Uint8Array.of(3, 0, 0, 0)), Uint8Array.of(0xff, 0xff, 0xff, 0xff));
  } finally {
    a.close();
    b.close();
    c.close();
    d.close();
  }
});

test('set flags: BPF_ANY and BPF_EXIST succeed, BPF_NOEXIST is EEXIST (every index exists)', () => {
  const arr = ArrayMap.create(u32, { maxEntries: 2 });
  try {
    arr.set(0, 1, ElemFlags.BPF_ANY);
    arr.set(0, 2, ElemFlags.BPF_EXIST);
    assert.equal(arr.get(0), 2);
    const err = thrown(() => arr.set(1, 3, ElemFlags.BPF_NOEXIST));
    assert.ok(err instanceof MapError);
    assert.equal(err.kind, 'SyscallError');
    assert.equal(err.call, 'bpf_map_update_elem');
    assert.equal(err.code, 'EEXIST');
    assert.equal(err.errno, 17);
    assert.ok(err.cause instanceof SyscallError);
    assert.equal(arr.get(1), 0, 'refused update left the value');
    // BPF_F_LOCK needs a bpf_spin_lock in the value.
    const lock = thrown(() => arr.set(1, 3, ElemFlags.BPF_F_LOCK));
    assert.equal(lock.code, 'EINVAL');
    const lockGet = thrown(() => arr.get(1, ElemFlags.BPF_F_LOCK));
    assert.equal(lockGet.call, 'bpf_map_lookup_elem');
    assert.equal(lockGet.code, 'EINVAL');
    // Flags that are not an integer never reach the kernel.
    let rangeErr: unknown;
    const calls = bpfCalls(() => {
      rangeErr = thrown(() => arr.set(0, 1, -1));
    });
    assert.ok(rangeErr instanceof MapError);
    assert.deepEqual(calls, []);
  } finally {
    arr.close();
  }
});

test('iteration yields [index, value] for every index in order', () => {
  const arr = ArrayMap.create(u16, { maxEntries: 4 });
  try {
    arr.set(1, 10);
    arr.set(3, 30);
    assert.deepEqual([...arr], [
      [0, 0],
      [1, 10],
      [2, 0],
      [3, 30],
    ]);
    assert.deepEqual([...arr.entries()], [...arr]);
  } finally {
    arr.close();
  }
});

test('OutOfBounds at or past len, with index and maxEntries, before any syscall', () => {
  const arr = ArrayMap.create(u32, { maxEntries: 3 });
  try {
    for (const index of [3, 4, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
      for (const op of [() => arr.get(index), () => arr.set(index, 1)]) {
        const err = refusedBeforeSyscall(op, 'OutOfBounds');
        assert.equal(err.index, index);
        assert.equal(err.maxEntries, 3);
        assert.match(err.message, /out of bounds/);
      }
    }
    assert.equal(arr.get(2), 0);
  } finally {
    arr.close();
  }
});

test('InvalidArgument for a negative, fractional, NaN, string or undefined index, before any syscall', () => {
  const arr = ArrayMap.create(u32, { maxEntries: 3 });
  try {
    const bad: unknown[] = [-1, -0.5, 1.5, NaN, Infinity, -Infinity, '1', undefined, null, 1n, {}];
    for (const index of bad) {
      refusedBeforeSyscall(() => arr.get(index as number), 'InvalidArgument');
      refusedBeforeSyscall(() => arr.set(index as number, 7), 'InvalidArgument');
    }
    assert.deepEqual([...arr].map(([, v]) => v), [0, 0, 0], 'nothing written');
  } finally {
    arr.close();
  }
});

test('a value the codec refuses never reaches the kernel', () => {
  const arr = ArrayMap.create(u8, { maxEntries: 2 });
  try {
    let err: unknown;
    const calls = bpfCalls(() => {
      err = thrown(() => arr.set(0, 256));
    });
    assert.ok(err instanceof MapError);
    assert.deepEqual(calls, []);
    const calls2 = bpfCalls(() => {
      err = thrown(() => arr.set(0, 'x' as unknown as number));
    });
    assert.ok(err instanceof MapError);
    assert.deepEqual(calls2, []);
    assert.equal(arr.get(0), 0);
  } finally {
    arr.close();
  }
});

test('tryFrom: InvalidMapType for a hash (and other types), InvalidValueSize for a codec of another size', () => {
  const hash = MapData.create({ type: MapType.Hash, keySize: 4, valueSize: 4, maxEntries: 2 });
  const percpu = MapData.create({ type: MapType.PercpuArray, keySize: 4, valueSize: 4, maxEntries: 2 });
  const arr = MapData.create({ type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 2 });
  try {
    const err = thrown(() => ArrayMap.tryFrom(hash, u32));
    assert.ok(err instanceof MapError);
    assert.equal(err.kind, 'InvalidMapType');
    assert.equal(err.mapType, MapType.Hash);
    assert.deepEqual(err.expected, [MapType.Array]);
    assert.match(err.message, /BPF_MAP_TYPE_ARRAY.*BPF_MAP_TYPE_HASH/);
    assert.equal(thrown(() => ArrayMap.tryFrom(percpu, u32)).kind, 'InvalidMapType');
    const size = thrown(() => ArrayMap.tryFrom(arr, u64));
    assert.equal(size.kind, 'InvalidValueSize');
    assert.equal(size.size, 8);
    assert.equal(size.expected, 4);
    assert.equal(thrown(() => ArrayMap.tryFrom(arr, u16)).kind, 'InvalidValueSize');
    assert.ok(thrown(() => ArrayMap.tryFrom(arr, {} as typeof u32)) instanceof MapError);
    assert.ok(thrown(() => ArrayMap.tryFrom({ fd: arr.fd } as unknown as MapData, u32)) instanceof MapError);
    assert.equal(ArrayMap.tryFrom(arr, bytes(4)).len(), 2);
  } finally {
    hash.close();
    percpu.close();
    arr.close();
  }
});

test('tryFrom works on a map opened by id (metadata loaded from the kernel)', () => {
  const arr = ArrayMap.create(u32, { maxEntries: 6 });
  try {
    arr.set(5, 55);
    const byId = MapData.fromId(arr.map.id);
    const view = ArrayMap.tryFrom(byId, u32, { owned: true });
    try {
      assert.equal(view.len(), 6);
      assert.equal(view.get(5), 55);
      view.set(4, 44);
      assert.equal(arr.get(4), 44);
    } finally {
      view.close();
    }
    assert.equal(byId.closed, true);
  } finally {
    arr.close();
  }
});

test('a view never closes its map; an owned wrapper does', () => {
  const map = MapData.create({ type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 2 });
  try {
    const view = ArrayMap.tryFrom(map, u32);
    assert.equal(view.owned, false);
    view.set(0, 9);
    view.close();
    view[Symbol.dispose]();
    assert.equal(map.closed, false);
    assert.equal(ArrayMap.tryFrom(map, u32).get(0), 9);

    const before = fdCount();
    const owned = ArrayMap.tryFrom(MapData.fromId(map.id), u32, { owned: true });
    assert.equal(fdCount(), before + 1);
    assert.equal(owned.owned, true);
    owned.close();
    assert.equal(owned.map.closed, true);
    assert.equal(fdCount(), before);
    owned.close();
    const err = refusedBeforeSyscall(() => owned.get(0), 'Closed');
    assert.ok(err instanceof MapError);
    assert.equal(refusedBeforeSyscall(() => owned.set(0, 1), 'Closed').kind, 'Closed');
    assert.equal(map.closed, false);

    const disposed = ArrayMap.tryFrom(MapData.fromId(map.id), u32, { owned: true });
    disposed[Symbol.dispose]();
    assert.equal(disposed.map.closed, true);
    assert.equal(fdCount(), before);
  } finally {
    map.close();
  }
});

test('pin: a view pins and stays open; an owned wrapper is consumed; a failed pin consumes nothing', (t) => {
  const dir = bpffsDir('array-map-pin');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const owned = ArrayMap.create(u32, { maxEntries: 2 });
  const view = ArrayMap.tryFrom(owned.map, u32);
  try {
    view.set(1, 11);
    view.pin(`${dir}/view`);
    assert.equal(owned.map.closed, false);
    assert.equal(view.get(1), 11);

    const bad = thrown(() => owned.pin('/tmp/tsbpf-array-not-bpffs'));
    assert.ok(bad instanceof PinError);
    assert.equal(bad.kind, 'InvalidPinPath');
    assert.equal(owned.map.closed, false, 'failed pin did not consume');

    owned.pin(`${dir}/owned`);
    assert.equal(owned.map.closed, true);
    const reopened = ArrayMap.tryFrom(MapData.fromPin(`${dir}/owned`), u32, { owned: true });
    try {
      assert.equal(reopened.get(1), 11);
    } finally {
      reopened.close();
    }
  } finally {
    owned.close();
  }
});

test('create: refused arguments close nothing and leak nothing', () => {
  const before = fdCount();
  assert.equal(thrown(() => ArrayMap.create(u32, { maxEntries: 0 })).kind, 'CreateError');
  assert.equal(thrown(() => ArrayMap.create(u32, { maxEntries: -1 })).kind, 'InvalidArgument');
  assert.equal(thrown(() => ArrayMap.create(u32, { maxEntries: 2, name: 'bad name' })).kind, 'InvalidName');
  assert.ok(thrown(() => ArrayMap.create(null as unknown as typeof u32, { maxEntries: 2 })) instanceof MapError);
  assert.equal(fdCount(), before);
});

test('no file descriptor leaked by this file', () => {
  assert.equal(fdCount(), fdsAtStart);
});
