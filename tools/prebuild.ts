// Prebuilt addon binaries for the package: `node dist/tools/prebuild.js [arch...]` (npm's
// `prepack` runs it) compiles native/ once per architecture (x64 and arm64 by default, the
// foreign one with Debian's cross compiler) and writes prebuilds/linux-<arch>/, where
// node-gyp-build finds them at install and at run time.
//
// The addon's fast path (native/fast.cc) uses the V8 API, whose ABI changes with each Node
// major, so a binary is tagged with the ABI it was compiled for (abi115 for Node 20), not as
// Node-API only: on another Node major node-gyp-build finds no match and the install compiles.
//
// Each architecture builds in a copy of binding.gyp and native/ in a temporary directory:
// build/Release of the checkout (what the tests load) is never touched. Each result is
// checked: an ELF shared object for its machine that exports napi_register_module_v1.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch as hostArch, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ElfFile } from '../src/obj/elf.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** What an architecture needs: its e_machine and, to build it on another host, the GNU triplet of Debian's cross tools. */
export const ARCHES: Record<string, { machine: number; triplet: string }> = {
  x64: { machine: 62 /* EM_X86_64 */, triplet: 'x86_64-linux-gnu' },
  arm64: { machine: 183 /* EM_AARCH64 */, triplet: 'aarch64-linux-gnu' },
};

/** Why `file` is not a loadable tsbpf addon for `arch`, or undefined when it is. */
export function checkAddon(file: string, arch: string): string | undefined {
  const want = ARCHES[arch];
  if (!want) return `unknown architecture ${arch}`;
  let elf: ElfFile;
  try {
    elf = ElfFile.parse(readFileSync(file), { native: true });
  } catch (err) {
    return `${file}: not an ELF file (${String(err)})`;
  }
  if (elf.machine !== want.machine) return `${file}: e_machine ${elf.machine}, not ${want.machine} (${arch})`;
  if (elf.fileType !== 3 /* ET_DYN */) return `${file}: not a shared object (e_type ${elf.fileType})`;
  const entry = elf.dynamicSymbols.find((s) => s.name === 'napi_register_module_v1');
  if (!entry || entry.section === 0) return `${file}: does not export napi_register_module_v1`;
  return undefined;
}

/** The node headers of this node: node-gyp would otherwise download them (and the registry is not the place for them). */
function nodedir(): string | undefined {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefixes = [(process.config.variables as { node_prefix?: string }).node_prefix, resolve(process.execPath, '../..')];
  return prefixes.find((prefix) => {
    try {
      const h = readFileSync(join(prefix ?? '/nonexistent', 'include/node/node_version.h'), 'utf8');
      const v = ['MAJOR', 'MINOR', 'PATCH'].map((p) => new RegExp(`#define NODE_${p}_VERSION (\\d+)`).exec(h)?.[1]).join('.');
      return v === process.versions.node;
    } catch {
      return false;
    }
  });
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? done(out) : fail(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${out}`))));
  });
}

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, cmd)));
}

async function prebuild(arch: string, out: string): Promise<string> {
  const spec = ARCHES[arch];
  if (!spec) throw new Error(`prebuild: unknown architecture ${arch} (known: ${Object.keys(ARCHES).join(', ')})`);
  const env: NodeJS.ProcessEnv = { ...process.env };
  const dir = nodedir();
  if (dir) env.npm_config_nodedir = dir;
  let strip = 'strip';
  if (arch !== hostArch()) {
    const cxx = `${spec.triplet}-g++`;
    if (!onPath(cxx)) throw new Error(`prebuild: ${cxx} not found: install Debian's g++-${spec.triplet.replaceAll('_', '-')}, or name the architectures to build (npm run prebuild -- ${hostArch()})`);
    Object.assign(env, { CC: `${spec.triplet}-gcc`, CXX: cxx, AR: `${spec.triplet}-ar`, LINK: cxx });
    strip = `${spec.triplet}-strip`;
  }
  const work = mkdtempSync(join(tmpdir(), `tsbpf-prebuild-${arch}-`));
  try {
    for (const f of ['package.json', 'binding.gyp', 'native']) cpSync(join(root, f), join(work, f), { recursive: true });
    const require = createRequire(import.meta.url);
    const bin = join(dirname(require.resolve('prebuildify/package.json')), 'bin.js');
    const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
    const args = [bin, '--cwd', work, '--out', out, '--arch', arch, '--target', process.versions.node, '--no-napi'];
    await run(process.execPath, [...args, '--strip', '--strip-bin', strip, '--tag-libc', '--node-gyp', nodeGyp], env);
    const folder = join(out, 'prebuilds', `linux-${arch}`);
    const built = readdirSync(folder).filter((f) => f.endsWith('.node'));
    if (built.length !== 1) throw new Error(`prebuild: expected one binary in ${folder}, found ${built.join(', ') || 'none'}`);
    const file = join(folder, built[0]!);
    const wrong = checkAddon(file, arch);
    if (wrong) throw new Error(`prebuild: ${wrong}`);
    return file;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const arches = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const out = root;
  rmSync(join(out, 'prebuilds'), { recursive: true, force: true });
  const files = await Promise.all((arches.length ? arches : Object.keys(ARCHES)).map((a) => prebuild(a, out)));
  // stderr: npm pack --json prints its JSON on stdout, after what prepack printed.
  for (const f of files) console.error(`prebuilt ${f.slice(out.length + 1)}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}
