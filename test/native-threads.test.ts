// Map operations from 4 worker threads on the same maps, tsbpf loaded in each: the
// addon's per-descriptor knowledge is one process-wide table (native/fds.c), so every
// thread's calls race on it. Values read back equal values written, entries written by
// one thread are whole when another reads them, descriptor numbers closed and remade
// with other value sizes while another thread uses them never let the kernel write
// past a buffer, nothing crashes, and no descriptor leaks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArrayMap, HashMap, u32, u64 } from '../src/index.js';
import { fdCount, runInWorker } from './helpers.js';
import type { ThreadsReport, ThreadsWork } from './native-threads-worker.js';

const WORKERS = 4;
const KEYS = 256;

test(`${WORKERS} worker threads on the same maps: right values, no overflow, no crash, no fd leak`, async (t) => {
  const before = fdCount();
  const hash = HashMap.create(u32, u64, { maxEntries: WORKERS * KEYS });
  const array = ArrayMap.create(u64, { maxEntries: WORKERS * KEYS });
  const published = new Int32Array(new SharedArrayBuffer(4 * WORKERS)).fill(-1);
  try {
    const url = new URL('./native-threads-worker.js', import.meta.url);
    const reports = await Promise.all(
      Array.from({ length: WORKERS }, (_, worker) =>
        runInWorker<ThreadsReport>(url, {
          worker,
          workers: WORKERS,
          hashId: hash.map.id,
          arrayId: array.map.id,
          iterations: 6000,
          published,
          // One worker pushes its own maps past the first 4096 numbers while the others run.
          highFds: worker === 0 ? 4200 : 0,
        } satisfies ThreadsWork, 240_000),
      ),
    );
    for (const r of reports) {
      t.diagnostic(`worker ${r.worker}: ${r.ownChecked} own checks, ${r.othersChecked} cross-thread reads, ${r.churned} maps remade, stale-number lookups ${JSON.stringify(r.stale)}`);
      assert.equal(r.error, undefined, `worker ${r.worker}: ${r.error}`);
      assert.equal(r.ownWrong, 0, `worker ${r.worker}: values read back differ from values written`);
      assert.equal(r.othersWrong, 0, `worker ${r.worker}: another thread's entry was not whole`);
      assert.equal(r.smashed, 0, `worker ${r.worker}: a lookup wrote past its buffer`);
      assert.ok(r.ownChecked === 6000 && r.churned > 0);
      // A stale number names a small map, a big one (refused), or nothing: nothing else.
      for (const outcome of Object.keys(r.stale)) assert.ok(['ok', 'RangeError', '-9', '-2', '-22'].includes(outcome), `worker ${r.worker}: ${outcome}`);
    }
    const stale = reports.reduce((s, r) => s + Object.values(r.stale).reduce((a, b) => a + b, 0), 0);
    assert.ok(stale > 0, 'the workers used each other\'s churned numbers');
    // Every worker's last round is in the maps, as this thread sees them.
    for (let w = 0; w < WORKERS; w++) {
      for (let i = 6000 - KEYS; i < 6000; i++) {
        const key = w * KEYS + (i % KEYS);
        const v = (BigInt(key) << 32n) | BigInt(i);
        assert.equal(hash.get(key), v);
        assert.equal(array.get(key), v);
      }
    }
  } finally {
    hash.close();
    array.close();
  }
  // Each worker's own event loop descriptors go when its thread ends (runInWorker terminates it without waiting).
  for (let i = 0; i < 100 && fdCount() > before; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(fdCount(), before, 'no descriptor leaked');
});
