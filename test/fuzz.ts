// What the parser fuzz tests share: a seeded PRNG, the walk of parsed BTF and the report of outcomes.
import { deepStrictEqual } from 'node:assert/strict';
import { Btf, BtfError, ParseError } from '../src/index.js';

/** mulberry32: a small seeded PRNG, so the fuzz cases are the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Uses every type of `btf` as a loader would (resolve, sizeof, alignof, lookup by name),
 * where only BtfError may come out, and checks that marshal then parse gives the same types.
 */
export function exerciseBtf(btf: Btf): void {
  for (const t of btf.types) {
    for (const walk of [(id: number) => btf.resolve(id), (id: number) => btf.sizeof(id), (id: number) => btf.alignof(id)]) {
      try {
        walk(t.id);
      } catch (err) {
        if (!(err instanceof BtfError)) throw err;
      }
    }
    if ('name' in t && t.name) btf.byName(t.name);
  }
  deepStrictEqual(Btf.parse(btf.marshal()).types, btf.types, 'marshal round trip');
}

export interface FuzzReport {
  cases: number;
  outcomes: Record<string, number>;
  failures: string[];
  maxMs: number;
}

export function newReport(): FuzzReport {
  return { cases: 0, outcomes: {}, failures: [], maxMs: 0 };
}

/** Runs one case: 'ok', 'ParseError' or 'BtfError' are allowed outcomes; anything else is a failure kept with its stack. */
export function record(report: FuzzReport, label: string, fn: () => void): void {
  report.cases++;
  const t0 = performance.now();
  let outcome = 'ok';
  try {
    fn();
  } catch (err) {
    if (err instanceof ParseError) outcome = 'ParseError';
    else if (err instanceof BtfError) outcome = 'BtfError';
    else {
      outcome = 'other';
      if (report.failures.length < 10) report.failures.push(`${label}: ${(err as Error)?.stack ?? String(err)}`);
    }
  }
  report.maxMs = Math.max(report.maxMs, performance.now() - t0);
  report.outcomes[outcome] = (report.outcomes[outcome] ?? 0) + 1;
}
