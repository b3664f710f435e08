// examples/execsnoop.ts end to end: starts programs with names of their own and finds
// each in the events, with its pid, its parent (this process) and its file name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execsnoop, type ExecEvent } from '../examples/execsnoop.js';
import { isMapTypeSupported, isProgramTypeSupported, MapType, ProgramType } from '../src/index.js';
import { fdCount } from './helpers.js';

test('examples/execsnoop: programs started after it appear with pid, ppid, comm and file name', async (t) => {
  if (!isMapTypeSupported(MapType.Ringbuf) || !isProgramTypeSupported(ProgramType.Tracepoint)) {
    t.diagnostic('no ring buffers or tracepoint programs here: nothing to snoop');
    return;
  }
  const before = fdCount();
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-execsnoop-'));
  const names = [0, 1, 2].map((i) => `tsbx${process.pid % 10000}_${i}`);
  for (const n of names) copyFileSync('/bin/true', join(dir, n));
  const ac = new AbortController();
  const seen: ExecEvent[] = [];
  const children = new Map<string, number>();
  const snoop = (async () => {
    try {
      for await (const e of execsnoop({ signal: ac.signal })) {
        seen.push(e);
        if (names.every((n) => seen.some((s) => s.comm === n))) ac.abort();
      }
    } catch (err) {
      if (!ac.signal.aborted) throw err;
    }
  })();
  // The generator attaches when first asked: give it a moment before starting programs.
  await new Promise((resolve) => setTimeout(resolve, 200));
  for (const n of names) {
    const child = spawn(join(dir, n), [], { stdio: 'ignore' });
    children.set(n, child.pid!);
    await new Promise((resolve) => child.once('close', resolve));
  }
  const timer = setTimeout(() => ac.abort(), 5000);
  await snoop;
  clearTimeout(timer);
  rmSync(dir, { recursive: true });
  for (const n of names) {
    const e = seen.find((s) => s.comm === n);
    assert.ok(e, `${n} seen (${seen.length} events)`);
    assert.equal(e.pid, children.get(n));
    assert.equal(e.ppid, process.pid);
    assert.equal(e.filename, join(dir, n));
    assert.equal(e.uid, process.getuid!());
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(fdCount(), before, 'the program, link, ring and watch closed');
});
