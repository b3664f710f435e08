// The map type table (MapType, mapTypeName, mapTypeInfo) and, for every type that can
// be created without BTF, a real BPF_MAP_CREATE whose info() is checked where the
// kernel has the type (the feature probe says which), and MapError NotSupported naming
// the type where it lacks or refuses it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { isMapTypeSupported, MapData, MapError, MapFlags, MapType, SyscallError, mapTypeInfo, mapTypeName, possibleCpus } from '../src/index.js';
import type { MapSpec } from '../src/index.js';
import { enumEntries, enumValues } from '../src/sys/abi/enums.js';
import { fdCount, bpfCalls, thrown } from './helpers.js';
import { assertMapRefused, branch } from './kernel-features.js';

const fdsAtStart = fdCount();


// enum bpf_map_type from include/uapi/linux/bpf.h.
const KERNEL_NAMES: readonly string[] = [
  'BPF_MAP_TYPE_UNSPEC',
  'BPF_MAP_TYPE_HASH',
  'BPF_MAP_TYPE_ARRAY',
  'BPF_MAP_TYPE_PROG_ARRAY',
  'BPF_MAP_TYPE_PERF_EVENT_ARRAY',
  'BPF_MAP_TYPE_PERCPU_HASH',
  'BPF_MAP_TYPE_PERCPU_ARRAY',
  'BPF_MAP_TYPE_STACK_TRACE',
  'BPF_MAP_TYPE_CGROUP_ARRAY',
  'BPF_MAP_TYPE_LRU_HASH',
  'BPF_MAP_TYPE_LRU_PERCPU_HASH',
  'BPF_MAP_TYPE_LPM_TRIE',
  'BPF_MAP_TYPE_ARRAY_OF_MAPS',
  'BPF_MAP_TYPE_HASH_OF_MAPS',
  'BPF_MAP_TYPE_DEVMAP',
  'BPF_MAP_TYPE_SOCKMAP',
  'BPF_MAP_TYPE_CPUMAP',
  'BPF_MAP_TYPE_XSKMAP',
  'BPF_MAP_TYPE_SOCKHASH',
  'BPF_MAP_TYPE_CGROUP_STORAGE',
  'BPF_MAP_TYPE_REUSEPORT_SOCKARRAY',
  'BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE',
  'BPF_MAP_TYPE_QUEUE',
  'BPF_MAP_TYPE_STACK',
  'BPF_MAP_TYPE_SK_STORAGE',
  'BPF_MAP_TYPE_DEVMAP_HASH',
  'BPF_MAP_TYPE_STRUCT_OPS',
  'BPF_MAP_TYPE_RINGBUF',
  'BPF_MAP_TYPE_INODE_STORAGE',
  'BPF_MAP_TYPE_TASK_STORAGE',
  'BPF_MAP_TYPE_BLOOM_FILTER',
  'BPF_MAP_TYPE_USER_RINGBUF',
  'BPF_MAP_TYPE_CGRP_STORAGE',
  'BPF_MAP_TYPE_ARENA',
];

test('MapType has every enum bpf_map_type value', () => {
  assert.deepEqual(
    { ...MapType },
    {
      Unspec: 0,
      Hash: 1,
      Array: 2,
      ProgArray: 3,
      PerfEventArray: 4,
      PercpuHash: 5,
      PercpuArray: 6,
      StackTrace: 7,
      CgroupArray: 8,
      LruHash: 9,
      LruPercpuHash: 10,
      LpmTrie: 11,
      ArrayOfMaps: 12,
      HashOfMaps: 13,
      Devmap: 14,
      Sockmap: 15,
      Cpumap: 16,
      Xskmap: 17,
      Sockhash: 18,
      CgroupStorage: 19,
      ReuseportSockarray: 20,
      PercpuCgroupStorage: 21,
      Queue: 22,
      Stack: 23,
      SkStorage: 24,
      DevmapHash: 25,
      StructOps: 26,
      Ringbuf: 27,
      InodeStorage: 28,
      TaskStorage: 29,
      BloomFilter: 30,
      UserRingbuf: 31,
      CgrpStorage: 32,
      Arena: 33,
    },
  );
  assert.equal(MapType.Array, 2);
  assert.equal(MapType.Hash, 1);
  assert.equal(MapType.ArrayOfMaps, 12);
  assert.equal(MapType.HashOfMaps, 13);
  assert.equal(MapType.Arena, 33);
});

test('mapTypeName gives the kernel name of every type', () => {
  for (let type = 0; type < KERNEL_NAMES.length; type++) {
    assert.equal(mapTypeName(type), KERNEL_NAMES[type], `type ${type}`);
  }
  assert.equal(mapTypeName(MapType.ArrayOfMaps), 'BPF_MAP_TYPE_ARRAY_OF_MAPS');
  assert.equal(mapTypeName(MapType.LruPercpuHash), 'BPF_MAP_TYPE_LRU_PERCPU_HASH');
  assert.equal(mapTypeName(MapType.DevmapHash), 'BPF_MAP_TYPE_DEVMAP_HASH');
});

test('mapTypeName of an unknown type names its number', () => {
  assert.equal(mapTypeName(34), 'map type 34');
  assert.equal(mapTypeName(99), 'map type 99');
  assert.equal(mapTypeName(-1), 'map type -1');
});

test('mapTypeInfo has a frozen row for every type, with its type and kernel name', () => {
  for (const [name, type] of enumEntries(MapType)) {
    const row = mapTypeInfo(type);
    assert.ok(row, name);
    assert.equal(row.type, type);
    assert.equal(row.kernelName, KERNEL_NAMES[type]);
    assert.match(row.since, /^\d+\.\d+$/, `${name}.since`);
    assert.ok(Object.isFrozen(row), `${name} row frozen`);
  }
  assert.equal(mapTypeInfo(34), undefined);
  assert.equal(mapTypeInfo(1000), undefined);
});

test('mapTypeInfo rows carry the kernel size rules', () => {
  assert.deepEqual({ ...mapTypeInfo(MapType.Hash) }, { type: 1, kernelName: 'BPF_MAP_TYPE_HASH', since: '3.19' });
  assert.deepEqual({ ...mapTypeInfo(MapType.Array) }, { type: 2, kernelName: 'BPF_MAP_TYPE_ARRAY', keySize: 4, since: '3.19' });
  assert.deepEqual(
    { ...mapTypeInfo(MapType.ArrayOfMaps) },
    { type: 12, kernelName: 'BPF_MAP_TYPE_ARRAY_OF_MAPS', keySize: 4, valueSizes: [4], fdValue: 'map', needsInnerMap: true, since: '4.12' },
  );
  assert.deepEqual(
    { ...mapTypeInfo(MapType.HashOfMaps) },
    { type: 13, kernelName: 'BPF_MAP_TYPE_HASH_OF_MAPS', valueSizes: [4], fdValue: 'map', needsInnerMap: true, since: '4.12' },
  );
  assert.deepEqual(
    { ...mapTypeInfo(MapType.PercpuArray) },
    { type: 6, kernelName: 'BPF_MAP_TYPE_PERCPU_ARRAY', keySize: 4, perCpu: true, since: '4.6' },
  );
  assert.deepEqual(mapTypeInfo(MapType.Devmap)?.valueSizes, [4, 8]);
  assert.deepEqual(mapTypeInfo(MapType.Ringbuf)?.valueSizes, [0]);
  assert.equal(mapTypeInfo(MapType.Ringbuf)?.keySize, 0);
  assert.equal(mapTypeInfo(MapType.Arena)?.keySize, 0);
  assert.deepEqual(mapTypeInfo(MapType.Arena)?.valueSizes, [0]);
  assert.equal(mapTypeInfo(MapType.Queue)?.keySize, 0);
  assert.equal(mapTypeInfo(MapType.BloomFilter)?.keySize, 0);
  assert.equal(mapTypeInfo(MapType.ProgArray)?.fdValue, 'prog');
  assert.equal(mapTypeInfo(MapType.PerfEventArray)?.fdValue, 'perf');
  assert.equal(mapTypeInfo(MapType.Sockhash)?.keySize, undefined);
});

test('only the map-in-map types need an inner map; only the per-CPU types are per-CPU', () => {
  const types = enumValues(MapType);
  assert.deepEqual(
    types.filter((t) => mapTypeInfo(t)?.needsInnerMap),
    [MapType.ArrayOfMaps, MapType.HashOfMaps],
  );
  assert.deepEqual(
    types.filter((t) => mapTypeInfo(t)?.perCpu),
    [MapType.PercpuHash, MapType.PercpuArray, MapType.LruPercpuHash, MapType.PercpuCgroupStorage],
  );
  assert.deepEqual(
    types.filter((t) => mapTypeInfo(t)?.fdValue === 'map'),
    [MapType.ArrayOfMaps, MapType.HashOfMaps],
  );
});

test('possibleCpus matches /sys/devices/system/cpu/possible', () => {
  const text = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
  let highest = 0;
  for (const part of text.split(',')) highest = Math.max(highest, ...part.split('-').map(Number));
  assert.equal(possibleCpus(), highest + 1);
  assert.ok(possibleCpus() >= 1);
});

// ---- real creation of every type that needs no BTF ----------------------------------

interface Case {
  spec: Omit<MapSpec, 'type'>;
  /** map_flags as the kernel reports them (it adds some). */
  flags?: number;
}

const inner: MapSpec = { type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 2 };

const creatable: Partial<Record<keyof typeof MapType & string, Case>> = {
  Hash: { spec: { keySize: 4, valueSize: 8, maxEntries: 16 } },
  Array: { spec: { keySize: 4, valueSize: 8, maxEntries: 16 } },
  ProgArray: { spec: { keySize: 4, valueSize: 4, maxEntries: 8 } },
  PerfEventArray: { spec: { keySize: 4, valueSize: 4, maxEntries: 8 } },
  PercpuHash: { spec: { keySize: 8, valueSize: 12, maxEntries: 16 } },
  PercpuArray: { spec: { keySize: 4, valueSize: 12, maxEntries: 16 } },
  StackTrace: { spec: { keySize: 4, valueSize: 8 * 16, maxEntries: 8 } },
  CgroupArray: { spec: { keySize: 4, valueSize: 4, maxEntries: 8 } },
  LruHash: { spec: { keySize: 4, valueSize: 8, maxEntries: 16 } },
  LruPercpuHash: { spec: { keySize: 4, valueSize: 8, maxEntries: 16 } },
  LpmTrie: { spec: { keySize: 8, valueSize: 4, maxEntries: 16, flags: MapFlags.BPF_F_NO_PREALLOC } },
  ArrayOfMaps: { spec: { keySize: 4, valueSize: 4, maxEntries: 4, innerMap: inner } },
  HashOfMaps: { spec: { keySize: 8, valueSize: 4, maxEntries: 4, innerMap: inner } },
  // dev_map_init_map() always adds BPF_F_RDONLY_PROG.
  Devmap: { spec: { keySize: 4, valueSize: 8, maxEntries: 4 }, flags: MapFlags.BPF_F_RDONLY_PROG },
  Sockmap: { spec: { keySize: 4, valueSize: 4, maxEntries: 4 } },
  Cpumap: { spec: { keySize: 4, valueSize: 4, maxEntries: 1 } },
  Xskmap: { spec: { keySize: 4, valueSize: 4, maxEntries: 4 } },
  Sockhash: { spec: { keySize: 8, valueSize: 8, maxEntries: 4 } },
  CgroupStorage: { spec: { keySize: 8, valueSize: 16, maxEntries: 0 } },
  ReuseportSockarray: { spec: { keySize: 4, valueSize: 8, maxEntries: 4 } },
  PercpuCgroupStorage: { spec: { keySize: 8, valueSize: 16, maxEntries: 0 } },
  Queue: { spec: { keySize: 0, valueSize: 8, maxEntries: 4 } },
  Stack: { spec: { keySize: 0, valueSize: 8, maxEntries: 4 } },
  DevmapHash: { spec: { keySize: 4, valueSize: 4, maxEntries: 4 }, flags: MapFlags.BPF_F_RDONLY_PROG },
  Ringbuf: { spec: { keySize: 0, valueSize: 0, maxEntries: 4096 } },
  BloomFilter: { spec: { keySize: 0, valueSize: 8, maxEntries: 64, mapExtra: 3 } },
  UserRingbuf: { spec: { keySize: 0, valueSize: 0, maxEntries: 8192 } },
  Arena: { spec: { keySize: 0, valueSize: 0, maxEntries: 2, flags: MapFlags.BPF_F_MMAPABLE } },
};

for (const [name, c] of Object.entries(creatable) as [keyof typeof MapType & string, Case][]) {
  test(`creates ${mapTypeName(MapType[name])} and info() reports it, or NotSupported where the kernel lacks the type`, async (t) => {
    const type = MapType[name];
    const mapName = `t${type}_${name}`.slice(0, 15);
    await branch(t, mapTypeName(type), isMapTypeSupported(type), () => {
      const map = MapData.create({ type, name: mapName, ...c.spec });
      try {
        const info = map.info();
        assert.equal(info.type, type);
        assert.equal(info.keySize, c.spec.keySize);
        assert.equal(info.valueSize, c.spec.valueSize);
        assert.equal(info.maxEntries, c.spec.maxEntries);
        assert.equal(info.flags, c.flags ?? c.spec.flags ?? 0);
        assert.equal(info.name, mapName);
        assert.equal(info.mapExtra, BigInt(c.spec.mapExtra ?? 0));
        assert.ok(info.id > 0);
        assert.equal(map.id, info.id);
        assert.equal(map.type, type);
        assert.equal(mapTypeName(map.type), KERNEL_NAMES[type]);
      } finally {
        map.close();
      }
    }, () => {
      const before = fdCount();
      const err = thrown(() => MapData.create({ type, name: mapName, ...c.spec }));
      assertMapRefused(err, KERNEL_NAMES[type]!);
      assert.equal(err.mapType, type);
      assert.ok(err.cause instanceof SyscallError, 'the kernel\'s refusal is the cause');
      assert.ok(err.message.includes(KERNEL_NAMES[type]!), err.message);
      assert.equal(fdCount(), before, 'the inner template of a map-in-map is closed too');
    });
  });
}

test('every type in the table is either created above or known to need BTF', () => {
  const needBtf = ['Unspec', 'SkStorage', 'StructOps', 'InodeStorage', 'TaskStorage', 'CgrpStorage'];
  const covered = new Set([...Object.keys(creatable), ...needBtf]);
  assert.deepEqual(Object.keys(MapType).filter((n) => !covered.has(n)), []);
});

test('local-storage and struct_ops maps without BTF: CreateError EINVAL from the kernel where it has the type, NotSupported where not', async (t) => {
  const cases: [number, Omit<MapSpec, 'type'>][] = [
    [MapType.SkStorage, { keySize: 4, valueSize: 8, maxEntries: 0, flags: MapFlags.BPF_F_NO_PREALLOC }],
    [MapType.InodeStorage, { keySize: 4, valueSize: 8, maxEntries: 0, flags: MapFlags.BPF_F_NO_PREALLOC }],
    [MapType.TaskStorage, { keySize: 4, valueSize: 8, maxEntries: 0, flags: MapFlags.BPF_F_NO_PREALLOC }],
    [MapType.CgrpStorage, { keySize: 4, valueSize: 8, maxEntries: 0, flags: MapFlags.BPF_F_NO_PREALLOC }],
    [MapType.StructOps, { keySize: 4, valueSize: 8, maxEntries: 1 }],
  ];
  for (const [type, spec] of cases) {
    const err = thrown(() => MapData.create({ type, ...spec }));
    await branch(t, mapTypeName(type), isMapTypeSupported(type), () => {
      assert.ok(err instanceof MapError, mapTypeName(type));
      assert.equal(err.kind, 'CreateError');
      assert.equal(err.call, 'bpf_map_create');
      assert.equal(err.code, 'EINVAL');
      assert.ok(err.cause instanceof SyscallError);
      assert.ok(err.message.includes(mapTypeName(type)), err.message);
    }, () => assertMapRefused(err, mapTypeName(type)));
  }
});

test('Unspec and an unknown type number reach the kernel and fail with EINVAL', () => {
  const unspec = thrown(() => MapData.create({ type: MapType.Unspec, keySize: 4, valueSize: 4, maxEntries: 1 }));
  assert.equal(unspec.kind, 'CreateError');
  assert.equal(unspec.code, 'EINVAL');
  assert.match(unspec.message, /BPF_MAP_TYPE_UNSPEC/);
  const unknown = thrown(() => MapData.create({ type: 99, keySize: 4, valueSize: 4, maxEntries: 1 }));
  assert.equal(unknown.kind, 'CreateError');
  assert.equal(unknown.call, 'bpf_map_create');
  assert.equal(unknown.code, 'EINVAL');
  assert.match(unknown.message, /map type 99/);
});

test('every fixed key size in the table is enforced before any syscall', () => {
  for (const type of enumValues(MapType)) {
    const row = mapTypeInfo(type)!;
    if (row.keySize === undefined) continue;
    const valueSize = row.valueSizes?.[0] ?? 4;
    let err: any;
    const calls = bpfCalls(() => {
      err = thrown(() => MapData.create({ type, keySize: row.keySize! + 1, valueSize, maxEntries: 1, innerMap: inner }));
    });
    assert.deepEqual(calls, [], row.kernelName);
    assert.ok(err instanceof MapError);
    assert.equal(err.kind, 'InvalidKeySize', row.kernelName);
    assert.equal(err.size, row.keySize + 1);
    assert.equal(err.expected, row.keySize);
    assert.equal(err.mapType, type);
  }
});

test('every restricted value size in the table is enforced before any syscall', () => {
  for (const type of enumValues(MapType)) {
    const row = mapTypeInfo(type)!;
    if (row.valueSizes === undefined) continue;
    let err: any;
    const calls = bpfCalls(() => {
      err = thrown(() => MapData.create({ type, keySize: row.keySize ?? 4, valueSize: 3, maxEntries: 1, innerMap: inner }));
    });
    assert.deepEqual(calls, [], row.kernelName);
    assert.equal(err.kind, 'InvalidValueSize', row.kernelName);
    assert.equal(err.size, 3);
    assert.deepEqual(err.expected, row.valueSizes);
    assert.equal(err.mapType, type);
  }
});

// ---- kernel semantics of some types, through the raw byte API ------------------------

test('Queue is FIFO and Stack is LIFO (lookup peeks); a full queue refuses with E2BIG', async (t) => {
  const has = isMapTypeSupported(MapType.Queue) && isMapTypeSupported(MapType.Stack);
  await branch(t, 'BPF_MAP_TYPE_QUEUE and BPF_MAP_TYPE_STACK', has, queueAndStack, () => {
    for (const type of [MapType.Queue, MapType.Stack]) {
      if (!isMapTypeSupported(type)) assertMapRefused(thrown(() => MapData.create({ type, keySize: 0, valueSize: 4, maxEntries: 3 })), mapTypeName(type));
    }
  });
});

function queueAndStack(): void {
  const none = new Uint8Array(0);
  const queue = MapData.create({ type: MapType.Queue, keySize: 0, valueSize: 4, maxEntries: 3 });
  const stack = MapData.create({ type: MapType.Stack, keySize: 0, valueSize: 4, maxEntries: 3 });
  try {
    for (const v of [7, 8, 9]) {
      queue.update(none, Uint8Array.of(v, 0, 0, 0));
      stack.update(none, Uint8Array.of(v, 0, 0, 0));
    }
    assert.deepEqual(queue.lookup(none), Uint8Array.of(7, 0, 0, 0));
    assert.deepEqual(stack.lookup(none), Uint8Array.of(9, 0, 0, 0));
    const err = thrown(() => queue.update(none, Uint8Array.of(10, 0, 0, 0)));
    assert.equal(err.kind, 'SyscallError');
    assert.equal(err.call, 'bpf_map_update_elem');
    assert.equal(err.code, 'E2BIG');
  } finally {
    queue.close();
    stack.close();
  }
}

test('Ringbuf size must be a power-of-two multiple of the page size', async (t) => {
  await branch(t, 'BPF_MAP_TYPE_RINGBUF', isMapTypeSupported(MapType.Ringbuf), ringbufSizes, () => {
    assertMapRefused(thrown(() => MapData.create({ type: MapType.Ringbuf, keySize: 0, valueSize: 0, maxEntries: 4096 })), 'BPF_MAP_TYPE_RINGBUF');
  });
});

function ringbufSizes(): void {
  const err = thrown(() => MapData.create({ type: MapType.Ringbuf, keySize: 0, valueSize: 0, maxEntries: 4096 + 100 }));
  assert.equal(err.kind, 'CreateError');
  assert.equal(err.code, 'EINVAL');
  const ok = MapData.create({ type: MapType.Ringbuf, keySize: 0, valueSize: 0, maxEntries: 4096 * 4 });
  try {
    assert.equal(ok.info().maxEntries, 16384);
  } finally {
    ok.close();
  }
}

test('LpmTrie without BPF_F_NO_PREALLOC is refused by the kernel', () => {
  const err = thrown(() => MapData.create({ type: MapType.LpmTrie, keySize: 8, valueSize: 4, maxEntries: 4 }));
  assert.equal(err.kind, 'CreateError');
  assert.equal(err.call, 'bpf_map_create');
  assert.equal(err.code, 'EINVAL');
});

test('per-CPU values hold one 8-byte-aligned slot per possible CPU', () => {
  const map = MapData.create({ type: MapType.PercpuArray, keySize: 4, valueSize: 12, maxEntries: 2 });
  try {
    assert.equal(map.valueBytes, 16 * possibleCpus());
    const value = new Uint8Array(map.valueBytes);
    for (let cpu = 0; cpu < possibleCpus(); cpu++) value[cpu * 16] = cpu + 1;
    map.update(Uint8Array.of(1, 0, 0, 0), value);
    assert.deepEqual(map.lookup(Uint8Array.of(1, 0, 0, 0)), value);
    assert.deepEqual(map.lookup(Uint8Array.of(0, 0, 0, 0)), new Uint8Array(16 * possibleCpus()));
  } finally {
    map.close();
  }
  const plain = MapData.create({ type: MapType.Array, keySize: 4, valueSize: 12, maxEntries: 1 });
  try {
    assert.equal(plain.valueBytes, 12);
  } finally {
    plain.close();
  }
});

test('no file descriptor leaked by this file', () => {
  assert.equal(fdCount(), fdsAtStart);
});
