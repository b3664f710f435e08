// StackTraceMap, KernelSymbols and ProcessSymbols on the real kernel: tracepoint
// programs record the kernel and user stacks of a getppid() made by a small C program
// (frame pointers kept), and the test names the frames.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EbpfLoader, KernelSymbols, MapFlags, MapType, ProcessSymbols, StackTraceMap, TracePoint, formatSymbol } from '../src/index.js';
import { fdCount, thrown } from './helpers.js';

const fdsAtStart = fdCount();
const obj = fileURLToPath(new URL('../../bpf/stack_trace.o', import.meta.url));

const TARGET_C = String.raw`
#include <unistd.h>
__attribute__((noinline)) long tsbpf_leaf(void) { return getppid(); }
__attribute__((noinline)) long tsbpf_middle(void) { return tsbpf_leaf() + 1; }
__attribute__((noinline)) long tsbpf_outer(void) { return tsbpf_middle() + 1; }
int main(void) {
  char go;
  write(1, "ready\n", 6);
  if (read(0, &go, 1) != 1) return 1;  /* the test has attached */
  long r = tsbpf_outer();
  write(1, "done\n", 5);
  if (read(0, &go, 1) != 1) return 1;  /* alive while the test reads /proc/PID/maps */
  return (int)(r & 0);
}
`;

let dir: string;
let target: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsbpf-stack-'));
  writeFileSync(join(dir, 'target.c'), TARGET_C);
  target = join(dir, 'target');
  execFileSync('gcc', ['-O0', '-fno-omit-frame-pointer', '-o', target, join(dir, 'target.c')]);
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Waits until the child has written `line` on stdout. */
function waitFor(child: ChildProcess, line: string): Promise<void> {
  return new Promise((res, rej) => {
    let out = '';
    const onData = (d: string) => {
      out += d;
      if (out.includes(`${line}\n`)) {
        child.stdout!.off('data', onData);
        res();
      }
    };
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', onData);
    child.once('error', rej);
    child.once('exit', (code) => rej(new Error(`target exited (${code}) before '${line}'`)));
  });
}

test('StackTraceMap.create: value size is 8 x depth (32 x depth with build ids); nothing to read in an empty map', () => {
  const stacks = StackTraceMap.create({ maxEntries: 8, depth: 16 });
  try {
    assert.equal(stacks.map.type, MapType.StackTrace);
    assert.equal(stacks.map.valueSize, 128);
    assert.equal(stacks.buildIds, false);
    assert.deepEqual([...stacks.keys()], []);
    assert.equal(thrown(() => stacks.get(3)).kind, 'KeyNotFound');
    assert.equal(thrown(() => stacks.remove(3)).kind, 'KeyNotFound');
    assert.equal(thrown(() => stacks.getBuildIds(3)).kind, 'InvalidArgument');
  } finally {
    stacks.close();
  }
  const withIds = StackTraceMap.create({ maxEntries: 8, depth: 4, flags: MapFlags.BPF_F_STACK_BUILD_ID });
  try {
    assert.equal(withIds.map.valueSize, 128);
    assert.equal(withIds.buildIds, true);
    assert.equal(thrown(() => withIds.get(0)).kind, 'InvalidArgument');
    assert.equal(thrown(() => [...withIds.entries()]).kind, 'InvalidArgument');
    assert.equal(thrown(() => withIds.getBuildIds(0)).kind, 'KeyNotFound');
  } finally {
    withIds.close();
  }
  assert.equal(thrown(() => StackTraceMap.create({ maxEntries: 8, depth: 0 })).kind, 'InvalidArgument');
});

test('KernelSymbols.parse: text symbols sorted, modules, hidden addresses', () => {
  const ks = KernelSymbols.parse(
    ['ffffffff81000200 T second', 'ffffffff81000100 t first', 'ffffffff81000180 D data_is_skipped', 'ffffffffc0001000 t modfn\t[mymod]', ''].join('\n'),
  );
  assert.equal(ks.size, 3);
  assert.equal(ks.addressesHidden, false);
  assert.deepEqual(ks.resolve(0xffffffff81000190n), { name: 'first', offset: 0x90n });
  assert.equal(ks.format(0xffffffff81000204n), 'second+0x4');
  assert.equal(ks.format(0xffffffffc0001010n), 'modfn+0x10 [mymod]');
  assert.equal(ks.resolve(0xffffffff81000000n), undefined);
  assert.equal(ks.format(0x1000n), '0x1000');
  assert.equal(ks.address('second'), 0xffffffff81000200n);
  const hidden = KernelSymbols.parse('0000000000000000 T _stext\n0000000000000000 t other\n');
  assert.equal(hidden.addressesHidden, true);
  assert.equal(hidden.resolve(0xffffffff81000000n), undefined);
});

test('KernelSymbols.load: /proc/kallsyms resolves a function address back to itself', (t) => {
  const ks = KernelSymbols.load();
  if (ks.addressesHidden) {
    t.diagnostic('/proc/kallsyms shows no addresses to this process');
    return;
  }
  assert.ok(ks.size > 1000, `${ks.size} symbols`);
  const addr = ks.address('do_syscall_64')!;
  assert.ok(addr > 0n);
  assert.equal(ks.resolve(addr + 5n)!.name, 'do_syscall_64');
  assert.equal(ks.format(addr + 5n), 'do_syscall_64+0x5');
});

/** getppid's number where the test knows it (the program filters raw_syscalls/sys_enter by it). */
const GETPPID: Partial<Record<string, number>> = { x64: 110, arm64: 173 };

test('from tracepoints: bpf_get_stackid kernel and user stacks of a getppid(), symbolised; the syscall tracepoint\'s kernel stack where the kernel gives one', async (t) => {
  const nr = GETPPID[process.arch];
  if (nr === undefined) {
    t.skip(`getppid's syscall number on ${process.arch} is not in the test`);
    return;
  }
  const child = spawn(target, [], { stdio: ['pipe', 'pipe', 'inherit'] });
  const closed = new Promise<void>((res) => child.on('close', () => res()));
  try {
    await waitFor(child, 'ready');
    const ebpf = new EbpfLoader().setGlobal('target_tgid', child.pid!).setGlobal('target_syscall', nr).load(obj);
    try {
      const links = ['on_sys_enter', 'on_getppid'].map((name) => {
        const prog = ebpf.program(name);
        assert.ok(prog instanceof TracePoint);
        return prog.attach();
      });
      try {
        const done = waitFor(child, 'done');
        child.stdin!.write('g');
        await done;
      } finally {
        for (const link of links) link.close();
      }
      const read = (name: string) => Number(ebpf.variable(name).get() as bigint);
      assert.equal(read('calls'), 1, 'raw_syscalls/sys_enter saw the one getppid');
      assert.equal(read('sc_calls'), 1, 'syscalls/sys_enter_getppid saw it');

      // raw_syscalls/sys_enter: a generic tracepoint, whose caller's registers give the kernel stack on every kernel.
      const kernelId = read('kernel_id');
      const userId = read('user_id');
      assert.ok(kernelId >= 0, `kernel stack id ${kernelId}`);
      assert.ok(userId >= 0, `user stack id ${userId}`);
      assert.notEqual(kernelId, userId);

      const stacks = StackTraceMap.tryFrom(ebpf.map('stacks'));
      assert.deepEqual([...stacks.keys()].sort(), [kernelId, userId].sort());
      const kernelFrames = stacks.get(kernelId);
      const userFrames = stacks.get(userId);
      assert.ok(kernelFrames.length > 1 && kernelFrames.length <= 32);
      assert.ok(kernelFrames.every((a) => a >= 0xffff800000000000n), 'kernel addresses');
      assert.ok(userFrames.every((a) => a > 0n && a < 0x0000800000000000n), 'user addresses');

      const ks = KernelSymbols.load();
      const syscallPath = (frames: bigint[]) => {
        if (ks.addressesHidden) return;
        const names = frames.map((a) => ks.resolve(a)?.name ?? '?');
        assert.ok(names.some((n) => /^(do_syscall_64|entry_SYSCALL_64)/.test(n)), names.join(', '));
      };
      if (!ks.addressesHidden) t.diagnostic(`kernel: ${kernelFrames.map((a) => ks.format(a)).join(' <- ')}`);
      syscallPath(kernelFrames);

      const ps = new ProcessSymbols(child.pid!);
      const resolved = userFrames.map((a) => ps.resolve(a));
      t.diagnostic(`user: ${userFrames.map((a) => ps.format(a)).join(' <- ')}`);
      // Frame 0 is the syscall in libc's getppid (which keeps no frame of its own, so
      // tsbpf_leaf's return address is not on the chain); then the callers by frame pointer.
      assert.match(resolved[0]?.name ?? '', /getppid/);
      assert.match(resolved[0]!.module!, /libc/);
      const ours = resolved.filter((s) => s?.module === target).map((s) => s!.name);
      assert.deepEqual(ours.slice(0, 3), ['tsbpf_middle', 'tsbpf_outer', 'main']);
      assert.match(formatSymbol(resolved.find((s) => s?.name === 'tsbpf_outer')!), new RegExp(`^tsbpf_outer\\+0x[0-9a-f]+ \\[${target}\\]$`));

      // syscalls/sys_enter_getppid: the same user stack. Until Linux 6.11 a syscall
      // tracepoint handed BPF the syscall's user-mode registers, so the kernel stack has
      // no frame and the helper returns -EFAULT; since, the kernel's frames. Which one this
      // kernel does is what it returned, never a version check.
      const scStacks = StackTraceMap.tryFrom(ebpf.map('sc_stacks'));
      const scUserId = read('sc_user_id');
      assert.ok(scUserId >= 0, `syscall tracepoint user stack id ${scUserId}`);
      assert.deepEqual(scStacks.get(scUserId), userFrames, 'the same user stack from both tracepoints');
      const scKernelId = read('sc_kernel_id');
      if (scKernelId === -14 /* -EFAULT */) {
        t.diagnostic('this kernel gives syscall tracepoints no kernel stack (-EFAULT)');
        assert.deepEqual([...scStacks.keys()], [scUserId]);
      } else {
        assert.ok(scKernelId >= 0, `syscall tracepoint kernel stack id ${scKernelId}: a stack id or -EFAULT`);
        const frames = scStacks.get(scKernelId);
        assert.ok(frames.length > 1 && frames.every((a) => a >= 0xffff800000000000n), 'kernel addresses');
        syscallPath(frames);
      }

      // A stack removed is gone; the other stays.
      stacks.remove(userId);
      assert.equal(thrown(() => stacks.get(userId)).kind, 'KeyNotFound');
      assert.deepEqual([...stacks.keys()], [kernelId]);
      assert.deepEqual(new Map(stacks.entries()).get(kernelId), kernelFrames);
      assert.equal(thrown(() => StackTraceMap.tryFrom(ebpf.map('.data'))).kind, 'InvalidMapType');
    } finally {
      ebpf.close();
    }
  } finally {
    child.stdin!.end('x');
    await closed;
  }
});

test('stack traces: no descriptor left open', () => {
  assert.equal(fdCount(), fdsAtStart);
});
