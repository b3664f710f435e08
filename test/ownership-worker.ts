// Worker side of the cross-thread ownership test (ownership-fromfd.test.ts): tries to
// take over the main thread's map, then offers a map of its own and keeps it until told.
import { parentPort, workerData } from 'node:worker_threads';
import { ArrayMap, MapData, u32 } from '../src/index.js';

const { mainFd } = workerData as { mainFd: number };
let takeOver: { kind?: string; message: string };
try {
  const m = MapData.fromFd(mainFd);
  takeOver = { message: `took over ${m.fd}` };
} catch (err) {
  takeOver = { kind: (err as { kind?: string }).kind, message: (err as Error).message };
}
const own = ArrayMap.create(u32, { maxEntries: 2 });
own.set(1, 4242);
parentPort!.postMessage({ takeOver, workerFd: own.fd });
parentPort!.once('message', () => {
  const value = own.get(1);
  own.close();
  parentPort!.postMessage({ value });
});
