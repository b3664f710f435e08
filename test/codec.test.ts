// Codecs: primitives, bytes, array, struct (C layout), and struct keys in a real hash map.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HashMap, MapType, array, bytes, i16, i32, i64, i8, struct, u16, u32, u64, u8 } from '../src/index.js';
import { scratch } from '../src/maps/codec.js';
import type { Codec } from '../src/index.js';
import { fdCount } from './helpers.js';

const fdsAtStart = fdCount();

function roundTrip<T>(codec: Codec<T>, value: T, offset = 0): { decoded: T; bytes: Uint8Array } {
  const s = scratch(codec.size + offset + 3);
  codec.encode(s, offset, value);
  return { decoded: codec.decode(s, offset), bytes: s.bytes.slice(offset, offset + codec.size) };
}

test('scratch gives a zeroed buffer and a DataView over the same bytes', () => {
  const s = scratch(6);
  assert.equal(s.bytes.length, 6);
  assert.deepEqual(s.bytes, new Uint8Array(6));
  s.view.setUint16(4, 0xabcd, true);
  assert.deepEqual([...s.bytes], [0, 0, 0, 0, 0xcd, 0xab]);
  assert.equal(s.view.byteLength, 6);
});

test('primitive sizes and alignments', () => {
  const table: [Codec<unknown>, number][] = [
    [u8, 1],
    [i8, 1],
    [u16, 2],
    [i16, 2],
    [u32, 4],
    [i32, 4],
    [u64, 8],
    [i64, 8],
  ];
  for (const [codec, size] of table) {
    assert.equal(codec.size, size);
    assert.equal(codec.align, size);
    assert.ok(Object.isFrozen(codec));
  }
});

test('number primitives round-trip min, max and middle values, little-endian', () => {
  const cases: [Codec<number>, number[]][] = [
    [u8, [0, 1, 0x7f, 0xff]],
    [i8, [-128, -1, 0, 127]],
    [u16, [0, 0x1234, 0xffff]],
    [i16, [-32768, -1, 0, 32767]],
    [u32, [0, 1, 0xdeadbeef, 0xffffffff]],
    [i32, [-2147483648, -1, 0, 2147483647]],
  ];
  for (const [codec, values] of cases) {
    for (const v of values) {
      for (const offset of [0, 1, 3]) assert.equal(roundTrip(codec, v, offset).decoded, v);
    }
  }
  assert.deepEqual([...roundTrip(u16, 0x1234).bytes], [0x34, 0x12]);
  assert.deepEqual([...roundTrip(u32, 0xdeadbeef).bytes], [0xef, 0xbe, 0xad, 0xde]);
  assert.deepEqual([...roundTrip(i32, -2).bytes], [0xfe, 0xff, 0xff, 0xff]);
  assert.deepEqual([...roundTrip(i8, -1).bytes], [0xff]);
  assert.deepEqual([...roundTrip(i16, -32768).bytes], [0x00, 0x80]);
});

test('u64 and i64 use bigint and round-trip their extremes', () => {
  const u64Max = (1n << 64n) - 1n;
  const i64Min = -(1n << 63n);
  const i64Max = (1n << 63n) - 1n;
  for (const v of [0n, 1n, 0x1_0000_0000n, (1n << 53n) + 1n, u64Max]) assert.equal(roundTrip(u64, v).decoded, v);
  for (const v of [i64Min, -1n, 0n, 1n, i64Max]) assert.equal(roundTrip(i64, v).decoded, v);
  assert.deepEqual([...roundTrip(u64, 0x0102030405060708n).bytes], [8, 7, 6, 5, 4, 3, 2, 1]);
  assert.deepEqual([...roundTrip(i64, -1n).bytes], [255, 255, 255, 255, 255, 255, 255, 255]);
  assert.equal(typeof roundTrip(u64, 5n).decoded, 'bigint');
  assert.equal(typeof roundTrip(i64, 5n).decoded, 'bigint');
});

test('number primitives: RangeError out of range or fractional, TypeError for a non-number', () => {
  const s = scratch(8);
  const ranges: [Codec<number>, number, number][] = [
    [u8, 0, 0xff],
    [i8, -0x80, 0x7f],
    [u16, 0, 0xffff],
    [i16, -0x8000, 0x7fff],
    [u32, 0, 0xffffffff],
    [i32, -0x80000000, 0x7fffffff],
  ];
  for (const [codec, min, max] of ranges) {
    assert.throws(() => codec.encode(s, 0, min - 1), RangeError);
    assert.throws(() => codec.encode(s, 0, max + 1), RangeError);
    assert.throws(() => codec.encode(s, 0, 1.5), RangeError);
    assert.throws(() => codec.encode(s, 0, NaN), RangeError);
    assert.throws(() => codec.encode(s, 0, Infinity), RangeError);
    assert.throws(() => codec.encode(s, 0, '1' as unknown as number), TypeError);
    assert.throws(() => codec.encode(s, 0, 1n as unknown as number), TypeError);
    assert.throws(() => codec.encode(s, 0, undefined as unknown as number), TypeError);
    assert.throws(() => codec.encode(s, 0, null as unknown as number), TypeError);
  }
  // A refused value leaves the buffer untouched.
  const t = scratch(4);
  assert.throws(() => u32.encode(t, 0, -1), RangeError);
  assert.deepEqual(t.bytes, new Uint8Array(4));
});

test('bigint primitives: RangeError out of range, TypeError for a number', () => {
  const s = scratch(8);
  assert.throws(() => u64.encode(s, 0, -1n), RangeError);
  assert.throws(() => u64.encode(s, 0, 1n << 64n), RangeError);
  assert.throws(() => i64.encode(s, 0, -(1n << 63n) - 1n), RangeError);
  assert.throws(() => i64.encode(s, 0, 1n << 63n), RangeError);
  assert.throws(() => u64.encode(s, 0, 1 as unknown as bigint), TypeError);
  assert.throws(() => i64.encode(s, 0, '1' as unknown as bigint), TypeError);
  assert.deepEqual(s.bytes, new Uint8Array(8));
});

test('bytes(n): exact length, fresh copy on decode, Buffer accepted', () => {
  const b4 = bytes(4);
  assert.equal(b4.size, 4);
  assert.equal(b4.align, 1);
  const s = scratch(6);
  b4.encode(s, 1, Uint8Array.of(1, 2, 3, 4));
  assert.deepEqual([...s.bytes], [0, 1, 2, 3, 4, 0]);
  const out = b4.decode(s, 1);
  assert.deepEqual(out, Uint8Array.of(1, 2, 3, 4));
  out[0] = 99;
  assert.equal(s.bytes[1], 1, 'decode returns a copy');
  b4.encode(s, 0, Buffer.from([9, 8, 7, 6]));
  assert.deepEqual([...b4.decode(s, 0)], [9, 8, 7, 6]);
  assert.throws(() => b4.encode(s, 0, Uint8Array.of(1, 2, 3)), RangeError);
  assert.throws(() => b4.encode(s, 0, Uint8Array.of(1, 2, 3, 4, 5)), RangeError);
  assert.throws(() => b4.encode(s, 0, [1, 2, 3, 4] as unknown as Uint8Array), TypeError);
  assert.throws(() => b4.encode(s, 0, 'abcd' as unknown as Uint8Array), TypeError);
  assert.equal(bytes(0).size, 0);
  assert.throws(() => bytes(-1), RangeError);
  assert.throws(() => bytes(1.5), RangeError);
  assert.throws(() => bytes(NaN), RangeError);
});

test('array(codec, n): size, alignment, element layout', () => {
  const a = array(u16, 3);
  assert.equal(a.size, 6);
  assert.equal(a.align, 2);
  const s = scratch(8);
  a.encode(s, 2, [1, 0x203, 0xffff]);
  assert.deepEqual([...s.bytes], [0, 0, 1, 0, 3, 2, 0xff, 0xff]);
  assert.deepEqual(a.decode(s, 2), [1, 0x203, 0xffff]);
  const big = array(u64, 2);
  assert.equal(big.size, 16);
  assert.equal(big.align, 8);
  const { decoded } = roundTrip(big, [1n, (1n << 64n) - 1n]);
  assert.deepEqual(decoded, [1n, (1n << 64n) - 1n]);
  const nested = array(array(u8, 2), 2);
  assert.equal(nested.size, 4);
  assert.deepEqual(roundTrip(nested, [[1, 2], [3, 4]]).decoded, [[1, 2], [3, 4]]);
  assert.equal(array(u32, 0).size, 0);
  assert.deepEqual(roundTrip(array(u32, 0), []).decoded, []);
});

test('array(codec, n): wrong length is a RangeError, bad items fail like the item codec', () => {
  const a = array(u16, 3);
  const s = scratch(6);
  assert.throws(() => a.encode(s, 0, [1, 2]), RangeError);
  assert.throws(() => a.encode(s, 0, [1, 2, 3, 4]), RangeError);
  assert.throws(() => a.encode(s, 0, [1, 2, 0x10000]), RangeError);
  assert.throws(() => a.encode(s, 0, [1, 2, 'x' as unknown as number]), TypeError);
  assert.throws(() => array(u8, -1), RangeError);
  assert.throws(() => array(u8, 2.5), RangeError);
});

test('array(codec, n): a non-array value is a TypeError, like every other codec given the wrong type', () => {
  const a = array(u16, 3);
  const s = scratch(6);
  // u8 given a string, bytes given an array, struct given a number: TypeError. So should array.
  assert.throws(() => a.encode(s, 0, 'abc' as unknown as number[]), TypeError);
  assert.throws(() => a.encode(s, 0, new Uint16Array(3) as unknown as number[]), TypeError);
});

test('struct {a:u8, b:u64, c:u16} is 24 bytes with b at 8 and c at 16', () => {
  const s = struct({ a: u8, b: u64, c: u16 });
  assert.equal(s.size, 24);
  assert.equal(s.align, 8);
  assert.deepEqual({ ...s.offsets }, { a: 0, b: 8, c: 16 });
  const buf = scratch(24);
  s.encode(buf, 0, { a: 0x11, b: 0x2233445566778899n, c: 0xaabb });
  assert.deepEqual(
    [...buf.bytes],
    [0x11, 0, 0, 0, 0, 0, 0, 0, 0x99, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0xbb, 0xaa, 0, 0, 0, 0, 0, 0],
  );
  assert.deepEqual(s.decode(buf, 0), { a: 0x11, b: 0x2233445566778899n, c: 0xaabb });
});

test('struct layouts follow C rules', () => {
  const small = struct({ a: u8, b: u16 });
  assert.equal(small.size, 4);
  assert.equal(small.align, 2);
  assert.deepEqual({ ...small.offsets }, { a: 0, b: 2 });

  const packedOrder = struct({ b: u64, c: u16, a: u8 });
  assert.equal(packedOrder.size, 16);
  assert.deepEqual({ ...packedOrder.offsets }, { b: 0, c: 8, a: 10 });

  const bytesOnly = struct({ a: u8, b: bytes(3) });
  assert.equal(bytesOnly.size, 4);
  assert.equal(bytesOnly.align, 1);

  const withArray = struct({ x: u8, y: array(u16, 3) });
  assert.equal(withArray.size, 8);
  assert.deepEqual({ ...withArray.offsets }, { x: 0, y: 2 });

  const innerStruct = struct({ b: u32, c: u8 });
  assert.equal(innerStruct.size, 8);
  const outer = struct({ a: u8, s: innerStruct, d: u8 });
  assert.equal(outer.align, 4);
  assert.deepEqual({ ...outer.offsets }, { a: 0, s: 4, d: 12 });
  assert.equal(outer.size, 16);
  assert.deepEqual(roundTrip(outer, { a: 1, s: { b: 0xfffffffe, c: 3 }, d: 4 }).decoded, { a: 1, s: { b: 0xfffffffe, c: 3 }, d: 4 });

  const signed = struct({ x: i8, y: i32, z: i64 });
  assert.deepEqual({ ...signed.offsets }, { x: 0, y: 4, z: 8 });
  assert.equal(signed.size, 16);
  assert.deepEqual(roundTrip(signed, { x: -1, y: -2, z: -3n }).decoded, { x: -1, y: -2, z: -3n });

  const empty = struct({});
  assert.equal(empty.size, 0);
  assert.equal(empty.align, 1);
});

test('struct decodes fields from their offsets', () => {
  const s = struct({ a: u8, b: u32, c: u16 });
  const buf = scratch(12 + 4);
  buf.view.setUint8(4, 7);
  buf.view.setUint32(8, 123456789, true);
  buf.view.setUint16(12, 65000, true);
  assert.deepEqual(s.decode(buf, 4), { a: 7, b: 123456789, c: 65000 });
});

test('struct encode zeroes padding over a dirty buffer', () => {
  const s = struct({ a: u8, b: u64, c: u16 });
  const buf = scratch(26);
  buf.bytes.fill(0xee);
  s.encode(buf, 1, { a: 1, b: 2n, c: 3 });
  assert.deepEqual([...buf.bytes.subarray(1, 25)], [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(buf.bytes[0], 0xee, 'byte before the struct untouched');
  assert.equal(buf.bytes[25], 0xee, 'byte after the struct untouched');
});

test('struct errors: TypeError for a non-object or a missing field, field codec errors pass through', () => {
  const s = struct({ a: u8, b: u64 });
  const buf = scratch(16);
  assert.throws(() => s.encode(buf, 0, null as unknown as { a: number; b: bigint }), TypeError);
  assert.throws(() => s.encode(buf, 0, 5 as unknown as { a: number; b: bigint }), TypeError);
  assert.throws(() => s.encode(buf, 0, { a: 1 } as unknown as { a: number; b: bigint }), { name: 'TypeError', message: /'b'/ });
  assert.throws(() => s.encode(buf, 0, { a: 256, b: 1n }), RangeError);
  assert.throws(() => s.encode(buf, 0, { a: 1, b: 1 as unknown as bigint }), TypeError);
  // Extra properties are ignored.
  s.encode(buf, 0, { a: 1, b: 2n, extra: 3 } as { a: number; b: bigint });
  assert.deepEqual(s.decode(buf, 0), { a: 1, b: 2n });
});

test('struct keys in a real hash map: equal values find the same key whatever the buffer held', () => {
  const key = struct({ a: u8, b: u64, c: u16 });
  const map = HashMap.create(key, u32, 8);
  try {
    assert.equal(map.map.type, MapType.Hash);
    assert.equal(map.map.keySize, 24);
    // Fill the shared key buffer with a key whose bytes are all high, then a small one.
    map.insert({ a: 0xff, b: (1n << 64n) - 1n, c: 0xffff }, 1);
    map.insert({ a: 1, b: 2n, c: 3 }, 2);
    assert.equal(map.get({ a: 1, b: 2n, c: 3 }), 2);
    assert.equal(map.get({ c: 3, b: 2n, a: 1 }), 2, 'field order of the JS object does not matter');
    assert.equal(map.get({ a: 0xff, b: (1n << 64n) - 1n, c: 0xffff }), 1);
    // Re-inserting the same value updates, not adds.
    map.insert({ a: 1, b: 2n, c: 3 }, 5);
    assert.equal([...map.keys()].length, 2);
    assert.equal(map.get({ a: 1, b: 2n, c: 3 }), 5);
    // The kernel stored zero padding.
    const raw = [...map.map.keys()].map((k) => [...k]);
    const expected = [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0];
    assert.ok(raw.some((k) => k.join() === expected.join()), 'key bytes with zero padding');
    // A key inserted with dirty padding through the raw API is a different key.
    const dirty = Uint8Array.from(expected);
    dirty[1] = 0x5a;
    map.map.update(dirty, Uint8Array.of(9, 0, 0, 0));
    assert.equal(map.get({ a: 1, b: 2n, c: 3 }), 5);
    assert.equal([...map.keys()].length, 3);
    assert.deepEqual(
      [...map.entries()].map(([k, v]) => [k.a, k.b, k.c, v]).sort((x, y) => Number(x[3]) - Number(y[3])),
      [
        [255, (1n << 64n) - 1n, 65535, 1],
        [1, 2n, 3, 5],
        [1, 2n, 3, 9],
      ],
    );
  } finally {
    map.close();
  }
});

test('no file descriptor leaked by this file', () => {
  assert.equal(fdCount(), fdsAtStart);
});
