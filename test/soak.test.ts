// 30 seconds of the soak (test/soak.ts; `npm run soak -- --minutes 10` runs it longer):
// map operations, maps of maps, pins, loads and attachments mixed and repeated, with
// descriptors exactly flat and mappings and RSS within their bounds, in a child process
// (whose own descriptors are the ones counted). The verdict itself is tested first, on
// made-up samples, so that it is seen to fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { flatness, MAPPINGS_SLACK, RSS_SLACK_MIB, SOAK_NODE_FLAGS, type SoakResult, type SoakSample } from './soak.js';

const SOAK_SCRIPT = fileURLToPath(new URL('./soak.js', import.meta.url));

function samples(n: number, f: (i: number) => Partial<SoakSample>): SoakSample[] {
  return Array.from({ length: n }, (_, i) => ({ seconds: 5 * (i + 1), rounds: 100 * i, fds: 30, mappings: 300, rssMiB: 100, heapMiB: 40, ...f(i) }));
}

test('the verdict: flat figures pass; one extra descriptor, a jump or a steady growth of mappings or RSS fail', () => {
  assert.deepEqual(flatness(samples(10, (i) => ({ mappings: 300 + (i % 3), rssMiB: 100 + (i % 2) }))), []);
  assert.deepEqual(flatness(samples(10, (i) => ({ mappings: 280, rssMiB: 90 + (i % 2) }))), [], 'lower than after the warm-up is flat');
  assert.match(flatness(samples(10, (i) => ({ fds: i === 7 ? 31 : 30 }))).join(), /descriptors: 31/);
  assert.match(flatness(samples(10, (i) => ({ mappings: i === 9 ? 300 + MAPPINGS_SLACK + 1 : 300 }))).join(), /mappings: peak/);
  assert.match(flatness(samples(10, (i) => ({ rssMiB: 100 + i * (RSS_SLACK_MIB / 10) }))).join(), /RSS: the later half/);
  assert.match(flatness(samples(2, () => ({}))).join(), /too few/);
});

test('soak: 30 s of mixed operations, loads and attachments; descriptors exactly flat, mappings and RSS bounded', (t) => {
  // In a child process of its own, for the Node flags the soak runs with (SOAK_NODE_FLAGS).
  const r = spawnSync(process.execPath, [...SOAK_NODE_FLAGS, SOAK_SCRIPT, '--seconds', '30', '--sample-seconds', '5', '--json'], { encoding: 'utf8', timeout: 120_000 });
  const lines = r.stdout.trim().split('\n');
  for (const line of lines.slice(0, -1)) t.diagnostic(line);
  assert.equal(r.signal, null, `the soak was killed: ${r.signal}; ${r.stderr}`);
  const result = JSON.parse(lines.at(-1)!) as SoakResult;
  t.diagnostic(`attach branches run: ${result.attached.join(', ') || 'none'}; not on this kernel: ${result.notOnThisKernel.join(', ') || 'none'}`);
  assert.deepEqual(result.problems, []);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(result.samples.length >= 5, `${result.samples.length} samples`);
  const rounds = result.samples.at(-1)!.rounds;
  assert.ok(rounds > 0, 'at least one round');
  assert.equal(result.counts['load+close'], rounds);
  assert.equal(result.counts['ArrayOfMaps set+get+close'], rounds);
  assert.equal(result.counts['pin+fromPin+unpin'], rounds);
  for (const name of result.attached) assert.equal(result.counts[`attach+detach ${name}`], rounds, name);
  assert.equal(result.attached.length + result.notOnThisKernel.length, 3);
  assert.equal(result.fdsAfter, result.fdsBefore, 'the soak closed what it made');
});
