// LpmTrie, Queue, Stack and BloomFilter on the real kernel, from user space and from
// BPF programs (test runs) that read what user space wrote and write what it reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { BloomFilter, ElemFlags, Ebpf, LpmTrie, MapError, MapFlags, MapType, Queue, Stack, bytes, isMapTypeSupported, u32, u64 } from '../src/index.js';
import { bpfCalls, fdCount, thrown } from './helpers.js';

const fdsAtStart = fdCount();
const obj = (name: string) => fileURLToPath(new URL(`../../bpf/${name}.o`, import.meta.url));

const ip = (s: string): Uint8Array => Uint8Array.from(s.split('.').map(Number));
/** A raw tracepoint test run's ctx: args[0], args[1]. */
function args(a0: number, a1 = 0): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint32(0, a0, true);
  v.setUint32(8, a1, true);
  return b;
}
/** The u32 of an IPv4 address's bytes as the program reads it (args[0]'s first 4 bytes). */
const ipArg = (s: string): number => new DataView(ip(s).buffer).getUint32(0, true);

/** Loads bpf/`name`.o where this kernel has map `type`, else asserts the loader's typed NotSupported. */
function withObject(name: string, type: number, body: (ebpf: Ebpf) => void): void {
  if (!isMapTypeSupported(type)) {
    const err = thrown(() => Ebpf.load(obj(name)).close());
    assert.ok(err instanceof MapError && err.kind === 'NotSupported', String(err));
    return;
  }
  const ebpf = Ebpf.load(obj(name));
  try {
    body(ebpf);
  } finally {
    ebpf.close();
  }
}

/** Where this kernel lacks `type`, asserts that the class's create is the typed NotSupported; else runs `body`. */
function where(type: number, create: () => { close(): void }, body: () => void): void {
  if (isMapTypeSupported(type)) return body();
  const err = thrown(() => create().close());
  assert.ok(err instanceof MapError && err.kind === 'NotSupported', String(err));
}

test('LpmTrie: longest-prefix match; create sets BPF_F_NO_PREALLOC; keys iterate', () => {
  where(MapType.LpmTrie, () => LpmTrie.create(4, u32, { maxEntries: 1 }), () => {
    const trie = LpmTrie.create(4, u32, { maxEntries: 16, name: 'lpm' });
    try {
      assert.equal(trie.map.info().flags & MapFlags.BPF_F_NO_PREALLOC, MapFlags.BPF_F_NO_PREALLOC);
      assert.equal(trie.map.keySize, 8);
      trie.insert({ prefixLen: 8, data: ip('10.0.0.0') }, 8);
      trie.insert({ prefixLen: 16, data: ip('10.1.0.0') }, 16);
      trie.insert({ prefixLen: 24, data: ip('10.1.2.0') }, 24);
      // A full-length key finds the longest prefix that holds it.
      assert.equal(trie.get({ prefixLen: 32, data: ip('10.1.2.3') }), 24);
      assert.equal(trie.get({ prefixLen: 32, data: ip('10.1.9.9') }), 16);
      assert.equal(trie.get({ prefixLen: 32, data: ip('10.200.0.1') }), 8);
      assert.equal(trie.get({ prefixLen: 20, data: ip('10.1.2.0') }), 16, 'a /20 is inside the /16, not the /24');
      assert.equal(thrown(() => trie.get({ prefixLen: 32, data: ip('11.0.0.1') })).kind, 'KeyNotFound');
      const keys = [...trie.keys()].map((k) => `${k.data.join('.')}/${k.prefixLen}`).sort();
      assert.deepEqual(keys, ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24']);
      assert.deepEqual([...trie.entries()].map(([, v]) => v).sort((a, b) => a - b), [8, 16, 24]);
      trie.remove({ prefixLen: 24, data: ip('10.1.2.0') });
      assert.equal(trie.get({ prefixLen: 32, data: ip('10.1.2.3') }), 16);
      // Refused before any syscall: a prefix longer than the data, the wrong data size.
      const calls = bpfCalls(() => {
        assert.equal(thrown(() => trie.insert({ prefixLen: 33, data: ip('10.0.0.0') }, 1)).kind, 'InvalidArgument');
        assert.equal(thrown(() => trie.get({ prefixLen: 8, data: new Uint8Array(5) })).kind, 'InvalidArgument');
        assert.equal(thrown(() => LpmTrie.create(0, u32, { maxEntries: 1 })).kind, 'InvalidArgument');
        assert.equal(thrown(() => LpmTrie.create(257, u32, { maxEntries: 1 })).kind, 'InvalidArgument');
      });
      assert.deepEqual(calls, []);
      assert.equal(thrown(() => LpmTrie.tryFrom(trie.map, 16, u32)).kind, 'InvalidKeySize');
    } finally {
      trie.close();
    }
  });
});

test('LpmTrie from a BPF program: the prefixes user space inserts match the addresses the program looks up', () => {
  withObject('lpm_trie', MapType.LpmTrie, (ebpf) => {
    const trie = LpmTrie.tryFrom(ebpf.map('prefixes'), bytes(4), u32);
    trie.insert({ prefixLen: 16, data: ip('192.168.0.0') }, 1);
    trie.insert({ prefixLen: 24, data: ip('192.168.7.0') }, 2);
    const prog = ebpf.program('lpm_lookup');
    const look = (a: string): number => prog.testRun({ ctx: args(ipArg(a)) }).returnValue;
    assert.equal(look('192.168.7.200'), 2);
    assert.equal(look('192.168.8.1'), 1);
    assert.equal(look('192.169.0.1'), 0xffffffff);
  });
});

test('Queue: FIFO push/pop/peek; empty gives null; full is E2BIG unless BPF_EXIST drops the oldest', () => {
  where(MapType.Queue, () => Queue.create(u32, { maxEntries: 1 }), () => {
    const q = Queue.create(u64, { maxEntries: 3 });
    try {
      assert.equal(q.map.keySize, 0);
      assert.equal(q.pop(), null);
      assert.equal(q.peek(), null);
      q.push(1n);
      q.push(2n);
      q.push(3n);
      const full = thrown(() => q.push(4n));
      assert.ok(full instanceof MapError && full.kind === 'SyscallError' && full.code === 'E2BIG');
      q.push(4n, ElemFlags.BPF_EXIST); // drops 1
      assert.equal(q.peek(), 2n);
      assert.equal(q.pop(), 2n);
      assert.deepEqual([...q.drain()], [3n, 4n]);
      assert.equal(q.pop(), null);
      assert.equal(thrown(() => q.push(-1n)).kind, 'InvalidArgument');
    } finally {
      q.close();
    }
  });
});

test('Stack: LIFO push/pop/peek', () => {
  where(MapType.Stack, () => Stack.create(u32, { maxEntries: 1 }), () => {
    const s = Stack.create(u32, { maxEntries: 4 });
    try {
      for (const v of [1, 2, 3]) s.push(v);
      assert.equal(s.peek(), 3);
      assert.equal(s.pop(), 3);
      assert.deepEqual([...s.drain()], [2, 1]);
      assert.equal(s.pop(), null);
      assert.equal(thrown(() => Stack.tryFrom(s.map, u64)).kind, 'InvalidValueSize');
      assert.equal(thrown(() => Queue.tryFrom(s.map, u32)).kind, 'InvalidMapType');
    } finally {
      s.close();
    }
  });
});

test('Queue and Stack from a BPF program: what the program pushes, user space pops, and the other way', () => {
  withObject('queue_stack', MapType.Queue, (ebpf) => {
    const fifo = Queue.tryFrom(ebpf.map('fifo'), u32);
    const lifo = Stack.tryFrom(ebpf.map('lifo'), u32);
    const push = ebpf.program('queue_push');
    for (const v of [10, 20, 30]) assert.equal(push.testRun({ ctx: args(v) }).returnValue, 0);
    assert.deepEqual([...fifo.drain()], [10, 20, 30]);
    assert.deepEqual([...lifo.drain()], [30, 20, 10]);
    fifo.push(77);
    fifo.push(88);
    const pop = ebpf.program('queue_pop');
    assert.equal(pop.testRun({ ctx: args(0) }).returnValue, 77);
    assert.equal(pop.testRun({ ctx: args(0) }).returnValue, 88);
    assert.equal(pop.testRun({ ctx: args(0) }).returnValue, 0xffffffff);
  });
});

test('BloomFilter: contains is true for what was inserted, false for most of what was not; map_extra sets the hash count', () => {
  where(MapType.BloomFilter, () => BloomFilter.create(u32, { maxEntries: 1 }), () => {
    const bloom = BloomFilter.create(u32, { maxEntries: 1000, hashFunctions: 4 });
    try {
      assert.equal(bloom.map.keySize, 0);
      assert.equal(bloom.map.info().mapExtra, 4n);
      for (let i = 0; i < 100; i++) bloom.insert(i * 7);
      for (let i = 0; i < 100; i++) assert.equal(bloom.contains(i * 7), true);
      let falsePositives = 0;
      for (let i = 0; i < 1000; i++) if (bloom.contains(1_000_000 + i)) falsePositives++;
      assert.ok(falsePositives < 100, `${falsePositives} false positives in 1000`);
      assert.equal(thrown(() => BloomFilter.create(u32, { maxEntries: 1, hashFunctions: 16 })).kind, 'InvalidArgument');
      assert.equal(thrown(() => bloom.insert('x' as never)).kind, 'InvalidArgument');
    } finally {
      bloom.close();
    }
  });
});

test('BloomFilter from a BPF program: values user space inserts are seen by bpf_map_peek_elem', () => {
  withObject('bloom_filter', MapType.BloomFilter, (ebpf) => {
    const bloom = BloomFilter.tryFrom(ebpf.map('bloom'), u32);
    assert.equal(bloom.map.info().mapExtra, 3n);
    const check = ebpf.program('bloom_check');
    assert.equal(check.testRun({ ctx: args(12345) }).returnValue, 0);
    bloom.insert(12345);
    assert.equal(check.testRun({ ctx: args(12345) }).returnValue, 1);
    assert.equal(bloom.contains(12345), true);
  });
});

test('lpm/queue/stack/bloom: no descriptor left open', () => {
  assert.equal(fdCount(), fdsAtStart);
});
