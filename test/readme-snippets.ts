// README.md's TypeScript blocks, and a type check of all of them in one compiler run, so
// that an example the API no longer matches fails a test instead of a reader.
//
// Each ```ts / ```typescript block becomes a module: its import statements stay at the
// top, the rest is the body of an async function (so `using`, `await` and `return` work
// as in an application). A block without an import from 'tsbpf' gets every export of
// 'tsbpf' imported (most blocks show a few calls, not a program); a block that imports
// from 'tsbpf' itself must import everything it uses, as a reader copying it would.
// 'tsbpf' resolves to this package's built declarations (dist/), as an application's
// import would: the modules are virtual files inside the package directory.
// A block preceded by `<!-- no-check -->` (pseudo-code, fragments) is not checked.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface Snippet {
  /** The document (errors name it); README.md unless told. */
  source?: string;
  /** 1-based line of the opening fence in the document. */
  line: number;
  lang: string;
  /** The block's lines, its fence's indentation removed. */
  code: string[];
  /** Preceded by `<!-- no-check -->`. */
  noCheck: boolean;
  /** From a preceding `<!-- declare ... -->`: declarations of names the block uses without making them. */
  declare?: string;
}

/** Every fenced block of `markdown` whose info string is `lang` (all when omitted). */
export function fencedBlocks(markdown: string): Snippet[] {
  const lines = markdown.split('\n');
  const out: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,})\s*([\w+-]*)/.exec(lines[i]!);
    if (!open) continue;
    const [, indent, fence, lang] = open;
    let prev = i - 1;
    while (prev >= 0 && lines[prev]!.trim() === '') prev--;
    const noCheck = prev >= 0 && /<!--\s*no-check\b/.test(lines[prev]!);
    const declare = prev >= 0 ? /<!--\s*(declare\s[\s\S]*?)\s*-->/.exec(lines[prev]!)?.[1] : undefined;
    const code: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j]!;
      if (l.trim().startsWith(fence!) && l.trim().replace(/`/g, '') === '') break;
      code.push(l.startsWith(indent!) ? l.slice(indent!.length) : l.trimStart());
    }
    out.push({ line: i + 1, lang: lang!, code, noCheck, ...(declare ? { declare } : {}) });
    i = j;
  }
  return out;
}

/** README.md's TypeScript blocks. */
export function readmeSnippets(path = join(ROOT, 'README.md')): Snippet[] {
  return fencedBlocks(readFileSync(path, 'utf8')).filter((s) => s.lang === 'ts' || s.lang === 'typescript');
}

interface Module {
  text: string;
  /** README line of each line of `text` (0: a line the wrapper added). */
  readmeLine: number[];
}

const IMPORT_START = /^import\s+(?!\()/;
const IMPORT_END = /(from\s+['"][^'"]+['"]|^import\s+['"][^'"]+['"])\s*;?\s*(\/\/.*)?$/;

/** `snippet` as a module (see the top of this file); `tsbpfExports` are the names auto-imported. */
function wrap(snippet: Snippet, tsbpfExports: readonly string[]): Module {
  const imports: [string, number][] = [];
  const body: [string, number][] = [];
  let inImport = false;
  snippet.code.forEach((l, k) => {
    const at = snippet.line + 1 + k;
    if (inImport || IMPORT_START.test(l)) {
      imports.push([l, at]);
      inImport = !IMPORT_END.test(l);
    } else {
      body.push([l, at]);
    }
  });
  const importText = imports.map(([l]) => l).join('\n');
  const head: [string, number][] = [];
  if (!/from\s+['"]tsbpf['"]/.test(importText)) {
    head.push([`import { ${tsbpfExports.join(', ')} } from 'tsbpf';`, 0]);
  } else if (snippet.declare) {
    // The declarations' types, where the block's own imports leave them out.
    const own = new Set(importText.match(/\b\w+\b/g));
    const used = [...new Set(snippet.declare.match(/\b[A-Z]\w*/g))].filter((n) => tsbpfExports.includes(n) && !own.has(n));
    if (used.length) head.push([`import type { ${used.join(', ')} } from 'tsbpf';`, 0]);
  }
  const declared: [string, number][] = snippet.declare ? [[snippet.declare, snippet.line - 1]] : [];
  const lines: [string, number][] = [
    ...head,
    ...imports,
    ...declared,
    ['export async function snippet() {', 0],
    ...body,
    ['}', 0],
  ];
  return { text: lines.map(([l]) => l).join('\n') + '\n', readmeLine: lines.map(([, n]) => n) };
}

export interface SnippetError {
  /** The document of the block (`Snippet.source`); '' for an error outside every block. */
  source: string;
  /** Its line of the error (of the block's fence when the wrapper's own line is at fault). */
  line: number;
  message: string;
}

const OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  types: ['node'],
  typeRoots: [join(ROOT, 'node_modules/@types')],
};

/** The names 'tsbpf' exports (values and types), read from its built declarations. */
function tsbpfExportNames(program: ts.Program, probe: string): string[] {
  const checker = program.getTypeChecker();
  const sf = program.getSourceFile(probe)!;
  const decl = sf.statements.find(ts.isImportDeclaration)!;
  const sym = checker.getSymbolAtLocation(decl.moduleSpecifier);
  if (!sym) throw new Error("'tsbpf' does not resolve: build first (npm run build)");
  return checker.getExportsOfModule(sym).map((s) => s.name).sort();
}

/**
 * Type-checks every block that is not marked `no-check`, in one compiler run. The
 * modules are virtual files in a directory of the package, so `import ... from 'tsbpf'`
 * resolves through package.json `exports` to dist/ (a self-reference).
 */
export function checkSnippets(snippets: readonly Snippet[]): SnippetError[] {
  const dir = join(ROOT, '.readme-snippets');
  const files = new Map<string, string>();
  const host = ts.createCompilerHost(OPTIONS);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, onError, create) =>
    files.has(name) ? ts.createSourceFile(name, files.get(name)!, lang) : getSourceFile(name, lang, onError, create);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => files.has(name) || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => files.get(name) ?? readFile(name);

  const probe = join(dir, 'exports.ts');
  files.set(probe, "import * as tsbpf from 'tsbpf';\nexport { tsbpf };\n");
  const first = ts.createProgram([probe], OPTIONS, host);
  const names = tsbpfExportNames(first, probe);

  const modules = new Map<string, Module & { source: string; fence: number }>();
  for (const s of snippets) {
    if (s.noCheck) continue;
    const source = s.source ?? 'README.md';
    const name = join(dir, `${source.replace(/[^\w.-]/g, '_')}-line-${s.line}.ts`);
    modules.set(name, { ...wrap(s, names), source, fence: s.line });
    files.set(name, modules.get(name)!.text);
  }
  // The first program's declarations (tsbpf's, Node's, the libs) are reused, not parsed again.
  const program = ts.createProgram([...modules.keys()], OPTIONS, host, first);
  const errors: SnippetError[] = [];
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    const m = d.file && modules.get(d.file.fileName);
    if (!m || d.start === undefined) {
      errors.push({ source: '', line: 0, message: `${d.file?.fileName ?? ''}: ${message}` });
      continue;
    }
    const { line } = d.file!.getLineAndCharacterOfPosition(d.start);
    errors.push({ source: m.source, line: m.readmeLine[line] || m.fence, message: `TS${d.code}: ${message}` });
  }
  return errors.sort((a, b) => a.source.localeCompare(b.source) || a.line - b.line);
}
