// Reverse lookups on the generated enums: `MapType[n]` type-checks to a name (or undefined)
// and gives it at run time, as for a TypeScript numeric enum, while each constant keeps its
// literal type and Object.keys/values/entries see the names alone. The type checks below are
// the compile test: this file does not build when they fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AttachType, LinkType, MapData, MapType, ProgramType, PerfType, type MapTypeInfo } from '../src/index.js';
import * as enums from '../src/sys/abi/enums.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

// What `MapType[n]` is for a number n: a name or undefined.
const typeChecks: [
  Equal<(typeof MapType)[number], (keyof typeof MapType & string) | undefined>,
  Equal<(typeof ProgramType)[number], (keyof typeof ProgramType & string) | undefined>,
  Equal<(typeof AttachType)[number], (keyof typeof AttachType & string) | undefined>,
  Equal<(typeof LinkType)[number], (keyof typeof LinkType & string) | undefined>,
  // The constants keep their literal types, and the value types hold numbers only.
  Equal<typeof MapType.Hash, 1>,
  Equal<typeof ProgramType.Xdp, 6>,
  Equal<Extract<MapType, string | undefined>, never>,
  Equal<Extract<ProgramType, string | undefined>, never>,
  Equal<MapTypeInfo['type'], MapType>,
] = [true, true, true, true, true, true, true, true, true];

test('MapType[n] and ProgramType[n] name a value, as a numeric enum does', () => {
  assert.deepEqual(typeChecks, Array(typeChecks.length).fill(true));
  const n: number = MapType.ArrayOfMaps;
  const name: string | undefined = MapType[n];
  assert.equal(name, 'ArrayOfMaps');
  assert.equal(MapType[MapType.Hash], 'Hash');
  assert.equal(MapType[0], 'Unspec');
  assert.equal(ProgramType[ProgramType.Xdp], 'Xdp');
  assert.equal(ProgramType[6], 'Xdp');
  assert.equal(AttachType[AttachType.CgroupInetIngress], 'CgroupInetIngress');
  assert.equal(LinkType[LinkType.Xdp], 'Xdp');
  assert.equal(PerfType[PerfType.Tracepoint], 'Tracepoint');
  assert.equal(MapType[9999], undefined);
  assert.equal(MapType[-1], undefined);
  // @ts-expect-error: a lookup may miss, so the result is not a plain string.
  const notNarrowed: string = MapType[n];
  assert.equal(notNarrowed, 'ArrayOfMaps');
});

test('a map\'s type number names its type through MapType', () => {
  const map = MapData.create({ type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 1 });
  try {
    assert.equal(MapType[map.info().type], 'Array');
  } finally {
    map.close();
  }
});

test('every generated enum: each value names its first name, and the reverse entries are not enumerable', () => {
  const generated = Object.entries(enums).filter(([name, v]) => /^[A-Z]/.test(name) && typeof v === 'object' && !Array.isArray(v));
  assert.deepEqual(generated.map(([name]) => name).sort(), ['AttachType', 'Cmd', 'HardwareEvent', 'LinkType', 'MapType', 'PerfEventType', 'PerfType', 'ProgramType', 'SoftwareEvent', 'StatsType']);
  for (const [enumName, e] of generated as [string, Record<string | number, unknown>][]) {
    const keys = Object.keys(e);
    assert.ok(keys.length >= 1, enumName);
    assert.ok(keys.every((k) => /^[A-Z][A-Za-z0-9]*$/.test(k)), `${enumName}: names only in Object.keys`);
    assert.ok(Object.values(e).every((v) => typeof v === 'number'), `${enumName}: numbers only in Object.values`);
    assert.deepEqual(Object.keys({ ...e }), keys, `${enumName}: a spread copies the names only`);
    assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(e))), keys, `${enumName}: JSON has the names only`);
    const first = new Map<number, string>();
    for (const [name, value] of Object.entries(e) as [string, number][]) if (!first.has(value)) first.set(value, name);
    for (const [value, name] of first) {
      assert.equal(e[value], name, `${enumName}[${value}]`);
      assert.equal(Object.getOwnPropertyDescriptor(e, value)?.enumerable, false, `${enumName}[${value}] is not enumerable`);
    }
    assert.equal(Object.getOwnPropertyNames(e).length, keys.length + first.size, `${enumName}: one reverse entry per value`);
  }
  // The typed helpers see the same as Object.entries/values at run time.
  assert.deepEqual(enums.enumEntries(MapType), Object.entries(MapType));
  assert.deepEqual(enums.enumValues(ProgramType), Object.values(ProgramType));
});
