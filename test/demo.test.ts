// `npm start`, the syscall-top demo (examples/syscall-top.ts, started by tools/start.mjs):
// run as a user would, from the built tree. --once: it starts fast, exits 0, shows a
// process this test runs (a copy of dd with a name of its own, reading and writing a
// byte at a time) with its rate and calls by name, and an exec this test causes.
// Live: SIGINT, SIGTERM and q on a terminal end it with exit 0, the terminal restored.
// Each time, the demo's maps and programs are gone from the kernel after it exits.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMapTypeSupported, isProgramTypeSupported, loadedMaps, loadedPrograms, MapData, MapType, ProgramType } from '../src/index.js';
import { syscallName } from '../examples/syscall-names.js';
import { fdCount } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const START = join(ROOT, 'tools/start.mjs');
const MAP_NAMES = ['st_counts0', 'st_counts1', 'st_slots', 'st_execs'];

function supported(t: TestContext): boolean {
  if (!isProgramTypeSupported(ProgramType.Tracepoint) || !isMapTypeSupported(MapType.ArrayOfMaps) || !isMapTypeSupported(MapType.Ringbuf)) {
    t.diagnostic('no tracepoint programs, maps of maps or ring buffers here: the demo says so and exits 1');
    return false;
  }
  return true;
}

/** A running demo: its output so far, when its first output came, its pid (from its first line), its exit. */
interface Demo {
  child: ChildProcess;
  out: () => string;
  firstOutputMs: Promise<number>;
  pid: Promise<number>;
  /** Resolves once the output contains `text`. */
  waitFor: (text: string, timeoutMs?: number) => Promise<void>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

function startDemo(command: string, args: string[]): Demo {
  const t0 = performance.now();
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], cwd: ROOT });
  let out = '';
  let err = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  let first!: (ms: number) => void;
  const firstOutputMs = new Promise<number>((resolve) => (first = resolve));
  child.stdout!.on('data', (d: Buffer) => {
    if (out === '') first(performance.now() - t0);
    out += d.toString();
    for (const w of [...waiters]) if (out.includes(w.text)) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal, ms: performance.now() - t0 })),
  );
  const waitFor = (text: string, timeoutMs = 30_000) =>
    new Promise<void>((resolve, reject) => {
      if (out.includes(text)) return resolve();
      const timer = setTimeout(() => reject(new Error(`no ${JSON.stringify(text)} in the demo's output after ${timeoutMs} ms:\n${out}\nstderr: ${err}`)), timeoutMs);
      waiters.push({ text, resolve: () => (clearTimeout(timer), resolve()) });
      void exit.then(() => setImmediate(() => out.includes(text) || reject(new Error(`the demo exited without ${JSON.stringify(text)}:\n${out}\nstderr: ${err}`))));
    });
  const pid = (async () => {
    await waitFor('pid ');
    return Number(/pid (\d+)/.exec(out)![1]);
  })();
  return { child, out: () => out, firstOutputMs, pid, waitFor, exit };
}

/** The ids of the maps and programs process `pid` holds descriptors of (/proc/PID/fdinfo). */
function bpfIdsOf(pid: number): { maps: number[]; programs: number[] } {
  const maps: number[] = [];
  const programs: number[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    let info: string;
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    const map = /^map_id:\s*(\d+)/m.exec(info);
    const prog = /^prog_id:\s*(\d+)/m.exec(info);
    if (map) maps.push(Number(map[1]));
    else if (prog) programs.push(Number(prog[1]));
  }
  return { maps, programs };
}

/** The demo's maps by name (each opened by id and closed again: holding one would keep it alive). */
function mapNames(ids: number[]): string[] {
  return ids.map((id) => {
    const m = MapData.fromId(id);
    try {
      return m.info().name;
    } finally {
      m.close();
    }
  });
}

/** Asserts that none of `ids` is still in the kernel (freeing is deferred: waits up to 2 s). */
async function assertGone(ids: { maps: number[]; programs: number[] }): Promise<void> {
  let left: number[] = [];
  for (let i = 0; i < 40; i++) {
    const maps = new Set([...loadedMaps()].map((m) => m.id));
    const programs = new Set([...loadedPrograms()].map((p) => p.id));
    left = [...ids.maps.filter((id) => maps.has(id)), ...ids.programs.filter((id) => programs.has(id))];
    if (left.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`the demo's maps/programs ${left.join(', ')} are still loaded after it exited`);
}

test('npm start runs the built demo: no compile step, the ArrayOfMaps walk-through as its own script', () => {
  const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  // exec: npm's SIGTERM reaches the demo itself, not a shell that would leave it running.
  assert.equal(scripts['start'], 'exec node tools/start.mjs');
  assert.equal(scripts['prestart'], undefined, 'nothing is compiled before the demo starts');
  assert.equal(scripts['example:array-of-maps'], 'node dist/examples/array-of-maps.js');
});

test('the syscall name table: this machine\'s numbers, sys_<n> for unknown ones', () => {
  assert.equal(syscallName(39, 'x64'), 'getpid');
  assert.equal(syscallName(172, 'arm64'), 'getpid');
  assert.equal(syscallName(79, 'arm64'), 'newfstatat');
  assert.equal(syscallName(9999, 'x64'), 'sys_9999');
  assert.equal(syscallName(0, 'riscv64'), 'sys_0');
  if (process.arch === 'x64' || process.arch === 'arm64') assert.match(syscallName(0), /^(read|io_setup)$/);
});

test('without CAP_BPF (uid 65534): exit 1 and one message saying to run it as root', (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to switch to uid 65534');
  const readable = (path: string) => (statSync(path).mode & 0o004) !== 0;
  if (![START, join(ROOT, 'dist/examples/syscall-top.js'), join(ROOT, 'bpf/syscall_top.o')].every(readable)) {
    return t.skip('the tree is not readable by other users here');
  }
  const r = spawnSync(process.execPath, [START, '--once'], { cwd: '/', uid: 65534, gid: 65534, encoding: 'utf8', timeout: 20_000 });
  if (/EACCES|permission denied/i.test(r.stderr) && !/CAP_BPF/.test(r.stderr)) return t.skip(`uid 65534 cannot read the library here: ${r.stderr.split('\n')[0]}`);
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^syscall-top: .*EPERM/);
  assert.match(r.stderr, /run it as root: it needs CAP_BPF and CAP_PERFMON/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

test('npm start -- --once: one snapshot with this test\'s process, its calls and its execs; exits 0 and leaves nothing loaded', async (t) => {
  if (!supported(t)) return;
  const before = fdCount();
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-demo-'));
  const tag = String(process.pid % 100000);
  const ddName = `tsbdd${tag}`;
  const exName = `tsbex${tag}`;
  copyFileSync('/bin/dd', join(dir, ddName));
  copyFileSync('/bin/true', join(dir, exName));
  // A byte at a time: a read and a write per byte, fed 2000 bytes every 20 ms through a
  // pipe (about 200,000 calls a second, not a whole CPU: the demo's start is timed).
  const dd = spawn(join(dir, ddName), ['of=/dev/null', 'bs=1'], { stdio: ['pipe', 'ignore', 'ignore'] });
  dd.stdin!.on('error', () => {}); // EPIPE should dd end early: the assertions below say so
  const feed = setInterval(() => dd.stdin!.write(Buffer.alloc(2000)), 20);
  const execPids = new Set<number>();
  try {
    const demo = startDemo(process.execPath, [START, '--once']);
    const pid = await demo.pid;
    const first = await demo.firstOutputMs;
    t.diagnostic(`first output ${first.toFixed(0)} ms after spawn`);
    const ids = bpfIdsOf(pid);
    const names = mapNames(ids.maps);
    for (const name of MAP_NAMES) assert.ok(names.includes(name), `${name} among its maps while it runs (${names.join(', ')})`);
    // Execs from now until the demo exits, a few every 100 ms: the last ones are in the panel.
    let running = true;
    void demo.exit.then(() => (running = false));
    const execs = (async () => {
      while (running) {
        const c = spawn(join(dir, exName), [], { stdio: 'ignore' });
        execPids.add(c.pid!);
        await new Promise((resolve) => c.once('close', resolve));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const { code, ms } = await demo.exit;
    await execs;
    const out = demo.out();
    t.diagnostic(`exit ${code} ${ms.toFixed(0)} ms after spawn`);
    assert.equal(code, 0, out);
    assert.ok(first < 5000, `first output ${first.toFixed(0)} ms after spawn`);

    await assertGone(ids);

    // The dd copy: its pid, its name, thousands of calls a second, read and write by name.
    const row = out.split('\n').find((l) => new RegExp(`^\\s*${dd.pid}\\s+${ddName}\\s`).test(l));
    assert.ok(row, `a row for ${ddName} (pid ${dd.pid}):\n${out}`);
    const rate = Number(/^\s*\d+\s+\S+\s+([\d,]+)/.exec(row)![1]!.replaceAll(',', ''));
    assert.ok(rate >= 1000, `${ddName} makes ${rate} calls/s (${row})`);
    assert.match(row, /\bread \d+%/);
    assert.match(row, /\bwrite \d+%/);
    // The syscall panel names the calls; read and write are among them.
    assert.match(out, /^read\s+[\d,]+\s+\d+$/m);
    assert.match(out, /^write\s+[\d,]+\s+\d+$/m);
    // The exec panel: pid, the new program's name, the file run.
    const execRow = out.split('\n').find((l) => l.includes(` ${exName} `) && l.endsWith(join(dir, exName)));
    assert.ok(execRow, `an exec of ${exName} in the panel:\n${out}`);
    assert.ok(execPids.has(Number(/^\S+\s+(\d+)/.exec(execRow)![1])), execRow);
  } finally {
    clearInterval(feed);
    dd.stdin!.end(); // end of input: dd exits
    await new Promise((resolve) => (dd.exitCode !== null || dd.signalCode !== null ? resolve(null) : dd.once('close', resolve)));
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(fdCount(), before);
});

test('live: SIGINT, SIGTERM, SIGHUP, SIGTERM to npm and q on a terminal stop it with exit 0; the terminal restored, nothing left loaded', async (t) => {
  if (!supported(t)) return;
  const before = fdCount();
  const demos: Demo[] = [];
  const bySignal = async (signal: NodeJS.Signals) => {
    const demo = startDemo(process.execPath, [START]);
    demos.push(demo);
    const pid = await demo.pid;
    await demo.waitFor('CALLS/S'); // the first frame, after a second
    const ids = bpfIdsOf(pid);
    const names = mapNames(ids.maps);
    for (const name of MAP_NAMES) assert.ok(names.includes(name), `${name} among its maps while it runs (${names.join(', ')})`);
    assert.ok(ids.programs.length >= 2, `${ids.programs.length} programs`);
    const sent = performance.now();
    process.kill(pid, signal);
    const { code, signal: killedBy } = await demo.exit;
    t.diagnostic(`${signal}: exited ${(performance.now() - sent).toFixed(0)} ms after the signal`);
    assert.equal(code, 0, `${signal}: exit ${code} ${killedBy ?? ''}\n${demo.out()}`);
    await assertGone(ids);
  };
  // Through npm: npm forwards SIGTERM to its script's process, the demo (exec, no shell between).
  const throughNpm = async () => {
    const demo = startDemo('npm', ['start', '--silent']);
    demos.push(demo);
    const pid = await demo.pid;
    await demo.waitFor('CALLS/S');
    const ids = bpfIdsOf(pid);
    assert.ok(ids.maps.length >= MAP_NAMES.length, `${ids.maps.length} maps`);
    demo.child.kill('SIGTERM');
    const { code } = await demo.exit;
    assert.equal(code, 0, demo.out());
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'the demo ended with npm');
    await assertGone(ids);
  };
  const onTerminal = async () => {
    if (spawnSync('script', ['--version']).status !== 0) {
      t.diagnostic('no script(1): the terminal case is not run');
      return;
    }
    // script(1) gives the demo a pseudo-terminal; what is written to its stdin is typed there.
    const demo = startDemo('script', ['-qfec', `${process.execPath} ${START}`, '/dev/null']);
    demos.push(demo);
    const pid = await demo.pid;
    await demo.waitFor('CALLS/S');
    const ids = bpfIdsOf(pid);
    demo.child.stdin!.write('q');
    const { code } = await demo.exit;
    const out = demo.out();
    assert.equal(code, 0, out);
    assert.ok(out.startsWith('\x1b[?1049h\x1b[?25l'), 'alternate screen, cursor hidden');
    assert.ok(out.includes('\x1b[H'), 'redrawn in place');
    assert.ok(out.trimEnd().endsWith('\x1b[?25h\x1b[?1049l'), `cursor and screen restored: ${JSON.stringify(out.slice(-40))}`);
    await assertGone(ids);
  };
  // In parallel (a second each at least); a failure stops the others' demos too.
  const runs = [bySignal('SIGINT'), bySignal('SIGTERM'), bySignal('SIGHUP'), throughNpm(), onTerminal()];
  try {
    await Promise.all(runs);
  } finally {
    for (const demo of demos) if (demo.child.exitCode === null && demo.child.signalCode === null) demo.child.kill('SIGKILL');
    await Promise.allSettled(runs);
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(fdCount(), before);
});
