// npm run test:kernels: boots Debian's packaged kernels under QEMU (TCG: no KVM needed)
// with this machine's root shared read-only over 9p under a tmpfs overlay, runs the
// kernel-facing test files and tsbpf's feature probes inside, and prints a table of
// results per kernel and a kernel × feature table; the whole result also as JSON.
//
//   npm run test:kernels -- [--kernels 6.1,6.12] [--tests kernel|all|FILE,...]
//                           [--timeout 300] [--update] [--cache DIR] [--json FILE]
//                           [--markdown] [--verbose] [--serial] [--from-json FILE] [--command CMD]
//
// Kernel packages (linux-image-<series>*-amd64-unsigned: the plain flavour, whose 9p
// is a module; the cloud flavour has none) are fetched with `apt-get download` into
// $TSBPF_KERNEL_CACHE (default ~/.cache/tsbpf-kernels), never into the repository.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { cpioArchive, type CpioEntry } from './cpio.js';
import type { Answer, FeatureRecord } from './features.js';
import type { RunningRecord, StderrRecord, TestRecord } from './reporter.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const testDir = join(repo, 'dist/test');

/**
 * The default test files: those whose outcome depends on the kernel (probes, map types
 * and operations, loading with CO-RE, externs and struct_ops, every attach file). Left
 * out: files that behave the same on every kernel (parsing, codecs, the fault-injection
 * seam, the addon's argument checks, fd ownership, pinning across processes, the
 * section table) and cost emulated minutes for nothing; `--tests all` runs them too.
 */
const KERNEL_TESTS = [
  'features', 'map-type', 'array-map', 'hash-map', 'array-of-maps', 'hash-of-maps', 'map-data',
  'loader', 'loader-externs', 'corpus-load', 'obj-core', 'struct-ops', 'e2e-program', 'prog-query',
  'attach-introspect', 'attach-misc', 'attach-net', 'attach-probe', 'attach-sock', 'attach-trace',
  'native-poll', 'ringbuf', 'user-ringbuf', 'percpu-maps', 'lpm-queue-bloom', 'batch', 'map-memory', 'variables',
  'stack-trace', 'special-maps', 'pidfd', 'xsk', 'native-fast', 'perf-buffer', 'opensnoop',
];

// Modules the initramfs loads to reach the root: virtio PCI, 9p over virtio, overlayfs.
const BOOT_MODULES = ['virtio_pci', '9pnet_virtio', '9p', 'overlay'];

interface Options {
  kernels: string[];
  tests: string[];
  /** Seconds each test file may take. */
  timeout: number;
  update: boolean;
  cache: string;
  json: string;
  markdown: boolean;
  verbose: boolean;
  /** One guest at a time rather than all at once. */
  serial: boolean;
  /** vCPUs per guest. */
  smp: number;
  memory: string;
  /** Print the tables of an earlier run's JSON instead of running. */
  fromJson?: string;
  /** A shell command to run in each guest instead of the probes and tests. */
  command?: string;
}

function usage(): never {
  process.stderr.write(`usage: npm run test:kernels -- [options]
  --kernels LIST       kernel series (6.1, 6.12, ...), exact Debian ABIs (6.1.0-57) or 'host',
                       comma-separated (default 6.1,6.12)
  --tests LIST         'kernel' (default: ${KERNEL_TESTS.length} kernel-facing files), 'all', or test
                       file names without .test.js (map-type,attach-net)
  --timeout S          seconds each test file may take before it is killed (default 300);
                       the test that was running is named in the table
  --update             apt-get update and take the newest package even when one is cached
  --cache DIR          downloads and unpacked kernels (default $TSBPF_KERNEL_CACHE or ~/.cache/tsbpf-kernels)
  --json FILE          where the JSON result goes (default <cache>/results.json)
  --markdown           also print the feature table as Markdown
  --memory SIZE        guest memory (default 2G)
  --verbose            echo the guest console, with the kernel's boot messages
  --serial             boot the kernels one after the other (default: side by side)
  --smp N              vCPUs per guest (default: 2 for one guest at a time, 1 side by side:
                       TCG runs a thread per vCPU, and two guests of two would share two cores)
  --from-json FILE     print the tables of an earlier run's JSON, run nothing
  --command CMD        run CMD (bash, in the repository) in each guest instead of the probes and
                       tests, and show its output: for looking into a failure on one kernel
`);
  process.exit(2);
}

function options(): Options {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        kernels: { type: 'string', default: '6.1,6.12' },
        tests: { type: 'string', default: 'kernel' },
        timeout: { type: 'string', default: '300' },
        update: { type: 'boolean', default: false },
        cache: { type: 'string' },
        json: { type: 'string' },
        markdown: { type: 'boolean', default: false },
        memory: { type: 'string', default: '2G' },
        verbose: { type: 'boolean', default: false },
        serial: { type: 'boolean', default: false },
        smp: { type: 'string' },
        'from-json': { type: 'string' },
        command: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    usage();
  }
  if (parsed.help) usage();
  const positive = (name: string, v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) {
      process.stderr.write(`--${name} must be a positive integer\n`);
      usage();
    }
    return n;
  };
  const cache = resolve(parsed.cache ?? process.env.TSBPF_KERNEL_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'tsbpf-kernels'));
  return {
    kernels: parsed.kernels.split(',').map((s) => s.trim()).filter(Boolean),
    tests: testFiles(parsed.tests),
    timeout: positive('timeout', parsed.timeout),
    update: parsed.update,
    cache,
    json: resolve(parsed.json ?? join(cache, 'results.json')),
    markdown: parsed.markdown,
    verbose: parsed.verbose,
    serial: parsed.serial,
    smp: parsed.smp === undefined ? 0 : positive('smp', parsed.smp),
    memory: parsed.memory,
    fromJson: parsed['from-json'],
    command: parsed.command,
  };
}

function testFiles(spec: string): string[] {
  const available = readdirSync(testDir).filter((f) => f.endsWith('.test.js')).map((f) => f.slice(0, -'.test.js'.length)).sort();
  if (spec === 'all') return available;
  const wanted = spec === 'kernel' ? KERNEL_TESTS : spec.split(',').map((s) => s.trim().replace(/\.test\.(js|ts)$/, '')).filter(Boolean);
  const unknown = wanted.filter((f) => !available.includes(f));
  if (unknown.length) {
    process.stderr.write(`no such test file in dist/test: ${unknown.join(', ')}\n`);
    process.exit(2);
  }
  return wanted;
}

// ---------------------------------------------------------------------------- tools

function log(msg: string): void {
  process.stderr.write(`test:kernels: ${msg}\n`);
}

/** Runs a command; throws with its stderr when it fails. */
function run(cmd: string, args: string[], opts: { input?: string; maxBuffer?: number } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input: opts.input, maxBuffer: opts.maxBuffer ?? 64 << 20, stdio: ['pipe', 'pipe', 'pipe'] });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}: ${r.stderr.trim().slice(-2000)}`);
  return r.stdout;
}

function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

const BUSYBOX = '/bin/busybox';

/** True when `path` is an ELF executable without an interpreter (runs with no libraries). */
function isStatic(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    const h = Buffer.alloc(64);
    readSync(fd, h, 0, 64, 0);
    if (h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2) return false;
    const phoff = Number(h.readBigUInt64LE(32));
    const phentsize = h.readUInt16LE(54);
    const phnum = h.readUInt16LE(56);
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) if (ph.readUInt32LE(i * phentsize) === 3 /* PT_INTERP */) return false;
    return true;
  } finally {
    closeSync(fd);
  }
}

let aptUpdated = false;
function aptUpdate(): void {
  if (aptUpdated) return;
  log('apt-get update');
  run('apt-get', ['update', '-qq']);
  aptUpdated = true;
}

/** Installs QEMU, a static busybox (the initramfs) and kmod (depmod, modprobe) when missing. */
function ensureTools(): void {
  const missing: string[] = [];
  if (!hasCommand('qemu-system-x86_64')) missing.push('qemu-system-x86');
  if (!isStatic(BUSYBOX)) missing.push('busybox-static');
  if (!hasCommand('depmod') || !hasCommand('modprobe')) missing.push('kmod');
  if (!missing.length) return;
  aptUpdate();
  log(`apt-get install ${missing.join(' ')}`);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing]);
  if (!isStatic(BUSYBOX)) throw new Error(`${BUSYBOX} is not a static executable after installing busybox-static`);
}

// ---------------------------------------------------------------------------- kernels

interface KernelPackage {
  /** What was asked for: "6.1", "6.12", "6.1.0-57". */
  spec: string;
  pkg: string;
  version: string;
  /** uname -r of the kernel. */
  release: string;
  /** The unpacked package: boot/vmlinuz-*, boot/config-*, lib/modules/<release>. */
  dir: string;
  debBytes: number;
  /** Seconds spent downloading, unpacking and running depmod (0 when cached). */
  prepareSeconds: number;
}

interface ReadyMarker {
  pkg: string;
  version: string;
  release: string;
  debBytes: number;
}

/** Package names of the plain amd64 flavour for `spec`: "6.1" → linux-image-6.1.0-57-amd64-unsigned, ... */
function packagePattern(spec: string): RegExp {
  const v = spec.replace(/\./g, '\\.');
  return new RegExp(`^linux-image-${v}([.+-][0-9a-z.+~-]*)?-amd64-unsigned$`);
}

function isPlainFlavour(pkg: string): boolean {
  return !/-(cloud|rt)-amd64-unsigned$/.test(pkg);
}

function cachedKernels(cache: string): (ReadyMarker & { dir: string })[] {
  if (!existsSync(cache)) return [];
  const out: (ReadyMarker & { dir: string })[] = [];
  for (const name of readdirSync(cache)) {
    const marker = join(cache, name, '.tsbpf-ready.json');
    if (existsSync(marker)) out.push({ ...(JSON.parse(readFileSync(marker, 'utf8')) as ReadyMarker), dir: join(cache, name) });
  }
  return out;
}

function compareVersions(a: string, b: string): number {
  if (a === b) return 0;
  return spawnSync('dpkg', ['--compare-versions', a, 'lt', b]).status === 0 ? -1 : 1;
}

/** The newest candidate (package, version) of `spec` in the apt indexes. */
function newestPackage(spec: string): { pkg: string; version: string } | undefined {
  const pattern = packagePattern(spec);
  const names = run('apt-cache', ['search', '--names-only', `^linux-image-${spec.replace(/\./g, '\\.')}`])
    .split('\n').map((l) => l.split(' ')[0]!).filter((p) => pattern.test(p) && isPlainFlavour(p));
  if (!names.length) return undefined;
  const policy = run('apt-cache', ['policy', ...names]);
  let best: { pkg: string; version: string } | undefined;
  let current: string | undefined;
  for (const line of policy.split('\n')) {
    if (/^\S.*:$/.test(line)) current = line.slice(0, -1);
    const m = /^\s+Candidate: (\S+)/.exec(line);
    if (m && current && m[1] !== '(none)' && (!best || compareVersions(best.version, m[1]!) < 0)) best = { pkg: current, version: m[1]! };
  }
  return best;
}

function resolveKernel(spec: string, opts: Options): KernelPackage {
  const pattern = packagePattern(spec);
  const cached = cachedKernels(opts.cache).filter((k) => pattern.test(k.pkg)).sort((a, b) => compareVersions(b.version, a.version));
  if (cached.length && !opts.update) return { spec, ...cached[0]!, prepareSeconds: 0 };
  const t0 = performance.now();
  aptUpdate();
  const want = newestPackage(spec);
  if (!want) {
    if (cached.length) {
      log(`no ${spec} kernel in the apt indexes any more; using the cached ${cached[0]!.pkg}`);
      return { spec, ...cached[0]!, prepareSeconds: 0 };
    }
    throw new Error(`no package linux-image-${spec}*-amd64-unsigned in the apt indexes`);
  }
  const have = cached.find((k) => k.pkg === want.pkg && k.version === want.version);
  if (have) return { spec, ...have, prepareSeconds: (performance.now() - t0) / 1000 };

  const debs = join(opts.cache, 'debs');
  mkdirSync(debs, { recursive: true });
  log(`apt-get download ${want.pkg}=${want.version}`);
  spawnDownload(debs, `${want.pkg}=${want.version}`);
  // apt names it package_version_arch.deb, with an epoch's ':' as %3a.
  const deb = readdirSync(debs).find((f) => f.startsWith(`${want.pkg}_${want.version.replace(/:/g, '%3a')}_`) && f.endsWith('.deb'));
  if (!deb) throw new Error(`apt-get download left no ${want.pkg}_${want.version}_*.deb in ${debs}`);
  const debPath = join(debs, deb);
  const debBytes = statSync(debPath).size;

  const dir = join(opts.cache, `${want.pkg}_${want.version}`);
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
  log(`dpkg -x ${deb}`);
  run('dpkg', ['-x', debPath, partial]);
  const release = readdirSync(join(partial, 'lib/modules'))[0];
  if (!release) throw new Error(`${deb} holds no lib/modules/<release>`);
  // The package ships no modules.dep: make it, for modprobe here and in the guest.
  log(`depmod ${release}`);
  run('depmod', ['-b', partial, release]);
  const marker: ReadyMarker = { pkg: want.pkg, version: want.version, release, debBytes };
  writeFileSync(join(partial, '.tsbpf-ready.json'), JSON.stringify(marker));
  renameSync(partial, dir);
  // The unpacked tree is what is kept; the .deb is not needed again.
  rmSync(debPath, { force: true });
  return { spec, ...marker, dir, prepareSeconds: (performance.now() - t0) / 1000 };
}

function spawnDownload(dir: string, what: string): void {
  // apt's sandbox user cannot write to root's cache: that warning is expected.
  const r = spawnSync('apt-get', ['download', '-qq', what], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`apt-get download ${what} failed: ${(r.stderr ?? '').trim().slice(-2000)}`);
}

// ---------------------------------------------------------------------------- initramfs

function decompressModule(path: string): Uint8Array {
  if (path.endsWith('.ko')) return readFileSync(path);
  if (path.endsWith('.ko.gz')) return gunzipSync(readFileSync(path));
  const tool = path.endsWith('.ko.xz') ? [BUSYBOX, 'unxz', '-c', path] : path.endsWith('.ko.zst') ? ['zstd', '-dcq', path] : undefined;
  if (!tool) throw new Error(`unknown module compression: ${path}`);
  const r = spawnSync(tool[0]!, tool.slice(1), { maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`${tool.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** The initramfs for `k`: busybox, the boot modules in load order, init.sh as /init. */
function buildInitramfs(k: KernelPackage, out: string): void {
  const order: string[] = [];
  for (const mod of BOOT_MODULES) {
    for (const line of run('modprobe', ['-d', k.dir, '-S', k.release, '--show-depends', mod]).split('\n')) {
      const m = /^insmod (\S+)/.exec(line);
      if (m && !order.includes(m[1]!)) order.push(m[1]!);
    }
  }
  const entries: CpioEntry[] = [
    { path: 'bin', kind: 'dir' },
    { path: 'dev', kind: 'dir' },
    // The kernel opens /dev/console for init before anything is mounted.
    { path: 'dev/console', kind: 'char', major: 5, minor: 1 },
    { path: 'modules', kind: 'dir' },
    { path: 'bin/busybox', kind: 'file', data: readFileSync(BUSYBOX), mode: 0o755 },
    { path: 'init', kind: 'file', data: readFileSync(join(repo, 'test/kernels/init.sh')), mode: 0o755 },
  ];
  const names: string[] = [];
  for (const path of order) {
    const name = basename(path).replace(/\.(xz|gz|zst)$/, '');
    names.push(name);
    entries.push({ path: `modules/${name}`, kind: 'file', data: decompressModule(path) });
  }
  entries.push({ path: 'modules.order', kind: 'file', data: Buffer.from(names.map((n) => `${n}\n`).join('')) });
  writeFileSync(out, cpioArchive(entries));
}

// ---------------------------------------------------------------------------- results

interface FileResult {
  file: string;
  /** Exit status of the test file's run (124/137: killed by the file timeout), or undefined if it never ended. */
  status?: number;
  ms?: number;
  tests: TestRecord[];
  /** The test that had started but not finished when the file ended. */
  unfinished?: string;
  stderr?: string;
}

interface KernelResult {
  kernel: string;
  package?: { name: string; version: string; debBytes: number; prepareSeconds: number };
  release?: string;
  version?: string;
  /** Seconds from starting QEMU to the first line of the guest script. */
  bootSeconds?: number;
  /** Seconds from starting QEMU (or the host run) to its end. */
  wallSeconds?: number;
  features?: FeatureRecord;
  files: FileResult[];
  /** Why the run did not finish (QEMU died, timed out, ...). */
  error?: string;
  /** Exit status of --command. */
  commandStatus?: number;
}

type GuestLine = TestRecord | RunningRecord | StderrRecord | FeatureRecord
  | { t: 'kernel'; release: string; version: string }
  | { t: 'file:start'; file: string }
  | { t: 'file:end'; file: string; status: number; ms: number }
  | { t: 'features:end'; status: number; ms: number }
  | { t: 'command:end'; status: number; ms: number }
  | { t: 'done' };

/** Folds the guest's JSON lines into a KernelResult; returns whether "done" was seen. */
function collect(result: KernelResult, text: string): boolean {
  let done = false;
  const files = new Map(result.files.map((f) => [f.file, f]));
  const file = (name: string) => {
    let f = files.get(name);
    if (!f) {
      f = { file: name, tests: [] };
      files.set(name, f);
      result.files.push(f);
    }
    return f;
  };
  const running = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (!line.startsWith('{')) continue;
    let rec: GuestLine;
    try {
      rec = JSON.parse(line) as GuestLine;
    } catch {
      continue; // a line cut by the guest's end
    }
    switch (rec.t) {
      case 'kernel':
        result.release = rec.release;
        result.version = rec.version;
        break;
      case 'features':
        result.features = rec;
        break;
      case 'file:start':
        file(rec.file);
        break;
      case 'running':
        running.set(rec.file, rec.name);
        break;
      case 'test':
        file(rec.file).tests.push(rec);
        if (running.get(rec.file) === rec.name) running.delete(rec.file);
        break;
      case 'stderr':
        file(rec.file).stderr = rec.text;
        break;
      case 'file:end': {
        const f = file(rec.file);
        f.status = rec.status;
        f.ms = rec.ms;
        if (running.has(rec.file) && rec.status !== 0) f.unfinished = running.get(rec.file);
        break;
      }
      case 'command:end':
        result.commandStatus = rec.status;
        break;
      case 'done':
        done = true;
        break;
    }
  }
  return done;
}

// ---------------------------------------------------------------------------- guests

/**
 * Writes --command to a script the guest can read: under the cache directory, since the
 * guest has its own /tmp.
 */
function commandFile(opts: Options): string {
  const dir = join(opts.cache, 'run');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'command.sh');
  writeFileSync(file, `cd ${JSON.stringify(repo)}\n${opts.command}\n`);
  return file;
}

function runGuest(k: KernelPackage, opts: Options, work: string): Promise<KernelResult> {
  const result: KernelResult = {
    kernel: k.spec,
    package: { name: k.pkg, version: k.version, debBytes: k.debBytes, prepareSeconds: round(k.prepareSeconds) },
    files: [],
  };
  const initrd = join(work, `initramfs-${k.release}.cpio`);
  buildInitramfs(k, initrd);
  const results = join(work, `results-${k.release}.jsonl`);
  const consoleLog = join(opts.cache, 'logs', `${k.release}.console.log`);
  mkdirSync(dirname(consoleLog), { recursive: true });
  const env = [
    `tsbpf_kdir=${k.dir}`,
    `tsbpf_repo=${repo}`,
    `tsbpf_tests=${opts.tests.join(',')}`,
    `tsbpf_timeout=${opts.timeout}`,
    ...(process.env.TSBPF_CORPUS ? [`tsbpf_corpus=${resolve(process.env.TSBPF_CORPUS)}`] : []),
    ...(opts.command === undefined ? [] : [`tsbpf_command=${commandFile(opts)}`]),
  ];
  for (const e of env) if (/\s/.test(e)) throw new Error(`a path with white space cannot go on the kernel command line: ${e}`);
  const append = ['console=ttyS0', ...(opts.verbose ? [] : ['quiet']), 'panic=-1', 'mitigations=off', 'rdinit=/init', ...env].join(' ');
  // The guest times out each file itself; this bounds the boot and a guest that dies.
  const limitSeconds = 120 + opts.timeout * (opts.tests.length + 1);
  // timeout(1) outside QEMU: it cannot outlive its limit even if this process is killed.
  const args = [
    '--kill-after=10', String(limitSeconds + 30), 'nice', '-n', '10', 'qemu-system-x86_64',
    '-accel', 'tcg,thread=multi', '-cpu', 'max', '-smp', String(opts.smp), '-m', opts.memory,
    '-nodefaults', '-display', 'none', '-no-reboot',
    '-serial', 'stdio', // ttyS0: the console
    '-serial', `file:${results}`, // ttyS1: the results
    '-kernel', join(k.dir, 'boot', `vmlinuz-${k.release}`),
    '-initrd', initrd,
    '-append', append,
    '-virtfs', 'local,path=/,mount_tag=root,security_model=none,readonly=on,multidevs=remap',
  ];
  const limitMs = limitSeconds * 1000;
  log(`booting ${k.release} (${opts.tests.length} test files; limit ${Math.round(limitMs / 60000)} min)`);
  const t0 = performance.now();
  return new Promise((resolvePromise) => {
    const qemu = spawn('timeout', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const consoleChunks: string[] = [];
    let partial = '';
    const onConsole = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      consoleChunks.push(text);
      partial += text;
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const l of lines) {
        const line = l.replace(/\r$/, '');
        if (line.startsWith('tsbpf-guest:') || line.startsWith('tsbpf-init:')) {
          if (result.bootSeconds === undefined) result.bootSeconds = round((performance.now() - t0) / 1000);
          log(`[${k.release} ${Math.round((performance.now() - t0) / 1000)}s] ${line.replace(/^tsbpf-(guest|init): /, '')}`);
        } else if (opts.verbose || (opts.command !== undefined && result.bootSeconds !== undefined)) process.stderr.write(`  | ${line}\n`);
      }
    };
    qemu.stdout.on('data', onConsole);
    qemu.stderr.on('data', onConsole);
    const timer = setTimeout(() => {
      result.error = `killed after ${limitMs / 1000} s`;
      qemu.kill('SIGTERM');
    }, limitMs);
    // SIGTERM: timeout(1) passes it on to QEMU, which exits; SIGKILL would orphan QEMU.
    const interrupt = () => qemu.kill('SIGTERM');
    process.once('SIGINT', interrupt);
    process.once('exit', interrupt);
    qemu.on('error', (err) => {
      result.error = `cannot start QEMU: ${err.message}`;
    });
    qemu.on('close', (code, signal) => {
      clearTimeout(timer);
      process.removeListener('SIGINT', interrupt);
      process.removeListener('exit', interrupt);
      result.wallSeconds = round((performance.now() - t0) / 1000);
      writeFileSync(consoleLog, consoleChunks.join(''));
      const done = existsSync(results) && collect(result, readFileSync(results, 'utf8'));
      if (!done && !result.error) result.error = `the guest ended early (QEMU ${signal ?? `exit ${code}`}); console: ${consoleLog}`;
      if (!done) process.stderr.write(consoleChunks.join('').split('\n').slice(-25).map((l) => `  | ${l}\n`).join(''));
      resolvePromise(result);
    });
  });
}

/** Runs the same steps on this machine's kernel, without QEMU: its feature column (and, if asked, its tests). */
function runHost(opts: Options, withTests: boolean, work: string): KernelResult {
  const t0 = performance.now();
  const release = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  const result: KernelResult = { kernel: 'host', release, version: readFileSync('/proc/version', 'utf8').trim(), files: [] };
  const lines: string[] = [];
  const f = spawnSync('node', [join(testDir, 'kernels/features.js')], { cwd: repo, encoding: 'utf8', timeout: opts.timeout * 1000 });
  if (f.status === 0) lines.push(f.stdout);
  else result.error = `feature probes failed: ${f.stderr.slice(-2000)}`;
  if (withTests) {
    for (const name of opts.tests) {
      const out = join(work, `host-${name}.jsonl`);
      log(`host: ${name}`);
      const s = performance.now();
      // As in the guest: killed with its children after the timeout.
      const r = spawnSync('timeout', ['-k', '10', String(opts.timeout), 'node', '--test', `--test-reporter=${join(testDir, 'kernels/reporter.js')}`,
        `--test-reporter-destination=${out}`, join(testDir, `${name}.test.js`)], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
      const file = `${name}.test.js`;
      lines.push(JSON.stringify({ t: 'file:start', file }));
      if (existsSync(out)) lines.push(readFileSync(out, 'utf8'));
      if (r.status !== 0 && r.stderr) lines.push(JSON.stringify({ t: 'stderr', file, text: r.stderr.slice(-4000) }));
      lines.push(JSON.stringify({ t: 'file:end', file, status: r.status ?? 137, ms: Math.round(performance.now() - s) }));
    }
  }
  collect(result, lines.join('\n'));
  result.wallSeconds = round((performance.now() - t0) / 1000);
  return result;
}

// ---------------------------------------------------------------------------- tables

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/** Columns before `leftColumns` are left-aligned, the rest right-aligned. */
function textTable(header: string[], rows: string[][], leftColumns = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) => r.map((c, i) => (i < leftColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

/**
 * A passing test that says, in a diagnostic, that it took the branch of a kernel without
 * the feature (kernel-features.ts `branch`: "this kernel lacks or refuses ..."), or that
 * it asserted a NotSupported. A test's fixed name that mentions NotSupported says nothing
 * about the branch, so names are not read.
 */
function tookNotSupportedBranch(t: TestRecord): boolean {
  return t.diagnostics.some((d) => /lacks or refuses|NotSupported|not supported|unsupported/i.test(d));
}

interface FileSummary {
  tests: number;
  pass: number;
  fail: number;
  notSupported: number;
  skip: number;
}

/** A file that failed (or was killed) without a failing test to show for it: it died outside any test. */
function diedOutsideTests(f: FileResult): boolean {
  return f.status !== undefined && f.status !== 0 && !f.tests.some((t) => !t.ok);
}

function summarise(f: FileResult): FileSummary {
  const tests = f.tests.filter((t) => t.nesting >= 0);
  return {
    tests: tests.length,
    pass: tests.filter((t) => t.ok && !t.skip && !t.todo).length,
    fail: f.tests.filter((t) => !t.ok).length + (diedOutsideTests(f) ? 1 : 0),
    notSupported: tests.filter((t) => t.ok && !t.skip && tookNotSupportedBranch(t)).length,
    skip: tests.filter((t) => t.skip || t.todo).length,
  };
}

function fileState(f: FileResult): string {
  if (f.status === undefined) return 'not run';
  if (f.status === 124 || f.status === 137) return `timed out${f.unfinished ? ` in "${f.unfinished}"` : ''}`;
  return f.status === 0 ? 'ok' : 'FAIL';
}

function kernelTitle(r: KernelResult): string {
  const p = r.package ? ` (${r.package.name} ${r.package.version}, ${(r.package.debBytes / 1e6).toFixed(1)} MB)` : ' (this machine)';
  return `${r.release ?? r.kernel}${p}`;
}

/** The lines of a dead test file's stderr that say why: from the first error line on. */
function stderrExcerpt(text: string): string[] {
  const lines = text.split('\n').filter((l) => l.trim() && !/^\s+at /.test(l));
  const first = Math.max(0, lines.findIndex((l) => /Error\b/.test(l)));
  return lines.slice(first, first + 6);
}

function printKernel(r: KernelResult): void {
  const out: string[] = [];
  out.push('', `== ${kernelTitle(r)}`);
  const times = [
    r.package?.prepareSeconds ? `download+unpack+depmod ${r.package.prepareSeconds} s` : '',
    r.bootSeconds !== undefined ? `boot ${r.bootSeconds} s` : '',
    r.wallSeconds !== undefined ? `wall ${r.wallSeconds} s` : '',
  ].filter(Boolean);
  if (times.length) out.push(times.join(', '));
  if (r.error) out.push(`ERROR: ${r.error}`);
  if (r.files.length) {
    const rows = r.files.map((f) => {
      const s = summarise(f);
      return [f.file.replace(/\.test\.js$/, ''), String(s.tests), String(s.pass), String(s.fail), String(s.notSupported), String(s.skip), f.ms === undefined ? '' : `${(f.ms / 1000).toFixed(1)} s`, fileState(f)];
    });
    const total = r.files.map(summarise).reduce((a, s) => ({ tests: a.tests + s.tests, pass: a.pass + s.pass, fail: a.fail + s.fail, notSupported: a.notSupported + s.notSupported, skip: a.skip + s.skip }), { tests: 0, pass: 0, fail: 0, notSupported: 0, skip: 0 });
    const ms = r.files.reduce((a, f) => a + (f.ms ?? 0), 0);
    rows.push(['total', String(total.tests), String(total.pass), String(total.fail), String(total.notSupported), String(total.skip), `${(ms / 1000).toFixed(1)} s`, '']);
    out.push(textTable(['test file', 'tests', 'pass', 'fail', 'NotSupported', 'skip', 'time', 'file'], rows));
    const failures = r.files.filter((f) => f.status !== 0);
    if (failures.length) out.push('', 'failures:');
    for (const f of failures) {
      const name = f.file.replace(/\.test\.js$/, '');
      for (const t of f.tests.filter((t) => !t.ok)) {
        out.push(`  ${name} › ${t.name}`);
        out.push(`      ${(t.error ?? '').split('\n').filter(Boolean).slice(0, 6).join('\n      ')}`);
      }
      if (diedOutsideTests(f)) {
        out.push(`  ${name}: ${fileState(f)} (exit ${f.status ?? '?'}) outside any test`);
        if (f.stderr) out.push(`      ${stderrExcerpt(f.stderr).join('\n      ')}`);
      }
    }
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

type Section = 'programTypes' | 'mapTypes' | 'linkTypes' | 'mechanisms';
const SECTIONS: [Section, string][] = [['programTypes', 'program type'], ['mapTypes', 'map type'], ['linkTypes', 'link type'], ['mechanisms', 'attach mechanism']];

function cell(v: Answer | string | undefined): string {
  if (v === undefined) return '?';
  if (v === true) return 'yes';
  if (v === false) return 'no';
  return v;
}

/** Rows of the kernel × feature table: [section label, feature, cells...], and whether the kernels differ. */
function featureRows(results: KernelResult[]): { row: string[]; differs: boolean }[] {
  const withFeatures = results.filter((r) => r.features);
  const rows: { row: string[]; differs: boolean }[] = [];
  for (const [section, label] of SECTIONS) {
    const names = [...new Set(withFeatures.flatMap((r) => Object.keys(r.features![section])))];
    for (const name of names) {
      const cells = withFeatures.map((r) => cell((r.features![section] as Record<string, Answer>)[name]));
      rows.push({ row: [label, name, ...cells], differs: new Set(cells).size > 1 });
    }
  }
  return rows;
}

function featureColumns(results: KernelResult[]): string[] {
  return results.filter((r) => r.features).map((r) => r.release ?? r.kernel);
}

function printFeatures(results: KernelResult[], markdown: boolean): void {
  const columns = featureColumns(results);
  if (!columns.length) return;
  const rows = featureRows(results);
  process.stdout.write(`\n== kernel × feature (tsbpf's probes; * where the kernels differ)\n`);
  process.stdout.write(`${textTable(['', 'feature', ...columns], rows.map(({ row, differs }) => [row[0]!, `${differs ? '* ' : '  '}${row[1]}`, ...row.slice(2)]), 2)}\n`);
  if (markdown) {
    const md = [`| | ${columns.join(' | ')} |`, `|---|${columns.map(() => '---').join('|')}|`];
    for (const { row, differs } of rows) if (differs || row[0] === 'attach mechanism') md.push(`| ${row[0]} ${row[1]} | ${row.slice(2).join(' | ')} |`);
    process.stdout.write(`\n${md.join('\n')}\n`);
  }
}

// ---------------------------------------------------------------------------- main

async function main(): Promise<number> {
  const opts = options();
  if (opts.fromJson) {
    const saved = JSON.parse(readFileSync(opts.fromJson, 'utf8')) as { kernels: KernelResult[] };
    for (const r of saved.kernels) if (r.files.length || r.kernel !== 'host') printKernel(r);
    printFeatures(saved.kernels, opts.markdown);
    return 0;
  }
  const work = mkdtempSync(join(tmpdir(), 'tsbpf-kernels-'));
  const results: KernelResult[] = [];
  try {
    const guests = opts.kernels.filter((k) => k !== 'host');
    if (guests.length) ensureTools();
    mkdirSync(opts.cache, { recursive: true });
    const kernels: KernelPackage[] = [];
    for (const spec of guests) {
      try {
        kernels.push(resolveKernel(spec, opts));
      } catch (err) {
        results.push({ kernel: spec, files: [], error: (err as Error).message });
      }
    }
    if (opts.command !== undefined) {
      for (const k of kernels) {
        const r = await runGuest(k, opts, work);
        results.push(r);
        process.stdout.write(`== ${kernelTitle(r)}: ${r.error ?? `exit ${r.commandStatus}`}, wall ${r.wallSeconds} s\n`);
      }
      return results.every((r) => r.commandStatus === 0) ? 0 : 1;
    }
    // The host's feature column always; its tests only when asked for.
    const host = runHost(opts, opts.kernels.includes('host'), work);
    // The guests boot side by side unless --serial, one vCPU each unless --smp says: a
    // test file mostly keeps one vCPU busy, so two such guests on two cores take about
    // as long as one (two guests of two vCPUs took twice as long per file). The tests'
    // branches for more than one CPU then run on this machine's kernel only.
    const sideBySide = !opts.serial && kernels.length > 1;
    if (opts.smp === 0) opts.smp = sideBySide ? 1 : 2;
    const guestResults = !sideBySide
      ? await kernels.reduce<Promise<KernelResult[]>>(async (done, k) => [...(await done), await runGuest(k, opts, work)], Promise.resolve([]))
      : await Promise.all(kernels.map((k) => runGuest(k, opts, work)));
    for (const r of guestResults) {
      results.push(r);
      printKernel(r);
    }
    if (opts.kernels.includes('host')) printKernel(host);
    results.unshift(host);
    printFeatures(results, opts.markdown);
    const guestsRun = results.filter((r) => r.kernel !== 'host');
    mkdirSync(dirname(opts.json), { recursive: true });
    writeFileSync(opts.json, `${JSON.stringify({ date: new Date().toISOString(), tests: opts.tests, kernels: results }, null, 1)}\n`);
    process.stdout.write(`\nJSON: ${opts.json}\n`);
    const failed = results.some((r) => r.error || r.files.some((f) => f.status !== 0) || (r.commandStatus ?? 0) !== 0);
    return guestsRun.length === 0 && !opts.kernels.includes('host') ? 2 : failed ? 1 : 0;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

process.exitCode = await main();
