// Waiting for the FinalizationRegistry: GC, then let the cleanup callbacks run.
import { readdirSync, readlinkSync } from 'node:fs';
import { collectGarbage, fdCount } from './helpers.js';

/** Collects garbage until fdCount() <= target or `rounds` are spent; returns the final count. */
export async function gcUntilFdCount(target: number, rounds = 20): Promise<number> {
  let count = fdCount();
  for (let i = 0; i < rounds && count > target; i++) {
    await collectGarbage();
    await new Promise((resolve) => setTimeout(resolve, 5));
    count = fdCount();
  }
  return count;
}

/** What `fd` is in this process ('anon_inode:bpf-map', a path, ...), undefined when closed. */
export function fdTarget(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/** Every descriptor open in this process and what it is. */
export function openFds(): Map<number, string> {
  const fds = new Map<number, string>();
  for (const name of readdirSync('/proc/self/fd')) {
    const target = fdTarget(Number(name));
    if (target !== undefined) fds.set(Number(name), target); // undefined: the listing's own descriptor
  }
  return fds;
}

/** True when `fd` is open in this process and is a BPF map. */
export function isOpenMapFd(fd: number): boolean {
  return fdTarget(fd) === 'anon_inode:bpf-map';
}
