// Run by loader-memory.test.ts (and by hand, to see the figures):
// failed loads of every kind, in rounds, measuring after each round both before and
// after a forced garbage collection. Prints one JSON object.
//   node dist/test/failed-loads.js [loads-per-kind]
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ebpf, EbpfLoader } from '../src/index.js';
import { collectGarbage, corpusDir, fdCount, repoRoot } from './helpers.js';

const obj = (name: string) => readFileSync(resolve(repoRoot, 'bpf', name));
const autoload = obj('autoload.o');
const typed = obj('typed_globals.o');
const unresolved = readFileSync(resolve(corpusDir, 'testdata/fwd_decl-el.elf'));
const truncated = autoload.subarray(0, 1000);

/** Each way a load fails, and where: the parser, a check before the kernel, map creation, the verifier, extern resolution. */
const failures: Record<string, () => void> = {
  parse: () => Ebpf.load(truncated),
  setGlobal: () => new EbpfLoader().setGlobal('tiny', 1000).load(typed),
  mapCreate: () => new EbpfLoader().setMaxEntries('slots', 0).load(autoload),
  verifier: () => new EbpfLoader().setAutoload('optional_bad', true).load(autoload),
  extern: () => Ebpf.load(unresolved),
};

function round(n: number): Record<string, string> {
  const outcomes: Record<string, string> = {};
  for (let i = 0; i < n; i++) {
    for (const [kind, fail] of Object.entries(failures)) {
      try {
        fail();
        outcomes[kind] = 'loaded';
      } catch (err) {
        outcomes[kind] = `${(err as Error).name} ${(err as { kind?: string }).kind ?? ''}`.trim();
      }
    }
  }
  return outcomes;
}

function measure(): { heapUsed: number; external: number; rss: number; mappings: number; fds: number } {
  const m = process.memoryUsage();
  return {
    heapUsed: m.heapUsed,
    external: m.external,
    rss: m.rss,
    mappings: readFileSync('/proc/self/maps', 'utf8').trimEnd().split('\n').length,
    fds: fdCount(),
  };
}

const perKind = Number(process.argv[2] ?? 400);
const start = measure();
// Warm up: first-use caches (kernel BTF, kallsyms, compiled code) are not per load.
const outcomes = round(50);
await collectGarbage();
const warm = measure();
round(perKind);
const noGc = measure();
await collectGarbage();
const first = measure();
round(perKind);
await collectGarbage();
const second = measure();
console.log(JSON.stringify({ loads: perKind * Object.keys(failures).length, outcomes, start, warm, noGc, first, second }));
