// Shared test helpers.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, readlinkSync, statfsSync, statSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { Ebpf, EbpfLoader, MapError, ObjectSpec } from '../src/index.js';
import * as sys from '../src/sys/index.js';
import { replaceKernel } from '../src/testing.js';

/** Open descriptors of this process. */
export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Runs global GC (tests run with --expose-gc unavailable, so enable it on demand). */
export async function collectGarbage(): Promise<void> {
  const v8 = await import('node:v8');
  const vm = await import('node:vm');
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  for (let i = 0; i < 3; i++) {
    gc();
    // FinalizationRegistry callbacks run in a later task.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const BPF_FS_MAGIC = 0xcafe4a11;

/** Loads the object at `path` with only `names` of its programs (the others deferred): a program type this kernel refuses elsewhere in it does not matter. */
export function loadOnly(path: string, ...names: string[]): Ebpf {
  const loader = new EbpfLoader();
  for (const p of ObjectSpec.parse(readFileSync(path)).programs.keys()) if (!names.includes(p)) loader.deferProgram(p);
  return loader.load(path);
}

/** Where cgroup v2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified beside v1 hierarchies). */
export function cgroup2Root(): string {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (post?.startsWith('cgroup2 ')) return pre!.split(' ')[4]!;
  }
  throw new Error('no cgroup2 mount');
}

/** Ensures bpffs is mounted at /sys/fs/bpf and returns a fresh directory on it. */
export function bpffsDir(name: string): string {
  if (statfsSync('/sys/fs/bpf').type !== BPF_FS_MAGIC) execFileSync('mount', ['-t', 'bpf', 'bpf', '/sys/fs/bpf']);
  const dir = `/sys/fs/bpf/tsbpf-test-${name}-${process.pid}`;
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The bpf(2) commands `fn` made through the seam (either native entry: bpf or bpfIo). */
export function bpfCalls(fn: () => void): number[] {
  const calls: number[] = [];
  const real = sys.kernel;
  const restore = replaceKernel({
    bpf: (cmd, attr, mask, ...buffers) => {
      calls.push(cmd);
      return real.bpf(cmd, attr, mask, ...buffers);
    },
    bpfIo: (cmd, io, attrLen, mask) => {
      calls.push(cmd);
      return real.bpfIo(cmd, io, attrLen, mask);
    },
  });
  try {
    fn();
  } finally {
    restore();
  }
  return calls;
}

/** The exception `fn` throws (fails the test when it returns). */
export function thrown(fn: () => unknown): any {
  try {
    fn();
  } catch (err) {
    return err;
  }
  assert.fail('expected an exception');
}

/** Asserts `fn` throws a MapError of `kind` without making any bpf(2) call; returns it. */
export function refusedBeforeSyscall(fn: () => unknown, kind: string): any {
  let err: any;
  const calls = bpfCalls(() => {
    err = thrown(fn);
  });
  assert.ok(err instanceof MapError, `expected MapError, got ${err}`);
  assert.equal(err.kind, kind, err.message);
  assert.deepEqual(calls, [], 'no bpf(2) call');
  return err;
}

/** The open descriptors of this process that are BPF objects. */
export function bpfFds(): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${name}`).startsWith('anon_inode:bpf')) out.push(Number(name));
    } catch {
      // The descriptor of the directory listing itself.
    }
  }
  return out;
}

/** True while `fd` is open in this process. */
export function isOpen(fd: number): boolean {
  return existsSync(`/proc/self/fd/${fd}`);
}

/** `n` as 4 little-endian bytes. */
export function le32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

/** `n` as 8 little-endian bytes. */
export function le64(n: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n, true);
  return b;
}

/**
 * Runs the module at `moduleUrl` in a worker thread with `data` as workerData and
 * resolves with its first message; fails when it does not answer within `timeoutMs`
 * (the test runner's own timeout cannot interrupt a synchronous infinite loop).
 */
export function runInWorker<T>(moduleUrl: URL, data: object, timeoutMs: number): Promise<T> {
  return new Promise((resolvePromise, reject) => {
    const worker = new Worker(moduleUrl, { workerData: data });
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(new Error(`worker did not finish in ${timeoutMs} ms (a hang?)`));
    }, timeoutMs);
    // Resolved only once the worker has exited: its thread is joined and its event loop's
    // fds are closed, so a test that counts fds next does not see them close under it.
    worker.once('message', (m: T) => {
      clearTimeout(timer);
      worker.once('exit', () => resolvePromise(m));
      void worker.terminate();
    });
    worker.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/**
 * Resolves once libuv has run a close phase since the call: a watch's duplicate
 * descriptor is closed by the close callback of the loop turn that stopped it. A short
 * timer is not enough: on a slow (emulated) CPU a timer set during the timers phase can
 * come due and fire in that same phase. An immediate scheduled from the check phase runs
 * in the next turn's, after this turn's close phase.
 */
export async function watchesClosed(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 5));
  await new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

/** The repository root (tests run from dist/test/). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The compatibility corpus: $TSBPF_CORPUS, else shared/corpus/cilium-ebpf beside the
 * repository, else beside the repository this one was cloned from (a fresh clone made
 * elsewhere, as CI makes). Missing, the corpus tests fail rather than skip.
 */
export const corpusDir = findCorpus();

function findCorpus(): string {
  if (process.env.TSBPF_CORPUS) return resolve(process.env.TSBPF_CORPUS);
  const beside = (repo: string) => resolve(repo, '../shared/corpus/cilium-ebpf');
  if (existsSync(beside(repoRoot))) return beside(repoRoot);
  try {
    const origin = execFileSync('git', ['-C', repoRoot, 'remote', 'get-url', 'origin'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (origin.startsWith('/') && existsSync(beside(origin))) return beside(origin);
  } catch {
    // not a git checkout, or no origin: the default path below is named in the failure
  }
  return beside(repoRoot);
}

/** Every BPF object of the corpus (*.elf, *.o), sorted. */
export function corpusObjects(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.elf') || name.endsWith('.o')) out.push(p);
    }
  };
  walk(corpusDir);
  return out.sort();
}

/** A UDP socket on 127.0.0.1:port with SO_REUSEPORT (Node's dgram cannot set it before bind). */
export function reuseportSocket(port: number): number {
  const fd = sys.kernel.socket(2 /* AF_INET */, 2 /* SOCK_DGRAM */, 0);
  assert.ok(fd >= 0);
  assert.equal(sys.kernel.setsockopt(fd, 1 /* SOL_SOCKET */, 15 /* SO_REUSEPORT */, 1), 0);
  const addr = new Uint8Array(16);
  const v = new DataView(addr.buffer);
  v.setUint16(0, 2, true);
  v.setUint16(2, port, false);
  addr.set([127, 0, 0, 1], 4);
  assert.equal(sys.kernel.bind(fd, addr), 0);
  return fd;
}

/** The socket's cookie (SO_COOKIE), as the kernel reports it to socket maps. */
export function socketCookie(fd: number): bigint {
  const b = new Uint8Array(8);
  assert.equal(sys.kernel.getsockopt(fd, 1 /* SOL_SOCKET */, 57 /* SO_COOKIE */, b), 8);
  return new DataView(b.buffer).getBigUint64(0, true);
}

/** Datagrams waiting on fd, read without blocking; their count. */
export function drainDatagrams(fd: number): number {
  let n = 0;
  while (sys.kernel.recv(fd, new Uint8Array(64), 0x40 /* MSG_DONTWAIT */) >= 0) n++;
  return n;
}
