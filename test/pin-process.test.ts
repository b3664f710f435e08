// Pinning across processes: a child creates and pins an ARRAY_OF_MAPS and one of its
// inner maps, then exits; the maps live on through bpffs and are read back elsewhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { ArrayMap, ArrayOfMaps, MapData, MapType, u32 } from '../src/index.js';
import { bpffsDir, fdCount } from './helpers.js';
import { describe, runScript } from './child.js';

// Slot i of the outer map holds an ARRAY whose element k is 100 * (i + 1) + k; slot 2 stays empty.
const SLOTS = [0, 1, 3];
const value = (slot: number, key: number) => 100 * (slot + 1) + key;

const CREATE = `
const { ArrayMap, ArrayOfMaps, MapType, u32 } = tsbpf;
const [dir] = process.argv.slice(2);
const outer = ArrayOfMaps.create({ maxEntries: 4, name: 'pinned_outer', innerMap: { type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 8 } });
const ids = {};
for (const slot of ${JSON.stringify(SLOTS)}) {
  const inner = ArrayMap.create(u32, { maxEntries: 8, name: 'inner_' + slot });
  for (let k = 0; k < 8; k++) inner.set(k, 100 * (slot + 1) + k);
  outer.set(slot, inner);
  ids[slot] = inner.map.id;
  if (slot === 1) inner.pin(dir + '/inner1');   // owned: consumed by the pin
  else inner.close();
}
const outerId = outer.map.id;
outer.pin(dir + '/outer');
console.log(JSON.stringify({ pid: process.pid, outerId, ids }));
`;

const READ = `
const { ArrayMap, ArrayOfMaps, MapData, u32 } = tsbpf;
const dir = process.env.PIN_DIR;
const outer = ArrayOfMaps.tryFrom(MapData.fromPin(dir + '/outer'), ArrayMap.fromMapData(u32), { owned: true });
const values = {};
for (const [slot, id] of outer.entries()) {
  const inner = outer.get(slot);   // plain JS on Node 20 has no \`using\`
  values[slot] = { id, values: [...inner.entries()].map(([, v]) => v) };
  inner.close();
}
const inner1 = ArrayMap.tryFrom(MapData.fromPin(dir + '/inner1'), u32, { owned: true });
inner1.set(7, 4242);   // written by this process, read back by the test
console.log(JSON.stringify({ outerId: outer.map.id, values, inner1Id: inner1.map.id }));
inner1.close();
outer.close();
`;

test('maps pinned by a process that has exited are intact in other processes', (t) => {
  const dir = bpffsDir('pinproc');
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  // 1. A child creates, fills and pins, then exits (closing every descriptor it had).
  const createdRun = runScript(CREATE, { args: [dir] });
  assert.equal(createdRun.status, 0, describe(createdRun));
  assert.equal(createdRun.signal, null);
  const made = createdRun.json as { pid: number; outerId: number; ids: Record<string, number> };
  assert.ok(made && made.outerId > 0, describe(createdRun));
  assert.notEqual(made.pid, process.pid);
  assert.ok(existsSync(`${dir}/outer`));
  assert.ok(existsSync(`${dir}/inner1`));

  // 2. Another child opens the pins and reads everything back (and writes one value).
  const readRun = runScript(READ, { env: { ...process.env, PIN_DIR: dir } });
  assert.equal(readRun.status, 0, describe(readRun));
  const read = readRun.json as { outerId: number; values: Record<string, { id: number; values: number[] }>; inner1Id: number };
  assert.equal(read.outerId, made.outerId);
  assert.deepEqual(Object.keys(read.values).map(Number), SLOTS);
  for (const slot of SLOTS) {
    assert.equal(read.values[slot]!.id, made.ids[slot], `slot ${slot} id`);
    assert.deepEqual(read.values[slot]!.values, Array.from({ length: 8 }, (_, k) => value(slot, k)));
  }
  assert.equal(read.inner1Id, made.ids[1]);

  // 3. And this process: through MapData.fromPin, ArrayOfMaps.tryFrom(...).get(i) and ArrayMap.
  const before = fdCount();
  {
    using outerData = MapData.fromPin(`${dir}/outer`);
    assert.equal(outerData.id, made.outerId);
    assert.equal(outerData.type, MapType.ArrayOfMaps);
    assert.equal(outerData.name, 'pinned_outer');
    const outer = ArrayOfMaps.tryFrom(outerData);
    assert.deepEqual([...outer.entries()], SLOTS.map((s) => [s, made.ids[s]]));
    assert.throws(() => outer.get(2), { name: 'MapError', kind: 'KeyNotFound', index: 2 });
    for (const slot of SLOTS) {
      using innerData = outer.get(slot);
      assert.equal(innerData.id, made.ids[slot]);
      assert.equal(innerData.name, `inner_${slot}`);
      const inner = ArrayMap.tryFrom(innerData, u32);
      for (let k = 0; k < 8; k++) {
        const expected = slot === 1 && k === 7 ? 4242 : value(slot, k);
        assert.equal(inner.get(k), expected, `slot ${slot} key ${k}`);
      }
    }
    // The inner map pinned on its own is the same kernel object as slot 1.
    using inner1 = ArrayMap.tryFrom(MapData.fromPin(`${dir}/inner1`), u32, { owned: true });
    assert.equal(inner1.map.id, made.ids[1]);
    assert.equal(inner1.get(7), 4242);
    inner1.set(0, 7);
    using viaOuter = ArrayOfMaps.tryFrom(outerData, ArrayMap.fromMapData(u32)).get(1);
    assert.equal(viaOuter.get(0), 7, 'one map, seen through both paths');
  }
  assert.equal(fdCount(), before);

  // 4. Unpinned and unreferenced, the maps go away.
  rmSync(dir, { recursive: true, force: true });
  assert.ok(!existsSync(`${dir}/outer`));
  assert.throws(() => MapData.fromPin(`${dir}/outer`), { name: 'PinError', kind: 'SyscallError', code: 'ENOENT', call: 'bpf_obj_get' });
});
