// MapData on the real kernel: create (every field and error), fromId/fromFd/fromPin,
// info, pin, freeze, close, and the raw byte operations with their size checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, rmSync } from 'node:fs';
import { ElemFlags, MapData, MapError, MapFlags, MapType, PinError, SyscallError, possibleCpus } from '../src/index.js';
import * as sys from '../src/sys/index.js';
import type { MapSpec } from '../src/index.js';
import { bpffsDir, fdCount, bpfCalls, thrown, refusedBeforeSyscall, bpfFds, isOpen, le32, le64 } from './helpers.js';

const fdsAtStart = fdCount();



const arraySpec: MapSpec = { type: MapType.Array, keySize: 4, valueSize: 8, maxEntries: 4 };
const hashSpec: MapSpec = { type: MapType.Hash, keySize: 4, valueSize: 8, maxEntries: 4 };

// ---- create ---------------------------------------------------------------------------

test('create with every field: info() reports id, type, sizes, flags, name', () => {
  const map = MapData.create({
    type: MapType.Hash,
    keySize: 8,
    valueSize: 16,
    maxEntries: 32,
    flags: MapFlags.BPF_F_NO_PREALLOC,
    name: 'tsbpf_map.1',
    numaNode: 0,
  });
  try {
    const info = map.info();
    assert.ok(Number.isInteger(info.id) && info.id > 0);
    assert.deepEqual(info, {
      id: info.id,
      type: MapType.Hash,
      keySize: 8,
      valueSize: 16,
      maxEntries: 32,
      // numaNode sets BPF_F_NUMA_NODE.
      flags: MapFlags.BPF_F_NO_PREALLOC | MapFlags.BPF_F_NUMA_NODE,
      name: 'tsbpf_map.1',
      btfId: 0,
      mapExtra: 0n,
    });
    assert.equal(map.id, info.id);
    assert.equal(map.type, MapType.Hash);
    assert.equal(map.keySize, 8);
    assert.equal(map.valueSize, 16);
    assert.equal(map.maxEntries, 32);
    assert.equal(map.flags, 5);
    assert.equal(map.name, 'tsbpf_map.1');
    assert.equal(map.valueBytes, 16);
    // info() returns a copy.
    const copy = map.info();
    copy.maxEntries = 1;
    assert.equal(map.info().maxEntries, 32);
  } finally {
    map.close();
  }
});

test('create: two maps get distinct ids; a 15-character name is kept whole', () => {
  const a = MapData.create({ ...arraySpec, name: 'abcdefghijklmno' });
  const b = MapData.create({ ...arraySpec, name: '' });
  try {
    assert.notEqual(a.id, b.id);
    assert.equal(a.info().name, 'abcdefghijklmno');
    assert.equal(b.info().name, '');
  } finally {
    a.close();
    b.close();
  }
});

test('create: mapExtra reaches the kernel (bloom filter hash count), as a number or a bigint', () => {
  const a = MapData.create({ type: MapType.BloomFilter, keySize: 0, valueSize: 4, maxEntries: 100, mapExtra: 3 });
  const b = MapData.create({ type: MapType.BloomFilter, keySize: 0, valueSize: 4, maxEntries: 100, mapExtra: 5n });
  try {
    assert.equal(a.info().mapExtra, 3n);
    assert.equal(a.info().type, MapType.BloomFilter);
    assert.equal(b.info().mapExtra, 5n);
  } finally {
    a.close();
    b.close();
  }
});

test('create: numaNode of a node that does not exist is refused by the kernel', () => {
  const err = thrown(() => MapData.create({ ...arraySpec, numaNode: 4000 }));
  assert.equal(err.kind, 'CreateError');
  assert.equal(err.code, 'EINVAL');
});

test('create: InvalidName before any syscall', () => {
  const errorNames: string[] = [];
  for (const name of ['abcdefghijklmnop', 'a'.repeat(40), 'bad-name', 'has space', 'slash/x', 'é', 'a\0b']) {
    const err = refusedBeforeSyscall(() => MapData.create({ ...arraySpec, name }), 'InvalidName');
    assert.ok(err.message.includes(JSON.stringify(name)), err.message);
    errorNames.push(err.name);
  }
  refusedBeforeSyscall(() => MapData.create({ ...arraySpec, name: 42 as unknown as string }), 'InvalidName');
  // Error.prototype.name of every MapError is 'MapError' (stack traces and logs start with it).
  assert.deepEqual(errorNames, Array(7).fill('MapError'));
});

test('create: InvalidKeySize from the table before any syscall (Array with keySize 8)', () => {
  const err = refusedBeforeSyscall(() => MapData.create({ ...arraySpec, keySize: 8 }), 'InvalidKeySize');
  assert.equal(err.size, 8);
  assert.equal(err.expected, 4);
  assert.equal(err.mapType, MapType.Array);
  assert.match(err.message, /BPF_MAP_TYPE_ARRAY needs key size 4, got 8/);
});

test('create: InvalidValueSize from the table before any syscall (ArrayOfMaps with valueSize 8)', () => {
  const err = refusedBeforeSyscall(
    () => MapData.create({ type: MapType.ArrayOfMaps, keySize: 4, valueSize: 8, maxEntries: 2, innerMap: arraySpec }),
    'InvalidValueSize',
  );
  assert.equal(err.size, 8);
  assert.deepEqual(err.expected, [4]);
  assert.equal(err.mapType, MapType.ArrayOfMaps);
});

test('create: InvalidArgument for a missing innerMap and malformed numbers, before any syscall', () => {
  refusedBeforeSyscall(() => MapData.create({ type: MapType.ArrayOfMaps, keySize: 4, valueSize: 4, maxEntries: 2 }), 'InvalidArgument');
  refusedBeforeSyscall(() => MapData.create({ type: MapType.HashOfMaps, keySize: 4, valueSize: 4, maxEntries: 2 }), 'InvalidArgument');
  const bad: Partial<Record<keyof MapSpec, unknown>>[] = [
    { keySize: 4.5 },
    { keySize: -1 },
    { valueSize: 2 ** 32 },
    { valueSize: '8' },
    { maxEntries: NaN },
    { maxEntries: undefined },
    { type: '2' },
    { type: -2 },
    { flags: 1.5 },
    { flags: -1 },
    { numaNode: -1 },
    { numaNode: 0.5 },
  ];
  for (const patch of bad) {
    const err = refusedBeforeSyscall(() => MapData.create({ ...hashSpec, ...patch } as MapSpec), 'InvalidArgument');
    assert.match(err.message, /must be an integer/, JSON.stringify(patch));
  }
  refusedBeforeSyscall(() => MapData.create(null as unknown as MapSpec), 'InvalidArgument');
  refusedBeforeSyscall(() => MapData.create('hash' as unknown as MapSpec), 'InvalidArgument');
});

test('create: an invalid mapExtra is a MapError InvalidArgument before any syscall', () => {
  // The doc of create: "Throws MapError ... 'InvalidArgument' before the call".
  refusedBeforeSyscall(() => MapData.create({ type: MapType.BloomFilter, keySize: 0, valueSize: 4, maxEntries: 8, mapExtra: -1 }), 'InvalidArgument');
  refusedBeforeSyscall(() => MapData.create({ type: MapType.BloomFilter, keySize: 0, valueSize: 4, maxEntries: 8, mapExtra: 1.5 }), 'InvalidArgument');
});

test('create: CreateError with call bpf_map_create and code EINVAL from the kernel (Array, maxEntries 0)', () => {
  let err: any;
  const calls = bpfCalls(() => {
    err = thrown(() => MapData.create({ ...arraySpec, maxEntries: 0, name: 'zero' }));
  });
  assert.deepEqual(calls, [sys.Cmd.MapCreate]);
  assert.ok(err instanceof MapError);
  assert.equal(err.kind, 'CreateError');
  assert.equal(err.call, 'bpf_map_create');
  assert.equal(err.code, 'EINVAL');
  assert.equal(err.errno, 22);
  assert.ok(err.cause instanceof SyscallError);
  assert.equal(err.cause.call, 'bpf_map_create');
  assert.equal(err.cause.code, 'EINVAL');
  assert.match(err.message, /cannot create BPF_MAP_TYPE_ARRAY 'zero'/);
  // Other kernel refusals: value size 0 on an array, unknown flags.
  assert.equal(thrown(() => MapData.create({ ...arraySpec, valueSize: 0 })).code, 'EINVAL');
  assert.equal(thrown(() => MapData.create({ ...arraySpec, flags: 1 << 30 })).kind, 'CreateError');
});

test('create: a spec template is closed whether the outer map is created or refused', () => {
  const before = fdCount();
  const outer = MapData.create({ type: MapType.ArrayOfMaps, keySize: 4, valueSize: 4, maxEntries: 2, innerMap: arraySpec });
  assert.equal(fdCount(), before + 1);
  outer.close();
  assert.equal(fdCount(), before);
  const err = thrown(() => MapData.create({ type: MapType.ArrayOfMaps, keySize: 4, valueSize: 4, maxEntries: 0, innerMap: arraySpec }));
  assert.equal(err.kind, 'CreateError');
  assert.equal(fdCount(), before);
  // A bad template spec fails as itself.
  const bad = thrown(() => MapData.create({ type: MapType.ArrayOfMaps, keySize: 4, valueSize: 4, maxEntries: 2, innerMap: { ...arraySpec, keySize: 2 } }));
  assert.equal(bad.kind, 'InvalidKeySize');
  assert.equal(fdCount(), before);
});

test('create: innerMap as MapData or { map } is used, not closed', () => {
  const inner = MapData.create(arraySpec);
  try {
    const a = MapData.create({ type: MapType.ArrayOfMaps, keySize: 4, valueSize: 4, maxEntries: 2, innerMap: inner });
    const b = MapData.create({ type: MapType.HashOfMaps, keySize: 8, valueSize: 4, maxEntries: 2, innerMap: { map: inner } });
    try {
      assert.equal(inner.closed, false);
      assert.equal(a.info().type, MapType.ArrayOfMaps);
      assert.equal(b.info().type, MapType.HashOfMaps);
      a.update(le32(1), le32(inner.fd));
      assert.deepEqual(a.lookup(le32(1)), le32(inner.id));
    } finally {
      a.close();
      b.close();
    }
  } finally {
    inner.close();
  }
});

// ---- the map's metadata -----------------------------------------------------------------

test('getters agree with the kernel for flags the kernel adjusts', () => {
  // The kernel drops BPF_F_RDONLY (an fd property) and adds BPF_F_RDONLY_PROG to devmaps.
  const rdonly = MapData.create({ ...arraySpec, flags: MapFlags.BPF_F_RDONLY });
  const devmap = MapData.create({ type: MapType.Devmap, keySize: 4, valueSize: 4, maxEntries: 1 });
  try {
    assert.equal(rdonly.flags, 0, 'flags getter of a fresh BPF_F_RDONLY map');
    assert.equal(devmap.flags, MapFlags.BPF_F_RDONLY_PROG, 'flags getter of a fresh devmap');
    assert.equal(rdonly.info().flags, 0);
    assert.equal(devmap.info().flags, MapFlags.BPF_F_RDONLY_PROG);
  } finally {
    rdonly.close();
    devmap.close();
  }
});

// ---- fromId / fromFd / fromPin ----------------------------------------------------------------

test('fromId opens the same map on a new descriptor that outlives the first', () => {
  const map = MapData.create({ ...hashSpec, name: 'by_id' });
  const id = map.id;
  map.update(le32(7), le64(70n));
  const same = MapData.fromId(id);
  try {
    assert.notEqual(same.fd, map.fd);
    assert.deepEqual(same.info(), map.info());
    assert.equal(same.name, 'by_id');
    assert.equal(same.keySize, 4);
    map.close();
    assert.deepEqual(same.lookup(le32(7)), le64(70n));
    assert.equal(same.id, id);
  } finally {
    map.close();
    same.close();
  }
});

test('fromId: SyscallError ENOENT for an id with no map, InvalidArgument for a bad id', () => {
  const err = thrown(() => MapData.fromId(0x7ffffff0));
  assert.ok(err instanceof MapError);
  assert.equal(err.kind, 'SyscallError');
  assert.equal(err.call, 'bpf_map_get_fd_by_id');
  assert.equal(err.code, 'ENOENT');
  assert.ok(err.cause instanceof SyscallError);
  for (const id of [-1, 1.5, NaN, 2 ** 32, '3']) refusedBeforeSyscall(() => MapData.fromId(id as number), 'InvalidArgument');
});

test('fromFd takes ownership of a raw map descriptor', () => {
  const fd = sys.mapCreate({ mapType: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 3 });
  assert.ok(isOpen(fd));
  const map = MapData.fromFd(fd);
  assert.equal(map.fd, fd);
  assert.equal(map.type, MapType.Array);
  assert.equal(map.maxEntries, 3);
  map.update(le32(2), le32(22));
  assert.deepEqual(map.lookup(le32(2)), le32(22));
  map.close();
  assert.equal(isOpen(fd), false, 'close() closed the adopted descriptor');
  assert.equal(map.closed, true);
});

test('fromFd: InvalidMapType for a descriptor that is not a map, InvalidArgument for a bad one', () => {
  const file = openSync('/proc/self/stat', 'r');
  try {
    const err = refusedBeforeSyscall(() => MapData.fromFd(file), 'InvalidMapType');
    assert.match(err.message, /not a BPF map/);
    assert.ok(isOpen(file), 'the caller keeps a refused descriptor');
  } finally {
    closeSync(file);
  }
  for (const fd of [-1, 1.5, NaN, 2 ** 31, '3']) refusedBeforeSyscall(() => MapData.fromFd(fd as number), 'InvalidArgument');
  // A number that is not an open descriptor.
  const err = refusedBeforeSyscall(() => MapData.fromFd(65000), 'InvalidArgument');
  assert.match(err.message, /not open/);
});

test('pin and fromPin: the pinned map outlives its descriptor and reopens with its contents', (t) => {
  const dir = bpffsDir('map-data-pin');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = `${dir}/hash`;
  const map = MapData.create({ ...hashSpec, name: 'pinned' });
  const id = map.id;
  map.update(le32(1), le64(11n));
  map.pin(path);
  assert.equal(map.closed, false, 'pin does not close a MapData');
  map.close();
  const again = MapData.fromPin(path);
  try {
    assert.equal(again.id, id);
    assert.equal(again.name, 'pinned');
    assert.deepEqual(again.lookup(le32(1)), le64(11n));
  } finally {
    again.close();
  }
});

test('fromPin: PinError SyscallError ENOENT for a missing path, InvalidPinPath for a relative one', () => {
  const dir = bpffsDir('map-data-missing');
  try {
    const err = thrown(() => MapData.fromPin(`${dir}/nothing-here`));
    assert.ok(err instanceof PinError);
    assert.equal(err.kind, 'SyscallError');
    assert.equal(err.call, 'bpf_obj_get');
    assert.equal(err.code, 'ENOENT');
    assert.equal(err.path, `${dir}/nothing-here`);
    assert.ok(err.cause instanceof SyscallError);
    for (const path of ['relative/path', '', 'a\0b']) {
      const e = thrown(() => MapData.fromPin(path));
      assert.ok(e instanceof PinError);
      assert.equal(e.kind, 'InvalidPinPath');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fromPin of a pinned program: InvalidMapType and the opened descriptor is not leaked', (t) => {
  const dir = bpffsDir('map-data-prog');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // BPF_PROG_TYPE_SOCKET_FILTER: r0 = 0; exit.
  const insns = Uint8Array.of(0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0);
  const prog = sys.progLoad({ progType: 1, insns, license: 'GPL' });
  try {
    sys.objPin(prog, `${dir}/prog`);
  } finally {
    sys.kernel.close(prog);
  }
  const before = bpfFds();
  const err = thrown(() => MapData.fromPin(`${dir}/prog`));
  assert.ok(err instanceof MapError);
  assert.equal(err.kind, 'InvalidMapType');
  const leaked = bpfFds().filter((fd) => !before.includes(fd));
  // Close what leaked so the file's final descriptor check reports only other leaks.
  for (const fd of leaked) closeSync(fd);
  assert.deepEqual(leaked, [], 'descriptor from BPF_OBJ_GET closed');
});

test('pin: InvalidPinPath off bpffs, in a missing directory, relative or empty', () => {
  const map = MapData.create(arraySpec);
  try {
    const cases: [string, RegExp][] = [
      ['/tmp/tsbpf-not-bpffs', /not on a bpf filesystem/],
      ['/sys/fs/bpf/tsbpf-no-such-dir/x/map', /not accessible \(ENOENT\)/],
      ['relative/map', /must be absolute/],
      ['', /non-empty/],
    ];
    for (const [path, message] of cases) {
      let err: any;
      const calls = bpfCalls(() => {
        err = thrown(() => map.pin(path));
      });
      assert.deepEqual(calls, [], path);
      assert.ok(err instanceof PinError, path);
      assert.equal(err.kind, 'InvalidPinPath');
      assert.equal(err.path, path);
      assert.match(err.message, message);
    }
    assert.equal(existsSync('/tmp/tsbpf-not-bpffs'), false);
  } finally {
    map.close();
  }
});

test('pin: the same path twice is PinError SyscallError EEXIST from bpf_obj_pin', (t) => {
  const dir = bpffsDir('map-data-twice');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const a = MapData.create(arraySpec);
  const b = MapData.create(arraySpec);
  try {
    a.pin(`${dir}/m`);
    for (const map of [a, b]) {
      const err = thrown(() => map.pin(`${dir}/m`));
      assert.ok(err instanceof PinError);
      assert.equal(err.kind, 'SyscallError');
      assert.equal(err.call, 'bpf_obj_pin');
      assert.equal(err.code, 'EEXIST');
      assert.equal(err.errno, 17);
      assert.equal(err.path, `${dir}/m`);
    }
    const pinned = MapData.fromPin(`${dir}/m`);
    try {
      assert.equal(pinned.id, a.id);
    } finally {
      pinned.close();
    }
  } finally {
    a.close();
    b.close();
  }
});

// ---- freeze -----------------------------------------------------------------------------

test('freeze: writes fail with EPERM, reads still work, a second freeze fails (EPERM or EBUSY by kernel)', () => {
  const map = MapData.create(hashSpec);
  try {
    map.update(le32(1), le64(1n));
    map.freeze();
    const err = thrown(() => map.update(le32(1), le64(2n)));
    assert.ok(err instanceof MapError);
    assert.equal(err.kind, 'SyscallError');
    assert.equal(err.call, 'bpf_map_update_elem');
    assert.equal(err.code, 'EPERM');
    assert.equal(err.errno, 1);
    const del = thrown(() => map.delete(le32(1)));
    assert.equal(del.call, 'bpf_map_delete_elem');
    assert.equal(del.code, 'EPERM');
    assert.deepEqual(map.lookup(le32(1)), le64(1n));
    assert.deepEqual([...map.keys()], [le32(1)]);
    const again = thrown(() => map.freeze());
    assert.equal(again.kind, 'SyscallError');
    assert.equal(again.call, 'bpf_map_freeze');
    // Which check comes first differs between kernels: 6.1 answers "already frozen"
    // (EBUSY), 6.12 and later "not writable" (EPERM).
    assert.ok(again.code === 'EPERM' || again.code === 'EBUSY', String(again.code));
  } finally {
    map.close();
  }
});

// ---- raw byte operations --------------------------------------------------------------------

test('raw ops on a hash: lookup, update with flags, delete, nextKey, keys', () => {
  const map = MapData.create(hashSpec);
  try {
    assert.equal(map.lookup(le32(1)), undefined);
    assert.equal(map.nextKey(null), undefined);
    assert.deepEqual([...map.keys()], []);
    map.update(le32(1), le64(10n));
    map.update(le32(2), le64(20n), ElemFlags.BPF_NOEXIST);
    map.update(le32(3), le64(30n), ElemFlags.BPF_ANY);
    map.update(le32(3), le64(33n), ElemFlags.BPF_EXIST);
    assert.deepEqual(map.lookup(le32(1)), le64(10n));
    assert.deepEqual(map.lookup(le32(3)), le64(33n));
    const noexist = thrown(() => map.update(le32(1), le64(0n), ElemFlags.BPF_NOEXIST));
    assert.equal(noexist.code, 'EEXIST');
    assert.equal(noexist.call, 'bpf_map_update_elem');
    const exist = thrown(() => map.update(le32(9), le64(0n), ElemFlags.BPF_EXIST));
    assert.equal(exist.code, 'ENOENT');
    // Walk the keys by hand and with keys().
    const walked: number[] = [];
    for (let k = map.nextKey(null); k !== undefined; k = map.nextKey(k)) walked.push(new DataView(k.buffer).getUint32(0, true));
    assert.deepEqual(walked.sort(), [1, 2, 3]);
    assert.deepEqual([...map.keys()].map((k) => k[0]).sort(), [1, 2, 3]);
    // A key not in the map restarts from the first key.
    assert.notEqual(map.nextKey(le32(99)), undefined);
    assert.equal(map.delete(le32(2)), true);
    assert.equal(map.delete(le32(2)), false);
    assert.equal(map.lookup(le32(2)), undefined);
    assert.deepEqual([...map.keys()].map((k) => k[0]).sort(), [1, 3]);
    // Full map (max_entries 4).
    map.update(le32(4), le64(4n));
    map.update(le32(5), le64(5n));
    const full = thrown(() => map.update(le32(6), le64(6n)));
    assert.equal(full.code, 'E2BIG');
  } finally {
    map.close();
  }
});

test('raw ops on an array: every index exists, delete is EINVAL, nextKey ends at max_entries', () => {
  const map = MapData.create(arraySpec);
  try {
    assert.deepEqual(map.lookup(le32(3)), new Uint8Array(8));
    assert.equal(map.lookup(le32(4)), undefined, 'past the end: absent');
    map.update(le32(3), le64(0xffff_ffff_ffffn));
    assert.deepEqual(map.lookup(le32(3)), le64(0xffff_ffff_ffffn));
    assert.deepEqual([...map.keys()].map((k) => k[0]), [0, 1, 2, 3]);
    assert.equal(map.nextKey(le32(3)), undefined);
    assert.deepEqual(map.nextKey(le32(1)), le32(2));
    const del = thrown(() => map.delete(le32(0)));
    assert.equal(del.kind, 'SyscallError');
    assert.equal(del.call, 'bpf_map_delete_elem');
    assert.equal(del.code, 'EINVAL');
    const oob = thrown(() => map.update(le32(4), le64(1n)));
    assert.equal(oob.code, 'E2BIG');
  } finally {
    map.close();
  }
});

test('raw ops check key and value sizes before any syscall', () => {
  const map = MapData.create(hashSpec);
  try {
    const k3 = refusedBeforeSyscall(() => map.lookup(new Uint8Array(3)), 'InvalidKeySize');
    assert.equal(k3.size, 3);
    assert.equal(k3.expected, 4);
    refusedBeforeSyscall(() => map.lookup(new Uint8Array(5)), 'InvalidKeySize');
    refusedBeforeSyscall(() => map.lookup([1, 0, 0, 0] as unknown as Uint8Array), 'InvalidKeySize');
    refusedBeforeSyscall(() => map.lookup(null as unknown as Uint8Array), 'InvalidKeySize');
    refusedBeforeSyscall(() => map.update(new Uint8Array(8), le64(1n)), 'InvalidKeySize');
    refusedBeforeSyscall(() => map.delete(new Uint8Array(2)), 'InvalidKeySize');
    refusedBeforeSyscall(() => map.nextKey(new Uint8Array(1)), 'InvalidKeySize');
    const v = refusedBeforeSyscall(() => map.update(le32(1), new Uint8Array(4)), 'InvalidValueSize');
    assert.equal(v.size, 4);
    assert.equal(v.expected, 8);
    refusedBeforeSyscall(() => map.update(le32(1), new Uint8Array(9)), 'InvalidValueSize');
    refusedBeforeSyscall(() => map.update(le32(1), 7n as unknown as Uint8Array), 'InvalidValueSize');
    assert.deepEqual([...map.keys()], []);
  } finally {
    map.close();
  }
});

test('raw ops on a per-CPU hash take one 8-byte slot per possible CPU', () => {
  const cpus = possibleCpus();
  const map = MapData.create({ type: MapType.PercpuHash, keySize: 4, valueSize: 4, maxEntries: 4 });
  try {
    assert.equal(map.valueBytes, 8 * cpus);
    const value = new Uint8Array(8 * cpus);
    for (let cpu = 0; cpu < cpus; cpu++) value[cpu * 8] = 0x10 + cpu;
    map.update(le32(1), value);
    assert.deepEqual(map.lookup(le32(1)), value);
    const err = refusedBeforeSyscall(() => map.update(le32(2), new Uint8Array(4)), 'InvalidValueSize');
    assert.equal(err.expected, 8 * cpus);
  } finally {
    map.close();
  }
});

// ---- close ------------------------------------------------------------------------------

test('close: idempotent, releases the descriptor, later use is MapError Closed', () => {
  const before = fdCount();
  const map = MapData.create({ ...arraySpec, name: 'closing' });
  const fd = map.fd;
  assert.equal(fdCount(), before + 1);
  assert.equal(map.toString(), `MapData(fd ${fd})`);
  map.close();
  map.close();
  assert.equal(fdCount(), before);
  assert.equal(map.closed, true);
  assert.equal(map.toString(), 'MapData(closed)');
  const ops: (() => unknown)[] = [
    () => map.fd,
    () => map.lookup(le32(0)),
    () => map.update(le32(0), le64(0n)),
    () => map.delete(le32(0)),
    () => map.nextKey(null),
    () => map.info(),
    () => map.freeze(),
    () => map.pin('/sys/fs/bpf/tsbpf-closed-map'),
  ];
  for (const op of ops) {
    const err = refusedBeforeSyscall(op, 'Closed');
    assert.match(err.message, /closing/);
  }
  // Symbol.dispose closes too.
  const other = MapData.create(arraySpec);
  other[Symbol.dispose]();
  assert.equal(other.closed, true);
  assert.equal(fdCount(), before);
});

test('no file descriptor leaked by this file', () => {
  assert.equal(fdCount(), fdsAtStart);
});
