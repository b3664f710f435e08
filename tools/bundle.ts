// The package's entries as published: 'tsbpf', 'tsbpf/sys', 'tsbpf/testing' and the tsbpf
// command, bundled from tsc's output (dist/src) into dist/bundle/. Importing the library
// loaded some 150 modules from dist/src; now it loads two files (README, "Using tsbpf from
// an application").
//
// The whole library is one module, dist/bundle/core.js: a class is the same class through
// 'tsbpf' and 'tsbpf/testing', and the fault-injection seam replaces the kernel calls of
// both. Each entry is a file of re-exports from it (live bindings: sys's `kernel` follows
// replaceKernel). One file rather than esbuild's shared chunks: Node's ESM loader spends
// about 1.5 ms on each module it resolves, reads and links. The command is its own file
// and reaches the library through the same entries when a command runs (src/cli/lib.ts).
// Dependencies stay in node_modules: commander, cli-table3, picocolors for the command,
// and prom-client and yaml, which the library loads only when they are used.
//
//   node dist/tools/bundle.js [--sizes]      (npm run build runs it after tsc)
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type BuildOptions, type Plugin } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The package's entries: dist/bundle/<name>.js to tsc's module. */
export const BUNDLE_ENTRIES: Record<string, string> = {
  index: 'dist/src/index.js',
  sys: 'dist/src/sys/index.js',
  testing: 'dist/src/testing.js',
  cli: 'dist/src/cli/main.js',
};

/** The library modules the command imports when a command runs (its dynamic imports: src/cli/lib.ts, the generator). */
function cliImports(): string[] {
  const dir = join(root, 'dist/src/cli');
  return readdirSync(dir)
    .filter((name) => name.endsWith('.js'))
    .flatMap((name) => [...readFileSync(join(dir, name), 'utf8').matchAll(/\bimport\('(\.[^']+)'\)/g)].map((m) => relative(root, resolve(dir, m[1]!))))
    .sort();
}

/** The names each built-in module is imported with in tsc's output (`import { a, b as c } from 'node:x'`). */
function builtinImports(dir: string): Map<string, Set<string>> {
  const names = new Map<string, Set<string>>();
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.js')) {
        for (const m of readFileSync(path, 'utf8').matchAll(/^(?:import|export)\s+(?!type\b)([^;]*?)\s+from\s+'(node:[\w/]+)'/gms)) {
          const clause = m[1]!.trim();
          if (!/^\{[^}]*\}$/.test(clause)) throw new Error(`${path}: only named imports of built-ins are bundled: ${m[0]}`);
          const set = names.get(m[2]!) ?? new Set<string>();
          for (const part of clause.slice(1, -1).split(',')) {
            const name = part.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]!;
            if (name && !part.trim().startsWith('type ')) set.add(name);
          }
          names.set(m[2]!, set);
        }
      }
    }
  };
  walk(dir);
  return names;
}

/**
 * Built-ins a start does not need: their functions are wrappers that load the module on
 * the first call (each is 0.5-2 ms of a start, worker_threads' environment aside).
 */
const LAZY_BUILTINS = new Set(['node:child_process', 'node:crypto', 'node:dgram', 'node:http', 'node:net', 'node:stream', 'node:zlib']);

/**
 * Node's built-in modules taken with process.getBuiltinModule (Node 20.16+; require()
 * before) instead of import. An ESM import of a built-in builds its namespace from every
 * export, running the lazy getters: `import { readFileSync } from 'node:fs'` loads
 * fs/promises, streams and readline as well, tens of ms of a start on this machine.
 * Each built-in becomes a module that exports the names the library imports from it.
 */
function builtinsPlugin(names: Map<string, Set<string>>): Plugin {
  const require = createRequire(import.meta.url);
  return {
    name: 'builtins',
    setup(b) {
      b.onResolve({ filter: /^node:/ }, (args) =>
        args.path === 'node:module' ? { path: args.path, external: true } : { path: args.path, namespace: args.kind === 'require-call' ? 'builtin-cjs' : 'builtin' },
      );
      // require() of a built-in in a bundled dependency (the command's commander): the module as it is.
      b.onResolve({ filter: /^builtin-loader$/ }, (args) => ({ path: args.path, namespace: 'builtin-loader' }));
      b.onLoad({ filter: /.*/, namespace: 'builtin-loader' }, () => ({
        loader: 'js',
        contents: `import { createRequire } from 'node:module';\nexport const load = (id) => process.getBuiltinModule ? process.getBuiltinModule(id) : createRequire(import.meta.url)(id);\n`,
      }));
      b.onLoad({ filter: /.*/, namespace: 'builtin-cjs' }, (args) => {
        const id = JSON.stringify(args.path);
        if (!LAZY_BUILTINS.has(args.path)) return { loader: 'js', contents: `module.exports = require('builtin-loader').load(${id});\n` };
        // commander takes child_process at load for subcommands it never runs here: each property loads it when read.
        const keys = JSON.stringify(Object.keys(require(args.path) as object));
        return {
          loader: 'js',
          contents: `const { load } = require('builtin-loader');\nlet m;\nfor (const k of ${keys}) Object.defineProperty(module.exports, k, { enumerable: true, get: () => (m ??= load(${id}))[k] });\n`,
        };
      });
      b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => {
        const id = JSON.stringify(args.path);
        const wanted = [...(names.get(args.path) ?? [])].sort();
        const actual = require(args.path) as Record<string, unknown>;
        const lines = [
          `import { createRequire } from 'node:module';`,
          `const load = () => process.getBuiltinModule ? process.getBuiltinModule(${id}) : createRequire(import.meta.url)(${id});`,
        ];
        // A function whose name starts in lower case is called, never constructed or read: it can wait.
        const lazy = (name: string) => LAZY_BUILTINS.has(args.path) && typeof actual[name] === 'function' && /^[a-z]/.test(name);
        if (wanted.some((n) => !lazy(n))) lines.push('const m = load();');
        else lines.push('let m;');
        for (const name of wanted) {
          if (!(name in actual)) throw new Error(`${args.path} has no export ${name}`);
          lines.push(lazy(name) ? `export function ${name}(...args) { return (m ??= load()).${name}(...args); }` : `export const ${name} = m.${name};`);
        }
        return { loader: 'js', contents: lines.join('\n') + '\n' };
      });
    },
  };
}

/**
 * Bundles into `out`; `extra` is for experiments (timing banners, minification).
 * Returns each file's size in bytes.
 */
export async function bundle(out = join(root, 'dist/bundle'), extra: BuildOptions = {}): Promise<Record<string, number>> {
  rmSync(out, { recursive: true, force: true });
  // Faces: the modules the core re-exports, each under a prefix of its own, and the file
  // that gives its names back. The library's entries, then what the command imports.
  const faces = [
    ...['index', 'sys', 'testing'].map((name) => ({ file: `${name}.js`, source: BUNDLE_ENTRIES[name]! })),
    ...cliImports()
      .filter((source) => !Object.values(BUNDLE_ENTRIES).includes(source))
      .map((source) => ({ file: `internal-${source.replace(/^dist\/src\//, '').replace(/\.js$/, '').replaceAll('/', '-')}.js`, source })),
  ].map((face, i) => ({ ...face, prefix: i === 0 ? '' : `${face.file.replace(/\.js$/, '').replace(/\W/g, '_')}$`, names: [] as string[] }));
  for (const face of faces) face.names = Object.keys((await import(pathToFileURL(join(root, face.source)).href)) as object).sort();
  const core = faces
    .map((f) => `export { ${f.names.map((n) => (f.prefix ? `${n} as ${f.prefix}${n}` : n)).join(', ')} } from ${JSON.stringify(join(root, f.source))};`)
    .join('\n');

  const builtins = builtinsPlugin(builtinImports(join(root, 'dist/src')));
  const common: BuildOptions = {
    absWorkingDir: root,
    outdir: out,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    // tsc's maps are read in, so the bundle's map points at src/*.ts as dist/src's do.
    sourcemap: 'linked',
    sourcesContent: false,
    legalComments: 'none',
    // Without it a class that names itself inside becomes `class _X` (esbuild's inner binding):
    // error messages and tests read class names.
    keepNames: true,
    logLevel: 'warning',
  };
  await build({
    ...common,
    stdin: { contents: core, resolveDir: root, sourcefile: 'core.js', loader: 'js' },
    outfile: join(out, 'core.js'),
    outdir: undefined,
    plugins: [builtins],
    ...extra,
  });
  // The command: its own code bundled; the library through the entries' files.
  const byFace = new Map(faces.map((f) => [join(root, f.source), `./${f.file}`]));
  await build({
    ...common,
    entryPoints: { cli: join(root, BUNDLE_ENTRIES.cli!) },
    // commander, cli-table3 and picocolors inside: as separate CommonJS files Node resolves
    // each, compiles it and scans it for export names. prom-client stays outside (tsbpf export).
    packages: undefined,
    external: ['prom-client', 'yaml', 'node-gyp-build'],
    plugins: [
      builtins,
      {
        name: 'library-by-entry',
        setup(b) {
          b.onResolve({ filter: /^\./ }, (args) => {
            const face = args.kind === 'dynamic-import' ? byFace.get(resolve(args.resolveDir, args.path)) : undefined;
            return face ? { path: face, external: true } : undefined;
          });
        },
      },
    ],
    ...extra,
  });
  // keepNames also renames what needs no renaming: `function f` followed by `__name(f, "f")`.
  // Those calls are 500 Object.defineProperty at every start; the lines are emptied, not
  // removed, so that the source maps still hold.
  for (const file of ['core.js', 'cli.js']) {
    const path = join(out, file);
    // esbuild writes strings and expressions in ASCII but keeps some comments as written: one
    // character past ASCII makes Node decode the file as UTF-8 and V8 scan it as two-byte text.
    const text = readFileSync(path, 'utf8').replace(/^([ \t]*)__name\((\w+), "\2"\);$/gm, '').replace(/[^\x00-\x7f]/g, '?');
    writeFileSync(path, text);
  }
  for (const f of faces) {
    const names = f.names.map((n) => (f.prefix ? `${f.prefix}${n} as ${n}` : n));
    writeFileSync(join(out, f.file), `// ${f.source}, from the bundle (tools/bundle.ts).\nexport { ${names.join(', ')} } from './core.js';\n`);
  }
  const sizes: Record<string, number> = {};
  for (const file of readdirSync(out)) if (file.endsWith('.js')) sizes[file] = readFileSync(join(out, file)).length;
  return sizes;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const sizes = await bundle();
  if (process.argv.includes('--sizes')) {
    for (const [file, bytes] of Object.entries(sizes)) console.log(`${file.padEnd(24)} ${(bytes / 1024).toFixed(1).padStart(7)} KiB`);
  }
}
