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
import { rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const out = join(root, 'dist/bundle');

/** Entry name (dist/bundle/<name>.js) to tsc's module. */
export const BUNDLE_ENTRIES: Record<string, string> = {
  index: 'dist/src/index.js',
  sys: 'dist/src/sys/index.js',
  testing: 'dist/src/testing.js',
  cli: 'dist/src/cli/main.js',
};

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
