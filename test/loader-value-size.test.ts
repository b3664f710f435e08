// EbpfLoader.setValueSize (libbpf's bpf_map__set_value_size) on the real kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { EbpfLoader, MapError, PerCpuArray, StackTraceMap, array, possibleCpus, u64 } from '../src/index.js';
import { fdCount, thrown } from './helpers.js';

const fdsAtStart = fdCount();
const obj = (name: string) => fileURLToPath(new URL(`../../bpf/${name}.o`, import.meta.url));

test('setValueSize: a stack trace map made deeper at load, as libbpf-tools do', () => {
  const ebpf = new EbpfLoader().setValueSize('stacks', 127 * 8).load(obj('stack_trace'));
  try {
    const stacks = StackTraceMap.tryFrom(ebpf.map('stacks'));
    assert.equal(stacks.map.info().valueSize, 127 * 8);
    assert.deepEqual([...stacks.keys()], []);
  } finally {
    ebpf.close();
  }
});

test('setValueSize: a map with BTF types is created without them, and programs still use it', () => {
  const ebpf = new EbpfLoader().setValueSize('counts', 16).load(obj('percpu_maps'));
  try {
    const info = ebpf.map('counts').info();
    assert.equal(info.valueSize, 16);
    const counts = PerCpuArray.tryFrom(ebpf.map('counts'), array(u64, 2));
    ebpf.program('percpu_count').testRun({ ctx: new Uint8Array(8), flags: 1, cpu: 0 });
    const first = counts.get(0)[0]!;
    assert.deepEqual(first, [1n, 0n], 'the program counts in the first 8 bytes');
    assert.equal(counts.get(0).length, possibleCpus());
  } finally {
    ebpf.close();
  }
});

test('setValueSize: refused (typed) for a bad size, a missing map, a data section, a fixed-size type', () => {
  const fds = fdCount();
  assert.equal(thrown(() => new EbpfLoader().setValueSize('stacks', 0)).kind, 'InvalidArgument');
  assert.equal(thrown(() => new EbpfLoader().setValueSize('stacks', 1.5)).kind, 'InvalidArgument');
  assert.equal(thrown(() => new EbpfLoader().setValueSize(7 as never, 8)).kind, 'InvalidArgument');
  const missing = thrown(() => new EbpfLoader().setValueSize('nope', 8).load(obj('stack_trace')));
  assert.ok(missing instanceof MapError && missing.kind === 'InvalidArgument' && /no map named nope/.test(missing.message));
  const data = thrown(() => new EbpfLoader().setValueSize('.data', 64).load(obj('stack_trace')));
  assert.ok(data instanceof MapError && data.kind === 'NotSupported', String(data));
  const fixed = thrown(() => new EbpfLoader().setValueSize('outer', 8).load(obj('map_in_map')));
  assert.ok(fixed instanceof MapError && fixed.kind === 'InvalidArgument' && /ARRAY_OF_MAPS/.test(fixed.message), String(fixed));
  assert.equal(fdCount(), fds, 'refused before anything was made');
});

test('setValueSize: no descriptor left open', () => {
  assert.equal(fdCount(), fdsAtStart);
});
