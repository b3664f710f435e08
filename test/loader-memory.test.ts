// Failed loads hold nothing: thousands of loads failing in each way (parser, a check
// before the kernel, map creation, the verifier, extern resolution), measured after
// a forced garbage collection, in a child with --expose-gc (test/failed-loads.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { repoRoot } from './helpers.js';

interface Sample {
  heapUsed: number;
  external: number;
  rss: number;
  mappings: number;
  fds: number;
}

const MiB = 2 ** 20;
const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

test('failed loads hold no memory: 2 × 2,000 failed loads of five kinds leave heap, external memory, mappings and fds flat after GC', (t) => {
  const out = execFileSync(process.execPath, ['--expose-gc', resolve(repoRoot, 'dist/test/failed-loads.js'), '400'], { encoding: 'utf8', timeout: 120_000 });
  const r = JSON.parse(out) as { loads: number; outcomes: Record<string, string>; warm: Sample; noGc: Sample; first: Sample; second: Sample };
  t.diagnostic(`outcomes: ${JSON.stringify(r.outcomes)}`);
  const show = (s: Sample) => `heap ${mib(s.heapUsed)}, external ${mib(s.external)}, rss ${mib(s.rss)}, ${s.mappings} mappings, ${s.fds} fds`;
  t.diagnostic(`after warm-up:             ${show(r.warm)}`);
  t.diagnostic(`${r.loads} failures, no GC: ${show(r.noGc)}`);
  t.diagnostic(`after GC:                  ${show(r.first)}`);
  t.diagnostic(`${r.loads} more, after GC:  ${show(r.second)}`);
  // Every kind failed as it should (a load that succeeds would measure something else).
  assert.deepEqual(r.outcomes, {
    parse: 'ParseError Malformed',
    setGlobal: 'MapError InvalidArgument',
    mapCreate: 'MapError CreateError',
    verifier: 'ProgramError LoadError',
    extern: 'ProgramError UnresolvedExtern',
  });
  // Bounds a real leak exceeds: one 64 KiB verifier log buffer per failed verification
  // (400 of them) is 25 MiB; one error object with its message and stack per load
  // (2,000, a few KiB each) several MiB; one mapping per load 2,000 lines.
  for (const [from, to] of [[r.warm, r.first], [r.first, r.second]] as const) {
    assert.ok(to.heapUsed - from.heapUsed < 2 * MiB, `heap grew by ${mib(to.heapUsed - from.heapUsed)}`);
    assert.ok(to.external - from.external < 1 * MiB, `external memory grew by ${mib(to.external - from.external)}`);
    assert.ok(to.mappings - from.mappings < 50, `mappings grew by ${to.mappings - from.mappings}`);
    assert.equal(to.fds, from.fds, 'file descriptors');
  }
});
