// Worker side of the reserveBlocking test (user-ringbuf.test.ts): after `delayMs`, runs
// the draining syscall program (opened by id) once, while the main thread is blocked.
import { parentPort, workerData } from 'node:worker_threads';
import { Syscall } from '../src/index.js';

const { programId, delayMs } = workerData as { programId: number; delayMs: number };
const prog = Syscall.fromId(programId);
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, delayMs);
const drained = prog.run();
prog.unload();
parentPort!.postMessage({ drained });
