// Shared test helpers.
import { readdirSync, statfsSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { sys } from '../src/index.js';

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
  const restore = sys.replaceKernel({
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
