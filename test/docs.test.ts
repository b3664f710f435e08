// The API reference (`npm run docs`: TypeDoc over the three entry points into docs/api)
// fails on an undocumented export or method: typedoc.json turns TypeDoc's notDocumented
// validation into errors. TypeDoc takes tens of seconds, so the suite checks the same for
// the exports through the committed API reports (kept current by api-report.test.ts):
// api-extractor marks each declaration without a doc comment "(undocumented)".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './helpers.js';

const REPORTS = ['tsbpf', 'tsbpf-sys', 'tsbpf-testing'];

/** The top-level exports a report marks undocumented. */
export function undocumentedExports(report: string): string[] {
  const lines = report.split('\n');
  const out: string[] = [];
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!/^\/\/ @(public|beta|alpha)\b.*\(undocumented\)/.test(lines[i]!)) continue;
    const decl = lines[i + 1]!;
    out.push(/^export (?:declare )?(?:abstract )?(?:class|interface|type|const|function|enum|namespace) ([\w$]+)/.exec(decl)?.[1] ?? decl);
  }
  return out;
}

test('every export of tsbpf, tsbpf/sys and tsbpf/testing has a doc comment', () => {
  for (const name of REPORTS) {
    const report = readFileSync(join(repoRoot, 'api', `${name}.public.api.md`), 'utf8');
    assert.ok(report.includes('\nexport '), `${name}: a report with exports`);
    assert.deepEqual(undocumentedExports(report), [], `${name}: add a /** doc comment */ (with the minimum kernel where there is one), then npm run api`);
  }
  // The check can fail: an export without a comment is named.
  const sample = '// @public\nexport const documented = 1;\n\n// @public (undocumented)\nexport function bare(): void;\n';
  assert.deepEqual(undocumentedExports(sample), ['bare']);
});

test('npm run docs builds the reference of the package\'s entry points and fails on what is undocumented', () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string>; exports: Record<string, unknown> };
  const config = JSON.parse(readFileSync(join(repoRoot, 'typedoc.json'), 'utf8')) as {
    entryPoints: string[];
    out: string;
    validation: { notDocumented: boolean };
    treatValidationWarningsAsErrors: boolean;
    requiredToBeDocumented: string[];
  };
  assert.equal(pkg.scripts.docs, 'typedoc');
  // One entry point per subpath export that has code ('.', './sys', './testing').
  const fromExports = Object.keys(pkg.exports).filter((k) => k !== './package.json').map((k) => (k === '.' ? 'src/index.ts' : `src/${k.slice(2)}${k === './sys' ? '/index' : ''}.ts`));
  assert.deepEqual([...config.entryPoints].sort(), fromExports.sort());
  assert.equal(config.validation.notDocumented, true);
  assert.equal(config.treatValidationWarningsAsErrors, true);
  for (const kind of ['Class', 'Interface', 'Function', 'Variable', 'TypeAlias']) assert.ok(config.requiredToBeDocumented.includes(kind), kind);
  const ignored = readFileSync(join(repoRoot, '.gitignore'), 'utf8').split('\n');
  assert.ok(ignored.includes(`${config.out}/`), `${config.out} is generated, not committed`);
});
