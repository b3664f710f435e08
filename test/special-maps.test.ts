// The fd-valued maps (program arrays, device, CPU, AF_XDP and cgroup arrays, reuseport
// socket arrays), the local storages and the arena, each proven against the kernel:
// from the BPF programs of bpf/special_maps.c and bpf/special_cgrp.c (test runs, live XDP
// frames over a veth pair, tc on the pair's egress), from user space where that is all
// there is. A map type the kernel lacks (asked of the probes) gives typed NotSupported.
import { onlineCpus } from '../src/sys/cpus.js';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync, readFileSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execFileSync, spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import {
  Arena,
  ArrayMap,
  CgroupArray,
  CgrpStorage,
  CpuMap,
  DevMap,
  DevMapHash,
  EbpfLoader,
  HashMap,
  InodeStorage,
  isMapTypeSupported,
  isNotSupported,
  MapData,
  MapError,
  MapType,
  mapTypeName,
  ObjectSpec,
  openPidfd,
  Pidfd,
  ProgramArray,
  ReusePortSockArray,
  SchedClassifier,
  SkStorage,
  TaskStorage,
  Xdp,
  XskMap,
  i64,
  u32,
  u64,
  type Ebpf,
} from '../src/index.js';
import { kernel } from '../src/sys/native.js';
import { cgroup2Root, fdCount, drainDatagrams, refusedBeforeSyscall, reuseportSocket, socketCookie, thrown } from './helpers.js';

const OBJECT = fileURLToPath(new URL('../../bpf/special_maps.o', import.meta.url));
const CGRP_OBJECT = fileURLToPath(new URL('../../bpf/special_cgrp.o', import.meta.url));
const REUSEPORT = fileURLToPath(new URL('../../bpf/attach_reuseport.o', import.meta.url));
const README = fileURLToPath(new URL('../../README.md', import.meta.url));
const PROGRAMS = [...ObjectSpec.parse(readFileSync(OBJECT)).programs.keys()];

const XDP_PASS = 2;
const XDP_REDIRECT = 4;
const BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1;
// Slots of `counts` and `results` (bpf/special_maps.c).
const DEV_EGRESS = 0;
const CPU_RX = 1;
const RX = 2;

/** A loader for OBJECT with only `names` loaded and the given maps replaced. */
function load(names: string[], replace: Record<string, MapData> = {}, setup?: (l: EbpfLoader) => void): Ebpf {
  const loader = new EbpfLoader();
  for (const p of PROGRAMS) if (!names.includes(p)) loader.deferProgram(p);
  for (const [name, map] of Object.entries(replace)) loader.replaceMap(name, map);
  setup?.(loader);
  return loader.load(OBJECT);
}

/** Waits until `done()` or 2 s. */
async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

/** A 64-byte Ethernet frame of ethertype 0x88b5 (what rx_count counts) to `dst`. */
function frame(dst: number[] = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]): Uint8Array {
  const f = new Uint8Array(64);
  f.set(dst, 0);
  f.set([0x02, 0, 0, 0, 0, 1], 6);
  f.set([0x88, 0xb5], 12);
  return f;
}

// ---- a veth pair in this namespace: frames sent out of `a` arrive at `b` ----------

interface Pair {
  a: string;
  b: string;
  aIndex: number;
  bIndex: number;
  aIp: string;
  bIp: string;
}
let pair: Pair;

before(() => {
  const pid = process.pid;
  const a = `tsm${pid}a`.slice(0, 15);
  const b = `tsm${pid}b`.slice(0, 15);
  // A /30 of 198.18.0.0/15 away from the one test/net-env.ts takes for this pid.
  const slot = (pid % 32768) + 32768;
  const base = (198 << 24) + (18 << 16) + slot * 4;
  const ip = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  const run = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  run('link', 'add', a, 'type', 'veth', 'peer', 'name', b);
  run('link', 'set', a, 'up');
  run('link', 'set', b, 'up');
  run('addr', 'add', `${ip(base + 1)}/30`, 'dev', a);
  run('neigh', 'replace', ip(base + 2), 'lladdr', '02:00:00:00:00:02', 'dev', a, 'nud', 'permanent');
  pair = { a, b, aIndex: kernel.ifNameToIndex(a), bIndex: kernel.ifNameToIndex(b), aIp: ip(base + 1), bIp: ip(base + 2) };
});

after(() => {
  try {
    execFileSync('ip', ['link', 'del', pair.a], { stdio: 'ignore' });
  } catch {
    // never made
  }
});

// ---- ProgramArray ----------------------------------------------------------------

test('ProgramArray: a tail call goes to the program in the slot, falls through once it is removed; get gives the program id', () => {
  const fds = fdCount();
  {
    using jumps = ProgramArray.create({ maxEntries: 4 });
    using ebpf = load(['tail_entry', 'tail_a', 'tail_b', 'redirect_dev'], { jmp_table: jumps.map });
    const entry = ebpf.program('tail_entry');
    const [a, b] = [ebpf.program('tail_a'), ebpf.program('tail_b')];
    const run = (slot: number) => {
      const data = new Uint8Array(64);
      data[0] = slot;
      return entry.testRun({ data }).returnValue;
    };
    assert.equal(run(0), 99, 'an empty slot: the call falls through');
    jumps.set(0, a);
    jumps.set(1, b);
    assert.deepEqual([run(0), run(1), run(2)], [10, 20, 99]);
    assert.equal(jumps.get(0), a.info().id);
    assert.deepEqual([...jumps], [
      [0, a.info().id],
      [1, b.info().id],
    ]);
    jumps.set(0, b);
    assert.equal(run(0), 20, 'replaced');
    jumps.remove(0);
    assert.equal(run(0), 99, 'removed: falls through again');
    assert.equal(thrown(() => jumps.remove(0)).kind, 'KeyNotFound');
    assert.equal(thrown(() => jumps.get(0)).kind, 'KeyNotFound');
    // A view of the object's map is the same map.
    const view = ProgramArray.tryFrom(ebpf.map('jmp_table'));
    assert.equal(view.get(1), b.info().id);
    // All programs of an array share one type: an XDP program is refused by the kernel.
    const wrong = thrown(() => jumps.set(2, ebpf.program('redirect_dev')));
    assert.ok(wrong instanceof MapError && wrong.kind === 'SyscallError', String(wrong));
    assert.equal(wrong.code, 'EINVAL');
    refusedBeforeSyscall(() => jumps.set(4, a), 'OutOfBounds');
    refusedBeforeSyscall(() => jumps.set(1, {} as never), 'InvalidArgument');
    refusedBeforeSyscall(() => jumps.set(1, 3 as never), 'InvalidArgument');
    using other = ArrayMap.create(u32, { maxEntries: 1 });
    assert.equal(thrown(() => ProgramArray.tryFrom(other.map)).kind, 'InvalidMapType');
    // A program that is not loaded: its typed error.
    a.unload();
    assert.equal(thrown(() => jumps.set(3, a)).kind, 'NotLoaded');
  }
  assert.equal(fdCount(), fds);
});

test('ProgramArray lifetime: the kernel empties the array when its last user-space descriptor closes, though a program still uses it', async () => {
  using jumps = ProgramArray.create({ maxEntries: 2 });
  using ebpf = load(['tail_entry', 'tail_a'], { jmp_table: jumps.map });
  const run = () => ebpf.program('tail_entry').testRun({ data: new Uint8Array(64) }).returnValue;
  jumps.set(0, ebpf.program('tail_a'));
  assert.equal(run(), 10);
  const id = jumps.map.id;
  jumps.close();
  // The kernel empties it from a work queue, just after the close.
  await until(() => run() === 99);
  assert.equal(run(), 99, 'slot 0 emptied with the last descriptor');
  // The map itself lives on (the program holds it): open again by id, it is empty.
  using again = ProgramArray.tryFrom(MapData.fromId(id), { owned: true });
  assert.equal(thrown(() => again.get(0)).kind, 'KeyNotFound');
});

// ---- DevMap, DevMapHash, CpuMap, XskMap: bpf_redirect_map ---------------------------

test('DevMap: bpf_redirect_map redirects only through a filled slot; live frames leave by the device, through the slot program', async () => {
  const fds = fdCount();
  {
    using devs = DevMap.create({ maxEntries: 4 });
    using ebpf = load(['redirect_dev', 'dev_egress', 'rx_count'], { devs: devs.map });
    const redirect = ebpf.program('redirect_dev');
    const counts = ArrayMap.tryFrom(ebpf.map('counts'), u64);
    assert.equal(redirect.testRun({ data: frame() }).returnValue, XDP_PASS, 'empty slot: the fallback action');
    devs.set(0, pair.aIndex);
    assert.deepEqual(devs.get(0), { ifindex: pair.aIndex, programId: 0 });
    assert.equal(redirect.testRun({ data: frame() }).returnValue, XDP_REDIRECT);

    // Live frames: sent out of a, received by b's XDP program (which also gives b the NAPI veth needs to take XDP frames).
    using _rx = (ebpf.program('rx_count') as Xdp).attach(pair.bIndex, { mode: 'drv' });
    const egress = ebpf.program('dev_egress');
    devs.set(0, { ifindex: pair.aIndex, program: egress });
    assert.deepEqual(devs.get(0), { ifindex: pair.aIndex, programId: egress.info().id });
    redirect.testRun({ data: frame(), repeat: 8, flags: BPF_F_TEST_XDP_LIVE_FRAMES });
    await until(() => counts.get(RX) >= 8n);
    assert.equal(counts.get(DEV_EGRESS), 8n, 'the slot program saw each frame');
    assert.equal(counts.get(RX), 8n, 'each frame reached the peer');

    devs.remove(0);
    assert.equal(redirect.testRun({ data: frame() }).returnValue, XDP_PASS, 'removed');
    devs.remove(0); // the kernel's delete does not tell an empty slot
    assert.equal(thrown(() => devs.get(0)).kind, 'KeyNotFound');
    // A program needs the 8-byte value.
    using narrow = DevMap.create({ maxEntries: 1, valueSize: 4 });
    narrow.set(0, { ifindex: pair.aIndex });
    assert.deepEqual(narrow.get(0), { ifindex: pair.aIndex, programId: 0 });
    refusedBeforeSyscall(() => narrow.set(0, { ifindex: pair.aIndex, program: egress }), 'InvalidArgument');
    refusedBeforeSyscall(() => devs.set(0, { ifindex: -1 }), 'InvalidArgument');
    refusedBeforeSyscall(() => devs.set(0, 'eth0' as never), 'InvalidArgument');
    const gone = thrown(() => devs.set(1, 0x7fff_fff0));
    assert.equal(gone.kind, 'SyscallError', 'no such device');
    assert.equal(thrown(() => DevMap.tryFrom(ebpf.map('dev_hash'))).kind, 'InvalidMapType');
  }
  assert.equal(fdCount(), fds);
});

test('DevMapHash: devices by any u32 key; redirect through key 7, live frames reach the peer', async () => {
  using hash = DevMapHash.create({ maxEntries: 4 });
  using ebpf = load(['redirect_dev_hash', 'rx_count'], { dev_hash: hash.map });
  const redirect = ebpf.program('redirect_dev_hash');
  const counts = ArrayMap.tryFrom(ebpf.map('counts'), u64);
  hash.insert(6, pair.aIndex);
  assert.equal(redirect.testRun({ data: frame() }).returnValue, XDP_PASS, 'key 7 absent');
  hash.insert(7, { ifindex: pair.aIndex });
  assert.equal(redirect.testRun({ data: frame() }).returnValue, XDP_REDIRECT);
  assert.deepEqual([...hash].sort((x, y) => x[0] - y[0]), [
    [6, { ifindex: pair.aIndex, programId: 0 }],
    [7, { ifindex: pair.aIndex, programId: 0 }],
  ]);
  using _rx = (ebpf.program('rx_count') as Xdp).attach(pair.bIndex, { mode: 'drv' });
  redirect.testRun({ data: frame(), repeat: 5, flags: BPF_F_TEST_XDP_LIVE_FRAMES });
  await until(() => counts.get(RX) >= 5n);
  assert.equal(counts.get(RX), 5n);
  hash.remove(7);
  assert.equal(thrown(() => hash.remove(7)).kind, 'KeyNotFound');
  assert.equal(redirect.testRun({ data: frame() }).returnValue, XDP_PASS);
  const view = DevMapHash.tryFrom(ebpf.map('dev_hash'));
  assert.deepEqual(view.get(6), { ifindex: pair.aIndex, programId: 0 });
});

test('CpuMap: a filled slot redirects; live frames run the slot program on that CPU', async () => {
  // The last online CPU: another than 0 where there are two (a CPU the kernel lacks is ENODEV).
  const target = onlineCpus().at(-1)!;
  const slots = target + 1;
  using cpus = CpuMap.create({ maxEntries: slots });
  using ebpf = load(['redirect_cpu', 'cpu_rx'], { cpus: cpus.map }, (l) => l.setGlobal('cpu_target', target));
  const redirect = ebpf.program('redirect_cpu');
  const counts = ArrayMap.tryFrom(ebpf.map('counts'), u64);
  assert.equal(redirect.testRun({ data: frame() }).returnValue, XDP_PASS);
  cpus.set(target, 64);
  assert.deepEqual(cpus.get(target), { qsize: 64, programId: 0 });
  assert.equal(redirect.testRun({ data: frame() }).returnValue, XDP_REDIRECT);
  const rx = ebpf.program('cpu_rx');
  cpus.set(target, { qsize: 128, program: rx });
  assert.deepEqual(cpus.get(target), { qsize: 128, programId: rx.info().id });
  redirect.testRun({ data: frame(), repeat: 6, flags: BPF_F_TEST_XDP_LIVE_FRAMES });
  await until(() => counts.get(CPU_RX) >= 6n);
  assert.equal(counts.get(CPU_RX), 6n, 'the cpumap program ran once a frame');
  cpus.remove(target);
  assert.equal(thrown(() => cpus.get(target)).kind, 'KeyNotFound');
  cpus.remove(target); // no error for an empty slot (the kernel does not tell)
  assert.equal(redirect.testRun({ data: frame() }).returnValue, XDP_PASS);
  refusedBeforeSyscall(() => cpus.set(slots, 64), 'OutOfBounds');
  assert.equal(thrown(() => CpuMap.tryFrom(ebpf.map('devs'))).kind, 'InvalidMapType');
});

test('XskMap: an AF_XDP socket in a slot makes bpf_redirect_map redirect; get is NotSupported before any syscall', () => {
  const fds = fdCount();
  {
    using xsks = XskMap.create({ maxEntries: 4 });
    using ebpf = load(['redirect_xsk'], { xsks: xsks.map });
    const redirect = ebpf.program('redirect_xsk');
    assert.equal(redirect.testRun({ data: frame() }).returnValue, XDP_PASS);
    const xsk = kernel.socket(44 /* AF_XDP */, 3 /* SOCK_RAW */, 0);
    assert.ok(xsk >= 0, `AF_XDP socket: ${xsk}`);
    try {
      // (Unbound: it has no UMEM, so frames redirected to it would be dropped; the slot holds it all the same.)
      xsks.set(0, xsk);
      assert.equal(redirect.testRun({ data: frame() }).returnValue, XDP_REDIRECT);
      refusedBeforeSyscall(() => xsks.get(0), 'NotSupported');
      refusedBeforeSyscall(() => [...xsks.entries()], 'NotSupported');
      xsks.remove(0);
      assert.equal(redirect.testRun({ data: frame() }).returnValue, XDP_PASS);
      xsks.remove(0); // no error for an empty slot (the kernel does not tell)
      // Anything but an AF_XDP socket: the kernel refuses.
      const udp = kernel.socket(2, 2, 0);
      try {
        const err = thrown(() => xsks.set(1, udp));
        assert.equal(err.kind, 'SyscallError');
        assert.equal(err.code, 'ENOTSUP', 'EOPNOTSUPP');
      } finally {
        kernel.close(udp);
      }
    } finally {
      kernel.close(xsk);
    }
    refusedBeforeSyscall(() => xsks.set(1, -1), 'InvalidArgument');
  }
  assert.equal(fdCount(), fds);
});

// ---- CgroupArray -------------------------------------------------------------------

test('CgroupArray: bpf_current_task_under_cgroup sees the cgroup in the slot (ours or not); get is NotSupported', () => {
  const fds = fdCount();
  const root = cgroup2Root();
  const child = `${root}/tsbpf-special-${process.pid}`;
  mkdirSync(child);
  try {
    using cgroups = CgroupArray.create({ maxEntries: 1 });
    using ebpf = load(['under_cgroup'], { cgroups: cgroups.map });
    const results = ArrayMap.tryFrom(ebpf.map('results'), i64);
    const under = () => {
      ebpf.program('under_cgroup').testRun({ ctx: new Uint8Array(16) });
      return results.get(0);
    };
    assert.ok(under() < 0n, 'an empty slot is an error');
    cgroups.set(0, root);
    assert.equal(under(), 1n, 'this process is under the root');
    const fd = openSync(child, 'r');
    try {
      cgroups.set(0, fd);
    } finally {
      closeSync(fd);
    }
    assert.equal(under(), 0n, 'and not under an empty child');
    refusedBeforeSyscall(() => cgroups.get(0), 'NotSupported');
    cgroups.remove(0);
    assert.ok(under() < 0n);
    assert.equal(thrown(() => cgroups.remove(0)).kind, 'KeyNotFound');
    // A directory that is not a cgroup: EBADF from the kernel; a path that does not exist: before any syscall.
    assert.equal(thrown(() => cgroups.set(0, '/tmp')).code, 'EBADF');
    refusedBeforeSyscall(() => cgroups.set(0, `${root}/tsbpf-no-such-cgroup`), 'InvalidArgument');
  } finally {
    rmdirSync(child);
  }
  assert.equal(fdCount(), fds);
});

// ---- ReusePortSockArray --------------------------------------------------------------

test('ReusePortSockArray: the sk_reuseport program picks the socket of the slot; get is its cookie; an emptied slot drops', async () => {
  const fds = fdCount();
  const probe = createSocket('udp4');
  await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
  const port = probe.address().port;
  probe.close();
  const socks = [reuseportSocket(port), reuseportSocket(port)];
  const tx = createSocket('udp4');
  try {
    using group = ReusePortSockArray.create({ maxEntries: 4 });
    const loader = new EbpfLoader().setGlobal('target', 1).replaceMap('sockets', group.map);
    using ebpf = loader.load(REUSEPORT);
    socks.forEach((fd, i) => group.set(i, fd));
    assert.deepEqual([group.get(0), group.get(1)], socks.map(socketCookie));
    assert.deepEqual([...group].map(([i]) => i), [0, 1]);
    using _link = (ebpf.program('select_socket') as never as { attach(fd: number): Disposable }).attach(socks[0]!);
    const send = async (n: number) => {
      for (let i = 0; i < n; i++) await new Promise<void>((resolve) => tx.send(`d${i}`, port, '127.0.0.1', () => resolve()));
      await new Promise((resolve) => setTimeout(resolve, 20));
    };
    await send(6);
    assert.deepEqual(socks.map(drainDatagrams), [0, 6], 'every datagram went to slot 1');
    group.remove(1);
    await send(4);
    assert.deepEqual(socks.map(drainDatagrams), [0, 0], 'slot 1 empty: the program drops');
    assert.equal(thrown(() => group.remove(1)).kind, 'KeyNotFound');
    // Not in a reuseport group: the kernel refuses.
    const lone = kernel.socket(2, 2, 0);
    try {
      assert.equal(thrown(() => group.set(2, lone)).kind, 'SyscallError');
    } finally {
      kernel.close(lone);
    }
    // A socket is in one array at a time (EBUSY otherwise).
    using second = ReusePortSockArray.create({ maxEntries: 1 });
    assert.equal(thrown(() => second.set(0, socks[0]!)).code, 'EBUSY');
    group.remove(0);
    using small = ReusePortSockArray.create({ maxEntries: 1, valueSize: 4 });
    small.set(0, socks[0]!);
    refusedBeforeSyscall(() => small.get(0), 'NotSupported');
    // The map does not keep a socket: closed, it leaves its slot.
    const third = reuseportSocket(port);
    group.set(2, third);
    assert.equal(group.get(2), socketCookie(third));
    kernel.close(third);
    assert.equal(thrown(() => group.get(2)).kind, 'KeyNotFound');
  } finally {
    tx.close();
    socks.forEach((fd) => kernel.close(fd));
  }
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(fdCount(), fds);
});

// ---- local storage ------------------------------------------------------------------

test('SkStorage: a tc program reads and changes the value user space stored for the socket it sends from', async () => {
  using storage = SkStorage.create(u64);
  using ebpf = load(['sk_tag'], { socks: storage.map });
  const results = ArrayMap.tryFrom(ebpf.map('results'), u64);
  using _link = (ebpf.program('sk_tag') as SchedClassifier).attach(pair.aIndex, 'egress');
  const sock: Socket = createSocket('udp4');
  const other: Socket = createSocket('udp4');
  try {
    sock.bind(0, pair.aIp);
    other.bind(0, pair.aIp);
    await Promise.all([once(sock, 'listening'), once(other, 'listening')]);
    storage.insert(sock, 41n);
    assert.equal(storage.get(sock), 41n);
    const send = async (s: Socket) => {
      await new Promise<void>((resolve, reject) => s.send('x', 9, pair.bIp, (err) => (err ? reject(err) : resolve())));
    };
    await send(sock);
    await until(() => results.get(3) === 41n);
    assert.equal(results.get(3), 41n, 'the program found the value');
    assert.equal(storage.get(sock), 42n, 'and its change is seen from user space');
    await send(other);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(thrown(() => storage.get(other)).kind, 'KeyNotFound', 'no value for a socket nobody stored one for');
    storage.remove(sock);
    assert.equal(thrown(() => storage.remove(sock)).kind, 'KeyNotFound');
    refusedBeforeSyscall(() => [...storage.keys()], 'NotSupported');
    refusedBeforeSyscall(() => [...storage.entries()], 'NotSupported');
    const file = openSync('/dev/null', 'r');
    try {
      assert.equal(thrown(() => storage.insert(file, 1n)).kind, 'SyscallError', 'not a socket');
    } finally {
      closeSync(file);
    }
  } finally {
    sock.close();
    other.close();
  }
  assert.equal(thrown(() => SkStorage.tryFrom(ebpf.map('tasks'), u64)).kind, 'InvalidMapType');
  assert.equal(thrown(() => SkStorage.tryFrom(ebpf.map('socks'), u32)).kind, 'InvalidValueSize');
});

test('TaskStorage: keyed from user space by a pidfd (a number, a Pidfd, or { pid }), by the task from a program (raw_tp test run in this task)', async () => {
  const fds = fdCount();
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  const exited = once(child, 'exit');
  try {
    using own = openPidfd(process.pid);
    assert.ok(own instanceof Pidfd);
    assert.equal(own.pid, process.pid);
    using other = openPidfd(child.pid!);
    using storage = TaskStorage.create(u64);
    using ebpf = load(['task_store'], { tasks: storage.map });
    const results = ArrayMap.tryFrom(ebpf.map('results'), u64);
    const run = () => ebpf.program('task_store').testRun({ ctx: new Uint8Array(16) }).returnValue;
    storage.insert(own, 41n);
    storage.insert(other, 7n);
    assert.equal(run(), 0);
    assert.equal(results.get(1), 41n, 'the program read what user space stored for this task');
    assert.equal(storage.get(own.fd), 42n, 'user space reads what the program wrote (the pidfd as a number)');
    assert.equal(storage.get({ pid: process.pid }), 42n, 'and through a pidfd opened for the call');
    assert.equal(storage.get(other), 7n, "the other task's value is its own");
    storage.remove({ pid: process.pid });
    assert.equal(thrown(() => storage.get(own)).kind, 'KeyNotFound');
    assert.equal(run(), 0);
    assert.equal(results.get(1), 0n, 'the program created it again');
    assert.equal(storage.get(own), 1n);
    // The value lives with the task: gone once it has exited, though its pidfd is still open.
    child.kill('SIGKILL');
    await exited;
    assert.equal(thrown(() => storage.get(other)).kind, 'KeyNotFound', 'freed with the task');
    assert.equal(thrown(() => storage.insert(0, 1n)).code, 'EBADF', 'not a pidfd');
    refusedBeforeSyscall(() => storage.insert(-1, 1n), 'InvalidArgument');
    refusedBeforeSyscall(() => storage.get('1' as never), 'InvalidArgument');
    refusedBeforeSyscall(() => storage.get({ pid: 0 }), 'InvalidArgument');
    const gone = thrown(() => storage.get({ pid: child.pid! }));
    assert.equal(gone.kind, 'SyscallError');
    assert.equal(gone.code, 'ESRCH', 'no such process');
    other.close();
    assert.equal(thrown(() => storage.get(other)).kind, 'Closed');
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  }
  assert.equal(fdCount(), fds);
});

test('CgrpStorage: keyed by a cgroup directory (fd or path) from user space, by the cgroup from a program (syscall test run); NotSupported where the kernel lacks it', (t) => {
  const fds = fdCount();
  if (!isMapTypeSupported(MapType.CgrpStorage)) {
    t.diagnostic('this kernel refuses BPF_MAP_TYPE_CGRP_STORAGE (before 6.2)');
    for (const err of [thrown(() => CgrpStorage.create(u64)), thrown(() => new EbpfLoader().load(CGRP_OBJECT))]) {
      assert.ok(isNotSupported(err) && err instanceof MapError, String(err));
      assert.equal(err.feature, 'BPF_MAP_TYPE_CGRP_STORAGE');
    }
    assert.equal(fdCount(), fds);
    return;
  }
  const dir = `${cgroup2Root()}/tsbpf-special-cgrp-${process.pid}`;
  mkdirSync(dir);
  try {
    using storage = CgrpStorage.create(u64);
    using ebpf = new EbpfLoader().replaceMap('cgrps', storage.map).load(CGRP_OBJECT);
    const results = ArrayMap.tryFrom(ebpf.map('results'), u64);
    const ctx = new Uint8Array(8);
    new DataView(ctx.buffer).setBigUint64(0, statSync(dir, { bigint: true }).ino, true);
    storage.insert(dir, 41n);
    assert.equal(ebpf.program('cgrp_store').testRun({ ctx }).returnValue, 0);
    assert.equal(results.get(0), 41n, 'the program read what user space stored');
    const fd = openSync(dir, 'r');
    try {
      assert.equal(storage.get(fd), 42n, 'by fd, what the program wrote');
      storage.remove(fd);
    } finally {
      closeSync(fd);
    }
    assert.equal(thrown(() => storage.get(dir)).kind, 'KeyNotFound');
    assert.equal(thrown(() => storage.insert('/tmp', 1n)).code, 'EBADF', 'not a cgroup');
    refusedBeforeSyscall(() => storage.get(`${dir}/no-such`), 'InvalidArgument');
  } finally {
    rmdirSync(dir);
  }
  assert.equal(fdCount(), fds);
});

test('InodeStorage: the key is the inode, not the fd: a value stored through one descriptor is read through another', () => {
  const fds = fdCount();
  const path = `/tmp/tsbpf-inode-${process.pid}`;
  writeFileSync(path, 'x');
  const [one, two] = [openSync(path, 'r'), openSync(path, 'r')];
  try {
    using storage = InodeStorage.create(u32);
    storage.insert(one, 7);
    assert.equal(storage.get(two), 7);
    storage.insert(two, 8, 2 /* BPF_EXIST */);
    assert.equal(storage.get(one), 8);
    storage.remove(two);
    assert.equal(thrown(() => storage.get(one)).kind, 'KeyNotFound');
    refusedBeforeSyscall(() => [...storage.keys()], 'NotSupported');
    assert.equal(thrown(() => InodeStorage.tryFrom(storage.map, u64)).kind, 'InvalidValueSize');
  } finally {
    closeSync(one);
    closeSync(two);
    unlinkSync(path);
  }
  assert.equal(fdCount(), fds);
});

test('local storages: create makes BTF for key and value, sets BPF_F_NO_PREALLOC, leaves no descriptor behind; tryFrom checks the type', () => {
  const fds = fdCount();
  for (const Kind of [SkStorage, TaskStorage, InodeStorage, CgrpStorage]) {
    const type = Kind.mapTypes[0]!;
    if (!isMapTypeSupported(type)) {
      const err = thrown(() => Kind.create(u64 as never, { name: 'st' }));
      assert.ok(isNotSupported(err), String(err));
      assert.equal((err as MapError).feature, mapTypeName(type));
      continue;
    }
    using m = Kind.create(u64 as never, { name: 'st' });
    assert.equal(m.map.maxEntries, 0);
    assert.ok((m.map.flags & 1) !== 0, 'BPF_F_NO_PREALLOC');
    assert.ok(m.map.info().btfId > 0);
    using hash = HashMap.create(u32, u64, { maxEntries: 1 });
    assert.equal(thrown(() => Kind.tryFrom(hash.map, u64 as never)).kind, 'InvalidMapType');
  }
  assert.equal(thrown(() => SkStorage.create(7 as never)).kind, 'InvalidArgument');
  assert.equal(fdCount(), fds);
});

// ---- Arena ----------------------------------------------------------------------------

test('Arena: mapped into JS where the kernel has arenas; typed NotSupported where it refuses them', (t) => {
  const supported = isMapTypeSupported(MapType.Arena);
  const fds = fdCount();
  if (supported) {
    t.diagnostic('this kernel creates arenas');
    using arena = Arena.create({ pages: 2 });
    const mem = arena.memory();
    assert.equal(mem.byteLength, 8192);
    new Uint32Array(mem)[1024] = 0xfeed;
    assert.equal(new Uint32Array(arena.memory())[1024], 0xfeed, 'the same mapping');
    arena.close();
    assert.equal(mem.byteLength, 0, 'close detached it');
  } else {
    t.diagnostic('this kernel refuses arenas');
    const err = thrown(() => Arena.create({ pages: 1 }));
    assert.ok(isNotSupported(err), String(err));
    assert.ok(err instanceof MapError);
    assert.equal(err.feature, 'BPF_MAP_TYPE_ARENA');
  }
  refusedBeforeSyscall(() => Arena.create({ pages: 0 }), 'InvalidArgument');
  {
    using other = ArrayMap.create(u32, { maxEntries: 1 });
    assert.equal(thrown(() => Arena.tryFrom(other.map)).kind, 'InvalidMapType');
  }
  assert.equal(fdCount(), fds);
});

// ---- every map type has a class or a reason -----------------------------------------

test('README "Map types": every BPF_MAP_TYPE_* the generated enum knows has a row naming a class or why not', () => {
  const text = readFileSync(README, 'utf8');
  const section = text.slice(text.indexOf('### Map types'));
  assert.ok(section.length > 0 && text.includes('### Map types'));
  const table = section.slice(0, section.indexOf('\n\n', section.indexOf('|')));
  const missing = Object.values(MapType)
    .filter((v): v is MapType => typeof v === 'number' && v !== MapType.Unspec)
    .map((v) => mapTypeName(v))
    .filter((name) => !new RegExp(`\\| \`${name}\` \\|`).test(table));
  assert.deepEqual(missing, []);
});
