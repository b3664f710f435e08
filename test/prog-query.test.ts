// BPF_PROG_QUERY on kernels that know fewer of its fields: a kernel refuses a nonzero
// attr field past its last one with EINVAL (prog_attach_flags came in 6.0, link_ids in
// 6.6), so the query must set only what the kernel reads. Older kernels are emulated
// through the seam by refusing exactly what they would refuse; test:kernels runs the
// same queries on a real 6.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { AttachType, clearFeatureCache, SyscallError, sys } from '../src/index.js';
import { fdCount } from './helpers.js';

const fdsAtStart = fdCount();
const PROG_QUERY = 16;

function cgroup2Root(): string {
  const line = readFileSync('/proc/self/mounts', 'utf8').split('\n').find((l) => l.split(' ')[2] === 'cgroup2');
  assert.ok(line, 'cgroup v2 is mounted');
  return line.split(' ')[1]!;
}

/**
 * Runs `fn` against a kernel that refuses the query pointers past `knownPointers`
 * (1: prog_ids only, before 6.0; 2: and prog_attach_flags, 6.0–6.5); returns the
 * pointer buffers each query passed (true where set).
 */
function asKernelKnowing(knownPointers: number, fn: () => void): boolean[][] {
  const real = sys.kernel;
  const queries: boolean[][] = [];
  const restore = sys.replaceKernel({
    bpf: (cmd, attr, mask, ...buffers) => {
      if (cmd !== PROG_QUERY) return real.bpf(cmd, attr, mask, ...buffers);
      queries.push(buffers.map((b) => b !== undefined));
      if (buffers.slice(knownPointers).some((b) => b !== undefined)) return -sys.Errno.EINVAL;
      return real.bpf(cmd, attr, mask, ...buffers);
    },
  });
  try {
    fn();
  } finally {
    restore();
  }
  return queries;
}

function queryRoot(): sys.ProgQueryResult {
  const fd = openSync(cgroup2Root(), 'r');
  try {
    return sys.progQuery(fd, AttachType.CgroupInetIngress);
  } finally {
    closeSync(fd);
  }
}

test('a kernel before 6.6 (no link_ids): the query leaves link_ids out, learnt once', (t) => {
  clearFeatureCache();
  t.after(() => clearFeatureCache());
  let result: sys.ProgQueryResult | undefined;
  const queries = asKernelKnowing(2, () => {
    result = queryRoot();
    queryRoot();
  });
  assert.deepEqual(result!.linkIds.filter((id) => id !== 0), [], 'no link ids from such a kernel');
  // Two probes (all fields: refused; without link_ids: reaches the lookup), then two real queries.
  assert.deepEqual(queries, [[true, true, true], [true, true], [true, true, false], [true, true, false]]);
});

test('a kernel before 6.0 (no prog_attach_flags either): only prog_ids', (t) => {
  clearFeatureCache();
  t.after(() => clearFeatureCache());
  const queries = asKernelKnowing(1, () => queryRoot());
  assert.deepEqual(queries.at(-1), [true, false, false]);
});

test('an EINVAL for everything (a fault, not a kernel fact) is not learnt', (t) => {
  clearFeatureCache();
  t.after(() => clearFeatureCache());
  const restore = sys.replaceKernel({ bpf: () => -sys.Errno.EINVAL });
  try {
    assert.throws(() => queryRoot(), (e: unknown) => e instanceof SyscallError && e.code === 'EINVAL');
  } finally {
    restore();
  }
  // Probed again: the first query asks for every field, then the real one follows.
  const queries = asKernelKnowing(3, () => queryRoot());
  assert.deepEqual(queries[0], [true, true, true]);
  assert.ok(queries.length >= 2);
  const asked = queries.at(-1)!;
  t.diagnostic(asked[2] ? 'this kernel reads link_ids (6.6+)' : asked[1] ? 'this kernel predates link_ids (6.0-6.5)' : 'this kernel predates prog_attach_flags');
});

test('no file descriptor leaked by this file', () => {
  assert.equal(fdCount(), fdsAtStart);
});
