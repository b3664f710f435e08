// examples/opensnoop.ts end to end: the example's logic attached to the real
// sys_enter/sys_exit_openat tracepoints, files opened by this process (and a failed
// open, and a child process), each seen with its name, pid and result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOpensnoop, type OpenEvent, type Opensnoop } from '../examples/opensnoop.js';
import { fdCount } from './helpers.js';

if (!existsSync('/sys/kernel/tracing/events')) execFileSync('mount', ['-t', 'tracefs', 'tracefs', '/sys/kernel/tracing']);

/** Collects events until every name in `names` was seen (or the timeout). */
async function collect(snoop: Opensnoop, names: string[], timeoutMs = 5000): Promise<Map<string, OpenEvent>> {
  const seen = new Map<string, OpenEvent>();
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    for await (const e of snoop.events(signal)) {
      assert.ok(!('lost' in e), 'no event lost');
      const name = names.find((n) => e.filename.endsWith(n));
      if (name) seen.set(name, e);
      if (seen.size === names.length) break;
    }
  } catch (err) {
    if (!signal.aborted) throw err;
  }
  return seen;
}

test('opensnoop example: files this process opens appear with their path, pid, comm and fd; a failed open with -ENOENT', async () => {
  const fds = fdCount();
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-opensnoop-'));
  const snoop = startOpensnoop({ pid: process.pid });
  try {
    const names = [0, 1, 2].map((i) => `tsbpf-open-${process.pid}-${Date.now()}-${i}`);
    const fdsOpened: number[] = [];
    for (const n of names) {
      writeFileSync(join(dir, n), 'x');
      const fd = openSync(join(dir, n), 'r');
      fdsOpened.push(fd);
      closeSync(fd);
    }
    const missing = `tsbpf-missing-${process.pid}-${Date.now()}`;
    assert.throws(() => openSync(join(dir, missing), 'r'), { code: 'ENOENT' });
    const seen = await collect(snoop, [...names, missing]);
    for (const [i, n] of names.entries()) {
      const e = seen.get(n);
      assert.ok(e, `${n} seen`);
      assert.equal(e.filename, join(dir, n));
      assert.equal(e.pid, process.pid);
      assert.ok(e.ret >= 0, `opened: fd ${e.ret}`);
      // The last open of each name is openSync's (writeFileSync's came before).
      assert.equal(e.ret, fdsOpened[i], 'the fd openSync returned');
      assert.equal(e.flags & 3, 0, 'O_RDONLY');
      assert.equal(e.tid, process.pid, 'the main thread');
      assert.equal(e.comm, readFileSync('/proc/self/comm', 'utf8').trim());
    }
    const m = seen.get(missing);
    assert.ok(m, 'the failed open seen');
    assert.equal(m.ret, -2, '-ENOENT');
    assert.equal(snoop.reader.lost, 0);
  } finally {
    snoop.close();
    rmSync(dir, { recursive: true, force: true });
  }
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(fdCount(), fds);
});

test('opensnoop example without a pid filter: a child process opening a file is seen with its own pid and comm', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-opensnoop-'));
  const name = `tsbpf-child-${process.pid}-${Date.now()}`;
  writeFileSync(join(dir, name), 'hello');
  using snoop = startOpensnoop();
  try {
    const out = execFileSync('cat', [join(dir, name)], { encoding: 'utf8' });
    assert.equal(out, 'hello');
    const seen = await collect(snoop, [name]);
    const e = seen.get(name);
    assert.ok(e, 'the child open seen');
    assert.equal(e.comm, 'cat');
    assert.notEqual(e.pid, process.pid);
    assert.ok(e.ret >= 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
