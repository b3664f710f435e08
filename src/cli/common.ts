// Helpers shared by the commands.
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { UsageError } from './errors.js';

/** A kernel object id argument: a decimal integer in [1, 2^32). */
export function parseId(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 0xffff_ffff) {
    throw new InvalidArgumentError('expected an id, a positive integer (see the ID column of the list command)');
  }
  return Number(value);
}

/**
 * CLOCK_BOOTTIME ns (a program's load time) as wall-clock time: /proc/uptime counts
 * CLOCK_BOOTTIME, as bpftool converts it.
 */
export function bootTimeToDate(ns: bigint): Date | undefined {
  let uptime: number;
  try {
    uptime = Number.parseFloat(readFileSync('/proc/uptime', 'utf8'));
  } catch {
    return undefined;
  }
  return new Date(Date.now() - uptime * 1000 + Number(ns / 1_000_000n));
}

/** "2026-12-07 08:44:38" in local time, as bpftool's loaded_at. */
export function formatDate(d: Date | undefined): string {
  if (!d) return '-';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Text from hex bytes ("01 00 00 00", "0x01000000", "01000000"). */
export function parseHex(text: string, what: string): Uint8Array {
  const clean = text.replace(/0x/gi, '').replace(/[\s:,]/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(clean)) throw new UsageError(`${what} must be hex bytes, e.g. "01 00 00 00"`);
  return Uint8Array.from(clean.match(/../g) ?? [], (h) => Number.parseInt(h, 16));
}
