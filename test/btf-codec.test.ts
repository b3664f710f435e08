// Codecs from BTF (btfCodec, btfCodecOf, cstring) and Ebpf.typedMap: values a real
// program wrote (bpf/btf_types.c, run with BPF_PROG_TEST_RUN) decoded through the
// object's BTF, written back, and read by the program's side of the map.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ArrayMap,
  ArrayOfMaps,
  Btf,
  BtfError,
  Ebpf,
  HashMap,
  HashOfMaps,
  MapError,
  ObjectSpec,
  PerCpuArray,
  PerCpuHashMap,
  RingBuf,
  btfCodec,
  btfCodecOf,
  cstring,
  loadKernelBtf,
  possibleCpus,
  Queue,
  Stack,
  BloomFilter,
  LpmTrie,
  type BtfMapOf,
  type BtfTypedMap,
  type BtfValue,
  type MapData,
  type Codec,
} from '../src/index.js';
import { scratch } from '../src/codec/index.js';
import { fdCount, thrown } from './helpers.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const obj = (name: string) => resolve(root, 'bpf', name);
const packet = new Uint8Array(64);
const fdsAtStart = fdCount();

function roundTrip<T>(codec: Codec<T>, value: T): { decoded: T; bytes: Uint8Array } {
  const s = scratch(codec.size);
  codec.encode(s, 0, value);
  return { decoded: codec.decode(s, 0), bytes: s.bytes.slice() };
}

/** The record bpf/btf_types.c's fill program writes (see its comments). */
const RECORD = {
  flags: 5,
  level: 100,
  delta: -3,
  on: true,
  tint: 'GREEN',
  ready: true,
  small: -100,
  hue: 'BLUE',
  odd: 9,
  big: 0xfedcba9876543210n,
  neg: -5n,
  at: { x: 3, y: -4 },
  path: [{ x: 1, y: 2 }, { x: -1, y: -2 }],
  u: { word: 0x64636261, text: 'abcd' },
  id: 0x1234n,
  pt: { x: 0x1234, y: 0 },
  ptr: 0xffff888000001000n,
  names: ['one', 'two'],
  ports: [80, 443, 8080],
  w: 'WIDE_BIG',
};

test('cstring: up to the first NUL, NUL padding, refuses what leaves no room for the NUL', () => {
  const c = cstring(8);
  assert.equal(c.size, 8);
  assert.equal(c.align, 1);
  assert.ok(Object.isFrozen(c));
  const s = scratch(10);
  s.bytes.fill(0xff);
  c.encode(s, 1, 'ab');
  assert.deepEqual([...s.bytes], [0xff, 0x61, 0x62, 0, 0, 0, 0, 0, 0, 0xff], 'NUL-padded to 8 bytes, nothing outside');
  assert.equal(c.decode(s, 1), 'ab');
  assert.equal(roundTrip(c, '').decoded, '');
  assert.equal(roundTrip(c, 'seven77').decoded, 'seven77', 'n-1 bytes fit');
  assert.equal(roundTrip(c, 'é€x').decoded, 'é€x', 'UTF-8: 6 bytes');
  assert.throws(() => c.encode(s, 0, 'eight888'), /8 bytes in UTF-8: with its NUL it needs 9, the array has 8/);
  assert.throws(() => c.encode(s, 0, '€€€'), RangeError, '9 bytes of UTF-8');
  assert.throws(() => c.encode(s, 0, 'a\0b'), /NUL at index 1/);
  assert.throws(() => c.encode(s, 0, 5 as never), TypeError);
  // Decoding: a full array without NUL reads all of it; invalid UTF-8 reads as U+FFFD.
  s.bytes.set([0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68], 0);
  assert.equal(c.decode(s, 0), 'abcdefgh');
  s.bytes.set([0x61, 0xff, 0x62, 0], 0);
  assert.equal(c.decode(s, 0), 'a\ufffdb');
  assert.throws(() => cstring(0), RangeError);
  assert.throws(() => cstring(1.5), RangeError);
  assert.equal(roundTrip(cstring(1), '').bytes.length, 1);
});

test('cstring: a char[16] key in a real hash map, refused as MapError InvalidArgument when too long', () => {
  using map = HashMap.create(cstring(16), cstring(16), { maxEntries: 4 });
  map.insert('bash', 'shell');
  assert.equal(map.get('bash'), 'shell');
  assert.deepEqual([...map.keys()], ['bash']);
  const err = thrown(() => map.insert('a-very-long-command', 'x'));
  assert.ok(err instanceof MapError);
  assert.equal(err.kind, 'InvalidArgument');
  assert.match(err.message, /key: cstring\(16\) value is 19 bytes/);
});

test('btfCodec: the C layout of bpf/btf_types.c struct record, by name, from the object BTF', () => {
  const spec = ObjectSpec.parse(readFileSync(obj('btf_types.o')));
  const btf = spec.btf!;
  const rec = btfCodec(btf, 'struct record');
  assert.equal(rec.size, 112);
  assert.equal(rec.align, 8);
  assert.equal(btfCodec(btf, 'record'), rec, 'a bare name finds the struct; codecs are cached per type');
  assert.equal(btfCodecOf(btf, btf.byName('record', 'struct')[0]!.id), rec);
  const { decoded, bytes } = roundTrip(rec, RECORD);
  assert.deepEqual(decoded, RECORD);
  // Bitfields: flags:3=5 | level:7=100 << 3 | delta:5=-3 (0b11101) << 10 | on << 15 | tint:4=5 << 16.
  const word = bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16);
  assert.equal(word, 5 | (100 << 3) | (0b11101 << 10) | (1 << 15) | (5 << 16));
  assert.equal(bytes[3], 1, 'ready at byte 3');
  // Enums: by name, an unnamed value as a number, a 64-bit enum's names.
  const color = btfCodec(btf, 'enum color');
  assert.equal(color.size, 4);
  assert.equal(roundTrip(color, 'GREEN').bytes[0], 5);
  assert.equal(roundTrip(color, 9 as never).decoded, 9);
  assert.throws(() => roundTrip(color, 'PURPLE'), /enum color has no value named "PURPLE" \(RED, GREEN, BLUE\)/);
  assert.equal(btfCodec(btf, 'enum wide').size, 8);
  assert.deepEqual([...roundTrip(btfCodec(btf, 'enum wide'), 'WIDE_BIG').bytes], [0, 0, 0, 0, 1, 0, 0, 0]);
  // Typedefs: __u64 is a bigint, __s8 (signed char) a number.
  assert.equal(roundTrip(btfCodec<bigint>(btf, '__u64'), 1n << 63n).decoded, 1n << 63n);
  assert.equal(roundTrip(btfCodec<number>(btf, '__s8'), -128).decoded, -128);
  assert.equal(roundTrip(btfCodec<{ comm: string }>(btf, 'comm_key'), { comm: 'systemd' }).decoded.comm, 'systemd');
});

test('btfCodec: refusals name the member; unions take one member or agreeing ones', () => {
  const btf = ObjectSpec.parse(readFileSync(obj('btf_types.o'))).btf!;
  const rec = btfCodec<any>(btf, 'struct record');
  const s = scratch(rec.size);
  const bad = (patch: Record<string, unknown>) => thrown(() => rec.encode(s, 0, { ...RECORD, ...patch }));
  assert.match(bad({ level: 128 }).message, /^level: .*bitfield of 7 bits value must be in \[0, 127\], got 128/);
  assert.ok(bad({ level: 128 }) instanceof RangeError);
  assert.match(bad({ delta: -17 }).message, /^delta: .*\[-16, 15\]/);
  assert.match(bad({ at: { x: 1.5, y: 0 } }).message, /^at\.x: .*integer/);
  assert.match(bad({ at: { x: 2 ** 31, y: 0 } }).message, /^at\.x: .*\[-2147483648, 2147483647\]/);
  assert.match(bad({ big: 1 }).message, /^big: .*must be a bigint/);
  assert.ok(bad({ big: 1 }) instanceof TypeError);
  assert.match(bad({ names: ['one', 'a name too long'] }).message, /^names: cstring\(8\)/);
  assert.match(bad({ on: 1 }).message, /^on: bool value must be true or false/);
  assert.match(bad({ tint: 'NOPE' }).message, /^tint: enum color has no value named "NOPE"/);
  assert.match(thrown(() => rec.encode(s, 0, { ...RECORD, hue: undefined })).message, /missing member 'hue'/);
  assert.match(thrown(() => rec.encode(s, 0, 7 as never)).message, /struct record value must be an object of its members \(flags, level, /);
  // A union: one member writes it; members that read back differently are refused.
  assert.deepEqual(roundTrip(rec, { ...RECORD, u: { text: 'hi' } }).decoded.u, { word: 0x6968, text: 'hi' });
  assert.match(bad({ u: { word: 1, text: 'abcd' } }).message, /^u: union \(anon\) value: members word and text give different bytes/);
  assert.match(bad({ u: {} }).message, /^u: union \(anon\) value must have one of its members \(word, text\)/);
  // The anonymous union's members are the record's: id alone, or pt alone.
  const { id: _id, pt: _pt, ...rest } = RECORD;
  assert.deepEqual(roundTrip(rec, { ...rest, pt: { x: 7, y: 8 } } as never).decoded.id, (8n << 32n) | 7n);
  assert.deepEqual(roundTrip(rec, { ...rest, id: 0x0000000900000002n } as never).decoded.pt, { x: 2, y: 9 });
  assert.throws(() => rec.encode(s, 0, { ...rest, id: 1n, pt: { x: 2, y: 0 } } as never), /members id and pt give different bytes/);
  // Names and ids the BTF lacks.
  const missing = thrown(() => btfCodec(btf, 'struct nope'));
  assert.ok(missing instanceof BtfError);
  assert.equal(missing.kind, 'TypeNotFound');
  assert.equal(thrown(() => btfCodecOf(btf, 1e6)).kind, 'TypeNotFound');
  const fn = btf.byName('fill', 'func')[0]!;
  assert.equal(thrown(() => btfCodecOf(btf, fn.id)).kind, 'InvalidType');
});

test('btfCodec: every bitfield value round-trips and leaves its neighbours alone (pseudo-random sweep)', () => {
  const btf = ObjectSpec.parse(readFileSync(obj('btf_types.o'))).btf!;
  const rec = btfCodec<any>(btf, 'struct record');
  const colors = ['RED', 'GREEN', 'BLUE', 1, 15];
  let seed = 12345;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  const s = scratch(rec.size);
  for (let i = 0; i < 2000; i++) {
    const v = { ...RECORD, flags: rand(8), level: rand(128), delta: rand(32) - 16, on: rand(2) === 1, tint: colors[rand(colors.length)], ready: rand(2) === 1 };
    rec.encode(s, 0, v);
    assert.deepEqual(rec.decode(s, 0), v);
    const word = s.bytes[0]! | (s.bytes[1]! << 8) | (s.bytes[2]! << 16);
    const tint = typeof v.tint === 'number' ? v.tint : { RED: 0, GREEN: 5, BLUE: 6 }[v.tint as 'RED']!;
    assert.equal(word, v.flags | (v.level << 3) | ((v.delta & 31) << 10) | (Number(v.on) << 15) | (tint << 16));
  }
  // A 64-bit bitfield base, across byte boundaries, through hand-made BTF.
  const hand = Btf.fromTypes([
    { id: 0, kind: 'void' },
    { id: 1, kind: 'int', name: 'long long', size: 8, encoding: 1, bitOffset: 0, bits: 64 },
    { id: 2, kind: 'struct', name: 'wide', size: 8, members: [
      { name: 'a', type: 1, bitOffset: 0, bitfieldSize: 5 },
      { name: 'b', type: 1, bitOffset: 5, bitfieldSize: 50 },
      { name: 'c', type: 1, bitOffset: 55, bitfieldSize: 9 },
    ] },
  ]);
  const wide = btfCodec<any>(hand, 'wide');
  for (const v of [{ a: -16n, b: (1n << 49n) - 1n, c: -256n }, { a: 15n, b: -(1n << 49n), c: 255n }, { a: 0n, b: 123456789012345n, c: -1n }]) {
    const { decoded, bytes } = roundTrip(wide, v);
    assert.deepEqual(decoded, v);
    const u = new DataView(bytes.buffer).getBigUint64(0, true);
    assert.equal(u, BigInt.asUintN(5, v.a) | (BigInt.asUintN(50, v.b) << 5n) | (BigInt.asUintN(9, v.c) << 55n));
  }
  assert.throws(() => roundTrip(wide, { a: 16n, b: 0n, c: 0n }), /^RangeError: a: .*\[-16, 15\], got 16/);
});

test('btfCodec over the kernel BTF: struct task_struct comm is a cstring(16), pointers bigint', () => {
  const vmlinux = loadKernelBtf();
  const task = btfCodec<Record<string, BtfValue>>(vmlinux, 'struct task_struct');
  assert.ok(task.size > 1000);
  const s = scratch(task.size);
  const t = vmlinux.byName('task_struct', 'struct')[0]!;
  const comm = t.kind === 'struct' ? t.members.find((m) => m.name === 'comm')! : undefined;
  s.bytes.set(new TextEncoder().encode('kworker/0:1\0'), comm!.bitOffset / 8);
  const decoded = task.decode(s, 0);
  assert.equal(decoded.comm, 'kworker/0:1');
  assert.equal(typeof decoded.mm, 'bigint', 'a pointer');
  // Written back, the same bytes.
  const again = scratch(task.size);
  task.encode(again, 0, decoded);
  assert.deepEqual(again.bytes, s.bytes);
});

test('Ebpf.typedMap: every map of btf_types.o as its class, decoding what the program wrote', () => {
  using ebpf = Ebpf.load(obj('btf_types.o'));
  assert.equal(ebpf.program('fill').testRun({ data: packet }).returnValue, 0);

  const byComm = ebpf.typedMap('by_comm');
  assert.ok(byComm instanceof HashMap);
  assert.equal(byComm.owned, false, 'a view: the Ebpf keeps the map');
  assert.deepEqual([...byComm.entries()], [[{ comm: 'tsbpf' }, RECORD]]);
  // Round trip: write a changed record under a new key, read it with the program's layout.
  const changed = { ...RECORD, level: 1, hue: 'RED', at: { x: -9, y: 9 }, names: ['uno', 'dos'] };
  byComm.insert({ comm: 'node' }, changed);
  assert.deepEqual(byComm.get({ comm: 'node' }), changed);
  const raw = ebpf.map('by_comm').lookup(Buffer.from('node'.padEnd(16, '\0')))!;
  assert.equal(raw[0]! | ((raw[1]! & 0x3) << 8), 5 | (1 << 3), 'flags and level in the first bits');
  assert.equal(new DataView(raw.buffer, raw.byteOffset).getUint32(8, true), 0, 'hue RED');
  assert.throws(() => byComm.insert({ comm: 'x'.repeat(16) }, RECORD), (e: unknown) => e instanceof MapError && e.kind === 'InvalidArgument');

  // With the class: typed as that class, no instanceof needed; another class refused.
  const typed: HashMap<BtfValue, BtfValue> = ebpf.typedMap('by_comm', HashMap);
  assert.deepEqual(typed.get({ comm: 'tsbpf' }), RECORD);
  assert.equal(ebpf.typedMap('per_cpu', PerCpuArray).get(1).length, possibleCpus());
  const wrong = thrown(() => ebpf.typedMap('records', HashMap));
  assert.ok(wrong instanceof MapError);
  assert.equal(wrong.kind, 'InvalidMapType');
  assert.match(wrong.message, /typedMap\(records, HashMap\): the map is a BPF_MAP_TYPE_ARRAY, a ArrayMap/);
  assert.equal(thrown(() => ebpf.typedMap('records', Object as never)).kind, 'InvalidArgument');

  const records = ebpf.typedMap('records');
  assert.ok(records instanceof ArrayMap);
  assert.deepEqual(records.get(1), RECORD);
  records.set(2, changed);
  assert.deepEqual(records.get(2), changed);

  const perCpu = ebpf.typedMap('per_cpu');
  assert.ok(perCpu instanceof PerCpuArray);
  const slots = perCpu.get(1) as BtfValue[];
  assert.equal(slots.length, possibleCpus());
  assert.ok(slots.some((p) => (p as { x: number }).x === 7 && (p as { y: number }).y === -7), 'the CPU the program ran on');
  perCpu.set(0, { x: 1, y: 1 });
  assert.deepEqual(perCpu.get(0), new Array(possibleCpus()).fill({ x: 1, y: 1 }));

  const lru = ebpf.typedMap('lru');
  assert.ok(lru instanceof HashMap);
  assert.equal(lru.get(0x1122334455667788n), 'BLUE');
  lru.insert(1n, 'GREEN');
  assert.deepEqual(ebpf.map('lru').lookup(Buffer.from([1, 0, 0, 0, 0, 0, 0, 0])), new Uint8Array([5, 0, 0, 0]));

  const perCpuLru = ebpf.typedMap('per_cpu_lru');
  assert.ok(perCpuLru instanceof PerCpuHashMap);
  assert.ok((perCpuLru.get({ comm: 'x' }) as bigint[]).includes(-2n));

  const outer = ebpf.typedMap('outer');
  assert.ok(outer instanceof ArrayOfMaps);
  {
    using inner = outer.get(0);
    assert.ok(inner instanceof ArrayMap, 'inner maps typed from the template');
    assert.equal(inner.owned, true, 'get opened a new descriptor, owned by the result');
    assert.deepEqual(inner.get(0), { x: 1, y: 2 });
  }

  const outerHash = ebpf.typedMap('outer_hash');
  assert.ok(outerHash instanceof HashOfMaps);
  outerHash.insert('GREEN', ebpf.map('inner_h'));
  assert.deepEqual([...outerHash.keys()], ['GREEN'], 'an enum key as its name');
  {
    using inner = outerHash.get('GREEN');
    assert.ok(inner instanceof HashMap);
    assert.equal(inner.get({ comm: 'ab' }), 42);
  }

  // A ring buffer's records decode through the same codec.
  using events = RingBuf.tryFrom(ebpf.map('events'));
  assert.deepEqual(events.next(btfCodec(ebpf.spec.btf!, 'struct record')), RECORD);
  assert.equal(events.next(), null);

  // Maps without BTF, names the object lacks.
  const legacy = thrown(() => ebpf.typedMap('legacy'));
  assert.ok(legacy instanceof BtfError);
  assert.equal(legacy.kind, 'TypeNotFound');
  assert.match(legacy.message, /typedMap\(legacy\): no BTF for the map's key/);
  assert.equal(thrown(() => ebpf.typedMap('nope')).kind, 'InvalidArgument');
});

test('Ebpf.typedMap: global data as a DATASEC object; a ring buffer refused as InvalidMapType', () => {
  using ebpf = Ebpf.load(obj('typed_globals.o'));
  const rodata = ebpf.typedMap('.rodata');
  assert.ok(rodata instanceof ArrayMap);
  assert.deepEqual(rodata.get(0), { enabled: false, tiny: -1, port: 80, offset: -5, big: 0x100000000n, tag: 'tsbpf', weights: [1, 2, 3, 4] });
  using exec = Ebpf.load(obj('execsnoop.o'));
  const ring = thrown(() => exec.typedMap('events'));
  assert.ok(ring instanceof MapError);
  assert.equal(ring.kind, 'InvalidMapType');
  assert.equal(exec.typedMap('.bss') instanceof ArrayMap, true);
  assert.deepEqual((exec.typedMap('.bss') as ArrayMap<BtfValue>).get(0), { dropped: 0n });
});

test('Ebpf.typedMap: an LPM trie, its key data as bytes (network order), its value from BTF', () => {
  using ebpf = Ebpf.load(obj('lpm_trie.o'));
  const trie = ebpf.typedMap('prefixes', LpmTrie);
  trie.insert({ prefixLen: 8, data: Uint8Array.of(10, 0, 0, 0) }, 7);
  assert.equal(trie.get({ prefixLen: 32, data: Uint8Array.of(10, 1, 2, 3) }), 7, 'the longest prefix that contains it');
  assert.deepEqual(ebpf.map('prefixes').lookup(Uint8Array.of(8, 0, 0, 0, 10, 0, 0, 0)), Uint8Array.of(7, 0, 0, 0));
});

test('btfCodec: BTF made by hand (fromTypes): legacy int bitfields, a packed struct, bools, floats', () => {
  const btf = Btf.fromTypes([
    { id: 0, kind: 'void' },
    { id: 1, kind: 'int', name: 'unsigned int', size: 4, encoding: 0, bitOffset: 0, bits: 32 },
    { id: 2, kind: 'int', name: 'bool', size: 1, encoding: 4, bitOffset: 0, bits: 8 },
    { id: 3, kind: 'float', name: 'double', size: 8 },
    { id: 4, kind: 'struct', name: 'packed', size: 13, members: [
      { name: 'b', type: 2, bitOffset: 0, bitfieldSize: 0 },
      { name: 'd', type: 3, bitOffset: 8, bitfieldSize: 0 },
      { name: 'u', type: 1, bitOffset: 72, bitfieldSize: 0 },
    ] },
    { id: 5, kind: 'int', name: 'unsigned __int128', size: 16, encoding: 0, bitOffset: 0, bits: 128 },
    // The old encoding of a bitfield: an int of 4 bits at bit 2 of its byte.
    { id: 6, kind: 'int', name: 'nibble', size: 1, encoding: 1, bitOffset: 2, bits: 4 },
  ]);
  const nibble = btfCodecOf<number>(btf, 6);
  assert.equal(nibble.size, 1);
  assert.deepEqual([...roundTrip(nibble, 5).bytes], [5 << 2]);
  assert.equal(roundTrip(nibble, -8).decoded, -8, 'signed');
  assert.throws(() => roundTrip(nibble, 8), /\[-8, 7\], got 8/);
  const packed = btfCodec(btf, 'packed');
  assert.equal(packed.size, 13);
  assert.equal(packed.align, 1);
  const v = { b: true, d: 1.5, u: 0xdeadbeef };
  const { decoded, bytes } = roundTrip(packed, v);
  assert.deepEqual(decoded, v);
  assert.equal(new DataView(bytes.buffer).getUint32(9, true), 0xdeadbeef);
  assert.equal(roundTrip(btfCodecOf<bigint>(btf, 5), (1n << 128n) - 1n).decoded, (1n << 128n) - 1n);
});

test('BtfMapOf: typedMap(name, C) is typed as C for every class (checked by tsc)', () => {
  type Eq<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
  const checks: [
    Eq<BtfMapOf<typeof ArrayMap>, ArrayMap<BtfValue>>,
    Eq<BtfMapOf<typeof HashMap>, HashMap<BtfValue, BtfValue>>,
    Eq<BtfMapOf<typeof PerCpuArray>, PerCpuArray<BtfValue>>,
    Eq<BtfMapOf<typeof PerCpuHashMap>, PerCpuHashMap<BtfValue, BtfValue>>,
    Eq<BtfMapOf<typeof ArrayOfMaps>, ArrayOfMaps<BtfTypedMap | MapData>>,
    Eq<BtfMapOf<typeof HashOfMaps>, HashOfMaps<BtfValue, BtfTypedMap | MapData>>,
    Eq<BtfMapOf<typeof Queue>, Queue<BtfValue>>,
    Eq<BtfMapOf<typeof Stack>, Stack<BtfValue>>,
    Eq<BtfMapOf<typeof BloomFilter>, BloomFilter<BtfValue>>,
    Eq<BtfMapOf<typeof LpmTrie>, LpmTrie<Uint8Array, BtfValue>>,
    Eq<BtfMapOf<typeof HashMap>, PerCpuHashMap<BtfValue, BtfValue>>,
  ] = [true, true, true, true, true, true, true, true, true, true, false];
  assert.equal(checks.length, 11);
});

test('no descriptors leak', () => {
  assert.equal(fdCount(), fdsAtStart);
});
