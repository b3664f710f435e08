// One worker of test/native-threads.test.ts: tsbpf loaded in this thread, working on
// maps shared with the other workers, making and closing maps of its own, and using
// the descriptor numbers the others publish while they close and remake them.
import { openSync, closeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { ArrayMap, HashMap, MapData, MapError, u32, u64 } from '../src/index.js';
import * as sys from '../src/sys/index.js';

export interface ThreadsWork {
  worker: number;
  workers: number;
  hashId: number;
  arrayId: number;
  iterations: number;
  /** Int32Array over a SharedArrayBuffer: slot w holds the fd number worker w churns (-1 none). */
  published: Int32Array;
  /** Push descriptor numbers above this before making maps (the size cache's second chunk). */
  highFds: number;
}

export interface ThreadsReport {
  worker: number;
  ownChecked: number;
  /** A value read back differed from the one written. */
  ownWrong: number;
  othersChecked: number;
  /** Another worker's entry did not encode its own key. */
  othersWrong: number;
  /** Maps made and closed by this worker. */
  churned: number;
  /** Raw lookups on the numbers other workers churn, by outcome. */
  stale: Record<string, number>;
  /** Guard bytes around a raw lookup's buffer changed. */
  smashed: number;
  error?: string;
}

const KEYS = 256;
const SMALL = 8;
const BIG = 4096;

function run(w: ThreadsWork): ThreadsReport {
  const report: ThreadsReport = { worker: w.worker, ownChecked: 0, ownWrong: 0, othersChecked: 0, othersWrong: 0, churned: 0, stale: {}, smashed: 0 };
  const hash = HashMap.tryFrom(MapData.fromId(w.hashId), u32, u64, { owned: true });
  const array = ArrayMap.tryFrom(MapData.fromId(w.arrayId), u64, { owned: true });
  const filler: number[] = [];
  for (let i = 0; i < w.highFds; i++) filler.push(openSync('/dev/null', 'r'));
  const k = sys.kernel;
  const attr = new Uint8Array(32);
  const av = new DataView(attr.buffer);
  const backing = new Uint8Array(SMALL + 32).fill(0xc3);
  const value = backing.subarray(16, 16 + SMALL);
  let churn: MapData | undefined;
  try {
    for (let i = 0; i < w.iterations; i++) {
      // Own entries: the value encodes key and round; read back exactly.
      const key = w.worker * KEYS + (i % KEYS);
      const v = (BigInt(key) << 32n) | BigInt(i);
      hash.insert(key, v);
      array.set(key, v);
      report.ownChecked++;
      if (hash.get(key) !== v || array.get(key) !== v) report.ownWrong++;
      // Another worker's entry, if written yet, encodes its key.
      const other = ((w.worker + 1 + (i % (w.workers - 1))) % w.workers) * KEYS + ((i * 7) % KEYS);
      let got: bigint | undefined;
      try {
        got = hash.get(other);
      } catch (err) {
        if (!(err instanceof MapError && err.kind === 'KeyNotFound')) throw err;
      }
      if (got !== undefined) {
        report.othersChecked++;
        if (got >> 32n !== BigInt(other)) report.othersWrong++;
      }
      // A map of this worker's own, remade every few rounds with a small or big value at
      // (usually) the same number, published for the others to use while it changes.
      if (i % 16 === 0) {
        churn?.close();
        Atomics.store(w.published, w.worker, -1);
        churn = MapData.create({ type: 2, keySize: 4, valueSize: (i / 16) % 2 === 0 ? SMALL : BIG, maxEntries: 1 });
        Atomics.store(w.published, w.worker, churn.fd);
        report.churned++;
      }
      // Raw lookups on another worker's published number with a buffer for the small
      // value: the value, EBADF, or a RangeError; never a write past the buffer.
      const fd = Atomics.load(w.published, (w.worker + 1) % w.workers);
      if (fd >= 0) {
        av.setUint32(0, fd, true);
        let outcome: string;
        try {
          const r = k.bpf(sys.Cmd.MapLookupElem, attr, sys.ptrWords(8, 16), new Uint8Array(4), value);
          outcome = r === 0 ? 'ok' : `-${-r}`;
        } catch (err) {
          outcome = (err as Error).name;
        }
        report.stale[outcome] = (report.stale[outcome] ?? 0) + 1;
        if (!backing.subarray(0, 16).every((b) => b === 0xc3) || !backing.subarray(16 + SMALL).every((b) => b === 0xc3)) report.smashed++;
      }
    }
  } finally {
    Atomics.store(w.published, w.worker, -1);
    churn?.close();
    for (const fd of filler) closeSync(fd);
    hash.close();
    array.close();
  }
  return report;
}

const work = workerData as ThreadsWork;
let report: ThreadsReport;
try {
  report = run(work);
} catch (err) {
  report = { worker: work.worker, ownChecked: 0, ownWrong: 0, othersChecked: 0, othersWrong: 0, churned: 0, stale: {}, smashed: 0, error: String((err as Error)?.stack ?? err) };
}
parentPort!.postMessage(report);
