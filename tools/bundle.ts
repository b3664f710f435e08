// The package's entries as published: 'tsbpf', 'tsbpf/sys', 'tsbpf/testing' and the tsbpf
// command, bundled from tsc's output (dist/src) into dist/bundle/. Node loads a few files
// instead of some 150 modules, which is most of what importing the library cost
// (README, "Install"). Code splitting gives the entries one shared copy of every module:
// a class is the same class through 'tsbpf' and 'tsbpf/testing', and the fault-injection
// seam replaces the kernel calls of both. Dependencies stay outside (node_modules): the
// command's commander, cli-table3, picocolors, and prom-client and yaml, which the
// library loads only when they are used.
//
//   node dist/tools/bundle.js        (npm run build runs it after tsc)
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const out = join(root, 'dist/bundle');

/** Entry name (dist/bundle/<name>.js) to tsc's module. */
export const BUNDLE_ENTRIES: Record<string, string> = {
  index: 'dist/src/index.js',
  sys: 'dist/src/sys/index.js',
  testing: 'dist/src/testing.js',
  cli: 'dist/src/cli/main.js',
};

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
      b.onResolve({ filter: /^node:/ }, (args) => (args.path === 'node:module' ? { path: args.path, external: true } : { path: args.path, namespace: 'builtin' }));
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

export async function bundle(): Promise<Record<string, number>> {
  rmSync(out, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(Object.entries(BUNDLE_ENTRIES).map(([name, file]) => [name, join(root, file)])),
    outdir: out,
    chunkNames: 'chunk-[hash]',
    bundle: true,
    splitting: true,
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
    plugins: [builtinsPlugin(builtinImports(join(root, 'dist/src')))],
    metafile: true,
    logLevel: 'warning',
  });
  return Object.fromEntries(
    Object.entries(result.metafile.outputs)
      .filter(([file]) => file.endsWith('.js'))
      .map(([file, o]) => [relative(out, join(root, file)), o.bytes]),
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const sizes = await bundle();
  if (process.argv.includes('--sizes')) {
    for (const [file, bytes] of Object.entries(sizes)) console.log(`${file.padEnd(24)} ${(bytes / 1024).toFixed(1).padStart(7)} KiB`);
  }
}
