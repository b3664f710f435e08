// Global variables after load (Ebpf.variable): .data and .bss read and written in
// their mapped memory, typed from BTF, seen by a program run; .rodata read by lookup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ebpf, EbpfLoader, MapError } from '../src/index.js';
import { bpfCalls, fdCount, thrown } from './helpers.js';
import { bpfMappings } from './fault-injector.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const obj = (name: string) => resolve(root, 'bpf', name);
const packet = new Uint8Array(64);
const fdsAtStart = fdCount();
const mappingsAtStart = bpfMappings().length;

test('globals.o: a program reads .data set from JS and writes .bss that JS reads, with no system call per access', () => {
  using ebpf = Ebpf.load(obj('globals.o'));
  const compute = ebpf.program('compute');
  const dataA = ebpf.variable<number>('data_a');
  const dataB = ebpf.variable<bigint>('data_b');
  const runs = ebpf.variable<bigint>('bss_runs');
  const last = ebpf.variable<number>('bss_last');
  const pair = ebpf.variable<{ lo: number; hi: number }>('bss_pair');
  assert.equal(dataA.section, '.data');
  assert.equal(runs.section, '.bss');
  assert.equal(dataA.typed, true);
  const calls = bpfCalls(() => {
    assert.equal(dataA.get(), 1);
    assert.equal(dataB.get(), 0x100000000n);
    assert.equal(runs.get(), 0n);
    assert.deepEqual(pair.get(), { lo: 0, hi: 0 });
    dataA.set(40);
    dataB.set(0x700000003n);
  });
  assert.deepEqual(calls, [], 'reads and writes touch memory only');
  // data_a + static_data + ro_a + ro_b + custom_data + custom_ro + (data_b >> 32)
  assert.equal(compute.testRun({ data: packet }).returnValue, 40 + 5 + 10 + 20 + 100 + 1000 + 7);
  assert.equal(runs.get(), 1n);
  assert.equal(last.get(), 1182);
  assert.deepEqual(pair.get(), { lo: 3, hi: 7 }, 'a struct, typed from BTF');
  assert.equal(dataA.get(), 41, 'the program incremented data_a');
  pair.set({ lo: 1, hi: 2 });
  assert.deepEqual([...pair.bytes], [1, 0, 0, 0, 2, 0, 0, 0], 'bytes: the memory itself');
  pair.bytes[0] = 9;
  assert.equal(pair.get().lo, 9);
  // The syscall view agrees with the mapping.
  const bss = ebpf.map('.bss').lookup(new Uint8Array(4))!;
  assert.equal(new DataView(bss.buffer).getUint32(pair.offset, true), 9);
  assert.equal(ebpf.variable('data_a'), dataA, 'one object per variable');
});

test('variable(): values are checked before anything is written; unknown names are typed', () => {
  using ebpf = Ebpf.load(obj('globals.o'));
  const a = ebpf.variable('data_a');
  assert.equal(thrown(() => a.set(2 ** 32)).kind, 'InvalidArgument');
  assert.equal(thrown(() => a.set('x' as never)).kind, 'InvalidArgument');
  assert.equal(thrown(() => a.set(new Uint8Array(3))).kind, 'InvalidValueSize');
  a.set(new Uint8Array([7, 0, 0, 0]));
  assert.equal(a.get(), 7);
  a.set(8n as never); // what setGlobal takes: a bigint for any integer
  assert.equal(a.get(), 8);
  const pair = ebpf.variable('bss_pair');
  pair.set({ lo: 5, hi: 6 });
  assert.equal(thrown(() => pair.set({ lo: 1, hi: -1 })).kind, 'InvalidArgument');
  assert.deepEqual(pair.get(), { lo: 5, hi: 6 }, 'a struct is written whole or not at all');
  assert.equal(thrown(() => pair.set({ lo: 1 } as never)).kind, 'InvalidArgument');
  assert.equal(thrown(() => ebpf.variable('nope')).kind, 'InvalidArgument');
});

test('.rodata: read (by lookup) typed from BTF, with the values set before load; set is NotSupported', () => {
  using ebpf = new EbpfLoader().setGlobal('port', 8080).setGlobal('enabled', true).setGlobal('tag', 'hi').load(obj('typed_globals.o'));
  assert.equal(ebpf.variable('port').get(), 8080);
  assert.equal(ebpf.variable('enabled').get(), true);
  assert.equal(ebpf.variable('tiny').get(), -1);
  assert.equal(ebpf.variable('offset').get(), -5);
  assert.equal(ebpf.variable('big').get(), 0x100000000n);
  assert.equal(ebpf.variable('tag').get(), 'hi', 'a char array reads as a string');
  assert.deepEqual(ebpf.variable('weights').get(), [1, 2, 3, 4]);
  const port = ebpf.variable('port');
  assert.equal(port.readOnly, true);
  const err = thrown(() => port.set(1));
  assert.ok(err instanceof MapError);
  assert.equal(err.kind, 'NotSupported');
  assert.equal(port.get(), 8080);
});

test('variables: closing the object unmaps the sections; a kept variable throws Closed', () => {
  const ebpf = Ebpf.load(obj('globals.o'));
  const a = ebpf.variable('data_a');
  a.set(3);
  assert.ok(bpfMappings().length > mappingsAtStart);
  ebpf.close();
  assert.equal(bpfMappings().length, mappingsAtStart);
  assert.equal(thrown(() => a.get()).kind, 'Closed');
  assert.equal(thrown(() => a.set(1)).kind, 'Closed');
});

test('variables: no descriptors or mappings leaked', () => {
  assert.equal(fdCount(), fdsAtStart);
  assert.equal(bpfMappings().length, mappingsAtStart);
});

test('variables of a section the kernel will not map are read by lookup and written by update', async () => {
  const { replaceKernel } = await import('../src/testing.js');
  using ebpf = Ebpf.load(obj('globals.o'));
  const restore = replaceKernel({ mmap: () => -22 });
  let a;
  try {
    a = ebpf.variable<number>('data_a');
  } finally {
    restore();
  }
  assert.equal(a.mapped, false);
  assert.equal(a.get(), 1);
  a.set(10);
  assert.equal(ebpf.program('compute').testRun({ data: packet }).returnValue, 10 + 5 + 10 + 20 + 100 + 1000 + 1);
  assert.equal(a.get(), 11, 'read back by lookup after the program wrote it');
  assert.deepEqual([...a.bytes], [11, 0, 0, 0]);
  assert.equal(ebpf.variable('bss_runs').mapped, true, 'the other sections are mapped as usual');
});
