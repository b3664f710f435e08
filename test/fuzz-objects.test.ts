// The object fuzz in CI (test/fuzz-objects.ts has the engine; `npm run fuzz` runs it
// for longer): mutated corpus and bpf/ objects, mutated BTF and random bytes through
// ObjectSpec.parse, Ebpf.load and Btf.parse, in a child process in a memory cgroup.
// Then every input that once failed (test/fuzz-regressions/) is replayed, a test each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { formatSummary, HANG_MS, REGRESSIONS, runFuzz, SLOW_MS, type FuzzSummary } from './fuzz-objects.js';

const CI_INPUTS = 20_000;
const CI_SEED = 0x7eb9f;

/** The outcomes that are not a typed error or a clean parse/load. */
const FAILED = ['untyped', 'hang', 'crash'];

function report(s: FuzzSummary): string {
  return s.failures.map((f) => `#${f.index} ${f.outcome}: ${f.label}\n${f.detail}`).join('\n\n');
}

test(`object fuzz: ${CI_INPUTS} inputs through ObjectSpec.parse, Ebpf.load and Btf.parse end in a typed error or a clean load, each under ${SLOW_MS} ms, no fd left`, async (t) => {
  const s = await runFuzz({ seed: CI_SEED, count: CI_INPUTS });
  t.diagnostic(`memory cgroup: ${s.cgroup}`);
  t.diagnostic(formatSummary(s));
  t.diagnostic(`${s.slowOnce} inputs passed ${SLOW_MS} ms once and ${s.hangsOnce} ${HANG_MS} ms once (a busy machine), and neither when run again alone; fds in the child ${s.fdsBefore} before, ${s.fdsAfter} after`);
  assert.ok(!s.cgroup.startsWith('none'), `the loads run in a memory cgroup: ${s.cgroup}`);
  assert.equal(s.failures.length, 0, report(s));
  assert.equal(s.inputs, CI_INPUTS);
  for (const outcome of FAILED) assert.equal(s.outcomes[outcome], undefined, outcome);
  assert.equal(s.fdsAfter, s.fdsBefore, 'every descriptor a case made is closed');
  // The mutations reach every stage: the ELF and BTF checks, the kernel, the size checks.
  const at = (prefix: string) => Object.entries(s.outcomes).filter(([k]) => k.startsWith(prefix)).reduce((n, [, v]) => n + v, 0);
  assert.ok(at('ParseError') > CI_INPUTS / 10, 'ParseError');
  assert.ok(at('BtfError') > CI_INPUTS / 50, 'BtfError');
  assert.ok(at('loaded') > CI_INPUTS / 50, 'loads that succeed');
  assert.ok(at('ProgramError LoadError') > 0, 'verifier rejections');
  assert.ok(at('MapError TooLarge') > 0, 'absurd map sizes refused before the kernel');
});

test('fuzz regressions: every input that once failed ends in a typed error or a clean load, under 1 s', async (t) => {
  const files = readdirSync(REGRESSIONS).filter((f) => /\.(o|btf)$/.test(f)).sort();
  assert.ok(files.length > 0);
  const s = await runFuzz({ seed: 0, count: files.length, files: files.map((f) => join(REGRESSIONS, f)) });
  t.diagnostic(`memory cgroup: ${s.cgroup}`);
  assert.equal(s.cases.length, files.length, report(s));
  for (const c of s.cases) {
    await t.test(c.label, (st) => {
      assert.ok(!FAILED.includes(c.outcome), `${c.label}: ${c.outcome}\n${report(s)}`);
      st.diagnostic(`${c.outcome} in ${c.ms.toFixed(1)} ms`);
    });
  }
  assert.equal(s.failures.length, 0, report(s));
  assert.equal(s.fdsAfter, s.fdsBefore);
});
