// tsbpf load: an object loaded by the built CLI in a child process, pinned on bpffs (and
// attached), or held until a signal; what it prints, its exit code, the pins it leaves
// and the kernel objects behind them, checked from this process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { FdLink, MapData, MapType, programFromId, programFromPin } from '../src/index.js';
import { bpffsDir, fdCount, repoRoot } from './helpers.js';

const CLI = join(repoRoot, 'dist/src/cli/main.js');
const bpffs = bpffsDir('cli-load');
process.on('exit', () => rmSync(bpffs, { recursive: true, force: true }));
const fdsAtStart = fdCount();

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; `until`: once stderr matches, send `signal` (the command waits for one). */
function tsbpf(args: string[], until?: { stderr: RegExp; then: (run: Run) => void | Promise<void>; signal: NodeJS.Signals }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const run: Run = { status: null, stdout: '', stderr: '' };
    let signalled = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (d) => (run.stdout += d));
    child.stderr.on('data', async (d) => {
      run.stderr += d;
      if (until && !signalled && until.stderr.test(run.stderr)) {
        signalled = true;
        try {
          await until.then(run);
        } catch (err) {
          child.kill('SIGKILL');
          reject(err);
          return;
        }
        child.kill(until.signal);
      }
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      run.status = status;
      resolve(run);
    });
  });
}

const ids = (rows: { name: string; id: number }[]) => Object.fromEntries(rows.map((r) => [r.name, r.id]));

test('tsbpf load --pin --attach: programs, maps (dots as _) and links pinned under the directory, outliving the command', async () => {
  const dir = join(bpffs, 'tp');
  try {
    const [run, table] = await Promise.all([
      tsbpf(['load', join(repoRoot, 'bpf/attach_tracepoint.o'), '--pin', dir, '--attach', '--json']),
      tsbpf(['load', join(repoRoot, 'bpf/typed_access.o'), '--pin', `${dir}-table`]),
    ]);
    assert.equal(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout);
    assert.equal(out.pinned, dir);
    assert.deepEqual(out.programs.map((p: { name: string; type: string; pinned: string }) => [p.name, p.type, p.pinned]), [['tp_getppid', 'tracepoint', join(dir, 'tp_getppid')]]);
    assert.deepEqual(out.maps.map((m: { name: string; pinned: string }) => [m.name, m.pinned]), [['.rodata', join(dir, 'maps/_rodata')], ['.bss', join(dir, 'maps/_bss')]]);
    assert.equal(out.links.length, 1);
    assert.equal(out.links[0].type, 'perf_event', 'the kernel\'s name, as for programs and maps');
    assert.deepEqual(readdirSync(dir).sort(), ['links', 'maps', 'tp_getppid']);
    assert.deepEqual(readdirSync(join(dir, 'maps')).sort(), ['_bss', '_rodata']);
    assert.deepEqual(readdirSync(join(dir, 'links')), ['tp_getppid']);
    // The kernel objects behind the pins are the ones printed.
    const prog = programFromPin(join(dir, 'tp_getppid'));
    const bss = MapData.fromPin(join(dir, 'maps/_bss'));
    const link = FdLink.fromPin(join(dir, 'links/tp_getppid'));
    try {
      assert.equal(prog.info().id, out.programs[0].id);
      assert.equal(bss.id, ids(out.maps)['.bss']);
      assert.equal(bss.info().type, MapType.Array);
      assert.equal(link.info().id, out.links[0].id);
      assert.equal(link.info().programId, out.programs[0].id, 'the link attaches the pinned program');
    } finally {
      prog.close();
      bss.close();
      link.close();
    }

    // The table: one row per object, aligned columns, pins named.
    assert.equal(table.status, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^KIND +NAME +TYPE +ID +PINNED$/);
    assert.match(table.stdout, new RegExp(`^prog +xdp_pass +xdp +\\d+ +${dir}-table/xdp_pass$`, 'm'));
    assert.match(table.stdout, new RegExp(`^map +\\.rodata +array +\\d+ +${dir}-table/maps/_rodata$`, 'm'));
    assert.match(table.stdout, new RegExp(`^map +events +ringbuf +\\d+ +${dir}-table/maps/events$`, 'm'));
    assert.doesNotMatch(table.stdout, /tp_missing/, 'a program not loaded (SEC("?...")) is not listed');
    assert.equal(lines.length, 1 + 8 + 4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(`${dir}-table`, { recursive: true, force: true });
  }
  assert.equal(fdCount(), fdsAtStart);
});

test('tsbpf load without --pin: holds the object (attached) until SIGINT or SIGTERM, then unloads it', async () => {
  let seen: { prog: number; maps: number } | undefined;
  const check = (run: Run) => {
    const out = JSON.parse(run.stdout);
    assert.equal(out.pinned, null);
    const p = programFromId(out.programs[0].id);
    try {
      assert.equal(p.info().name, 'tp_getppid');
      assert.equal(out.links.length, 1);
    } finally {
      p.close();
    }
    seen = { prog: out.programs[0].id, maps: out.maps.length };
  };
  const [int, term] = await Promise.all([
    tsbpf(['load', join(repoRoot, 'bpf/attach_tracepoint.o'), '--attach', '--json'], { stderr: /press Ctrl-C to unload/, then: check, signal: 'SIGINT' }),
    tsbpf(['load', join(repoRoot, 'bpf/typed_access.o')], { stderr: /press Ctrl-C/, then: () => {}, signal: 'SIGTERM' }),
  ]);
  assert.equal(int.status, 0, int.stderr);
  assert.match(int.stderr, /attach_tracepoint\.o loaded, 1 program\(s\) attached: press Ctrl-C to unload\ntsbpf: unloaded\n$/);
  assert.ok(seen, 'the program was loaded while the command ran');
  assert.equal(term.status, 0, term.stderr);
  assert.match(term.stdout, /^prog +sock_filter +socket_filter +\d+ +-$/m);
  assert.match(term.stderr, /tsbpf: unloaded/);
  // Gone once the command let go (the kernel frees it after an RCU grace period).
  let gone = false;
  for (let i = 0; i < 50 && !gone; i++) {
    try {
      programFromId(seen.prog).close();
      await new Promise((r) => setTimeout(r, 20));
    } catch (err) {
      assert.equal((err as { code?: string }).code, 'ENOENT');
      gone = true;
    }
  }
  assert.ok(gone, `program ${seen.prog} is unloaded`);
  assert.equal(fdCount(), fdsAtStart);
});

test('tsbpf load: errors exit 1, say what to do, and leave no pins behind', async () => {
  const dir = join(bpffs, 'errors');
  const taken = join(dir, 'maps', 'slots');
  mkdirSync(join(dir, 'maps'), { recursive: true });
  const squatter = MapData.create({ type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 1 });
  try {
    squatter.pin(taken);
    const [exists, notBpffs, missing, refused, usage, help] = await Promise.all([
      tsbpf(['load', join(repoRoot, 'bpf/typed_access.o'), '--pin', dir]),
      tsbpf(['load', join(repoRoot, 'bpf/typed_access.o'), '--pin', '/tmp/tsbpf-not-bpffs']),
      tsbpf(['load', join(repoRoot, 'bpf/no-such.o')]),
      tsbpf(['load', join(repoRoot, 'bpf/attach_unknown_target.o'), '--pin', join(dir, 'refused')]),
      tsbpf(['load']),
      tsbpf(['load', '--help']),
    ]);
    assert.equal(exists.status, 1);
    assert.match(exists.stderr, new RegExp(`tsbpf: error: ${taken} exists already: remove it`));
    assert.deepEqual(readdirSync(dir).sort(), ['maps'], 'the programs pinned before the failure were unpinned');
    assert.deepEqual(readdirSync(join(dir, 'maps')), ['slots'], 'only what was there before');
    assert.equal(notBpffs.status, 1);
    assert.match(notBpffs.stderr, /\/tmp\/tsbpf-not-bpffs is not on a bpf filesystem: pin under \/sys\/fs\/bpf/);
    assert.equal(existsSync('/tmp/tsbpf-not-bpffs'), false, 'no directory made off bpffs');
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /no-such\.o: no such file/);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /program fentry_missing: the kernel's BTF has no function tsbpf_no_such_function/);
    assert.equal(existsSync(join(dir, 'refused')), false, 'the directory made for the pins is removed again');
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /missing required argument 'object'/);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: tsbpf load \[options\] <object>/);
    assert.match(help.stdout, /--pin <dir>/);
    assert.match(help.stdout, /until SIGINT or SIGTERM/);
  } finally {
    squatter.close();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(fdCount(), fdsAtStart);
});
