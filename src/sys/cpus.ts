import { readFileSync } from 'node:fs';
import { addonPossibleCpus } from './native.js';

/**
 * Number of possible CPUs, from /sys/devices/system/cpu/possible ("0-3,5"), as libbpf
 * counts them. Read once, by the addon, which sizes per-CPU values with the same count.
 */
export function possibleCpus(): number {
  const n = addonPossibleCpus();
  if (n <= 0) throw new Error('cannot count the possible CPUs: /sys/devices/system/cpu/possible is unreadable');
  return n;
}

/** Online CPUs from /sys/devices/system/cpu/online ("0-3,6"), in order. */
export function onlineCpus(): number[] {
  const cpus: number[] = [];
  for (const part of readFileSync('/sys/devices/system/cpu/online', 'utf8').trim().split(',')) {
    const [lo, hi] = part.split('-').map(Number);
    for (let c = lo!; c <= (hi ?? lo!); c++) cpus.push(c);
  }
  return cpus;
}
