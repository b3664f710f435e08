// PerCpuArray and PerCpuHashMap (BPF_MAP_TYPE_PERCPU_ARRAY, PERCPU_HASH, LRU_PERCPU_HASH)
// on the real kernel, from user space and from a BPF program run on chosen CPUs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ebpf, MapData, MapError, MapType, PerCpuArray, PerCpuHashMap, array, possibleCpus, struct, u16, u32, u64, u8 } from '../src/index.js';
import { bpfCalls, fdCount, thrown } from './helpers.js';

const fdsAtStart = fdCount();
const obj = fileURLToPath(new URL('../../bpf/percpu_maps.o', import.meta.url));
const cpus = possibleCpus();
const BPF_F_TEST_RUN_ON_CPU = 1;

/** The online CPUs (/sys/devices/system/cpu/online: "0-3,5"), where a test run can be pinned. */
function onlineCpus(): number[] {
  const out: number[] = [];
  for (const part of readFileSync('/sys/devices/system/cpu/online', 'utf8').trim().split(',')) {
    const [a, b] = part.split('-').map(Number) as [number, number | undefined];
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}

test('PerCpuArray: get gives one value per possible CPU; set takes an array or one value for all', () => {
  const arr = PerCpuArray.create(u64, { maxEntries: 3, name: 'pc_arr' });
  try {
    assert.equal(arr.map.type, MapType.PercpuArray);
    assert.equal(arr.map.valueSize, 8);
    assert.equal(arr.map.valueBytes, 8 * cpus);
    assert.equal(arr.len(), 3);
    assert.deepEqual(arr.get(0), new Array(cpus).fill(0n));
    const values = Array.from({ length: cpus }, (_, i) => BigInt(i * 10 + 1));
    arr.set(1, values);
    assert.deepEqual(arr.get(1), values);
    arr.set(2, 7n);
    assert.deepEqual(arr.get(2), new Array(cpus).fill(7n));
    assert.deepEqual([...arr.entries()].map(([i, v]) => [i, v[0]]), [[0, 0n], [1, 1n], [2, 7n]]);
    // Wrong counts are refused before any syscall.
    const calls = bpfCalls(() => {
      assert.equal(thrown(() => arr.set(0, new Array(cpus + 1).fill(1n))).kind, 'InvalidArgument');
      assert.equal(thrown(() => arr.set(0, [] as bigint[])).kind, 'InvalidArgument');
      assert.equal(thrown(() => arr.set(0, 1 as never)).kind, 'InvalidArgument');
      assert.equal(thrown(() => arr.get(3)).kind, 'OutOfBounds');
    });
    assert.deepEqual(calls, []);
  } finally {
    arr.close();
  }
});

test('PerCpuArray: values narrower than 8 bytes sit in 8-byte slots, padding written as zero', () => {
  const rec = struct({ a: u8, b: u16 }); // 4 bytes, 8-byte slots
  const arr = PerCpuArray.create(rec, { maxEntries: 1 });
  try {
    assert.equal(arr.map.valueSize, 4);
    const values = Array.from({ length: cpus }, (_, i) => ({ a: i + 1, b: 1000 + i }));
    arr.set(0, values);
    assert.deepEqual(arr.get(0), values);
    const raw = arr.map.lookup(new Uint8Array(4))!;
    assert.equal(raw.length, 8 * cpus);
    for (let c = 0; c < cpus; c++) {
      assert.equal(raw[c * 8], c + 1);
      assert.deepEqual([...raw.subarray(c * 8 + 4, c * 8 + 8)], [0, 0, 0, 0], `padding of CPU ${c}`);
    }
    // An array-valued codec takes the per-CPU array form.
    const pairs = PerCpuArray.create(array(u32, 2), { maxEntries: 1 });
    try {
      assert.equal(pairs.map.valueSize, 8);
      const v = Array.from({ length: cpus }, (_, i) => [i, i + 100]);
      pairs.set(0, v);
      assert.deepEqual(pairs.get(0), v);
    } finally {
      pairs.close();
    }
  } finally {
    arr.close();
  }
});

for (const type of [MapType.PercpuHash, MapType.LruPercpuHash]) {
  const label = type === MapType.PercpuHash ? 'PercpuHash' : 'LruPercpuHash';
  test(`PerCpuHashMap (${label}): insert/get/remove, keys and entries with per-CPU values`, () => {
    const map = PerCpuHashMap.create(u32, u32, { maxEntries: 8, type });
    try {
      assert.equal(map.map.type, type);
      map.insert(5, 9);
      assert.deepEqual(map.get(5), new Array(cpus).fill(9));
      const v = Array.from({ length: cpus }, (_, i) => i + 1);
      map.insert(6, v);
      assert.deepEqual(map.get(6), v);
      assert.deepEqual([...map.keys()].sort(), [5, 6]);
      assert.deepEqual(new Map(map.entries()).get(6), v);
      map.remove(5);
      assert.equal(thrown(() => map.get(5)).kind, 'KeyNotFound');
      assert.equal(thrown(() => map.remove(5)).kind, 'KeyNotFound');
    } finally {
      map.close();
    }
  });
}

test('tryFrom: per-CPU classes check type and value size against the codec', () => {
  const map = MapData.create({ type: MapType.PercpuArray, keySize: 4, valueSize: 4, maxEntries: 1 });
  const hash = MapData.create({ type: MapType.Hash, keySize: 4, valueSize: 4, maxEntries: 1 });
  try {
    assert.equal(PerCpuArray.tryFrom(map, u32).get(0).length, cpus);
    assert.equal(thrown(() => PerCpuArray.tryFrom(map, u64)).kind, 'InvalidValueSize');
    assert.equal(thrown(() => PerCpuHashMap.tryFrom(map, u32, u32)).kind, 'InvalidMapType');
    assert.equal(thrown(() => PerCpuHashMap.tryFrom(hash, u32, u32)).kind, 'InvalidMapType');
    const err = thrown(() => PerCpuArray.create(u32, { maxEntries: 1, type: MapType.Array }));
    assert.ok(err instanceof MapError && err.kind === 'InvalidMapType');
  } finally {
    map.close();
    hash.close();
  }
});

test('from a BPF program run on chosen CPUs: each CPU counts in its own slot', () => {
  const ebpf = Ebpf.load(obj);
  try {
    const prog = ebpf.program('percpu_count');
    const counts = PerCpuArray.tryFrom(ebpf.map('counts'), u64);
    const hcounts = PerCpuHashMap.tryFrom(ebpf.map('hcounts'), u32, u32);
    const lru = PerCpuHashMap.tryFrom(ebpf.map('lrucounts'), u32, u32);
    assert.equal(lru.map.type, MapType.LruPercpuHash);
    const online = onlineCpus();
    const runs = new Map<number, number>();
    const args = new Uint8Array(8);
    new DataView(args.buffer).setUint32(0, 42, true); // args[0]: the hash key
    online.forEach((cpu, i) => {
      const n = 2 * i + 3;
      runs.set(cpu, n);
      for (let k = 0; k < n; k++) {
        const r = prog.testRun({ ctx: args, flags: BPF_F_TEST_RUN_ON_CPU, cpu });
        assert.equal(r.returnValue, cpu, 'ran on the CPU asked for');
      }
    });
    const want = Array.from({ length: cpus }, (_, c) => runs.get(c) ?? 0);
    assert.deepEqual(counts.get(0), want.map(BigInt));
    assert.deepEqual(counts.get(1), new Array(cpus).fill(0n));
    assert.deepEqual(hcounts.get(42), want);
    assert.deepEqual(lru.get(42), want);
    // What user space writes, the program counts on from.
    counts.set(0, 100n);
    prog.testRun({ ctx: args, flags: BPF_F_TEST_RUN_ON_CPU, cpu: online[0]! });
    assert.deepEqual(counts.get(0), Array.from({ length: cpus }, (_, c) => (c === online[0] ? 101n : 100n)));
  } finally {
    ebpf.close();
  }
});

test('per-CPU maps: no descriptor left open', () => {
  assert.equal(fdCount(), fdsAtStart);
});
