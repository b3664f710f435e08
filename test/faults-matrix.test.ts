// The fault-injection matrix: every kernel call of loading, map operations and attaching
// (test/fault-scenarios.ts) fails in turn with EPERM, ENOMEM, EINVAL, EAGAIN, E2BIG,
// EBADF and EINTR, and each run ends in a typed tsbpf error (never a bare SyscallError:
// that is the raw layer's) or a correct result, leaving no descriptor, BPF mapping, pin
// or attachment behind (test/fault-injector.ts). An undo call (close, detach, unregister)
// the kernel refuses may leave state only with a typed error that says so ('stuck').
//
// CI runs the scenarios marked ci, network ones on a sample of their calls; TSBPF_FAULTS=all
// (or `npm run faults -- --all`, which prints the table) runs every scenario and call.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as sys from '../src/sys/index.js';
import { DEFECTS, defectLines, runScenario, tally, type Injection } from './fault-injector.js';
import { closeShared, scenarios } from './fault-scenarios.js';
import { openFds } from './gc.js';

const all = process.env.TSBPF_FAULTS === 'all';
const REAL_KERNEL = sys.kernel;
const fdsAtStart = openFds();
const every: Injection[] = [];
const started = Date.now();

for (const s of scenarios().filter((x) => all || x.ci)) {
  test(`faults: ${s.name}`, async (t) => {
    const r = await runScenario(s, { all });
    every.push(...r.injections);
    const counts = tally(r.injections);
    t.diagnostic(`${r.calls.length} calls, ${r.injections.length} injections: ${Object.entries(counts).filter(([, n]) => n).map(([k, n]) => `${n} ${k}`).join(', ')} (${r.ms} ms)`);
    assert.equal(sys.kernel, REAL_KERNEL, 'the seam is restored');
    assert.ok(r.calls.length > 0, 'the scenario makes kernel calls');
    assert.deepEqual(defectLines(r.injections), [], 'every failure typed or recovered, nothing left behind');
    assert.equal(r.cleanAfter, '', 'the scenario still runs as before once the injections are over');
  });
}

test('faults: totals', (t) => {
  const counts = tally(every);
  t.diagnostic(`${every.length} injections (${all ? 'every scenario and call' : 'CI set'}) in ${Date.now() - started} ms: ${Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(', ')}`);
  for (const outcome of DEFECTS) assert.equal(counts[outcome], 0, outcome);
  assert.ok(counts.typed > 0 && counts.recovered > 0, 'both outcomes occur: the matrix exercises errors and retries/fallbacks');
});

after(async () => {
  await closeShared();
});

test('faults: no descriptor left by this file', async () => {
  await closeShared();
  const now = openFds();
  const changed = [...now].filter(([fd, target]) => fdsAtStart.get(fd) !== target).map(([fd, target]) => `${fd} -> ${target}`);
  assert.equal(now.size, fdsAtStart.size, `descriptors left open by this file (new or reused: ${changed.join(', ') || 'none'})`);
});
