// One owner per file descriptor: get() results, using, GC, closed objects, views
// and owners, pin() consuming an owner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { ArrayMap, ArrayOfMaps, MapData, MapError, MapType, PinError, u32, type MapSpec } from '../src/index.js';
import { bpffsDir, fdCount } from './helpers.js';
import { fdTarget, gcUntilFdCount, isOpenMapFd } from './gc.js';

const INNER: MapSpec = { type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 4 };

/** An owned ArrayOfMaps of `n` slots, slot i holding an ArrayMap whose element k is value(i, k). */
function filledOuter(n: number, slots = n) {
  const outer = ArrayOfMaps.create({ maxEntries: slots, innerMap: INNER });
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    using inner = ArrayMap.create(u32, 4);
    for (let k = 0; k < 4; k++) inner.set(k, value(i, k));
    outer.set(i, inner);
    ids.push(inner.map.id);
  }
  return { outer, ids };
}

const value = (slot: number, key: number) => 1000 * (slot + 1) + key;

function isClosedError(err: unknown): boolean {
  assert.ok(err instanceof MapError, `expected MapError, got ${String(err)}`);
  assert.equal(err.kind, 'Closed');
  return true;
}

test('100,000 get() calls, each closed, leave the descriptor count unchanged', () => {
  const { outer, ids } = filledOuter(4);
  using _outer = outer;
  const before = fdCount();
  for (let i = 0; i < 100_000; i++) {
    const slot = i % 4;
    const inner = outer.get(slot);
    if (inner.id !== ids[slot]) assert.equal(inner.id, ids[slot], `call ${i}: slot ${slot}`);
    inner.close();
    if (!inner.closed) assert.fail(`call ${i}: close() left the map open`);
  }
  assert.equal(fdCount(), before);

  // Typed inner maps (ArrayMap.fromMapData owns the MapData it is given).
  const typed = ArrayOfMaps.tryFrom(outer.map, ArrayMap.fromMapData(u32));
  for (let i = 0; i < 100_000; i++) {
    const slot = i % 4;
    const key = (i >> 2) % 4;
    using inner = typed.get(slot);
    const got = inner.get(key);
    if (got !== value(slot, key)) assert.equal(got, value(slot, key), `call ${i}: slot ${slot} key ${key}`);
  }
  assert.equal(fdCount(), before);
});

test('an unclosed get() result is closed by the FinalizationRegistry after GC', async () => {
  const { outer, ids } = filledOuter(2);
  using _outer = outer;
  const before = fdCount();
  const fds: number[] = [];
  let ref: WeakRef<MapData> | undefined;
  // In a function of its own, so no reference survives in this frame.
  (function leak() {
    for (let i = 0; i < 50; i++) {
      const m = outer.get(i % 2);
      assert.equal(m.id, ids[i % 2]);
      fds.push(m.fd);
      if (i === 0) ref = new WeakRef(m);
    }
  })();
  assert.equal(fdCount(), before + 50, 'each get() opened a descriptor');
  for (const fd of fds) assert.ok(isOpenMapFd(fd));

  const after = await gcUntilFdCount(before);
  assert.equal(ref!.deref(), undefined, 'the MapData was collected');
  assert.equal(after, before, 'the registry closed every collected descriptor');
  for (const fd of fds) assert.ok(!isOpenMapFd(fd), `fd ${fd} still open`);
});

test('`using` closes get() results, also when the block throws', () => {
  const { outer, ids } = filledOuter(1);
  using _outer = outer;
  const before = fdCount();
  let kept: MapData | undefined;
  let fd = -1;
  {
    using m = outer.get(0);
    kept = m;
    fd = m.fd;
    assert.ok(isOpenMapFd(fd));
    assert.equal(m.id, ids[0]);
  }
  assert.equal(kept.closed, true);
  assert.notEqual(fdTarget(fd), 'anon_inode:bpf-map');
  assert.equal(fdCount(), before);

  let typedKept: ArrayMap<number> | undefined;
  assert.throws(() => {
    using inner = ArrayOfMaps.tryFrom(outer.map, ArrayMap.fromMapData(u32)).get(0);
    typedKept = inner;
    assert.equal(inner.get(3), value(0, 3));
    throw new Error('boom');
  }, /boom/);
  assert.equal(typedKept!.map.closed, true, 'the owned MapData of the typed inner map is closed');
  assert.equal(fdCount(), before);
});

test('a closed MapData throws Closed and never touches the reused fd number', (t) => {
  const dir = bpffsDir('closed');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  using outer = ArrayOfMaps.create({ maxEntries: 2, innerMap: INNER });

  const a = ArrayMap.create(u32, 4);
  a.set(0, 111);
  const fdA = a.fd;
  a.close();
  assert.equal(a.map.closed, true);
  assert.ok(!isOpenMapFd(fdA));

  using b = ArrayMap.create(u32, 4);
  b.set(0, 222);
  const idB = b.map.id;
  // Linux hands out the lowest free number: B now has A's old number.
  assert.equal(b.fd, fdA, 'the fd number was reused (precondition of this test)');

  assert.throws(() => a.fd, isClosedError);
  assert.throws(() => a.get(0), isClosedError);
  assert.throws(() => a.set(0, 999), isClosedError);
  assert.throws(() => a.map.lookup(new Uint8Array(4)), isClosedError);
  assert.throws(() => a.map.update(new Uint8Array(4), new Uint8Array([9, 9, 9, 9])), isClosedError);
  assert.throws(() => a.map.delete(new Uint8Array(4)), isClosedError);
  assert.throws(() => a.map.nextKey(null), isClosedError);
  assert.throws(() => [...a.map.keys()], isClosedError);
  assert.throws(() => a.map.info(), isClosedError);
  assert.throws(() => a.map.freeze(), isClosedError);
  assert.throws(() => a.map.pin(`${dir}/a`), isClosedError);
  assert.throws(() => ArrayMap.tryFrom(a.map, u32).get(0), isClosedError);
  // Storing a closed map in a map of maps must not store whatever now has its number.
  assert.throws(() => outer.set(0, a), isClosedError);
  assert.throws(() => outer.set(1, a.map), isClosedError);
  assert.throws(() => outer.setMany([[0, a]]), isClosedError);
  assert.deepEqual([...outer.entries()], [], 'nothing was stored');
  assert.throws(() => MapData.fromPin(`${dir}/a`), PinError, 'nothing was pinned');

  // Closing again, or disposing, is a no-op that leaves B's descriptor alone.
  a.close();
  a.map.close();
  a[Symbol.dispose]();
  assert.ok(isOpenMapFd(fdA));
  assert.equal(b.get(0), 222, 'B is intact');
  assert.equal(b.map.info().id, idB);
  assert.equal(b.map.info().maxEntries, 4);
  assert.equal(String(a.map), 'MapData(closed)');
});

test('a closed typed map of maps throws Closed', () => {
  const { outer } = filledOuter(1);
  outer.close();
  assert.throws(() => outer.get(0), isClosedError);
  assert.throws(() => outer.getId(0), isClosedError);
  assert.throws(() => outer.delete(0), isClosedError);
  assert.throws(() => [...outer.entries()], isClosedError);
  // Bounds are still checked first, without a descriptor.
  assert.throws(() => outer.get(1), { name: 'MapError', kind: 'OutOfBounds' });
});

test('a view (tryFrom without owned) never closes its MapData; owned: true does', () => {
  const before = fdCount();
  const md = MapData.create({ type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 4 });
  const view = ArrayMap.tryFrom(md, u32);
  assert.equal(view.owned, false);
  view.set(1, 5);
  view.close();
  assert.equal(md.closed, false);
  assert.equal(view.get(1), 5, 'a closed view still works: it never owned the map');
  {
    using v = ArrayMap.tryFrom(md, u32);
    assert.equal(v.get(1), 5);
  }
  assert.equal(md.closed, false);
  assert.deepEqual(md.lookup(new Uint8Array([1, 0, 0, 0])), new Uint8Array([5, 0, 0, 0]));

  const outerData = MapData.create({ type: MapType.ArrayOfMaps, keySize: 4, valueSize: 4, maxEntries: 2, innerMap: md });
  ArrayOfMaps.tryFrom(outerData).close();
  assert.equal(outerData.closed, false);
  {
    using _v = ArrayOfMaps.tryFrom(outerData);
  }
  assert.equal(outerData.closed, false);
  const outerOwner = ArrayOfMaps.tryFrom(outerData, undefined, { owned: true });
  assert.equal(outerOwner.owned, true);
  outerOwner.close();
  assert.equal(outerData.closed, true);

  const fd = md.fd;
  const owner = ArrayMap.tryFrom(md, u32, { owned: true });
  owner.close();
  assert.equal(md.closed, true);
  assert.ok(!isOpenMapFd(fd));
  assert.throws(() => view.get(1), isClosedError, 'the view now sees the closed map');
  assert.equal(fdCount(), before);
});

test('pin() consumes an owned ArrayOfMaps; the pin keeps it alive with its inner maps', (t) => {
  const dir = bpffsDir('ownpin');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const before = fdCount();
  const { outer, ids } = filledOuter(3, 4);
  const outerId = outer.map.id;
  const fd = outer.fd;

  // A failed pin does not consume.
  assert.throws(() => outer.pin('/tmp/not-bpffs'), { name: 'PinError', kind: 'InvalidPinPath' });
  assert.equal(outer.map.closed, false);

  outer.pin(`${dir}/outer`);
  assert.equal(outer.map.closed, true, 'pin() consumed the owner');
  assert.throws(() => outer.get(0), isClosedError);
  assert.ok(!isOpenMapFd(fd));
  assert.equal(fdCount(), before, 'no descriptor left: only the pin holds the map');

  const md = MapData.fromPin(`${dir}/outer`);
  assert.equal(md.id, outerId);
  assert.equal(md.type, MapType.ArrayOfMaps);
  const again = ArrayOfMaps.tryFrom(md, ArrayMap.fromMapData(u32), { owned: true });
  assert.deepEqual([...again.entries()], ids.map((id, i) => [i, id]));
  for (let i = 0; i < 3; i++) {
    using inner = again.get(i);
    assert.equal(inner.map.id, ids[i]);
    assert.deepEqual([...inner.entries()], [0, 1, 2, 3].map((k) => [k, value(i, k)]));
  }
  assert.throws(() => again.get(3), { name: 'MapError', kind: 'KeyNotFound', index: 3 });

  // Pinning again at the same path fails and does not consume.
  assert.throws(() => again.pin(`${dir}/outer`), { name: 'PinError', kind: 'SyscallError', code: 'EEXIST', call: 'bpf_obj_pin' });
  assert.equal(again.map.closed, false);

  // A view's pin leaves the MapData open.
  const view = ArrayOfMaps.tryFrom(md);
  view.pin(`${dir}/outer2`);
  assert.equal(md.closed, false);
  using second = MapData.fromPin(`${dir}/outer2`);
  assert.equal(second.id, outerId);

  again.close();
  assert.equal(md.closed, true);
  second.close();
  assert.equal(fdCount(), before);
});
