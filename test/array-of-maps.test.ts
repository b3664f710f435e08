// ArrayOfMaps (BPF_MAP_TYPE_ARRAY_OF_MAPS) on the real kernel.
//
// Order matters in one place: the first setMany of this process is the one that
// fails with a kernel EINVAL (see its test), because setMany learns batch support
// on its first call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, closeSync, rmSync } from 'node:fs';
import { ArrayMap, ArrayOfMaps, HashMap, MapData, MapError, MapFlags, MapType, PinError, SyscallError, u32, u64 } from '../src/index.js';
import * as sys from '../src/sys/index.js';
import type { MapSpec } from '../src/index.js';
import { bpffsDir, fdCount, bpfCalls, thrown, refusedBeforeSyscall, bpfFds } from './helpers.js';

const fdsAtStart = fdCount();


const innerSpec: MapSpec = { type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 4 };

/** An inner u32 array of 4 whose slot i holds base + i. */
function innerArray(base: number, maxEntries = 4, flags = 0): ArrayMap<number> {
  const arr = ArrayMap.create(u32, { maxEntries, flags });
  for (let i = 0; i < maxEntries; i++) arr.set(i, base + i);
  return arr;
}

test('setMany: a kernel EINVAL on the first call is reported and does not turn batching off', () => {
  const outer = ArrayOfMaps.create({ maxEntries: 4, innerMap: innerSpec });
  const good = [innerArray(0), innerArray(10), innerArray(20), innerArray(30)];
  const hash = MapData.create({ type: MapType.Hash, keySize: 4, valueSize: 4, maxEntries: 4 });
  try {
    const err = thrown(() => outer.setMany([[0, good[0]], [1, hash]]));
    assert.ok(err instanceof MapError);
    assert.equal(err.kind, 'SyscallError');
    assert.equal(err.code, 'EINVAL');
    assert.match(err.call ?? '', /^bpf_map_update_(elem|batch)$/);
    // This kernel (5.6+) has BPF_MAP_UPDATE_BATCH for arrays of maps: the next
    // setMany must still fill its 4 slots with one batch call.
    const calls = bpfCalls(() => outer.setMany(good.map((m, i) => [i, m] as const)));
    assert.deepEqual(calls, [sys.Cmd.MapUpdateBatch]);
  } finally {
    outer.close();
    for (const m of good) m.close();
    hash.close();
  }
});

test('create: len/isEmpty, info(), owned; every slot starts empty', () => {
  const outer = ArrayOfMaps.create({ maxEntries: 3, innerMap: innerSpec, name: 'aom_create', flags: 0, numaNode: 0 });
  try {
    assert.equal(outer.len(), 3);
    assert.equal(outer.isEmpty(), false);
    assert.equal(outer.owned, true);
    assert.equal(outer.toString(), 'ArrayOfMaps(len 3, owned)');
    const info = outer.map.info();
    assert.equal(info.type, MapType.ArrayOfMaps);
    assert.equal(info.keySize, 4);
    assert.equal(info.valueSize, 4);
    assert.equal(info.maxEntries, 3);
    assert.equal(info.name, 'aom_create');
    assert.equal(info.flags, MapFlags.BPF_F_NUMA_NODE);
    assert.deepEqual([...outer], []);
    for (let i = 0; i < 3; i++) {
      const err = thrown(() => outer.getId(i));
      assert.equal(err.kind, 'KeyNotFound');
      assert.equal(err.index, i);
    }
  } finally {
    outer.close();
  }
});

test('tryFrom: only ARRAY_OF_MAPS is accepted', () => {
  const hash = MapData.create({ type: MapType.Hash, keySize: 4, valueSize: 4, maxEntries: 2 });
  const array = MapData.create({ type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 2 });
  const hom = MapData.create({ type: MapType.HashOfMaps, keySize: 4, valueSize: 4, maxEntries: 2, innerMap: innerSpec });
  const aom = MapData.create({ type: MapType.ArrayOfMaps, keySize: 4, valueSize: 4, maxEntries: 2, innerMap: innerSpec });
  try {
    for (const map of [hash, array, hom]) {
      const err = thrown(() => ArrayOfMaps.tryFrom(map));
      assert.ok(err instanceof MapError);
      assert.equal(err.kind, 'InvalidMapType');
      assert.equal(err.mapType, map.type);
      assert.deepEqual(err.expected, [MapType.ArrayOfMaps]);
      assert.match(err.message, /BPF_MAP_TYPE_ARRAY_OF_MAPS/);
    }
    const view = ArrayOfMaps.tryFrom(aom);
    assert.equal(view.owned, false);
    assert.equal(view.len(), 2);
    assert.equal(view.map.keySize, 4);
    assert.equal(view.map.valueSize, 4);
    assert.equal(view.toString(), 'ArrayOfMaps(len 2)');
    assert.ok(thrown(() => ArrayOfMaps.tryFrom(aom, 'x' as unknown as undefined)) instanceof MapError);
    assert.ok(thrown(() => ArrayOfMaps.tryFrom({} as MapData)) instanceof MapError);
  } finally {
    hash.close();
    array.close();
    hom.close();
    aom.close();
  }
});

test('set/get round trip: get() opens the same map (same id, same values)', () => {
  const outer = ArrayOfMaps.create({ maxEntries: 4, innerMap: innerSpec });
  const inner = innerArray(100);
  try {
    outer.set(2, inner);
    assert.equal(outer.getId(2), inner.map.id);
    const before = fdCount();
    const got = outer.get(2);
    try {
      assert.ok(got instanceof MapData);
      assert.equal(fdCount(), before + 1, 'get opened one descriptor');
      assert.notEqual(got.fd, inner.fd);
      assert.equal(got.id, inner.map.id);
      const typed = ArrayMap.tryFrom(got, u32);
      assert.deepEqual([...typed], [
        [0, 100],
        [1, 101],
        [2, 102],
        [3, 103],
      ]);
      // Writes through either handle are the same map.
      typed.set(0, 7);
      assert.equal(inner.get(0), 7);
    } finally {
      got.close();
    }
    assert.equal(fdCount(), before);
    // Replacing a slot.
    const other = innerArray(200);
    try {
      outer.set(2, other);
      assert.equal(outer.getId(2), other.map.id);
    } finally {
      other.close();
    }
  } finally {
    outer.close();
    inner.close();
  }
});

test('the array holds its own reference: an inner map closed by its creator stays reachable', () => {
  const outer = ArrayOfMaps.create({ maxEntries: 2, innerMap: innerSpec });
  try {
    const inner = innerArray(5);
    const id = inner.map.id;
    outer.set(0, inner.map);
    inner.close();
    const got = ArrayOfMaps.tryFrom(outer.map, ArrayMap.fromMapData(u32)).get(0);
    try {
      assert.equal(got.map.id, id);
      assert.equal(got.get(3), 8);
    } finally {
      got.close();
    }
  } finally {
    outer.close();
  }
});

test('get/getId/delete on an empty slot: KeyNotFound with the index', () => {
  const outer = ArrayOfMaps.create({ maxEntries: 2, innerMap: innerSpec });
  try {
    for (const op of [() => outer.get(1), () => outer.getId(1), () => outer.remove(1)]) {
      const err = thrown(op);
      assert.ok(err instanceof MapError);
      assert.equal(err.kind, 'KeyNotFound');
      assert.equal(err.index, 1);
      assert.equal(err.cause, undefined);
    }
  } finally {
    outer.close();
  }
});

test('delete empties a slot; a second delete is KeyNotFound', () => {
  const outer = ArrayOfMaps.create({ maxEntries: 3, innerMap: innerSpec });
  const inner = innerArray(0);
  try {
    outer.set(0, inner);
    outer.set(1, inner);
    outer.remove(0);
    assert.equal(thrown(() => outer.getId(0)).kind, 'KeyNotFound');
    assert.equal(outer.getId(1), inner.map.id);
    assert.equal(thrown(() => outer.remove(0)).kind, 'KeyNotFound');
    assert.deepEqual([...outer], [[1, inner.map.id]]);
  } finally {
    outer.close();
    inner.close();
  }
});

test('OutOfBounds (index >= len) before any syscall, for every indexed method', () => {
  const outer = ArrayOfMaps.create({ maxEntries: 3, innerMap: innerSpec });
  const inner = innerArray(0);
  try {
    for (const index of [3, 4, 1000, 2 ** 32]) {
      for (const op of [() => outer.get(index), () => outer.getId(index), () => outer.set(index, inner), () => outer.remove(index)]) {
        const err = refusedBeforeSyscall(op, 'OutOfBounds');
        assert.equal(err.index, index);
        assert.equal(err.maxEntries, 3);
      }
    }
    for (const index of [-1, 0.5, NaN, '0', undefined]) {
      refusedBeforeSyscall(() => outer.get(index as number), 'InvalidArgument');
      refusedBeforeSyscall(() => outer.set(index as number, inner), 'InvalidArgument');
      refusedBeforeSyscall(() => outer.remove(index as number), 'InvalidArgument');
    }
    // set of something that is not a map.
    refusedBeforeSyscall(() => outer.set(0, {} as MapData), 'InvalidArgument');
    refusedBeforeSyscall(() => outer.set(0, null as unknown as MapData), 'InvalidArgument');
    assert.deepEqual([...outer], []);
  } finally {
    outer.close();
    inner.close();
  }
});

test('iteration yields [index, id] for filled slots only, in index order', () => {
  const outer = ArrayOfMaps.create({ maxEntries: 6, innerMap: innerSpec });
  const a = innerArray(0);
  const b = innerArray(0);
  try {
    outer.set(4, a);
    outer.set(1, b);
    outer.set(5, a);
    assert.deepEqual([...outer], [
      [1, b.map.id],
      [4, a.map.id],
      [5, a.map.id],
    ]);
    assert.deepEqual([...outer.entries()], [...outer]);
  } finally {
    outer.close();
    a.close();
    b.close();
  }
});

test('set of an incompatible inner map: MapError SyscallError EINVAL from bpf_map_update_elem', () => {
  const outer = ArrayOfMaps.create({ maxEntries: 2, innerMap: innerSpec });
  const hash = MapData.create({ type: MapType.Hash, keySize: 4, valueSize: 4, maxEntries: 4 });
  const wideValue = MapData.create({ type: MapType.Array, keySize: 4, valueSize: 8, maxEntries: 4 });
  try {
    for (const bad of [hash, wideValue]) {
      const err = thrown(() => outer.set(0, bad));
      assert.ok(err instanceof MapError);
      assert.equal(err.kind, 'SyscallError');
      assert.equal(err.call, 'bpf_map_update_elem');
      assert.equal(err.code, 'EINVAL');
      assert.ok(err.cause instanceof SyscallError);
    }
    assert.deepEqual([...outer], []);
  } finally {
    outer.close();
    hash.close();
    wideValue.close();
  }
});

test('inner maps of another max_entries: refused without BPF_F_INNER_MAP, accepted with it', () => {
  const strict = ArrayOfMaps.create({ maxEntries: 2, innerMap: innerSpec });
  const loose = ArrayOfMaps.create({
    maxEntries: 2,
    innerMap: { ...innerSpec, maxEntries: 1, flags: MapFlags.BPF_F_INNER_MAP },
  });
  const small = innerArray(0, 2);
  const big = innerArray(0, 64, MapFlags.BPF_F_INNER_MAP);
  const tiny = innerArray(0, 1, MapFlags.BPF_F_INNER_MAP);
  try {
    assert.equal(MapFlags.BPF_F_INNER_MAP, 1 << 12);
    const err = thrown(() => strict.set(0, small));
    assert.equal(err.kind, 'SyscallError');
    assert.equal(err.call, 'bpf_map_update_elem');
    assert.equal(err.code, 'EINVAL');
    loose.set(0, big);
    loose.set(1, tiny);
    assert.deepEqual([...loose], [
      [0, big.map.id],
      [1, tiny.map.id],
    ]);
    // The flags still have to match: an inner map without BPF_F_INNER_MAP is refused.
    assert.equal(thrown(() => loose.set(0, small)).code, 'EINVAL');
  } finally {
    strict.close();
    loose.close();
    small.close();
    big.close();
    tiny.close();
  }
});

test('setMany of 4 slots: values are there right afterwards', () => {
  const outer = ArrayOfMaps.create({ maxEntries: 4, innerMap: innerSpec });
  const inners = [innerArray(0), innerArray(10), innerArray(20), innerArray(30)];
  try {
    outer.setMany([
      [3, inners[0]],
      [2, inners[1]],
      [1, inners[2]],
      [0, inners[3].map],
    ]);
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => outer.getId(i)),
      [inners[3].map.id, inners[2].map.id, inners[1].map.id, inners[0].map.id],
    );
    const typed = ArrayOfMaps.tryFrom(outer.map, ArrayMap.fromMapData(u32));
    for (let slot = 0; slot < 4; slot++) {
      const inner = typed.get(slot);
      try {
        assert.equal(inner.get(0), (3 - slot) * 10);
      } finally {
        inner.close();
      }
    }
    // Empty input: no syscall.
    assert.deepEqual(bpfCalls(() => outer.setMany([])), []);
  } finally {
    outer.close();
    for (const m of inners) m.close();
  }
});

test('setMany with an out-of-range index: OutOfBounds, nothing written, no syscall', () => {
  const outer = ArrayOfMaps.create({ maxEntries: 4, innerMap: innerSpec });
  const inner = innerArray(0);
  try {
    const err = refusedBeforeSyscall(
      () =>
        outer.setMany([
          [0, inner],
          [1, inner],
          [4, inner],
          [2, inner],
        ]),
      'OutOfBounds',
    );
    assert.equal(err.index, 4);
    assert.equal(err.maxEntries, 4);
    refusedBeforeSyscall(() => outer.setMany([[0, inner], [-1, inner]]), 'InvalidArgument');
    refusedBeforeSyscall(() => outer.setMany([[0, inner], [1, {} as MapData]]), 'InvalidArgument');
    assert.deepEqual([...outer], []);
  } finally {
    outer.close();
    inner.close();
  }
});

test('get with a converter: an owned ArrayMap whose close() closes the descriptor', () => {
  const outer = ArrayOfMaps.create({ maxEntries: 2, innerMap: innerSpec });
  const inner = innerArray(40);
  try {
    outer.set(1, inner);
    const typed = ArrayOfMaps.tryFrom(outer.map, ArrayMap.fromMapData(u32));
    assert.equal(typed.owned, false);
    const before = fdCount();
    const arr = typed.get(1);
    assert.ok(arr instanceof ArrayMap);
    assert.equal(arr.owned, true);
    assert.equal(arr.len(), 4);
    assert.equal(arr.get(2), 42);
    assert.equal(arr.map.id, inner.map.id);
    assert.equal(fdCount(), before + 1);
    const fd = arr.fd;
    arr.close();
    assert.equal(arr.map.closed, true);
    assert.equal(existsSync(`/proc/self/fd/${fd}`), false);
    assert.equal(fdCount(), before);
    typed.close();
    assert.equal(outer.map.closed, false, 'closing a view leaves the outer map open');
  } finally {
    outer.close();
    inner.close();
  }
});

test('get with a converter that does not fit: its error, and the opened descriptor is closed', () => {
  const outer = ArrayOfMaps.create({ maxEntries: 1, innerMap: innerSpec });
  const inner = innerArray(0);
  try {
    outer.set(0, inner);
    const before = fdCount();
    const wrongSize = thrown(() => ArrayOfMaps.tryFrom(outer.map, ArrayMap.fromMapData(u64)).get(0));
    assert.equal(wrongSize.kind, 'InvalidValueSize');
    const wrongType = thrown(() => ArrayOfMaps.tryFrom(outer.map, HashMap.fromMapData(u32, u32)).get(0));
    assert.equal(wrongType.kind, 'InvalidMapType');
    const custom = thrown(() =>
      ArrayOfMaps.tryFrom(outer.map, () => {
        throw new Error('converter failed');
      }).get(0),
    );
    assert.equal(custom.message, 'converter failed');
    assert.equal(fdCount(), before);
    // A converter may return anything.
    const id = ArrayOfMaps.tryFrom(outer.map, (m) => {
      const value = m.id;
      m.close();
      return value;
    }).get(0);
    assert.equal(id, inner.map.id);
    assert.equal(fdCount(), before);
  } finally {
    outer.close();
    inner.close();
  }
});

test('innerMap given as a MapData, a typed map or a spec; a spec template leaves no extra descriptor', () => {
  const templateData = MapData.create(innerSpec);
  const templateTyped = ArrayMap.create(u32, { maxEntries: 4 });
  const inner = innerArray(1);
  try {
    const before = fdCount();
    const fromSpec = ArrayOfMaps.create({ maxEntries: 2, innerMap: innerSpec });
    assert.equal(fdCount(), before + 1, 'only the outer map is open');
    const fromData = ArrayOfMaps.create({ maxEntries: 2, innerMap: templateData });
    const fromTyped = ArrayOfMaps.create({ maxEntries: 2, innerMap: templateTyped });
    assert.equal(fdCount(), before + 3);
    assert.equal(templateData.closed, false);
    assert.equal(templateTyped.map.closed, false);
    for (const outer of [fromSpec, fromData, fromTyped]) {
      outer.set(1, inner);
      assert.equal(outer.getId(1), inner.map.id);
      // The template's shape is enforced: a hash is refused.
      const hash = MapData.create({ type: MapType.Hash, keySize: 4, valueSize: 4, maxEntries: 4 });
      try {
        assert.equal(thrown(() => outer.set(0, hash)).code, 'EINVAL');
      } finally {
        hash.close();
      }
      outer.close();
    }
    assert.equal(fdCount(), before);
  } finally {
    templateData.close();
    templateTyped.close();
    inner.close();
  }
});

test('create with a converter that is not a function: MapError and no descriptor left open', () => {
  const before = bpfFds();
  const err = thrown(() => ArrayOfMaps.create(42 as unknown as undefined, { maxEntries: 2, innerMap: innerSpec }));
  assert.ok(err instanceof MapError);
  const leaked = bpfFds().filter((fd) => !before.includes(fd));
  for (const fd of leaked) closeSync(fd);
  assert.deepEqual(leaked, [], 'the created outer map was closed');
});

test('create: kernel and argument errors', () => {
  const before = fdCount();
  assert.equal(thrown(() => ArrayOfMaps.create({ maxEntries: 0, innerMap: innerSpec })).kind, 'CreateError');
  assert.equal(thrown(() => ArrayOfMaps.create({ maxEntries: 2, innerMap: undefined as unknown as MapSpec })).kind, 'InvalidArgument');
  assert.equal(thrown(() => ArrayOfMaps.create({ maxEntries: 2, innerMap: innerSpec, name: 'no-dash' })).kind, 'InvalidName');
  // A map-in-map as template is refused by the kernel.
  const nested = MapData.create({ type: MapType.ArrayOfMaps, keySize: 4, valueSize: 4, maxEntries: 1, innerMap: innerSpec });
  try {
    const err = thrown(() => ArrayOfMaps.create({ maxEntries: 2, innerMap: nested }));
    assert.equal(err.kind, 'CreateError');
    assert.equal(err.call, 'bpf_map_create');
    assert.equal(err.code, 'EINVAL');
  } finally {
    nested.close();
  }
  assert.equal(fdCount(), before);
});

test('pin: a view pins and stays open; an owned ArrayOfMaps is consumed', (t) => {
  const dir = bpffsDir('array-of-maps-pin');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const outer = ArrayOfMaps.create({ maxEntries: 2, innerMap: innerSpec });
  const inner = innerArray(3);
  try {
    outer.set(0, inner);
    const view = ArrayOfMaps.tryFrom(outer.map);
    view.pin(`${dir}/view`);
    assert.equal(outer.map.closed, false);
    assert.equal(view.getId(0), inner.map.id);

    const bad = thrown(() => outer.pin(`${dir}/missing-dir/aom`));
    assert.ok(bad instanceof PinError);
    assert.equal(bad.kind, 'InvalidPinPath');
    assert.equal(outer.map.closed, false);

    outer.pin(`${dir}/owned`);
    assert.equal(outer.map.closed, true);
    assert.equal(thrown(() => outer.getId(0)).kind, 'Closed');
    for (const path of [`${dir}/view`, `${dir}/owned`]) {
      const again = ArrayOfMaps.tryFrom(MapData.fromPin(path), undefined, { owned: true });
      try {
        assert.equal(again.getId(0), inner.map.id);
        assert.equal(again.len(), 2);
      } finally {
        again.close();
      }
    }
  } finally {
    outer.close();
    inner.close();
  }
});

test('no file descriptor leaked by this file', () => {
  assert.equal(fdCount(), fdsAtStart);
});
