// npm run bench:special: element operations of the fd-valued maps and local storages
// through tsbpf against the same bpf(2) calls from C (bench/special-maps.c), rounds
// interleaved (C, tsbpf, C, tsbpf...) so that machine noise falls on both sides.
//
// Options: --iters N (per round, default 100000) --rounds N (default 3) --passes N (default 3)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { best, compileC, fmtNs, median, positiveInt, repoRoot, runC, table } from './common.js';
import { DevMap, EbpfLoader, ObjectSpec, ProgramArray, SkStorage, u64 } from '../src/index.js';
import { kernel } from '../src/sys/native.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i < 0 ? dflt : positiveInt(name, args[i + 1]);
};
const iters = opt('--iters', 100_000);
const rounds = opt('--rounds', 3);
const passes = opt('--passes', 3);

const root = repoRoot('special-maps');
const exe = compileC(root, 'special-maps');

const object = join(root, 'bpf', 'special_maps.o');
const loader = new EbpfLoader();
for (const name of ObjectSpec.parse(readFileSync(object)).programs.keys()) if (name !== 'tail_a') loader.deferProgram(name);
const ebpf = loader.load(object);
const program = ebpf.program('tail_a');

const sk = SkStorage.create(u64);
const sock = kernel.socket(2, 2, 0);
sk.insert(sock, 41n);
const dev = DevMap.create({ maxEntries: 4 });
dev.set(0, 1);
const jumps = ProgramArray.create({ maxEntries: 4 });

const cases: Record<string, () => void> = {
  sk_storage_get: () => {
    for (let i = 0; i < iters; i++) sk.get(sock);
  },
  devmap_get: () => {
    for (let i = 0; i < iters; i++) dev.get(0);
  },
  prog_array_set_remove: () => {
    for (let i = 0; i < iters; i++) {
      jumps.set(0, program);
      jumps.remove(0);
    }
  },
};

const c: Record<string, number[]> = {};
const ts: Record<string, number[]> = {};
for (let pass = 0; pass < passes; pass++) {
  for (const [name, xs] of Object.entries(runC<Record<string, number[]>>(exe, ['-n', String(iters), '-r', String(rounds)]))) (c[name] ??= []).push(...xs);
  for (const [name, run] of Object.entries(cases)) {
    run(); // warm-up
    for (let r = 0; r < rounds; r++) {
      const t0 = process.hrtime.bigint();
      run();
      (ts[name] ??= []).push(Number(process.hrtime.bigint() - t0) / iters);
    }
  }
}

const rows = Object.keys(cases).map((name) => [
  name,
  fmtNs(best(c[name]!)),
  fmtNs(best(ts[name]!)),
  (best(ts[name]!) / best(c[name]!)).toFixed(2),
  (median(ts[name]!) / median(c[name]!)).toFixed(2),
]);
console.log(`${iters} operations a round, ${rounds} rounds a pass, ${passes} passes (C and tsbpf interleaved)`);
console.log(table(['case', 'C best', 'tsbpf best', 'ratio (best)', 'ratio (median)'], rows, [false, true, true, true, true]));

sk.close();
dev.close();
jumps.close();
kernel.close(sock);
ebpf.close();
