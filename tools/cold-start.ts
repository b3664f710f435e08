// Cold-start figures while working on start time (not the benchmark: that is bench/cold.ts).
// Each command runs as a fresh process; the commands take turns round after round, so noise
// falls on all of them alike. Prints each command's median and its excess over the first.
//   node dist/tools/cold-start.js [rounds] -- 'label=cmd args' 'label=cmd args' ...
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const args = process.argv.slice(2);
const sep = args.indexOf('--');
const rounds = sep > 0 ? Number(args[0]) : 15;
const specs = (sep >= 0 ? args.slice(sep + 1) : args).map((s) => {
  const eq = s.indexOf('=');
  return { label: s.slice(0, eq), argv: s.slice(eq + 1).split(' ') };
});
if (specs.length === 0) {
  console.error("usage: cold-start.js [rounds] -- 'bare=node -e 0' 'tsbpf=node -e import(\"tsbpf\")'");
  process.exit(2);
}
const times = specs.map(() => [] as number[]);
for (let round = 0; round < rounds; round++) {
  specs.forEach((spec, i) => {
    const t0 = performance.now();
    const r = spawnSync(spec.argv[0]!, spec.argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = performance.now() - t0;
    if (r.status !== 0) throw new Error(`${spec.label} exited ${r.status}: ${r.stderr.toString()}`);
    times[i]!.push(ms);
  });
}
const base = median(times[0]!);
const baseQ = [...times[0]!].sort((a, b) => a - b);
for (const [i, spec] of specs.entries()) {
  const m = median(times[i]!);
  const q = [...times[i]!].sort((a, b) => a - b);
  const p25 = q[Math.floor(q.length / 4)]!;
  console.log(
    `${spec.label.padEnd(16)} median ${m.toFixed(1).padStart(7)} ms  min ${q[0]!.toFixed(1).padStart(7)}  p25 ${p25.toFixed(1).padStart(7)}  max ${q.at(-1)!.toFixed(1).padStart(7)}  ` +
      `median +${(m - base).toFixed(1)} ms x${(m / base).toFixed(2)}  min +${(q[0]! - baseQ[0]!).toFixed(1)}  p25 +${(p25 - baseQ[Math.floor(q.length / 4)]!).toFixed(1)}`,
  );
}
