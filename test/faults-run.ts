// npm run faults [-- --all] [--sticky] [--only <text>] [--max-calls n] [--list]
// The fault-injection matrix outside the test runner: the CI scenarios by default, every
// scenario with --all (and with --sticky also every call from the failed one on failing).
// Prints the injections per scenario and outcome, and every defect; exits 1 on a defect.
import { DEFECTS, defectLines, ERRNOS, runScenario, tally, type Injection, type Outcome } from './fault-injector.js';
import { closeShared, scenarios } from './fault-scenarios.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const value = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

const all = flag('--all');
const only = value('--only');
const maxCalls = value('--max-calls') ? Number(value('--max-calls')) : undefined;
const chosen = scenarios().filter((s) => (all || s.ci) && (!only || s.name.includes(only)));

if (flag('--list')) {
  for (const s of scenarios()) console.log(`${s.ci ? 'ci ' : '   '} ${s.name}`);
  process.exit(0);
}

const started = Date.now();
const every: Injection[] = [];
let callCount = 0;
const columns: Outcome[] = ['typed', 'recovered', 'stuck', ...DEFECTS];
console.log(['scenario', 'calls', 'injections', ...columns, 'ms'].join('\t'));
let unclean = 0;
for (const s of chosen) {
  const r = await runScenario(s, { sticky: flag('--sticky'), maxCalls, all });
  every.push(...r.injections);
  callCount += r.calls.length;
  const t = tally(r.injections);
  console.log([s.name, r.calls.length, r.injections.length, ...columns.map((c) => t[c]), r.ms].join('\t'));
  if (r.cleanAfter) {
    unclean++;
    console.log(`  NOT CLEAN AFTER: ${r.cleanAfter}`);
  }
}
await closeShared();
const t = tally(every);
console.log(['total', callCount, every.length, ...columns.map((c) => t[c]), Date.now() - started].join('\t'));
console.log(`\n${chosen.length} scenarios, ${callCount} kernel calls, errnos ${ERRNOS.join(' ')}${flag('--sticky') ? ' (each once and sticky)' : ''}: ${every.length} injections`);
const defects = defectLines(every);
if (defects.length) {
  console.log(`\n${defects.length} defects:`);
  for (const d of defects) console.log(d);
}
process.exitCode = defects.length || unclean ? 1 : 0;
