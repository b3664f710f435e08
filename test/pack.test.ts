// The package as an application gets it: prebuilt addons made as `npm pack` makes them
// (prepack: tools/prebuild.ts), the tarball installed into an empty project whose PATH has
// node, npm, npx and sh but no compiler, make or python, then used from TypeScript (its
// types checked by tsc) and through the `tsbpf` command. A second project installs with
// --ignore-scripts: node-gyp-build finds the prebuilt binary at run time all the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARCHES, checkAddon } from '../tools/prebuild.js';
import { repoRoot } from './helpers.js';

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string; scripts: Record<string, string> };
const abi = process.versions.modules;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<Run> {
  return new Promise((done) => {
    execFile(cmd, args, { ...opts, encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      const status = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      done({ status, stdout, stderr });
    });
  });
}

function ok(r: Run, what: string): string {
  assert.equal(r.status, 0, `${what} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** A bin directory with node, npm, npx and sh only, and an environment without npm's variables of this run. */
function bareEnv(dir: string): NodeJS.ProcessEnv {
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const npmCli = join(process.execPath, '../../lib/node_modules/npm/bin');
  const which = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim();
  symlinkSync(process.execPath, join(bin, 'node'));
  for (const cmd of ['npm', 'npx']) symlinkSync(existsSync(join(npmCli, `${cmd}-cli.js`)) ? join(npmCli, `${cmd}-cli.js`) : which(cmd), join(bin, cmd));
  // npm runs lifecycle scripts with sh, as every shell user has.
  symlinkSync('/bin/sh', join(bin, 'sh'));
  return { HOME: process.env.HOME, PATH: bin, LANG: 'C.UTF-8' };
}

function project(dir: string, name: string): string {
  const app = join(dir, name);
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, type: 'module' }));
  return app;
}

// What an application writes: ESM import, typed map, try/finally (Node 20 has no `using`).
const APP_TS = `
import { HashMap, MapType, u32, u64 } from 'tsbpf';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

const counts = HashMap.create(u32, u64, { maxEntries: 8, name: 'pack_test' });
try {
  counts.insert(7, 42n);
  const value: bigint = counts.get(7);
  // @ts-expect-error: keys are numbers (u32), so the package's types reject a string.
  if (value === -1n) counts.insert('seven', 1n);
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('tsbpf/package.json'));
  const addon = (require('node-gyp-build') as { resolve(dir: string): string }).resolve(root);
  console.log(JSON.stringify({ value: String(value), type: MapType[counts.map.type], addon: addon.slice(root.length + 1) }));
} finally {
  counts.close();
}
`;

test('npm pack with prebuilt addons installs and runs in a project without a compiler', { timeout: 300_000 }, async (t) => {
  // What prepack runs after compiling the TypeScript (done here by pretest).
  assert.match(pkg.scripts.prepack ?? '', /&& node dist\/tools\/prebuild\.js$/);
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-pack-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const prebuilds = join(repoRoot, 'prebuilds');
  t.after(() => rmSync(prebuilds, { recursive: true, force: true })); // postpack does the same

  ok(await run(process.execPath, [join(repoRoot, 'dist/tools/prebuild.js')], { cwd: repoRoot }), 'prebuild');
  const expected = Object.keys(ARCHES).map((arch) => `prebuilds/linux-${arch}/tsbpf.abi${abi}.glibc.node`).sort();
  for (const file of expected) {
    const arch = file.split('/')[1]!.slice('linux-'.length);
    assert.equal(checkAddon(join(repoRoot, file), arch), undefined, file);
    // The checker can fail: each binary is refused for the other architecture.
    const other = Object.keys(ARCHES).find((a) => a !== arch)!;
    assert.match(checkAddon(join(repoRoot, file), other) ?? '', /e_machine/);
  }

  const packed = JSON.parse(ok(await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: repoRoot }), 'npm pack')) as {
    filename: string;
    files: { path: string }[];
  }[];
  const tarball = join(dir, packed[0]!.filename);
  const paths = packed[0]!.files.map((f) => f.path);
  assert.deepEqual(paths.filter((p) => p.startsWith('prebuilds/')).sort(), expected);
  for (const p of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js', 'dist/bundle/index.js', 'dist/bundle/cli.js', 'binding.gyp', 'native/addon.c', 'package.json']) assert.ok(paths.includes(p), `${p} packed`);
  assert.ok(!paths.some((p) => p.startsWith('build/') || p.startsWith('dist/test/') || p.startsWith('test/')), 'no build tree or tests packed');
  rmSync(prebuilds, { recursive: true, force: true });

  const env = bareEnv(dir);
  for (const tool of ['g++', 'cc', 'gcc', 'make', 'python3', 'c++']) {
    assert.notEqual(spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { env }).status, 0, `${tool} must not be on the project's PATH`);
  }
  const app = project(dir, 'app');
  const quiet = project(dir, 'app-ignore-scripts');
  const npmInstall = (cwd: string, ...extra: string[]) =>
    run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', ...extra, tarball], { cwd, env });
  const [installed, installedQuiet] = await Promise.all([npmInstall(app), npmInstall(quiet, '--ignore-scripts')]);
  ok(installed, 'npm install');
  ok(installedQuiet, 'npm install --ignore-scripts');
  for (const a of [app, quiet]) {
    const where = join(a, 'node_modules/tsbpf');
    assert.ok(existsSync(join(where, 'prebuilds', `linux-${process.arch}`)), 'prebuilds installed');
    assert.ok(!existsSync(join(where, 'build')), 'nothing compiled at install');
  }

  // The application's TypeScript, checked against the installed package's types.
  writeFileSync(join(app, 'main.ts'), APP_TS);
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, outDir: 'out', skipLibCheck: true,
        lib: ['ES2022', 'ESNext.Disposable'], types: ['node'], typeRoots: [join(repoRoot, 'node_modules/@types')],
      },
      files: ['main.ts'],
    }),
  );
  const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
  ok(await run(process.execPath, [tsc, '-p', app], { cwd: app, env }), 'tsc in the application');
  writeFileSync(join(quiet, 'main.mjs'), readFileSync(join(app, 'out/main.js')));

  const [main, mainQuiet, version, feature] = await Promise.all([
    run('node', ['out/main.js'], { cwd: app, env }),
    run('node', ['main.mjs'], { cwd: quiet, env }),
    run('npx', ['--no-install', 'tsbpf', '--version'], { cwd: app, env }),
    run(join(app, 'node_modules/.bin/tsbpf'), ['feature', '--json'], { cwd: app, env }),
  ]);
  const want = { value: '42', type: 'Hash', addon: `prebuilds/linux-${process.arch}/tsbpf.abi${abi}.glibc.node` };
  assert.deepEqual(JSON.parse(ok(main, 'the application')), want);
  assert.deepEqual(JSON.parse(ok(mainQuiet, 'the application installed with --ignore-scripts')), want);
  assert.equal(ok(version, 'npx tsbpf --version').trim(), pkg.version);
  const features = JSON.parse(ok(feature, 'tsbpf feature --json')) as { mapTypes: { name: string; supported: boolean }[] };
  assert.equal(features.mapTypes.find((m) => m.name === 'BPF_MAP_TYPE_HASH')?.supported, true);
  assert.deepEqual(readdirSync(join(app, 'node_modules/tsbpf/prebuilds')).sort(), Object.keys(ARCHES).map((a) => `linux-${a}`).sort());
});
