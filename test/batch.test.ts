// Batch operations (BPF_MAP_*_BATCH) on the real kernel: cursors across partial
// batches, the raw and typed forms, per-CPU values, the end of a walk, deletes that
// stop at an absent key, and entries() falling back key by key when the kernel
// refuses batches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArrayMap, HashMap, MapBatchCursor, PerCpuArray, PerCpuHashMap, MapData, MapError, MapType, mapTypeName, possibleCpus, u32, u64 } from '../src/index.js';
import { Cmd } from '../src/sys/index.js';
import * as sys from '../src/sys/index.js';
import { forgetBatchRefusals, replaceKernel } from '../src/testing.js';
import { bpfCalls, fdCount, thrown } from './helpers.js';

const fdsAtStart = fdCount();
const byKey = <T>(a: [number, T], b: [number, T]): number => a[0] - b[0];

test('HashMap: insertBatch, then getBatch walks every element across partial batches with one cursor', () => {
  using h = HashMap.create(u32, u64, { maxEntries: 1000 });
  const keys = Array.from({ length: 700 }, (_, i) => i * 7 + 1);
  assert.equal(h.insertBatch(keys, keys.map((k) => BigInt(k) * 3n)), 700);
  assert.equal(h.get(8), 24n);
  const cursor = new MapBatchCursor();
  const seen: [number, bigint][] = [];
  let calls = 0;
  while (!cursor.done) {
    const { keys: ks, values } = h.getBatch(cursor, 64);
    assert.equal(ks.length, values.length);
    assert.ok(ks.length <= 64);
    for (let i = 0; i < ks.length; i++) seen.push([ks[i]!, values[i]!]);
    calls++;
    assert.ok(calls < 100, 'the walk ends');
  }
  assert.ok(calls >= 700 / 64, `${calls} batches of at most 64`);
  assert.deepEqual(seen.sort(byKey), keys.map((k) => [k, BigInt(k) * 3n]));
  // A done cursor returns nothing more, without a call.
  assert.deepEqual(bpfCalls(() => assert.deepEqual(h.getBatch(cursor, 64), { keys: [], values: [] })), []);
  cursor.reset();
  assert.equal(h.getBatch(cursor, 1000).keys.length, 700);
  assert.equal(cursor.done, true, 'one batch larger than the map reaches the end (ENOENT) with the elements');
});

test('HashMap: an empty map is done at once; a cursor follows one map; bad arguments are typed', () => {
  using h = HashMap.create(u32, u64, { maxEntries: 8 });
  using other = HashMap.create(u32, u64, { maxEntries: 8 });
  const cursor = new MapBatchCursor();
  assert.deepEqual(h.getBatch(cursor), { keys: [], values: [] });
  assert.equal(cursor.done, true);
  assert.equal(thrown(() => other.getBatch(cursor)).kind, 'InvalidArgument');
  cursor.reset();
  other.insert(1, 2n);
  assert.deepEqual(other.getBatch(cursor), { keys: [1], values: [2n] });
  assert.equal(thrown(() => h.getBatch(new MapBatchCursor(), 0)).kind, 'InvalidArgument');
  assert.equal(thrown(() => h.getBatch({} as MapBatchCursor)).kind, 'InvalidArgument');
  assert.equal(thrown(() => h.insertBatch([1, 2], [1n])).kind, 'InvalidArgument');
  assert.equal(thrown(() => h.insertBatch([1], [-1n])).kind, 'InvalidArgument');
  assert.equal(h.insertBatch([], []), 0);
});

test('HashMap: removeBatch stops at the first absent key and reports how many it removed', () => {
  using h = HashMap.create(u32, u64, { maxEntries: 64 });
  h.insertBatch([1, 2, 3, 4, 5], [10n, 20n, 30n, 40n, 50n]);
  assert.equal(h.removeBatch([1, 2]), 2);
  assert.equal(h.removeBatch([3, 99, 4]), 1, 'the kernel stops at 99 (ENOENT)');
  assert.deepEqual([...h.keys()].sort((a, b) => a - b), [4, 5]);
  assert.equal(h.removeBatch([99]), 0);
  assert.equal(h.removeBatch([4, 5]), 2);
  assert.deepEqual([...h.keys()], []);
  assert.equal(h.removeBatch([]), 0);
});

test('HashMap: getAndRemoveBatch drains the map a batch at a time', () => {
  using h = HashMap.create(u32, u64, { maxEntries: 512 });
  const keys = Array.from({ length: 300 }, (_, i) => i);
  h.insertBatch(keys, keys.map((k) => BigInt(k)));
  const cursor = new MapBatchCursor();
  const got: number[] = [];
  while (!cursor.done) {
    const { keys: ks, values } = h.getAndRemoveBatch(cursor, 50);
    ks.forEach((k, i) => assert.equal(values[i], BigInt(k)));
    got.push(...ks);
  }
  assert.deepEqual(got.sort((a, b) => a - b), keys);
  assert.deepEqual([...h.keys()], [], 'everything returned was removed');
});

test('ArrayMap: insertBatch and getBatch by index; arrays have no batch delete (NotSupported)', () => {
  using a = ArrayMap.create(u64, { maxEntries: 100 });
  assert.equal(a.insertBatch([0, 50, 99], [1n, 2n, 3n]), 3);
  assert.equal(a.get(50), 2n);
  assert.equal(thrown(() => a.insertBatch([100], [1n])).kind, 'OutOfBounds');
  const cursor = new MapBatchCursor();
  const all: [number, bigint][] = [];
  while (!cursor.done) {
    const { keys, values } = a.getBatch(cursor, 30);
    keys.forEach((k, i) => all.push([k, values[i]!]));
  }
  assert.equal(all.length, 100);
  assert.deepEqual(all.map(([k]) => k), Array.from({ length: 100 }, (_, i) => i), 'arrays walk in index order');
  assert.deepEqual([all[0]![1], all[50]![1], all[99]![1], all[1]![1]], [1n, 2n, 3n, 0n]);
  const raw = a.map;
  const err = thrown(() => raw.lookupAndDeleteBatch(new MapBatchCursor(), new Uint8Array(4), new Uint8Array(8), 1));
  assert.ok(err instanceof MapError);
  assert.equal(err.kind, 'NotSupported', err.message);
});

test('MapData: raw batches over caller buffers, sizes checked before the call', () => {
  using m = MapData.create({ type: MapType.Hash, keySize: 4, valueSize: 4, maxEntries: 16 });
  const keys = new Uint8Array(4 * 14);
  const values = new Uint8Array(4 * 14);
  const kv = new DataView(keys.buffer);
  const vv = new DataView(values.buffer);
  for (let i = 0; i < 10; i++) {
    kv.setUint32(i * 4, i + 100, true);
    vv.setUint32(i * 4, i * i, true);
  }
  assert.equal(m.updateBatch(keys, values, 10), 10);
  keys.fill(0);
  values.fill(0);
  const cursor = new MapBatchCursor();
  let n = 0;
  while (!cursor.done) n += m.lookupBatch(cursor, keys.subarray(n * 4), values.subarray(n * 4), 4);
  assert.equal(n, 10);
  const got = Array.from({ length: 10 }, (_, i) => [kv.getUint32(i * 4, true), vv.getUint32(i * 4, true)]).sort((a, b) => a[0]! - b[0]!);
  assert.deepEqual(got, Array.from({ length: 10 }, (_, i) => [i + 100, i * i]));
  assert.equal(m.deleteBatch(keys, 10), 10);
  assert.equal(thrown(() => m.lookupBatch(new MapBatchCursor(), new Uint8Array(7), new Uint8Array(8), 2)).kind, 'InvalidKeySize');
  assert.equal(thrown(() => m.updateBatch(new Uint8Array(8), new Uint8Array(7), 2)).kind, 'InvalidValueSize');
});

test('per-CPU hash and array: one 8-aligned value per possible CPU in every batch element', () => {
  const cpus = possibleCpus();
  const slot = 8; // a 4-byte value is rounded up to 8 per CPU
  for (const type of [MapType.PercpuHash, MapType.PercpuArray, MapType.LruPercpuHash]) {
    const n = 20;
    // The array holds exactly the n elements written; the hashes room for more.
    using m = MapData.create({ type, keySize: 4, valueSize: 4, maxEntries: type === MapType.PercpuArray ? n : 64 });
    assert.equal(m.valueBytes, slot * cpus);
    // Room for a last batch of 7 past the end.
    const keys = new Uint8Array(4 * (n + 7));
    const values = new Uint8Array(m.valueBytes * (n + 7));
    const kv = new DataView(keys.buffer);
    const vv = new DataView(values.buffer);
    for (let i = 0; i < n; i++) {
      kv.setUint32(i * 4, i, true);
      for (let c = 0; c < cpus; c++) vv.setUint32(i * m.valueBytes + c * slot, i * 1000 + c, true);
    }
    assert.equal(m.updateBatch(keys, values, n), n);
    keys.fill(0);
    values.fill(0xff);
    const cursor = new MapBatchCursor();
    let got = 0;
    while (!cursor.done) got += m.lookupBatch(cursor, keys.subarray(got * 4), values.subarray(got * m.valueBytes), 7);
    assert.equal(got, n, mapTypeName(type));
    for (let i = 0; i < n; i++) {
      const k = kv.getUint32(i * 4, true);
      for (let c = 0; c < cpus; c++) assert.equal(vv.getUint32(i * m.valueBytes + c * slot, true), k * 1000 + c);
    }
    // The raw single-element lookup agrees with the batch.
    const one = m.lookup(new Uint8Array([3, 0, 0, 0]))!;
    assert.equal(new DataView(one.buffer).getUint32((cpus - 1) * slot, true), 3000 + cpus - 1);
  }
});

test('PerCpuHashMap and PerCpuArray: the typed batch verbs carry one value per possible CPU', () => {
  const cpus = possibleCpus();
  using h = PerCpuHashMap.create(u32, u32, { maxEntries: 16 });
  assert.equal(h.insertBatch([1, 2, 3], [[10, 11].slice(0, cpus).concat(Array(Math.max(0, cpus - 2)).fill(12)), 20, 30]), 3);
  const got = new Map<number, number[]>();
  const cursor = new MapBatchCursor();
  // Two at a time, as a caller must: more where the three keys share a bucket (1 map in 256).
  let count = 2;
  while (!cursor.done) {
    try {
      const { keys, values } = h.getBatch(cursor, count);
      keys.forEach((k, i) => got.set(k, values[i]!));
    } catch (err) {
      if (!(err instanceof MapError && err.code === 'ENOSPC' && count === 2)) throw err;
      count = 3;
    }
  }
  assert.deepEqual([...got.keys()].sort(), [1, 2, 3]);
  assert.equal(got.get(1)!.length, cpus);
  assert.equal(got.get(1)![0], 10);
  assert.deepEqual(got.get(2), Array(cpus).fill(20), 'one value is written for every CPU');
  assert.deepEqual(new Map(h.entries()), got, 'entries() reads the same through batches');
  assert.equal(h.removeBatch([1, 2]), 2);
  assert.deepEqual([...h.keys()], [3]);
  using a = PerCpuArray.create(u64, { maxEntries: 4 });
  assert.equal(a.insertBatch([0, 3], [5n, 7n]), 2);
  const { keys, values } = a.getBatch(new MapBatchCursor(), 4);
  assert.deepEqual(keys, [0, 1, 2, 3]);
  assert.deepEqual(values, [Array(cpus).fill(5n), Array(cpus).fill(0n), Array(cpus).fill(0n), Array(cpus).fill(7n)]);
});

test('entries() reads in batches where the kernel has them: one BPF_MAP_LOOKUP_BATCH per 1024 elements', () => {
  using h = HashMap.create(u32, u64, { maxEntries: 4096 });
  const keys = Array.from({ length: 3000 }, (_, i) => i);
  h.insertBatch(keys, keys.map((k) => BigInt(k) + 1n));
  let entries: [number, bigint][] = [];
  const calls = bpfCalls(() => {
    entries = [...h.entries()];
  });
  assert.deepEqual(entries.sort(byKey), keys.map((k) => [k, BigInt(k) + 1n]));
  assert.ok(calls.every((c) => c === Cmd.MapLookupBatch), `only batch lookups: ${calls}`);
  assert.ok(calls.length <= 4, `${calls.length} calls for 3000 elements`);
  using a = ArrayMap.create(u32, { maxEntries: 2100 });
  a.set(2099, 7);
  let arr: [number, number][] = [];
  const arrCalls = bpfCalls(() => {
    arr = [...a.entries()];
  });
  assert.equal(arr.length, 2100);
  assert.deepEqual(arr[2099], [2099, 7]);
  assert.deepEqual(arr.map(([i]) => i), Array.from({ length: 2100 }, (_, i) => i));
  assert.equal(arrCalls.length, 3);
});

test('entries() may use the map inside the loop (its batch has its own buffers)', () => {
  using h = HashMap.create(u32, u64, { maxEntries: 16 });
  h.insertBatch([1, 2, 3], [1n, 2n, 3n]);
  const seen: number[] = [];
  for (const [k, v] of h.entries()) {
    assert.equal(h.get(k), v);
    assert.deepEqual(h.getBatch(new MapBatchCursor(), 16).keys.length, 3);
    seen.push(k);
  }
  assert.deepEqual(seen.sort(), [1, 2, 3]);
});

test('entries() falls back key by key when the kernel refuses batch lookups (EINVAL injected), and remembers it', () => {
  using h = HashMap.create(u32, u64, { maxEntries: 16, type: MapType.LruHash });
  h.insertBatch([5, 6, 7], [50n, 60n, 70n]);
  const real = sys.kernel;
  let refused = 0;
  const restore = replaceKernel({
    bpf: (cmd, attr, mask, ...buffers) => {
      if (cmd === Cmd.MapLookupBatch) {
        refused++;
        return -22;
      }
      return real.bpf(cmd, attr, mask, ...buffers);
    },
  });
  try {
    assert.deepEqual([...h.entries()].sort(byKey), [[5, 50n], [6, 60n], [7, 70n]]);
    assert.equal(refused, 1, 'probed once');
    assert.deepEqual([...h.entries()].sort(byKey), [[5, 50n], [6, 60n], [7, 70n]]);
    assert.equal(refused, 1, 'not asked again for this map type');
    // getBatch reports the refusal instead of hiding it.
    const err = thrown(() => h.getBatch(new MapBatchCursor()));
    assert.ok(err instanceof MapError);
    assert.equal(err.code, 'EINVAL');
  } finally {
    restore();
    forgetBatchRefusals();
  }
  const calls = bpfCalls(() => assert.equal([...h.entries()].length, 3));
  assert.deepEqual(calls, [Cmd.MapLookupBatch], 'batches again once the refusal is forgotten');
});

test('a failure after the first batch is thrown, not hidden by the fallback', () => {
  using h = HashMap.create(u32, u64, { maxEntries: 4096 });
  const keys = Array.from({ length: 2500 }, (_, i) => i);
  h.insertBatch(keys, keys.map(BigInt));
  const real = sys.kernel;
  let n = 0;
  const restore = replaceKernel({
    bpf: (cmd, attr, mask, ...buffers) => (cmd === Cmd.MapLookupBatch && ++n === 2 ? -5 : real.bpf(cmd, attr, mask, ...buffers)),
  });
  try {
    const err = thrown(() => [...h.entries()]);
    assert.equal(err.code, 'EIO');
  } finally {
    restore();
  }
});

test('a bucket larger than the batch (ENOSPC): getBatch says to ask for more; entries() asks for more itself', () => {
  using h = HashMap.create(u32, u64, { maxEntries: 16 });
  h.insertBatch([1, 2, 3], [1n, 2n, 3n]);
  const real = sys.kernel;
  const counts: number[] = [];
  let refuse = 1;
  const restore = replaceKernel({
    bpf: (cmd, attr, mask, ...buffers) => {
      if (cmd === Cmd.MapLookupBatch) {
        counts.push(new DataView(attr.buffer, attr.byteOffset).getUint32(32, true));
        if (refuse-- > 0) return -28; // ENOSPC, as htab answers when a bucket does not fit
      }
      return real.bpf(cmd, attr, mask, ...buffers);
    },
  });
  try {
    const err = thrown(() => h.getBatch(new MapBatchCursor(), 1));
    assert.equal(err.kind, 'InvalidArgument');
    assert.equal(err.code, 'ENOSPC');
    counts.length = 0;
    refuse = 1;
    assert.deepEqual([...h.entries()].sort(byKey), [[1, 1n], [2, 2n], [3, 3n]]);
    assert.deepEqual(counts, [1024, 2048], 'asked again for twice as many, from the same position');
  } finally {
    restore();
  }
});

test('closed maps: batch calls throw Closed', () => {
  const h = HashMap.create(u32, u64, { maxEntries: 4 });
  h.close();
  assert.equal(thrown(() => h.getBatch(new MapBatchCursor())).kind, 'Closed');
  assert.equal(thrown(() => h.insertBatch([1], [1n])).kind, 'Closed');
  assert.equal(thrown(() => h.removeBatch([1])).kind, 'Closed');
});

test('batch: no descriptors leaked', () => {
  assert.equal(fdCount(), fdsAtStart);
});
