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
