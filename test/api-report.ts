// The API reports of the package's entries (api/<name>.api.md), made by Microsoft's
// api-extractor from the compiled declarations (dist/src). One report per subpath of
// package.json "exports" that has types: '.' is api/tsbpf.api.md, './sys'
// api/tsbpf-sys.api.md, and a new entry gets its report without a change here.
//
//   node dist/test/api-report.js --local   rewrite the reports (npm run api)
//   node dist/test/api-report.js           check: exit 1 and print the difference when
//                                          a report differs from the surface (api-report.test.ts)
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import apiExtractor from '@microsoft/api-extractor';

const { Extractor, ExtractorConfig, ExtractorLogLevel } = apiExtractor;

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface Entry {
  /** The report's name: 'tsbpf', 'tsbpf-sys', 'tsbpf-testing'. */
  report: string;
  /** The import specifier: 'tsbpf', 'tsbpf/sys'. */
  specifier: string;
  /** The entry's declarations, relative to the repository. */
  types: string;
}

/** The entries of package.json "exports" that have types. */
export function entries(): Entry[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; exports: Record<string, string | { types?: string }> };
  const out: Entry[] = [];
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (typeof target !== 'object' || !target.types) continue;
    const rest = subpath.replace(/^\.\/?/, '');
    out.push({ report: rest ? `${pkg.name}-${rest.replaceAll('/', '-')}` : pkg.name, specifier: rest ? `${pkg.name}/${rest}` : pkg.name, types: target.types });
  }
  return out;
}

export interface ReportResult {
  report: string;
  /** The report differs from the surface (check mode), or was rewritten (local mode). */
  changed: boolean;
  errors: number;
  warnings: number;
  /** api-extractor's messages: forgotten exports, TSDoc mistakes, the report difference. */
  messages: string[];
  /** Check mode: the lines the surface adds to the committed report (+) and drops from it (-). */
  difference: string[];
}

/**
 * Whether the declaration at `line` of a .d.ts is @internal (its doc comment ends on
 * the line before and says so): types only such declarations name (the parameters of
 * constructors the library calls) stay unexported on purpose.
 */
function internalUse(file: string | undefined, line: number | undefined): boolean {
  if (!file || !line) return false;
  const lines = readFileSync(file, 'utf8').split('\n');
  let i = line - 2;
  if (i < 0 || !lines[i]!.trimEnd().endsWith('*/')) return false;
  for (; i >= 0; i--) {
    if (lines[i]!.includes('@internal')) return true;
    if (lines[i]!.includes('/**')) return false;
  }
  return false;
}

/** The lines of `after` not in `before` (+) and of `before` not in `after` (-). */
function lineDifference(before: string, after: string): string[] {
  const a = new Set(before.split('\n'));
  const b = new Set(after.split('\n'));
  return [...[...b].filter((l) => l.trim() && !a.has(l)).map((l) => `+ ${l}`), ...[...a].filter((l) => l.trim() && !b.has(l)).map((l) => `- ${l}`)];
}

/**
 * Runs api-extractor over every entry; `local` rewrites the reports, else they are
 * compared. `reportFolder` (default api/) is where the committed reports are; `only`
 * names the reports to make (default all).
 */
export function apiReports(local: boolean, reportFolder = join(root, 'api'), only?: readonly string[]): ReportResult[] {
  const tempFolder = join(root, 'dist/api');
  mkdirSync(tempFolder, { recursive: true });
  mkdirSync(reportFolder, { recursive: true });
  return entries().filter((e) => !only || only.includes(e.report)).map((entry) => {
    const config = ExtractorConfig.prepare({
      configObject: {
        projectFolder: root,
        mainEntryPointFilePath: join(root, entry.types),
        compiler: {
          overrideTsconfig: {
            compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'ESNext.Disposable'], types: ['node'], strict: true, skipLibCheck: true },
            files: [join(root, entry.types)],
          },
        },
        apiReport: { enabled: true, reportFileName: entry.report, reportFolder, reportTempFolder: tempFolder, reportVariants: ['public'] },
        docModel: { enabled: false },
        dtsRollup: { enabled: false },
        tsdocMetadata: { enabled: false },
        newlineKind: 'lf',
        messages: {
          compilerMessageReporting: { default: { logLevel: ExtractorLogLevel.Warning } },
          extractorMessageReporting: {
            default: { logLevel: ExtractorLogLevel.Warning },
            // No release tags: what an entry exports is public, @internal is not.
            'ae-missing-release-tag': { logLevel: ExtractorLogLevel.None },
            'ae-internal-missing-underscore': { logLevel: ExtractorLogLevel.None },
            // A public declaration naming a type the entry does not export (see internalUse).
            'ae-forgotten-export': { logLevel: ExtractorLogLevel.Error },
            // The report marks undocumented items; the build does not require a comment on each.
            'ae-undocumented': { logLevel: ExtractorLogLevel.None },
          },
          tsdocMessageReporting: { default: { logLevel: ExtractorLogLevel.Warning } },
        },
      },
      configObjectFullPath: join(reportFolder, `${entry.report}.json`),
      packageJsonFullPath: join(root, 'package.json'),
    });
    const messages: string[] = [];
    const hidden: string[] = [];
    const result = Extractor.invoke(config, {
      localBuild: local,
      printApiReportDiff: false,
      messageCallback: (message) => {
        message.handled = true;
        if (message.messageId === 'ae-forgotten-export' && internalUse(message.sourceFilePath, message.sourceFileLine)) {
          message.logLevel = ExtractorLogLevel.None;
          hidden.push(/"([^"]+)"/.exec(message.text)?.[1] ?? '');
        }
        if (message.logLevel === ExtractorLogLevel.None || message.logLevel === ExtractorLogLevel.Verbose || message.messageId === 'console-preamble') return;
        messages.push(message.formatMessageWithLocation(root));
      },
    });
    // api-extractor names a forgotten export once, at its first use: one hidden at an
    // @internal declaration must not be named by anything the report keeps either.
    const report = readFileSync(join(tempFolder, `${entry.report}.public.api.md`), 'utf8');
    let errors = result.errorCount;
    for (const name of hidden) {
      if (!new RegExp(`\\b${name}\\b`).test(report)) continue;
      messages.push(`(ae-forgotten-export) The symbol "${name}" is named by a public declaration but ${entry.specifier} does not export it`);
      errors++;
    }
    const committed = join(reportFolder, `${entry.report}.public.api.md`);
    const difference = result.apiReportChanged && !local && existsSync(committed) ? lineDifference(readFileSync(committed, 'utf8'), report) : [];
    return { report: entry.report, changed: result.apiReportChanged, errors, warnings: result.warningCount, messages, difference };
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const local = process.argv.includes('--local');
  let failed = false;
  for (const r of apiReports(local)) {
    for (const m of r.messages) console.log(`${r.report}: ${m}`);
    for (const l of r.difference) console.log(`${r.report}: ${l}`);
    const state = r.changed ? (local ? 'updated: commit the difference if it is meant' : 'DIFFERS from the surface: run `npm run api` and commit the difference if it is meant') : 'up to date';
    console.log(`api/${r.report}.public.api.md ${state} (${r.errors} errors, ${r.warnings} warnings)`);
    if (r.errors > 0 || (r.changed && !local)) failed = true;
  }
  process.exitCode = failed ? 1 : 0;
}
