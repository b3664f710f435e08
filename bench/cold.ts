// bench/cold: cold start. A tool built on tsbpf is a short-lived process; this compares
// whole processes, each fresh, with libbpf's for the same work, in one run:
//
//   npm run bench:cold [-- --runs 20]      (root; gcc and libbpf-dev for the C side,
//                                           bpftool for its baselines)
//
// Cases (each a fresh process, timed from fork to exit by bench/cold-load.c's -t mode):
//   import   `node -e ''` (bare) against `node -e "import('tsbpf')"` run from the
//            repository root, so that 'tsbpf' resolves by name through the package's
//            own exports, as a user's import does. import = median − median(bare).
//   load     `node -e "import('tsbpf').then((m) => m.Ebpf.load(OBJ).close())"` against
//            bench/cold-load.c (libbpf 1.1: bpf_object__open_file, load, close) and
//            `bpftool prog loadall OBJ DIR` (DIR fresh under bpffs, removed after each
//            run), for CO-RE objects (bpf/core.o, bpf/many.o) and plain ones
//            (bpf/globals.o, the corpus's examples/xdp).
//   cli      the package's bin, run as `node BIN prog list` and as BIN itself (its
//            `#!/usr/bin/env node` line), against `bpftool prog list`, with the same
//            few programs loaded by this process during the runs, so that both list them.
// Rounds interleave the sides (tsbpf, C, tsbpf, C, ...; the order within a round
// reversed every other round) so that noise falls on both. Figures: median, min and p90
// of the runs, wall time (and the median CPU time, user + system of the process and its
// threads); ratios of medians. Two ratios per load: whole process against whole
// process (the targets), and tsbpf's time above a bare Node start against libbpf's whole
// process, which shows how much of the difference is Node's own start.
//
// The time split: per object and run, one more fresh process (bench/cold-child.ts) does
// the same load and reports its parts (import, ObjectSpec.parse, kernel BTF,
// relocations and the rest of the JS, time inside bpf(2) and close(2) through the
// kernel seam); libbpf's parts from bench/cold-load.c built with -DSPLIT.
//
// Options: --runs N      timed rounds (default 10)
//          --only LIST   cases among import,core,plain,cli (default all)
//          --no-split    skip the time split
//          --no-bpftool  skip bpftool's baselines
//          --json        also print every sample as JSON
// Nothing is left behind: bpftool's pin directories are removed after each run and
// checked at the end, and the programs kept loaded for the CLI case are closed and
// checked gone by id.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, release } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { median, repoRoot, table } from './common.js';
import { Ebpf, ObjectSpec, programFromId } from '../src/index.js';

// ---- options ---------------------------------------------------------------------

const CASES = ['import', 'core', 'plain', 'cli'] as const;
type CaseName = (typeof CASES)[number];

interface Options {
  runs: number;
  only: Set<CaseName>;
  split: boolean;
  bpftool: boolean;
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { runs: 10, only: new Set(CASES), split: true, bpftool: true, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--runs': {
        const n = Number(argv[++i]);
        if (!Number.isInteger(n) || n < 1 || n > 1000) throw new Error(`--runs needs an integer in 1..1000, got ${String(argv[i])}`);
        o.runs = n;
        break;
      }
      case '--only': {
        const names = (argv[++i] ?? '').split(',').filter(Boolean);
        for (const n of names) if (!(CASES as readonly string[]).includes(n)) throw new Error(`--only: unknown case ${n} (${CASES.join(',')})`);
        o.only = new Set(names as CaseName[]);
        break;
      }
      case '--no-split': o.split = false; break;
      case '--no-bpftool': o.bpftool = false; break;
      case '--json': o.json = true; break;
      default:
        throw new Error(`unknown option ${a} (--runs N --only ${CASES.join(',')} --no-split --no-bpftool --json)`);
    }
  }
  return o;
}

// ---- where things are ------------------------------------------------------------

const ROOT = repoRoot('cold-load');
const CORPUS = process.env.TSBPF_CORPUS ? resolve(process.env.TSBPF_CORPUS) : resolve(ROOT, '../shared/corpus/cilium-ebpf');
const NODE = process.execPath;
const BPFFS = '/sys/fs/bpf';
const PIN_PREFIX = `tsbpf-cold-${process.pid}-`;

interface Obj {
  key: string;
  label: string;
  path: string;
  /** CO-RE relocations in the object's .BTF.ext (0: a plain object). */
  coreRelos: number;
  target: number;
}

function objects(o: Options): { objs: Obj[]; notes: string[] } {
  const notes: string[] = [];
  const wanted: [string, string, string][] = [];
  if (o.only.has('core')) wanted.push(['core', 'bpf/core.o', join(ROOT, 'bpf/core.o')], ['many', 'bpf/many.o', join(ROOT, 'bpf/many.o')]);
  if (o.only.has('plain')) wanted.push(['globals', 'bpf/globals.o', join(ROOT, 'bpf/globals.o')], ['xdp', 'examples/xdp', join(CORPUS, 'examples/xdp/bpf_bpfel.o')]);
  const objs: Obj[] = [];
  for (const [key, label, path] of wanted) {
    if (!existsSync(path)) {
      notes.push(`${label}: ${path} not found (the corpus is looked for beside the repository, or in $TSBPF_CORPUS): skipped`);
      continue;
    }
    const spec = ObjectSpec.parse(readFileSync(path));
    let coreRelos = 0;
    for (const relos of spec.btfExt?.coreRelos.values() ?? []) coreRelos += relos.length;
    objs.push({ key, label, path, coreRelos, target: coreRelos ? 1.5 : 1.2 });
  }
  return { objs, notes };
}

// ---- the C side ------------------------------------------------------------------

interface CTools {
  /** bench/cold-load: the libbpf loader and the timer (-t); undefined without gcc. */
  exe?: string;
  /** The -DSPLIT build (libbpf's parts). */
  split?: string;
  libbpf: boolean;
  notes: string[];
}

function buildC(): CTools {
  const notes: string[] = [];
  const out = join(ROOT, 'bench', 'out');
  mkdirSync(out, { recursive: true });
  const src = join(ROOT, 'bench', 'cold-load.c');
  const gcc = (exe: string, args: string[]): string => {
    execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-o', exe, src, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
    return exe;
  };
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
  } catch {
    notes.push('no gcc: no libbpf loader, and processes are timed around Node\'s spawnSync (adds its own overhead to both sides)');
    return { libbpf: false, notes };
  }
  if (!existsSync('/usr/include/bpf/libbpf.h')) {
    notes.push('no libbpf headers (apt-get install libbpf-dev libelf-dev zlib1g-dev): the libbpf loader baseline is skipped');
    return { exe: gcc(join(out, 'cold-timer'), ['-DNO_LIBBPF']), libbpf: false, notes };
  }
  return { exe: gcc(join(out, 'cold-load'), ['-lbpf']), split: gcc(join(out, 'cold-load-split'), ['-DSPLIT', '-lbpf', '-ldl']), libbpf: true, notes };
}

function bpftoolVersion(): string | undefined {
  try {
    return execFileSync('bpftool', ['version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').slice(0, 2).join(', ');
  } catch {
    return undefined;
  }
}

function bpffsMounted(): boolean {
  try {
    return readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => {
      const [, dir, type] = l.split(' ');
      return dir === BPFFS && type === 'bpf';
    });
  } catch {
    return false;
  }
}

function libbpfVersion(): string {
  try {
    return execFileSync('dpkg-query', ['-W', '-f', '${Version}', 'libbpf-dev'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '?';
  }
}

// ---- running a process -----------------------------------------------------------

interface Sample {
  /** Wall time, fork to exit, ns. */
  ns: number;
  /** User + system time of the process (all its threads), ns; NaN when not measured. */
  cpu: number;
  stdout: string;
}

class RunError extends Error {}
class Interrupted extends Error {}

function runTimed(timer: string | undefined, argv: string[], wantStdout: boolean): Sample {
  const stdio: ('ignore' | 'pipe')[] = ['ignore', wantStdout ? 'pipe' : 'ignore', 'pipe'];
  if (timer) {
    const r = spawnSync(timer, ['-t', ...argv], { cwd: ROOT, stdio: [...stdio, 'pipe'], maxBuffer: 1 << 24 });
    const report = r.output[3]?.toString() ?? '';
    if (r.error || r.status !== 0 || !report) throw new RunError(`${argv.join(' ')}: the timer failed: ${r.error?.message ?? r.stderr?.toString() ?? ''}`);
    const { ns, cpu, status } = JSON.parse(report) as { ns: number; cpu: number; status: number };
    if (status !== 0) throw new RunError(`exit ${status}: ${lastLines(r.stderr?.toString() ?? '')}`);
    return { ns, cpu, stdout: r.stdout?.toString() ?? '' };
  }
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd: ROOT, stdio, maxBuffer: 1 << 24 });
  const ns = Number(process.hrtime.bigint() - t0);
  if (r.error || r.status !== 0) throw new RunError(`exit ${String(r.status ?? r.signal)}: ${lastLines(r.stderr?.toString() ?? r.error?.message ?? '')}`);
  return { ns, cpu: NaN, stdout: r.stdout?.toString() ?? '' };
}

function lastLines(s: string, n = 6): string {
  return s.trim().split('\n').slice(-n).join('\n    ');
}

// ---- what is run -----------------------------------------------------------------

type Side = 'node' | 'tsbpf' | 'libbpf' | 'bpftool';

interface Variant {
  key: string;
  label: string;
  side: Side;
  argv: () => string[];
  /** Called after every run, whether it failed or not. */
  after?: () => void;
  stdout?: boolean;
  samples: Sample[];
  failed?: string;
}

function variant(key: string, label: string, side: Side, argv: () => string[], extra: Partial<Variant> = {}): Variant {
  return { key, label, side, argv, samples: [], ...extra };
}

const IMPORT = "import('tsbpf')";
const LOAD = "import('tsbpf').then((m) => m.Ebpf.load(process.argv[1]).close())";

/** The package's bin (package.json "bin"), absolute. */
function packageBin(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin?: string | Record<string, string> };
  const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.tsbpf;
  if (!bin) throw new Error('package.json has no bin "tsbpf"');
  return resolve(ROOT, bin);
}

// ---- figures ---------------------------------------------------------------------

/** Nearest-rank percentile. */
function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)]!;
}

const ms = (ns: number): string => (Number.isFinite(ns) ? (ns / 1e6).toFixed(ns >= 1e8 ? 0 : 1) : '—');
const msOf = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(x >= 100 ? 0 : 1));
const ratio = (r: number): string => (Number.isFinite(r) ? r.toFixed(2) : '—');

function progress(s: string): void {
  if (process.stderr.isTTY) process.stderr.write(('\r' + s).padEnd(78) + (s ? '' : '\r'));
}

/** The phases one bench/cold-child.ts process reports (ms). */
interface ChildPhases {
  started: number;
  import: number;
  seamImport: number;
  parse: number;
  parseCalls: number;
  kernelBtf?: number;
  read: number;
  load: number;
  close: number;
  bpf: number;
  bpfCalls: number;
  closeSys: number;
  closeCalls: number;
  ended: number;
}

interface CPhases {
  open: number;
  load: number;
  close: number;
  bpf: number;
  bpf_calls: number;
  vmlinux: number;
}

// ---- main ------------------------------------------------------------------------

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const c = buildC();
  const notes = [...c.notes];
  const { objs, notes: objNotes } = objects(o);
  notes.push(...objNotes);
  const bpftool = o.bpftool ? bpftoolVersion() : undefined;
  if (o.bpftool && !bpftool) notes.push('no bpftool: its baselines are skipped');
  const bpffs = bpffsMounted();
  if (bpftool && !bpffs && objs.length) notes.push(`no bpffs at ${BPFFS}: bpftool prog loadall is skipped`);
  const load0 = loadavg()[0]!;
  const t0 = Date.now();
  console.log(
    `tsbpf bench/cold: node ${process.version}, linux ${release()}, libbpf-dev ${libbpfVersion()}${bpftool ? `, ${bpftool}` : ''}; ` +
      `${o.runs} runs a process, interleaved; ${new Date().toISOString().slice(0, 16)} UTC, load average ${load0.toFixed(1)}`,
  );

  // ---- the variants, in groups run side by side ----
  const groups: Variant[][] = [];
  const bare = variant('bare', "node -e ''", 'node', () => [NODE, '-e', '']);
  const imp = variant('import', `node -e "${IMPORT}"`, 'tsbpf', () => [NODE, '-e', IMPORT]);
  // The bare start is the floor of every tsbpf case, so it runs whenever anything does.
  groups.push(o.only.has('import') ? [bare, imp] : [bare]);
  let pinSeq = 0;
  let pinDirs = 0;
  const loads = new Map<string, { ts: Variant; c?: Variant; tool?: Variant; split?: Variant; cSplit?: Variant }>();
  for (const obj of objs) {
    const ts = variant(`ts:${obj.key}`, `tsbpf: Ebpf.load + close`, 'tsbpf', () => [NODE, '-e', LOAD, obj.path]);
    const v: { ts: Variant; c?: Variant; tool?: Variant; split?: Variant; cSplit?: Variant } = { ts };
    const group = [ts];
    if (c.libbpf) {
      v.c = variant(`c:${obj.key}`, 'libbpf: bench/cold-load', 'libbpf', () => [c.exe!, obj.path]);
      group.push(v.c);
    }
    if (bpftool && bpffs) {
      let dir = '';
      v.tool = variant(
        `bpftool:${obj.key}`,
        'bpftool prog loadall',
        'bpftool',
        () => {
          dir = join(BPFFS, `${PIN_PREFIX}${pinSeq++}`);
          pinDirs++;
          return ['bpftool', 'prog', 'loadall', obj.path, dir];
        },
        { after: () => rmSync(dir, { recursive: true, force: true }) },
      );
      group.push(v.tool);
    }
    if (o.split) {
      v.split = variant(`split:${obj.key}`, 'tsbpf parts (bench/cold-child)', 'tsbpf', () => [NODE, join(ROOT, 'dist/bench/cold-child.js'), obj.path, obj.coreRelos ? 'core' : 'plain'], { stdout: true });
      group.push(v.split);
      if (c.split) {
        v.cSplit = variant(`csplit:${obj.key}`, 'libbpf parts (cold-load -s)', 'libbpf', () => [c.split!, '-s', obj.path], { stdout: true });
        group.push(v.cSplit);
      }
    }
    loads.set(obj.key, v);
    groups.push(group);
  }
  let cli: { node: Variant; exec?: Variant; tool?: Variant } | undefined;
  const kept: Ebpf[] = [];
  const keptIds: number[] = [];
  if (o.only.has('cli')) {
    const bin = packageBin();
    const node = variant('cli:node', `node ${relative(ROOT, bin)} prog list`, 'tsbpf', () => [NODE, bin, 'prog', 'list']);
    cli = { node };
    const group = [node];
    try {
      accessSync(bin, constants.X_OK);
    } catch {
      // npm sets the mode of a package's bins when it installs them; tsc does not.
      chmodSync(bin, statSync(bin).mode | 0o111);
      notes.push(`${relative(ROOT, bin)} was not executable: made so, as npm does for an installed package's bin`);
    }
    cli.exec = variant('cli:exec', `${relative(ROOT, bin)} prog list (its #! line)`, 'tsbpf', () => [bin, 'prog', 'list']);
    group.push(cli.exec);
    if (bpftool) {
      cli.tool = variant('cli:bpftool', 'bpftool prog list', 'bpftool', () => ['bpftool', 'prog', 'list']);
      group.push(cli.tool);
    }
    groups.push(group);
    // The same programs loaded for both sides to list.
    for (const p of ['bpf/core.o', 'bpf/globals.o']) {
      const e = Ebpf.load(join(ROOT, p));
      kept.push(e);
      for (const [, prog] of e.programs()) keptIds.push(prog.info().id);
    }
  }

  // ---- the rounds: one untimed (it checks that each process works and warms the page
  // cache for both sides alike), then o.runs timed ----
  const all = groups.flat();
  // Ctrl-C reaches the running child too (same process group); this process stops after
  // it, closing its programs and removing bpftool's pins on the way out.
  let interrupted = false;
  const stop = (): void => {
    interrupted = true;
  };
  process.on('SIGINT', stop).on('SIGTERM', stop);
  try {
    for (let round = 0; round <= o.runs; round++) {
      for (const group of groups) {
        const order = round & 1 ? [...group].reverse() : group;
        for (const v of order) {
          if (interrupted) throw new Interrupted();
          if (v.failed) continue;
          progress(`round ${round}/${o.runs}: ${v.key}`);
          try {
            const s = runTimed(c.exe, v.argv(), v.stdout ?? false);
            if (round > 0) v.samples.push(s);
          } catch (err) {
            if (!(err instanceof RunError)) throw err;
            v.failed = err.message;
          } finally {
            v.after?.();
          }
          // Let a pending SIGINT/SIGTERM reach its handler (the runs themselves are synchronous).
          await new Promise((r) => setImmediate(r));
        }
      }
    }
  } finally {
    progress('');
    for (const e of kept) e.close();
    if (interrupted && bpffs) for (const f of readdirSync(BPFFS)) if (f.startsWith(PIN_PREFIX)) rmSync(join(BPFFS, f), { recursive: true, force: true });
  }

  // ---- processes ----
  const med = (v: Variant | undefined): number => (v && !v.failed && v.samples.length ? median(v.samples.map((s) => s.ns)) : NaN);
  const failures = all.filter((v) => v.failed);
  for (const v of failures) notes.push(`${v.key} (${v.label}) failed, left out: ${v.failed}`);

  const procRows: string[][] = [];
  const procRow = (name: string, v: Variant | undefined): void => {
    if (!v || v.failed || !v.samples.length) return;
    const ns = v.samples.map((s) => s.ns);
    const cpu = v.samples.map((s) => s.cpu);
    procRows.push([name, v.label, ms(median(ns)), ms(Math.min(...ns)), ms(pct(ns, 90)), ms(median(cpu))]);
  };
  procRow('start', bare);
  procRow('import', imp);
  for (const obj of objs) {
    const v = loads.get(obj.key)!;
    const name = `${obj.label}${obj.coreRelos ? ' (CO-RE)' : ''}`;
    procRow(name, v.ts);
    procRow(name, v.c);
    procRow(name, v.tool);
  }
  if (cli) {
    procRow('cli', cli.node);
    procRow('cli', cli.exec);
    procRow('cli', cli.tool);
  }
  console.log('\nWhole processes, fork to exit (ms):');
  console.log(table(['case', 'process', 'median', 'min', 'p90', 'CPU'], procRows, [false, false, true, true, true, true]));

  // ---- targets ----
  interface Verdict {
    what: string;
    /** tsbpf's figure (ns): the whole process, or for import its time over bare node. */
    ts: number;
    baseline?: string;
    base?: number;
    /** Median of the per-round ratios (the two processes of a round ran side by side). */
    paired?: number;
    aboveBare?: number;
    target: number;
    unit: '×' | 'ms';
    met: boolean;
  }
  const verdicts: Verdict[] = [];
  const bareMs = med(bare);
  if (o.only.has('import') && !imp.failed && !bare.failed) {
    const d = med(imp) - bareMs;
    verdicts.push({ what: "import('tsbpf')", ts: d, target: 25, unit: 'ms', met: d <= 25e6 });
  }
  const versus = (what: string, ts: Variant, base: Variant | undefined, target: number, baseline: string): void => {
    if (!base || base.failed || ts.failed || !ts.samples.length || !base.samples.length) return;
    const t = med(ts);
    const b = med(base);
    const n = Math.min(ts.samples.length, base.samples.length);
    const pairs = Array.from({ length: n }, (_, i) => ts.samples[i]!.ns / base.samples[i]!.ns);
    verdicts.push({ what, ts: t, baseline, base: b, paired: median(pairs), aboveBare: (t - bareMs) / b, target, unit: '×', met: t / b <= target });
  };
  for (const obj of objs) {
    const v = loads.get(obj.key)!;
    const what = `first load ${obj.label}${obj.coreRelos ? ` (CO-RE, ${obj.coreRelos} relocations)` : ''}`;
    versus(what, v.ts, v.c, obj.target, 'libbpf loader');
    versus(what, v.ts, v.tool, obj.target, 'bpftool prog loadall');
  }
  if (cli) {
    versus('`tsbpf prog list` (node BIN)', cli.node, cli.tool, 1.3, 'bpftool prog list');
    if (cli.exec) versus('`tsbpf prog list` (BIN, #!)', cli.exec, cli.tool, 1.3, 'bpftool prog list');
  }
  const vTs = (v: Verdict): string => (v.unit === 'ms' ? `${ms(v.ts)} over bare node (${ms(med(imp))} − ${ms(bareMs)})` : ms(v.ts));
  const vTsMd = (v: Verdict): string => (v.unit === 'ms' ? `${ms(v.ts)} ms over bare node (${ms(med(imp))} − ${ms(bareMs)} ms)` : `${ms(v.ts)} ms`);
  const vTarget = (v: Verdict): string => `≤ ${v.target}${v.unit === 'ms' ? ' ms' : '×'}`;
  console.log('\nTargets (ratio: of the medians, whole process / whole process; paired: median of the rounds\' ratios;');
  console.log('above bare: (tsbpf − bare node) / baseline, the part that is not Node\'s own start):');
  console.log(
    table(
      ['case', 'baseline', 'tsbpf ms', 'baseline ms', 'ratio', 'paired', 'above bare', 'target', 'verdict'],
      verdicts.map((v) => [v.what, v.baseline ?? '—', vTs(v), v.base === undefined ? '—' : ms(v.base), v.base === undefined ? '—' : ratio(v.ts / v.base), v.paired === undefined ? '—' : ratio(v.paired), v.aboveBare === undefined ? '—' : ratio(v.aboveBare), vTarget(v), v.met ? 'met' : 'NOT met']),
      [false, false, true, true, true, true, true, false, false],
    ),
  );

  // ---- the split ----
  interface SplitCol {
    obj: Obj;
    rows: Map<string, string>;
  }
  const splitCols: SplitCol[] = [];
  const splitNotes: string[] = [];
  let vmlinuxSize = NaN;
  try {
    vmlinuxSize = statSync('/sys/kernel/btf/vmlinux').size;
  } catch {
    // no kernel BTF: the CO-RE loads fail and say so
  }
  for (const obj of objs) {
    const v = loads.get(obj.key)!;
    if (!v.split || v.split.failed || !v.split.samples.length) continue;
    const phases = v.split.samples.map((s) => JSON.parse(s.stdout) as ChildPhases);
    const m = (f: (p: ChildPhases) => number | undefined): number | undefined => {
      const xs = phases.map(f).filter((x): x is number => x !== undefined);
      return xs.length ? median(xs) : undefined;
    };
    const imp = m((p) => p.import)!;
    const parse = m((p) => p.parse)!;
    const btf = m((p) => p.kernelBtf);
    const sysc = m((p) => p.bpf + p.closeSys)!;
    const js = m((p) => p.load + p.close - p.parse - p.bpf - p.closeSys)!;
    const whole = med(v.ts) / 1e6;
    const start = bareMs / 1e6;
    // Per process: its whole life less the bare start and what it timed itself (and
    // less the seam's import, which the timed case does not have).
    const rest = median(v.split.samples.map((s, i) => {
      const p = phases[i]!;
      return s.ns / 1e6 - start - p.seamImport - p.import - (p.kernelBtf ?? 0) - p.load - p.close;
    }));
    const rows = new Map<string, string>();
    rows.set('start', msOf(start));
    rows.set('import', msOf(imp));
    rows.set('parse', msOf(parse));
    rows.set('btf', btf !== undefined ? msOf(btf) : '—');
    const read = m((p) => p.read)!;
    rows.set('read', `${(read / 1e6).toFixed(read >= 1e6 ? 1 : 3)} (vmlinux ${(vmlinuxSize / 1e6).toFixed(1)})`);
    if (btf === undefined && read >= vmlinuxSize / 2) splitNotes.push(`${obj.label}: the load read as many bytes as the kernel BTF has (its time is in "relocations and the rest of the JS")`);
    rows.set('js', msOf(js));
    rows.set('sys', `${msOf(sysc)} (${m((p) => p.bpfCalls)} + ${m((p) => p.closeCalls)})`);
    rows.set('rest', msOf(rest));
    if (rest < -0.1 * whole) {
      splitNotes.push(
        `${obj.label}: the parts add up to more than the whole process (rest ${msOf(rest)} ms): the split's process does work the timed one does not ` +
          `(${btf !== undefined ? 'loadKernelBtf() doing more than what the loader reads, or ' : ''}the seam's wrappers), or the runs are too few for the noise`,
      );
    }
    rows.set('whole', msOf(whole));
    if (phases.some((p) => p.parseCalls === 0)) splitNotes.push(`${obj.label}: the wrapper of ObjectSpec.parse saw no call (the loader parses through something else): parse is in "relocations and the rest"`);
    if (phases.some((p) => p.bpfCalls === 0)) splitNotes.push(`${obj.label}: the kernel seam saw no bpf(2) call: the package's entries do not share tsbpf/testing's seam, syscalls are in "relocations and the rest"`);
    if (v.cSplit && !v.cSplit.failed && v.cSplit.samples.length) {
      const cp = v.cSplit.samples.map((s) => JSON.parse(s.stdout) as CPhases);
      const cm = (f: (p: CPhases) => number): number => median(cp.map(f)) / 1e6;
      rows.set(
        'c',
        `${msOf(med(v.c) / 1e6)}: open ${msOf(cm((p) => p.open))}, load ${msOf(cm((p) => p.load))} (of which vmlinux BTF ${msOf(cm((p) => p.vmlinux))}, ` +
          `bpf(2) ${msOf(cm((p) => p.bpf))} in ${median(cp.map((p) => p.bpf_calls))} calls), close ${msOf(cm((p) => p.close))}`,
      );
    }
    splitCols.push({ obj, rows });
  }
  const SPLIT_ROWS: [string, string][] = [
    ['start', "process start (bare `node -e ''`, whole process)"],
    ['import', "import('tsbpf')"],
    ['parse', 'ObjectSpec.parse'],
    ['btf', 'kernel BTF (loadKernelBtf)'],
    ['js', 'relocations and the rest of the JS'],
    ['sys', 'syscalls: bpf(2) + close(2) (calls)'],
    ['rest', 'the rest: loading the script, exit, noise (by difference)'],
    ['whole', 'whole process (median of the load case)'],
    ['read', 'MB read from kernel BTF to close (rchar)'],
  ];
  if (splitCols.length) {
    console.log('\nWhere tsbpf\'s time goes (ms, medians of the bench/cold-child processes; "whole" and "start" from the timed cases):');
    console.log(table(['part', ...splitCols.map((s) => s.obj.label)], SPLIT_ROWS.map(([k, name]) => [name, ...splitCols.map((s) => s.rows.get(k) ?? '—')]), [false, ...splitCols.map(() => true)]));
    const cLines = splitCols.filter((s) => s.rows.has('c')).map((s) => `  ${s.obj.label}: ${s.rows.get('c')!}`);
    if (cLines.length) console.log(`libbpf's whole process (ms, median) and its parts from main():\n${cLines.join('\n')}`);
    for (const n of new Set(splitNotes)) console.log(`note: ${n}`);
  }

  // ---- nothing left behind ----
  const leftPins = (bpffs ? readdirSync(BPFFS) : []).filter((f) => f.startsWith(PIN_PREFIX));
  for (const f of leftPins) rmSync(join(BPFFS, f), { recursive: true, force: true });
  const alive = (id: number): boolean => {
    try {
      programFromId(id).close();
      return true;
    } catch {
      return false;
    }
  };
  let still = keptIds.filter(alive);
  for (let i = 0; i < 40 && still.length; i++) {
    execFileSync('sleep', ['0.05']);
    still = still.filter(alive);
  }
  const clean = !leftPins.length && !still.length;
  console.log(
    `\nleft behind: ${clean ? 'nothing' : 'SOMETHING'} (bpftool pin directories made and removed: ${pinDirs}, left: ${leftPins.length}${leftPins.length ? ', now removed' : ''}; ` +
      `programs kept loaded for the CLI case: ${keptIds.length}, still loaded after close: ${still.length}${still.length ? ` (ids ${still.join(',')})` : ''})`,
  );
  console.log(`took ${((Date.now() - t0) / 1000).toFixed(0)} s; load average ${load0.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end`);
  for (const n of notes) console.log(`note: ${n}`);

  // ---- the README's tables ----
  console.log('\nMarkdown:\n');
  console.log('| case | tsbpf | baseline | ratio | above bare node | target | verdict |');
  console.log('|---|---|---|---|---|---|---|');
  for (const v of verdicts) {
    const base = v.base === undefined ? '—' : `${v.baseline}: ${ms(v.base)} ms`;
    const r = v.base === undefined ? '—' : ratio(v.ts / v.base);
    const above = v.aboveBare === undefined ? '—' : ratio(v.aboveBare);
    console.log(`| ${v.what} | ${vTsMd(v)} | ${base} | ${r} | ${above} | ${vTarget(v)} | ${v.met ? 'met' : 'not met'} |`);
  }
  if (splitCols.length) {
    console.log(`\n| ms | ${splitCols.map((s) => s.obj.label).join(' | ')} |`);
    console.log(`|---|${splitCols.map(() => '---|').join('')}`);
    for (const [k, name] of SPLIT_ROWS) console.log(`| ${name} | ${splitCols.map((s) => s.rows.get(k) ?? '—').join(' | ')} |`);
  }

  if (o.json) {
    const out: Record<string, unknown> = {};
    for (const v of all) out[v.key] = { label: v.label, failed: v.failed, ns: v.samples.map((s) => s.ns), cpu: v.samples.map((s) => s.cpu), stdout: v.stdout ? v.samples.map((s) => s.stdout.trim()) : undefined };
    console.log(JSON.stringify(out));
  }
  if (!clean) process.exitCode = 1;
}

try {
  await main();
} catch (err) {
  if (!(err instanceof Interrupted)) throw err;
  console.error('bench/cold: interrupted (programs closed, pins removed)');
  process.exitCode = 130;
}
