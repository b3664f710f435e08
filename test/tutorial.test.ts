// The README's tutorial is real: its C and TypeScript are bpf/tutorial.c and
// examples/tutorial.ts word for word, and the tool runs here, counts the openat(2) calls
// of a command this test starts, and cleans up on Ctrl-C (SIGINT).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fencedBlocks, ROOT } from './readme-snippets.js';

/** The file without its leading comment lines (what the README leaves out). */
function body(path: string): string {
  const lines = readFileSync(join(ROOT, path), 'utf8').split('\n');
  let i = 0;
  while (/^\s*(\/\/|\/\*|\*)/.test(lines[i]!)) i++;
  return lines.slice(i).join('\n').trimEnd();
}

function readmeBlock(lang: string, marker: string): string {
  const blocks = fencedBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8')).filter((b) => b.lang === lang && b.code.join('\n').includes(marker));
  assert.equal(blocks.length, 1, `one \`\`\`${lang} block of README.md holds ${marker}`);
  return blocks[0]!.code.join('\n').trimEnd();
}

test('README tutorial: its C is bpf/tutorial.c and its TypeScript examples/tutorial.ts', () => {
  assert.equal(readmeBlock('c', 'count_openat'), body('bpf/tutorial.c'));
  assert.equal(readmeBlock('ts', "'count_openat'"), body('examples/tutorial.ts').replace("from '../src/index.js'", "from 'tsbpf'"));
});

const OPENS = 20_000;

test('README tutorial: the tool counts a command\'s openat calls and detaches on Ctrl-C', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-tutorial-'));
  const comm = `tsbtut${process.pid % 100000}`;
  copyFileSync('/bin/cat', join(dir, comm));
  const tool = spawn(process.execPath, ['dist/examples/tutorial.js', 'bpf/tutorial.o'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  tool.stderr.on('data', (d: Buffer) => (err += d));
  const exited = new Promise<number | null>((resolve) => tool.once('close', resolve));
  const until = (what: RegExp, ms: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} in ${ms} ms; stdout:\n${out}\nstderr:\n${err}`)), ms);
      const check = () => {
        if (!what.test(out)) return;
        clearTimeout(timer);
        tool.stdout.off('data', check);
        resolve();
      };
      tool.stdout.on('data', check);
      check();
    });
  tool.stdout.on('data', (d: Buffer) => (out += d));
  try {
    await until(/Ctrl-C to stop/, 10_000);
    // 20000 files named on the command line: as many openat calls at least (plus the
    // loader's), enough to be among the five busiest commands on a busy machine too.
    execFileSync(join(dir, comm), Array(OPENS).fill('/etc/hostname'), { stdio: 'ignore' });
    await until(new RegExp(`^${comm}\\s+\\d+$`, 'm'), 5_000);
  } finally {
    tool.kill('SIGINT');
    rmSync(dir, { recursive: true });
  }
  // A tool that ignored Ctrl-C would hang the test: killed after 10 s, it fails below.
  const stuck = setTimeout(() => tool.kill('SIGKILL'), 10_000);
  const code = await exited;
  clearTimeout(stuck);
  assert.equal(code, 0, `exit code; stderr:\n${err}`);
  const counts = [...out.matchAll(new RegExp(`^${comm}\\s+(\\d+)$`, 'gm'))].map((m) => Number(m[1]));
  assert.ok(counts.length >= 2, `a snapshot each second and one after Ctrl-C:\n${out}`);
  assert.ok(counts.at(-1)! >= OPENS, `${comm} opened ${OPENS} files at least: ${counts.at(-1)}`);
  assert.match(out, /Detached, bye\.\n$/, 'the finally blocks ran');
});
