// One owner per file descriptor: get() results, using, GC, closed objects, views
// and owners, pin() consuming an owner, what a get() converter returns, what a map
// of maps accepts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { ArrayMap, ArrayOfMaps, EbpfLoader, HashMap, HashOfMaps, MapData, MapError, MapType, PinError, SockHash, SockMap, u32, u64, type MapSpec } from '../src/index.js';
import { bpffsDir, fdCount, refusedBeforeSyscall, thrown } from './helpers.js';
import { fdTarget, gcUntilFdCount, isOpenMapFd } from './gc.js';

const fdsAtStart = fdCount();

const INNER: MapSpec = { type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 4 };

/** An owned ArrayOfMaps of `n` slots, slot i holding an ArrayMap whose element k is value(i, k). */
function filledOuter(n: number, slots = n) {
  const outer = ArrayOfMaps.create({ maxEntries: slots, innerMap: INNER });
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    using inner = ArrayMap.create(u32, { maxEntries: 4 });
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

  const a = ArrayMap.create(u32, { maxEntries: 4 });
  a.set(0, 111);
  const fdA = a.fd;
  a.close();
  assert.equal(a.map.closed, true);
  assert.ok(!isOpenMapFd(fdA));

  using b = ArrayMap.create(u32, { maxEntries: 4 });
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
  assert.throws(() => outer.remove(0), isClosedError);
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

// ---- what a get() converter returns owns the new descriptor --------------------------

const INNER_U64: MapSpec = { type: MapType.Array, keySize: 4, valueSize: 8, maxEntries: 4 };
const GETS = 20_000;

/** `GETS` get()+close() pairs through `get`; the descriptor count is checked every 1,000 calls, not only at the end. */
function getAndClose(get: (i: number) => { close(): void; readonly map?: MapData; readonly closed?: boolean }, check: (r: any, i: number) => void): { before: number; after: number; peak: number } {
  const before = fdCount();
  let peak = before;
  for (let i = 0; i < GETS; i++) {
    const r = get(i);
    check(r, i);
    r.close();
    if ((r.map ?? (r as unknown as MapData)).closed !== true) assert.fail(`call ${i}: close() left the inner map open`);
    if (i % 1000 === 999) peak = Math.max(peak, fdCount());
  }
  return { before, after: fdCount(), peak };
}

test(`${GETS.toLocaleString('en')} get()+close() through (m) => ArrayMap.tryFrom(m, u64): the view becomes the owner, the fd count stays flat`, (t) => {
  using outer = ArrayOfMaps.create((m) => ArrayMap.tryFrom(m, u64), { maxEntries: 2, innerMap: INNER_U64 });
  const values = [7n, 1n << 40n];
  for (let s = 0; s < 2; s++) {
    using inner = ArrayMap.create(u64, { maxEntries: 4 });
    inner.set(3, values[s]!);
    outer.set(s, inner);
  }
  const one = outer.get(0);
  assert.ok(one instanceof ArrayMap);
  assert.equal(one.owned, true, 'the view made by the converter owns the adopted MapData');
  one.close();
  assert.equal(one.map.closed, true);

  const figures = getAndClose(
    (i) => outer.get(i & 1),
    (r: ArrayMap<bigint>, i) => {
      if (r.get(3) !== values[i & 1]) assert.equal(r.get(3), values[i & 1], `call ${i}`);
    },
  );
  t.diagnostic(`ArrayOfMaps: fds before ${figures.before}, highest at a checkpoint ${figures.peak}, after ${figures.after}`);
  assert.equal(figures.peak, figures.before);
  assert.equal(figures.after, figures.before);
});

test(`${GETS.toLocaleString('en')} get()+close() of HashOfMaps through (m) => ArrayMap.tryFrom(m, u64), and of the default converter, leave the fd count flat`, (t) => {
  using outer = HashOfMaps.create(u32, (m) => ArrayMap.tryFrom(m, u64), { maxEntries: 2, innerMap: INNER_U64 });
  using inner = ArrayMap.create(u64, { maxEntries: 4 });
  inner.set(1, 99n);
  outer.insert(17, inner);
  const hash = getAndClose(
    () => outer.get(17),
    (r: ArrayMap<bigint>, i) => {
      if (r.get(1) !== 99n) assert.equal(r.get(1), 99n, `call ${i}`);
    },
  );
  t.diagnostic(`HashOfMaps: fds before ${hash.before}, highest at a checkpoint ${hash.peak}, after ${hash.after}`);
  assert.equal(hash.peak, hash.before);
  assert.equal(hash.after, hash.before);

  const raw = HashOfMaps.tryFrom(outer.map, u32);
  const id = inner.map.id;
  const plain = getAndClose(
    () => raw.get(17),
    (r: MapData, i) => {
      if (r.id !== id) assert.equal(r.id, id, `call ${i}`);
    },
  );
  t.diagnostic(`HashOfMaps default converter: fds before ${plain.before}, highest ${plain.peak}, after ${plain.after}`);
  assert.equal(plain.peak, plain.before);
  assert.equal(plain.after, plain.before);

  using array = ArrayOfMaps.create({ maxEntries: 1, innerMap: INNER_U64 });
  array.set(0, inner);
  const arrayPlain = getAndClose(
    () => array.get(0),
    (r: MapData, i) => {
      if (r.id !== id) assert.equal(r.id, id, `call ${i}`);
    },
  );
  t.diagnostic(`ArrayOfMaps default converter: fds before ${arrayPlain.before}, highest ${arrayPlain.peak}, after ${arrayPlain.after}`);
  assert.equal(arrayPlain.peak, arrayPlain.before);
  assert.equal(arrayPlain.after, arrayPlain.before);
});

test('a converter must hand the descriptor on: another value is refused and the map closed; one that closes the map itself is fine', () => {
  using outer = ArrayOfMaps.create({ maxEntries: 1, innerMap: INNER_U64 });
  using inner = ArrayMap.create(u64, { maxEntries: 4 });
  inner.set(0, 5n);
  outer.set(0, inner);
  const id = inner.map.id;
  using other = ArrayMap.create(u64, { maxEntries: 4 });
  const before = fdCount();

  let seen: MapData | undefined;
  const err = thrown(() =>
    ArrayOfMaps.tryFrom(outer.map, (m) => {
      seen = m;
      return { id: m.id };
    }).get(0),
  );
  assert.ok(err instanceof MapError);
  assert.equal(err.kind, 'InvalidArgument');
  assert.equal(seen!.closed, true, 'the adopted map was closed');
  assert.equal(fdCount(), before);

  // A typed map over some other map is not an owner of the new descriptor either.
  assert.equal(thrown(() => ArrayOfMaps.tryFrom(outer.map, () => other).get(0)).kind, 'InvalidArgument');
  assert.equal(other.map.closed, false, 'the unrelated map is left alone');
  assert.equal(fdCount(), before);

  // Reading what it needs and closing: nothing to own.
  const value = ArrayOfMaps.tryFrom(outer.map, (m) => {
    const v = ArrayMap.tryFrom(m, u64).get(0);
    m.close();
    return v;
  }).get(0);
  assert.equal(value, 5n);
  assert.equal(fdCount(), before);

  // An already owning typed map stays the owner; the identity converter returns the MapData.
  const owning = ArrayOfMaps.tryFrom(outer.map, ArrayMap.fromMapData(u64)).get(0);
  assert.equal(owning.owned, true);
  owning.close();
  const md = ArrayOfMaps.tryFrom(outer.map).get(0);
  assert.equal(md.id, id);
  md.close();
  assert.equal(fdCount(), before);
});

// ---- only tsbpf maps go into a map of maps; tryFrom of a closed map -------------------

test('set/insert/setMany/replaceMap take tsbpf maps only: an object with an fd is refused before any syscall', () => {
  using outer = ArrayOfMaps.create({ maxEntries: 2, innerMap: INNER });
  using hom = HashOfMaps.create(u32, { maxEntries: 2, innerMap: INNER });
  using real = ArrayMap.create(u32, { maxEntries: 4 });
  // Even the number of a real, fitting map: an fd number names whatever holds it now.
  for (const fake of [{ fd: 1 }, { fd: real.fd }, { map: { fd: real.fd } }, real.fd, null, undefined]) {
    refusedBeforeSyscall(() => outer.set(0, fake as unknown as MapData), 'InvalidArgument');
    refusedBeforeSyscall(() => outer.setMany([[1, fake as unknown as MapData]]), 'InvalidArgument');
    refusedBeforeSyscall(() => hom.insert(1, fake as unknown as MapData), 'InvalidArgument');
  }
  assert.deepEqual([...outer.entries()], []);
  assert.deepEqual([...hom.entries()], []);
  // A spec-shaped object without a type is a MapSpec, refused as one; nothing is created.
  refusedBeforeSyscall(() => MapData.create({ type: MapType.ArrayOfMaps, keySize: 4, valueSize: 4, maxEntries: 1, innerMap: { fd: real.fd } as unknown as MapSpec }), 'InvalidArgument');

  // Nor does the loader take a look-alike in place of an object's map.
  refusedBeforeSyscall(() => new EbpfLoader().replaceMap('inner_a', { fd: real.fd } as unknown as MapData), 'InvalidArgument');

  // The real thing works: MapData and typed maps.
  outer.set(0, real);
  outer.set(1, real.map);
  hom.insert(1, real);
  outer.setMany([[0, real.map]]);
  assert.deepEqual([...outer.entries()].map(([i]) => i), [0, 1]);
  assert.deepEqual([...hom.keys()], [1]);
});

test("every typed map's tryFrom throws Closed on a closed map (known metadata or not)", () => {
  const cases: [string, MapSpec, (m: MapData) => unknown][] = [
    ['ArrayMap', { type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 1 }, (m) => ArrayMap.tryFrom(m, u32)],
    ['HashMap', { type: MapType.Hash, keySize: 4, valueSize: 4, maxEntries: 1 }, (m) => HashMap.tryFrom(m, u32, u32)],
    ['ArrayOfMaps', { type: MapType.ArrayOfMaps, keySize: 4, valueSize: 4, maxEntries: 1, innerMap: INNER }, (m) => ArrayOfMaps.tryFrom(m)],
    ['HashOfMaps', { type: MapType.HashOfMaps, keySize: 4, valueSize: 4, maxEntries: 1, innerMap: INNER }, (m) => HashOfMaps.tryFrom(m, u32)],
    ['SockMap', { type: MapType.Sockmap, keySize: 4, valueSize: 4, maxEntries: 1 }, (m) => SockMap.tryFrom(m)],
    ['SockHash', { type: MapType.Sockhash, keySize: 4, valueSize: 4, maxEntries: 1 }, (m) => SockHash.tryFrom(m, u32)],
  ];
  const before = fdCount();
  for (const [what, spec, tryFrom] of cases) {
    const created = MapData.create(spec);
    const reopened = MapData.fromId(created.id);
    tryFrom(created); // a view: fine while open
    created.close();
    reopened.close();
    for (const [how, m] of [['created', created], ['opened by id', reopened]] as const) {
      const err = refusedBeforeSyscall(() => tryFrom(m), 'Closed');
      assert.match(err.message, new RegExp(what), `${what} (${how})`);
    }
  }
  assert.equal(fdCount(), before);
});

test('no descriptor left by this file', async () => {
  assert.equal(await gcUntilFdCount(fdsAtStart), fdsAtStart);
});
