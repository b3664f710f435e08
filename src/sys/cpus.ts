import { readFileSync } from 'node:fs';

let cached: number | undefined;

/** Number of possible CPUs, from /sys/devices/system/cpu/possible ("0-3,5"), as libbpf counts them. */
export function possibleCpus(): number {
  if (cached !== undefined) return cached;
  const text = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
  let max = -1;
  for (const part of text.split(',')) {
    const [lo, hi] = part.split('-').map(Number);
    max = Math.max(max, hi ?? lo);
  }
  cached = max + 1;
  return cached;
}
