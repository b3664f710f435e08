// pidfd_open from the addon (kernel.pidfdOpen), its wrapper (sys pidfdOpen) and the
// public openPidfd / Pidfd that key TaskStorage: a pidfd names the process asked for,
// is owned and released like every tsbpf descriptor, and each failure is typed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { MapError, Pidfd, TaskStorage, isNotSupported, openPidfd, u64 } from '../src/index.js';
import * as sys from '../src/sys/index.js';
import { replaceKernel } from '../src/testing.js';
import { fdCount, thrown } from './helpers.js';
import { survives, throwsRange, throwsType, weirdValues } from './native-args.js';

const k = sys.kernel;
const { Errno } = sys;

/** The pid a pidfd names, from /proc/self/fdinfo (the kernel's own account). */
function pidOf(fd: number): number {
  const m = /^Pid:\s*(-?\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  assert.ok(m, `fd ${fd} is not a pidfd`);
  return Number(m[1]);
}

/** The pid of a child that has exited and been reaped (free, unless the kernel reused it since). */
async function reapedPid(): Promise<number> {
  const child = spawn('true', [], { stdio: 'ignore' });
  await once(child, 'exit');
  return child.pid!;
}

test('kernel.pidfdOpen: a close-on-exec pidfd of the process asked for; -errno for what the kernel refuses', async () => {
  const before = fdCount();
  const fd = k.pidfdOpen(process.pid, 0);
  assert.ok(fd >= 0, `pidfd_open: ${fd}`);
  try {
    assert.equal(pidOf(fd), process.pid);
    const flags = parseInt(/^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8);
    assert.ok(flags & 0o2000000, 'O_CLOEXEC');
  } finally {
    assert.equal(k.close(fd), 0);
  }
  const nonBlocking = k.pidfdOpen(process.pid, sys.PIDFD_NONBLOCK);
  assert.ok(nonBlocking >= 0);
  k.close(nonBlocking);
  assert.equal(k.pidfdOpen(await reapedPid(), 0), -Errno.ESRCH);
  assert.equal(k.pidfdOpen(0, 0), -Errno.EINVAL, 'pid 0');
  assert.equal(k.pidfdOpen(-1, 0), -Errno.EINVAL, 'a negative pid');
  assert.equal(k.pidfdOpen(process.pid, 1), -Errno.EINVAL, 'an unknown flag');
  assert.equal(fdCount(), before);
});

test('kernel.pidfdOpen: wrong arguments throw TypeError or RangeError, never crash', () => {
  const before = fdCount();
  throwsType(() => (k.pidfdOpen as Function)());
  throwsType(() => (k.pidfdOpen as Function)(process.pid));
  throwsType(() => k.pidfdOpen(String(process.pid) as never, 0));
  throwsRange(() => k.pidfdOpen(2 ** 31, 0));
  throwsRange(() => k.pidfdOpen(1.5, 0));
  throwsRange(() => k.pidfdOpen(process.pid, -1));
  throwsRange(() => k.pidfdOpen(process.pid, 2 ** 32));
  for (const [name, v] of weirdValues()) {
    for (const args of [[v, 0], [process.pid, v]]) {
      const r = survives(`pidfdOpen(${args.map((a) => (a === v ? name : String(a))).join(', ')})`, () => (k.pidfdOpen as Function)(...args));
      if (typeof r === 'number' && r >= 0) k.close(r);
    }
  }
  assert.equal(fdCount(), before);
});

test('sys.pidfdOpen: the fd, or a SyscallError naming pidfd_open', async () => {
  const fd = sys.pidfdOpen(process.pid);
  k.close(fd);
  const err = thrown(() => sys.pidfdOpen(0));
  assert.ok(err instanceof sys.SyscallError);
  assert.equal(err.call, 'pidfd_open');
  assert.equal(err.code, 'EINVAL');
  assert.equal(thrown(() => sys.pidfdOpen(-5)).code, 'EINVAL');
});

test('openPidfd: a Pidfd owning the descriptor of the process, released by close or dispose; typed errors', async () => {
  const before = fdCount();
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  const exited = once(child, 'exit');
  try {
    {
      using own = openPidfd(process.pid);
      assert.ok(own instanceof Pidfd);
      assert.equal(own.pid, process.pid);
      assert.equal(pidOf(own.fd), process.pid);
      const other = openPidfd(child.pid!);
      assert.equal(pidOf(other.fd), child.pid);
      assert.equal(fdCount(), before + 2);
      other.close();
      other.close(); // idempotent
      assert.equal(other.closed, true);
      const closed = thrown(() => other.fd);
      assert.ok(closed instanceof MapError && closed.kind === 'Closed', String(closed));
    }
    assert.equal(fdCount(), before, 'dispose closed it');
    for (const bad of [0, -1, 1.5, 2 ** 31, NaN, '1', 1n, undefined, null, {}]) {
      const err = thrown(() => openPidfd(bad as never));
      assert.ok(err instanceof MapError && err.kind === 'InvalidArgument', `${String(bad)}: ${err}`);
    }
    const gone = thrown(() => openPidfd(1 << 30));
    assert.ok(gone instanceof MapError && gone.kind === 'SyscallError', String(gone));
    assert.equal(gone.code, 'ESRCH');
    assert.equal(gone.call, 'pidfd_open');
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
  assert.equal(fdCount(), before);
});

test('openPidfd and TaskStorage { pid } keys on a kernel without pidfd_open (ENOSYS, before 5.3): typed NotSupported', () => {
  const before = fdCount();
  using storage = TaskStorage.create(u64);
  const restore = replaceKernel({ pidfdOpen: () => -Errno.ENOSYS });
  try {
    for (const err of [thrown(() => openPidfd(process.pid)), thrown(() => storage.get({ pid: process.pid })), thrown(() => storage.insert({ pid: process.pid }, 1n))]) {
      assert.ok(isNotSupported(err) && err instanceof MapError, String(err));
      assert.equal(err.feature, 'pidfd_open');
      assert.equal(err.code, 'ENOSYS');
    }
  } finally {
    restore();
  }
  storage.close();
  assert.equal(fdCount(), before);
});
