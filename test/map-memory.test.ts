// Memory-mapped arrays (BPF_F_MMAPABLE): values read and written in place, seen by
// the kernel's own lookups and updates, refused for maps that cannot be mapped, and
// unmapped (detached) when the map closes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArrayMap, HashMap, MapData, MapError, MapFlags, MapType, struct, u16, u32, u64, u8 } from '../src/index.js';
import { bpfCalls, fdCount, thrown } from './helpers.js';
import { bpfMappings } from './fault-injector.js';

const fdsAtStart = fdCount();
const mappingsAtStart = bpfMappings().length;

test('ArrayMap.memory(): get / set with no system call, the same values as lookup and update', () => {
  using a = ArrayMap.create(u64, { maxEntries: 1000, flags: MapFlags.BPF_F_MMAPABLE });
  const mem = a.memory();
  assert.equal(mem.length, 1000);
  const calls = bpfCalls(() => {
    for (let i = 0; i < 1000; i++) mem.set(i, BigInt(i) * 11n);
    let sum = 0n;
    for (let i = 0; i < 1000; i++) sum += mem.get(i);
    assert.equal(sum, 11n * 499500n);
  });
  assert.deepEqual(calls, [], 'no bpf(2) call per access');
  assert.equal(a.get(999), 999n * 11n, 'the kernel sees what JS wrote');
  a.set(3, 12345n);
  assert.equal(mem.get(3), 12345n, 'JS sees what the kernel wrote');
  assert.equal(thrown(() => mem.get(1000)).kind, 'OutOfBounds');
  assert.equal(thrown(() => mem.get(-1)).kind, 'InvalidArgument');
  assert.equal(thrown(() => mem.set(0, -1n)).kind, 'InvalidArgument');
  // The raw view: value i at i * stride.
  assert.equal(mem.memory.stride, 8);
  assert.equal(mem.memory.view.getBigUint64(3 * 8, true), 12345n);
  assert.equal(a.map.memory(), mem.memory, 'one mapping per map');
});

test('memory(): values whose size is not a multiple of 8 sit 8-aligned (the kernel layout)', () => {
  const rec = struct({ a: u8, b: u16, c: u8 }); // 6 bytes
  using a = ArrayMap.create(rec, { maxEntries: 5, flags: MapFlags.BPF_F_MMAPABLE });
  const mem = a.memory();
  assert.equal(mem.memory.stride, 8);
  mem.set(4, { a: 1, b: 0x2233, c: 4 });
  assert.deepEqual(a.get(4), { a: 1, b: 0x2233, c: 4 });
  a.set(2, { a: 9, b: 8, c: 7 });
  assert.deepEqual(mem.get(2), { a: 9, b: 8, c: 7 });
  assert.equal(mem.memory.bytes[2 * 8], 9);
});

test('memory(): closing the map unmaps it; the views throw Closed and the buffer is detached', () => {
  const a = ArrayMap.create(u32, { maxEntries: 4, flags: MapFlags.BPF_F_MMAPABLE });
  const mem = a.memory();
  mem.set(1, 5);
  assert.equal(bpfMappings().length, mappingsAtStart + 1);
  a.close();
  assert.equal(mem.memory.closed, true);
  assert.equal(mem.memory.bytes.length, 0, 'detached');
  assert.equal(thrown(() => mem.get(1)).kind, 'Closed');
  assert.equal(thrown(() => mem.set(1, 1)).kind, 'Closed');
  assert.equal(bpfMappings().length, mappingsAtStart, 'unmapped');
  assert.equal(thrown(() => a.memory()).kind, 'Closed');
});

test('memory(): NotSupported without BPF_F_MMAPABLE, for non-arrays, and for a frozen map', () => {
  using plain = ArrayMap.create(u32, { maxEntries: 4 });
  const e1 = thrown(() => plain.memory());
  assert.ok(e1 instanceof MapError);
  assert.equal(e1.kind, 'NotSupported');
  assert.match(e1.message, /BPF_F_MMAPABLE/);
  using h = HashMap.create(u32, u32, { maxEntries: 4 });
  assert.equal(thrown(() => h.map.memory()).kind, 'NotSupported');
  using frozen = ArrayMap.create(u32, { maxEntries: 4, flags: MapFlags.BPF_F_MMAPABLE });
  frozen.set(0, 7);
  frozen.map.freeze();
  const e2 = thrown(() => frozen.memory());
  assert.equal(e2.kind, 'NotSupported');
  assert.match(e2.message, /frozen/);
  assert.equal(frozen.get(0), 7, 'still readable by lookup');
  // A mapped map cannot be frozen (the kernel: EBUSY while a writable mapping exists).
  using mapped = MapData.create({ type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 1, flags: MapFlags.BPF_F_MMAPABLE });
  mapped.memory();
  assert.equal(thrown(() => mapped.freeze()).code, 'EBUSY');
});

test('map memory: no descriptors or mappings leaked', () => {
  assert.equal(fdCount(), fdsAtStart);
  assert.equal(bpfMappings().length, mappingsAtStart);
});
