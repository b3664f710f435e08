// Every public entry point of the loader, the programs (every kind's attach, load,
// testRun, pin) and the maps (MapData, typed maps, their options) driven with
// arguments of the wrong shape (test/api-shapes.ts): only tsbpf's typed errors come
// out. Run in a child in a fresh network namespace, so that a call that attaches
// touches no interface of the machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { repoRoot } from './helpers.js';
import type { Outcome } from './api-shapes.js';

test('wrong argument shapes (types, ranges, NUL, option fields) at every public entry point give typed errors only', (t) => {
  const out = execFileSync('unshare', ['--net', process.execPath, resolve(repoRoot, 'dist/test/api-shapes.js')], { encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20 });
  const r = JSON.parse(out) as Outcome;
  const ms = r.sweeps.reduce((n, s) => n + s.ms, 0);
  t.diagnostic(`${r.calls} calls at ${r.covered.length} entry points in ${(ms / 1000).toFixed(1)} s: ${JSON.stringify(r.outcomes)}`);
  const untyped = r.untyped.map((u) => `${u.count} × ${u.call}: ${u.error}`).join('\n');
  assert.equal(r.outcomes.untyped ?? 0, 0, `untyped errors:\n${untyped}`);
  assert.equal(r.fdsAfter, r.fdsBefore, 'no descriptor left behind');
  assert.deepEqual(r.uncovered, [], 'every public method taking arguments is driven');
  // The sweep reaches what it should: refusals of each family, and kinds loaded for real.
  assert.ok((r.outcomes['ProgramError InvalidArgument'] ?? 0) > 1000);
  assert.ok((r.outcomes['MapError InvalidArgument'] ?? 0) > 1000);
  assert.ok((r.outcomes['PinError InvalidPinPath'] ?? 0) > 100);
  for (const n of r.nul) {
    t.diagnostic(`${n.kind}: a name with NUL after a real one: ${n.loaded ? n.outcome : `${n.outcome} (this kernel does not load ${n.kind} programs)`}`);
    assert.equal(n.outcome, n.loaded ? 'ProgramError InvalidArgument' : 'ProgramError NotLoaded', n.kind);
  }
  assert.equal(r.nul.length, 5, 'every NUL case found its program kind in bpf/');
  for (const entry of ['Ebpf.load', 'EbpfLoader.setGlobal', 'MapData.create', 'ArrayMap.set', 'HashOfMaps.insert', 'PerfEvent(on_sample).attach', 'UProbe(on_return).attach', 'SocketFilter(sock_count).testRun']) {
    assert.ok(r.covered.includes(entry), `${entry} is driven`);
  }
});
