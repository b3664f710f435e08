// What importing one specifier costs inside a fresh process, wall and CPU (all threads),
// over many processes: the library's own share, without Node's start and its noise.
//   node dist/tools/import-cost.js [runs] specifier...
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const runs = /^\d+$/.test(args[0] ?? '') ? Number(args.shift()) : 15;
const child = `const c0 = process.cpuUsage(); const t0 = performance.now();
await import(process.argv[1]);
const t1 = performance.now(); const c1 = process.cpuUsage(c0);
console.log(JSON.stringify({ wall: t1 - t0, cpu: (c1.user + c1.system) / 1000 }));`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const results = args.map(() => ({ wall: [] as number[], cpu: [] as number[] }));
for (let i = 0; i < runs; i++) {
  args.forEach((spec, j) => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', child, spec], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    const { wall, cpu } = JSON.parse(r.stdout) as { wall: number; cpu: number };
    results[j]!.wall.push(wall);
    results[j]!.cpu.push(cpu);
  });
}
args.forEach((spec, j) => {
  const { wall, cpu } = results[j]!;
  console.log(`${spec.padEnd(40)} wall median ${median(wall).toFixed(1).padStart(6)} min ${Math.min(...wall).toFixed(1).padStart(6)}   cpu median ${median(cpu).toFixed(1).padStart(6)} min ${Math.min(...cpu).toFixed(1).padStart(6)} ms`);
});
