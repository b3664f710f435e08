// The public surface is what api/*.public.api.md say (made by api-extractor, see
// api-report.ts): a change to it fails here until `npm run api` has rewritten the
// reports and the difference is committed. And the entries resolve for a consumer
// through package.json "exports", exporting nothing the reports leave out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiReports, entries } from './api-report.js';
import { repoRoot } from './helpers.js';

test('the API reports in api/ match the surface of every entry (npm run api rewrites them)', (t) => {
  const results = apiReports(false);
  assert.deepEqual(results.map((r) => r.report).sort(), ['tsbpf', 'tsbpf-sys', 'tsbpf-testing']);
  for (const r of results) {
    for (const m of r.messages) t.diagnostic(`${r.report}: ${m}`);
    assert.equal(r.errors, 0, `${r.report}: api-extractor errors (a public declaration names a type the entry does not export?):\n${r.messages.join('\n')}`);
    assert.equal(r.changed, false, `api/${r.report}.public.api.md differs from the surface: run \`npm run api\`, read the difference and commit it if it is meant:\n${r.difference.join('\n')}`);
  }
});

test('a surface that differs from its committed report is caught', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-api-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(repoRoot, 'api'), dir, { recursive: true });
  // The committed report of the testing entry, without replaceKernel: as if it were added to the surface unreported.
  const file = join(dir, 'tsbpf-testing.public.api.md');
  const before = readFileSync(file, 'utf8');
  const after = before.replace(/\/\/ @public\nexport function replaceKernel\([^\n]*\n\n/, '');
  assert.notEqual(after, before);
  writeFileSync(file, after);
  const [r] = apiReports(false, dir, ['tsbpf-testing']);
  assert.equal(r!.changed, true);
  assert.deepEqual(r!.difference, ['+ export function replaceKernel(overrides: Partial<Kernel>): () => void;']);
});

test('tsbpf, tsbpf/sys and tsbpf/testing resolve for a consumer through package.json exports, each exporting only what its report lists', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-consumer-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(repoRoot, join(dir, 'node_modules/tsbpf'), 'dir');
  const specifiers = entries().map((e) => e.specifier);
  writeFileSync(join(dir, 'consumer.mjs'), `
const out = {};
for (const s of ${JSON.stringify(specifiers)}) out[s] = { url: import.meta.resolve(s), names: Object.keys(await import(s)).sort() };
console.log(JSON.stringify(out));
`);
  const out = JSON.parse(execFileSync(process.execPath, ['consumer.mjs'], { cwd: dir, encoding: 'utf8' })) as Record<string, { url: string; names: string[] }>;
  // The bundled entries (tools/bundle.ts); their declarations are tsc's, under dist/src.
  assert.match(out['tsbpf']!.url, /\/dist\/bundle\/index\.js$/);
  assert.match(out['tsbpf/sys']!.url, /\/dist\/bundle\/sys\.js$/);
  assert.match(out['tsbpf/testing']!.url, /\/dist\/bundle\/testing\.js$/);
  for (const e of entries()) {
    const report = readFileSync(join(repoRoot, 'api', `${e.report}.public.api.md`), 'utf8');
    const reported = new Set([...report.matchAll(/^(?:export|declare) (?:abstract class|class|const|let|function|enum|namespace) (\w+)/gm)].map((m) => m[1]!));
    for (const m of report.matchAll(/^export \{([^}]*)\}/gm)) for (const n of m[1]!.split(',')) reported.add(n.trim());
    const unreported = out[e.specifier]!.names.filter((n) => !reported.has(n));
    assert.deepEqual(unreported, [], `${e.specifier} exports names its report does not list`);
  }
  // One way in: the raw layer and the seams are not on the main entry.
  const main = new Set(out['tsbpf']!.names);
  for (const name of ['sys', 'replaceKernel', 'clearFeatureCache', 'perfAttachMechanism', 'tracingAttachMechanism', 'scratch', 'sectionDefs', 'programClasses', 'defaultKinds']) {
    assert.equal(main.has(name), false, `tsbpf exports ${name}`);
  }
  assert.ok(main.has('possibleCpus') && !out['tsbpf/sys']!.names.includes('possibleCpus'), 'possibleCpus is on the main entry only');
  assert.ok(out['tsbpf/testing']!.names.includes('replaceKernel') && !out['tsbpf/sys']!.names.includes('replaceKernel'));
});
