// Crash consistency (test/crash.ts; `npm run crash -- --kills 2000` runs longer): 200
// children writing pinned maps and replacing pins are killed with SIGKILL at random
// points; every acknowledged update is found, no pin is half-made, and fromPin takes
// everything back. The checker itself is tested first, so that it is seen to fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ArrayMap, HashMap, MapData, MapType, u32, u64 } from '../src/index.js';
import { apply, initialState, opAt } from './crash-ops.js';
import { Inconsistent, judge, observe, runCrashConsistency, setUpPins } from './crash.js';
import { bpffsDir, fdCount } from './helpers.js';

test('the checker: a lost acknowledged update, a pin of the wrong shape, an unknown pin are each caught', (t) => {
  const before = fdCount();
  const dir = bpffsDir('crash-checker');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const innerIds = setUpPins(dir, false);
  const state = initialState();
  // Operation 7 (a counter) acknowledged; the map does not have it.
  apply(state, opAt(7, false), 0);
  assert.equal(opAt(7, false).kind, 'counter');
  const lost = (() => {
    try {
      judge(observe(dir, innerIds, false), state, opAt(8, false));
    } catch (err) {
      return err;
    }
  })();
  assert.ok(lost instanceof Inconsistent, String(lost));
  assert.match(lost.message, /counters\[\d+\]: found "0n"/);

  // Written: now the state matches, with operation 8 (an insert) not done, then done.
  const op7 = opAt(7, false);
  if (op7.kind !== 'counter') assert.fail();
  const counters = ArrayMap.tryFrom(MapData.fromPin(join(dir, 'counters')), u64, { owned: true });
  counters.set(op7.index, op7.value);
  assert.deepEqual(judge(observe(dir, innerIds, false), state, opAt(8, false)), { outcome: 'not done', id: 0 });
  const op8 = opAt(8, false);
  if (op8.kind !== 'insert') assert.fail(op8.kind);
  const table = HashMap.tryFrom(MapData.fromPin(join(dir, 'table')), u32, u64, { owned: true });
  table.insert(op8.key, op8.value);
  assert.equal(judge(observe(dir, innerIds, false), state, opAt(8, false)).outcome, 'done');
  table.close();

  // A map of another shape where gen belongs: half-made, as far as the checker can tell.
  const wrong = MapData.create({ type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 2 });
  wrong.pin(join(dir, 'gen'));
  wrong.close();
  assert.throws(() => observe(dir, innerIds, false), (err: Error) => err instanceof Inconsistent && /pin gen: valueSize 4, expected 8/.test(err.message));
  rmSync(join(dir, 'gen'));

  // A name the operations never make.
  const stray = HashMap.create(u32, u64, { maxEntries: 8 });
  stray.pin(join(dir, 'p9'));
  assert.throws(() => observe(dir, innerIds, false), /unexpected pin p9/);
  counters.close();
  assert.equal(fdCount(), before);
});

test('crash consistency: 200 SIGKILLs of a child updating pinned maps and replacing pins; every acknowledged update found, no pin half-made', async (t) => {
  const r = await runCrashConsistency({ kills: 200, lanes: 2, log: (line) => t.diagnostic(line) });
  t.diagnostic(
    `${r.kills} kills in ${(r.durationMs / 1000).toFixed(1)} s (seed ${r.seed}): ${r.acknowledged} acknowledged operations; in flight at the kill: ` +
      `done ${r.inFlightDone}, not done ${r.inFlightNotDone}, half-way ${r.inFlightHalfway}; before the first acknowledgement ${r.killedBeforeFirstAck}; ` +
      `a child's start ${r.childStartMs} ms (median); CPU ${r.cpuSeconds} s (this process and its children)`,
  );
  t.diagnostic(r.links ? 'branch: link pins included (perf_event links)' : 'branch: this kernel has no perf_event links: map pins only');
  assert.equal(r.kills, 200);
  assert.equal(r.inFlightDone + r.inFlightNotDone + r.inFlightHalfway, 200);
  assert.ok(r.acknowledged > 0);
  // Kills landed on both sides of an operation: before it took effect and after.
  assert.ok(r.inFlightDone > 0 && r.inFlightNotDone > 0, `done ${r.inFlightDone}, not done ${r.inFlightNotDone}`);
  assert.equal(r.fdsAfter, r.fdsBefore, 'every check closed what it opened');
});
