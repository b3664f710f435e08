// BPF_PROG_QUERY on kernels that know fewer of its fields: a kernel refuses a nonzero
// attr field past its last one with EINVAL (prog_attach_flags came in 6.0, link_ids in
// 6.6), so a refused query is asked again with fewer of them. Older kernels are emulated
// through the seam by refusing exactly what they would refuse; test:kernels runs the
// same queries on a real 6.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync } from 'node:fs';
import { AttachType, SyscallError } from '../src/index.js';
import * as sys from '../src/sys/index.js';
import { replaceKernel } from '../src/testing.js';
import { cgroup2Root, fdCount } from './helpers.js';

const fdsAtStart = fdCount();
const PROG_QUERY = 16;

/**
 * Runs `fn` against a kernel that refuses the query pointers past `knownPointers`
 * (1: prog_ids only, before 6.0; 2: and prog_attach_flags, 6.0–6.5); returns the
 * pointer buffers each query passed (true where set).
 */
function asKernelKnowing(knownPointers: number, fn: () => void): boolean[][] {
  const real = sys.kernel;
  const queries: boolean[][] = [];
  const restore = replaceKernel({
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

test('a kernel before 6.6 (no link_ids): the query is asked again without link_ids', () => {
  let result: sys.ProgQueryResult | undefined;
  const queries = asKernelKnowing(2, () => {
    result = queryRoot();
  });
  assert.deepEqual(result!.linkIds.filter((id) => id !== 0), [], 'no link ids from such a kernel');
  assert.deepEqual(queries, [[true, true, true], [true, true, false]]);
});

test('a kernel before 6.0 (no prog_attach_flags either): only prog_ids', () => {
  const queries = asKernelKnowing(1, () => queryRoot());
  assert.deepEqual(queries, [[true, true, true], [true, true, false], [true, false, false]]);
});

test('an effective query never passes prog_attach_flags (the kernel refuses them together)', () => {
  const fd = openSync(cgroup2Root(), 'r');
  try {
    const queries = asKernelKnowing(3, () => sys.progQuery(fd, AttachType.CgroupInetIngress, 1 /* BPF_F_QUERY_EFFECTIVE */));
    assert.ok(queries.length >= 1);
    assert.deepEqual(queries.map((q) => q[1]), queries.map(() => false));
  } finally {
    closeSync(fd);
  }
});

test('an EINVAL for every layout ends in the typed error, after at most three queries', () => {
  let calls = 0;
  const restore = replaceKernel({
    bpf: (cmd) => {
      if (cmd === PROG_QUERY) calls++;
      return -sys.Errno.EINVAL;
    },
  });
  try {
    assert.throws(() => queryRoot(), (e: unknown) => e instanceof SyscallError && e.code === 'EINVAL');
  } finally {
    restore();
  }
  assert.equal(calls, 3);
});

test('this kernel: the query succeeds with the newest layout it knows', (t) => {
  const queries = asKernelKnowing(3, () => queryRoot());
  assert.ok(queries.length >= 1 && queries.length <= 3, `${queries.length} queries`);
  const asked = queries.at(-1)!;
  t.diagnostic(asked[2] ? 'this kernel reads link_ids (6.6+)' : asked[1] ? 'this kernel predates link_ids (6.0-6.5)' : 'this kernel predates prog_attach_flags');
});

test('no file descriptor leaked by this file', () => {
  assert.equal(fdCount(), fdsAtStart);
});
