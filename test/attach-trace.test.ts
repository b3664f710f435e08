// Attach tests of the tracing programs, against the running kernel: tracepoints (perf
// event links and the ioctl mechanism), raw tracepoints, tp_btf, iterators read as a
// stream, syscall programs, and the BPF-trampoline kinds this kernel refuses (fentry,
// fexit, fmod_ret, lsm, freplace): their typed errors, their BTF targets and the
// attributes they would send, captured at the kernel seam.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  ArrayMap,
  BtfTracePoint,
  CgroupIterOrder,
  Ebpf,
  EbpfLoader,
  Extension,
  FdLink,
  FEntry,
  FExit,
  FModRet,
  Iter,
  IterLink,
  Link,
  LinkType,
  Lsm,
  PerfEventIoctlLink,
  ProgramError,
  RawTracePoint,
  Syscall,
  TracePoint,
  attachPerfEvent,
  attachTracing,
  kernelBtfTarget,
  loadKernelBtf,
  programFunctionBtfId,
  sys,
  u64,
} from '../src/index.js';
import { bpffsDir, fdCount, thrown } from './helpers.js';

const object = fileURLToPath(new URL('../../bpf/attach_trace.o', import.meta.url));
const limits = fileURLToPath(new URL('../../bpf/kernel_limits.o', import.meta.url));
const NOT_LOADABLE = ['fmod_ret_test', 'fentry_missing', 'new_sub'];

/** attach_trace.o with the programs this kernel cannot load left deferred, counting our calls. */
function load(): Ebpf {
  const loader = new EbpfLoader().setGlobal('target_tgid', process.pid);
  for (const name of NOT_LOADABLE) loader.deferProgram(name);
  return loader.load(object);
}

/** .bss: counts[4], tp_cookie, last_sum. */
function bss(ebpf: Ebpf): { counts: bigint[]; cookie: bigint; lastSum: bigint } {
  const b = ebpf.map('.bss').lookup(new Uint8Array(4))!;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const at = (i: number) => v.getBigUint64(i * 8, true);
  return { counts: [at(0), at(1), at(2), at(3)], cookie: at(4), lastSum: at(5) };
}

/** Where cgroup v2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified beside v1 hierarchies). */
function cgroup2(): string {
  const line = readFileSync('/proc/self/mounts', 'utf8').split('\n').find((l) => l.split(' ')[2] === 'cgroup2');
  assert.ok(line, 'cgroup v2 is mounted');
  return line.split(' ')[1]!;
}

/** getppid(2) n times (process.ppid makes the call on every read). */
function getppid(n: number): void {
  for (let i = 0; i < n; i++) void process.ppid;
}

function programId(fd: number): number {
  const info = new Uint8Array(232);
  sys.objGetInfoByFd(fd, info);
  return new DataView(info.buffer).getUint32(4, true);
}

test('TracePoint.attach: perf_event link on syscalls/sys_enter_getppid counts our calls; cookie; info; detach stops it', () => {
  const before = fdCount();
  {
    using ebpf = load();
    const tp = ebpf.program('tp_getppid');
    assert.ok(tp instanceof TracePoint);
    const link = tp.attach(undefined, undefined, { cookie: 0xfeedn }); // the section's tracepoint
    assert.ok(link instanceof FdLink);
    assert.equal(link.description, 'tracepoint syscalls/sys_enter_getppid');
    getppid(7);
    assert.equal(bss(ebpf).counts[0], 7n);
    assert.equal(bss(ebpf).cookie, 0xfeedn);
    const info = link.info();
    assert.equal(info.type, LinkType.PerfEvent);
    assert.equal(info.typeName, 'PerfEvent');
    assert.equal(info.perfEventType, 5); // BPF_PERF_EVENT_TRACEPOINT
    assert.equal(info.programId, programId(tp.fd));
    link.detach();
    link.detach(); // harmless
    assert.equal(link.attached, false);
    getppid(3);
    assert.equal(bss(ebpf).counts[0], 7n);
    // Explicit category and name, and the link's close() (not pinned: detaches).
    const again = tp.attach('syscalls', 'sys_enter_getppid');
    getppid(2);
    again.close();
    getppid(2);
    assert.equal(bss(ebpf).counts[0], 9n);
  }
  assert.equal(fdCount(), before);
});

test('TracePoint: one perf event on CPU 0 runs the program for calls made on the other CPUs too', () => {
  using ebpf = load();
  using link = (ebpf.program('tp_getppid') as TracePoint).attach();
  void link;
  const pid = String(process.pid);
  const all = execFileSync('taskset', ['-p', pid], { encoding: 'utf8' }).trim().split(' ').at(-1)!;
  // Move this (main) thread to CPU 1, call, and give it its CPUs back.
  execFileSync('taskset', ['-p', '-c', '1', pid], { stdio: 'ignore' });
  try {
    getppid(20);
  } finally {
    execFileSync('taskset', ['-p', all, pid], { stdio: 'ignore' });
  }
  const { counts } = bss(ebpf);
  assert.equal(counts[0], 20n);
  assert.equal(counts[3], 20n, 'every call ran on CPU 1, not on the event\'s CPU 0');
});

test('TracePoint: an unknown tracepoint is UnknownTarget (no perf event opened); a name with a slash too', () => {
  using ebpf = load();
  const tp = ebpf.program('tp_getppid') as TracePoint;
  const before = fdCount();
  for (const [category, name] of [['syscalls', 'sys_enter_tsbpf_nope'], ['tsbpf_nope', 'x'], ['syscalls/../syscalls', 'sys_enter_getppid'], ['..', 'id']]) {
    const err = thrown(() => tp.attach(category, name));
    assert.ok(err instanceof ProgramError);
    assert.equal(err.kind, 'UnknownTarget', err.message);
  }
  assert.equal(fdCount(), before);
  ebpf.program('tp_getppid').unload();
  assert.equal(thrown(() => tp.attach()).kind, 'NotLoaded');
});

test('attachPerfEvent by ioctl (PERF_EVENT_IOC_SET_BPF + ENABLE): counts, detaches by closing the event; no pin, no info, no cookie', () => {
  const before = fdCount();
  {
    using ebpf = load();
    const tp = ebpf.program('tp_getppid') as TracePoint;
    // Kernels before 5.15 take this path; here it is chosen explicitly.
    const open = () => {
      const attr = new Uint8Array(128);
      const v = new DataView(attr.buffer);
      v.setUint32(0, 2, true); // PERF_TYPE_TRACEPOINT
      const id = Number(execFileSync('cat', ['/sys/kernel/tracing/events/syscalls/sys_enter_getppid/id'], { encoding: 'utf8' }));
      v.setBigUint64(8, BigInt(id), true);
      const fd = sys.kernel.perf_event_open(attr, -1, 0, -1, 8);
      assert.ok(fd >= 0, `perf_event_open: ${fd}`);
      return fd;
    };
    const link = attachPerfEvent(tp, open(), 'tracepoint syscalls/sys_enter_getppid', undefined, 'ioctl');
    assert.ok(link instanceof PerfEventIoctlLink);
    assert.ok(link.perfFd > 0);
    getppid(4);
    assert.equal(bss(ebpf).counts[0], 4n);
    assert.equal(thrown(() => link.info()).kind, 'NotSupported');
    assert.equal(thrown(() => link.pin('/sys/fs/bpf/x')).kind, 'NotSupported');
    link.detach();
    link.detach();
    getppid(4);
    assert.equal(bss(ebpf).counts[0], 4n);
    assert.equal(thrown(() => link.perfFd).kind, 'NotAttached');
    // A cookie needs a perf_event link: typed, and the event fd is closed anyway.
    const err = thrown(() => attachPerfEvent(tp, open(), 'tracepoint', 1n, 'ioctl'));
    assert.equal(err.kind, 'NotSupported');
    assert.equal(err.feature, 'BPF_LINK_TYPE_PERF_EVENT');
    // SET_BPF of a program of the wrong type: AttachError naming the ioctl, fd closed.
    const wrong = thrown(() => attachPerfEvent(ebpf.program('raw_sys_enter'), open(), 'tracepoint', undefined, 'ioctl'));
    assert.equal(wrong.kind, 'AttachError');
    assert.equal(wrong.call, 'ioctl(PERF_EVENT_IOC_SET_BPF)');
    assert.equal(wrong.code, 'EINVAL');
    // The same through a link: bpf_link_create named.
    const wrongLink = thrown(() => attachPerfEvent(ebpf.program('raw_sys_enter'), open(), 'tracepoint', undefined, 'link'));
    assert.equal(wrongLink.kind, 'AttachError');
    assert.equal(wrongLink.call, 'bpf_link_create');
    assert.equal(wrongLink.code, 'EINVAL');
  }
  assert.equal(fdCount(), before);
});

test('TracePoint link pinned: survives close(), Link.fromPin takes it back, detach ends it', () => {
  const dir = bpffsDir('trace');
  const before = fdCount();
  try {
    using ebpf = load();
    const link = (ebpf.program('tp_getppid') as TracePoint).attach() as FdLink;
    const id = link.info().id;
    link.pin(`${dir}/tp`);
    link.close(); // pinned: stays attached
    getppid(3);
    assert.equal(bss(ebpf).counts[0], 3n);
    const back = Link.fromPin(`${dir}/tp`);
    assert.equal(back.info().id, id);
    assert.equal(back.info().type, LinkType.PerfEvent);
    back.detach(); // LINK_DETACH is EOPNOTSUPP for perf links: the pin goes, then the last fd
    getppid(3);
    assert.equal(bss(ebpf).counts[0], 3n);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(fdCount(), before);
});

test('RawTracePoint.attach: sys_enter sees our getppid calls; link info; unknown name is UnknownTarget', () => {
  const before = fdCount();
  {
    using ebpf = load();
    const raw = ebpf.program('raw_sys_enter');
    assert.ok(raw instanceof RawTracePoint);
    const link = raw.attach(); // the section's 'sys_enter'
    getppid(6);
    assert.equal(bss(ebpf).counts[1], 6n);
    const info = link.info();
    assert.equal(info.type, LinkType.RawTracepoint);
    assert.equal(info.programId, programId(raw.fd));
    link.detach();
    getppid(2);
    assert.equal(bss(ebpf).counts[1], 6n);
    const err = thrown(() => raw.attach('tsbpf_no_such_tracepoint'));
    assert.ok(err instanceof ProgramError);
    assert.equal(err.kind, 'UnknownTarget');
    assert.equal(err.code, 'ENOENT');
    // The kernel has no LINK_CREATE for BPF_PROG_TYPE_RAW_TRACEPOINT (what this kernel says).
    const r = thrown(() => sys.linkCreate({ progFd: raw.fd, target: 0, attachType: 23 }));
    assert.equal(r.code, 'EINVAL');
  }
  assert.equal(fdCount(), before);
});

test('BtfTracePoint.attach (tp_btf/sys_enter): typed arguments, a raw_tp link', () => {
  const before = fdCount();
  {
    using ebpf = load();
    const btf = ebpf.program('btf_sys_enter');
    assert.ok(btf instanceof BtfTracePoint);
    const link = btf.attach();
    assert.equal(link.description, 'tp_btf sys_enter');
    getppid(5);
    assert.equal(bss(ebpf).counts[2], 5n);
    assert.equal(link.info().type, LinkType.RawTracepoint);
    link.detach();
    getppid(5);
    assert.equal(bss(ebpf).counts[2], 5n);
  }
  assert.equal(fdCount(), before);
});

test('Iter iter/task: readAll finds our process; stream() gives the same tasks; each read is a fresh iterator', async () => {
  const before = fdCount();
  {
    using ebpf = load();
    const iter = ebpf.program('dump_task');
    assert.ok(iter instanceof Iter);
    using link = iter.attach();
    assert.ok(link instanceof IterLink);
    assert.equal(link.info().type, LinkType.Iter);
    const text = link.readAll('utf8');
    const lines = text.trimEnd().split('\n');
    const comm = execFileSync('cat', [`/proc/${process.pid}/comm`], { encoding: 'utf8' }).trim();
    assert.ok(lines.includes(`${process.pid} ${process.pid} ${comm}`), `main thread of ${process.pid} (${comm}) listed`);
    assert.ok(lines.includes('2 2 kthreadd'), 'kernel threads too');
    assert.ok(Buffer.isBuffer(link.readAll()));
    let streamed = '';
    for await (const chunk of link.stream()) streamed += chunk;
    const ours = (s: string) => s.split('\n').filter((l) => l.startsWith(`${process.pid} `)).length;
    assert.ok(ours(streamed) >= 1 && ours(streamed) === ours(text), 'the same threads of ours');
    // Destroyed before the end: the iterator fd is closed all the same.
    const s = link.stream();
    await new Promise<void>((resolve) => s.once('data', () => resolve()));
    s.destroy();
    await new Promise((resolve) => s.once('close', resolve));
  }
  assert.equal(fdCount(), before);
});

test('Iter iter/bpf_map_elem over a map the test fills: every element in order; task options; errors', () => {
  const before = fdCount();
  {
    using ebpf = load();
    const iter = ebpf.program('dump_elem') as Iter;
    using values = ArrayMap.create(u64, 4);
    values.set(1, 11n);
    values.set(2, 22n);
    values.set(3, 1n << 40n);
    using link = iter.attach({ map: values });
    assert.equal(link.readAll('utf8'), `0=0\n1=11\n2=22\n3=${1n << 40n}\n`);
    values.set(0, 5n); // each read runs the iterator again
    assert.ok(link.readAll('utf8').startsWith('0=5\n'));
    // An element iterator without a map: the kernel looks up map fd 0 (EBADF), as AttachError.
    const err = thrown(() => iter.attach());
    assert.equal(err.kind, 'AttachError');
    assert.equal(err.call, 'bpf_link_create');
    assert.equal(err.code, 'EBADF');
    // iter/task for one process: only its threads.
    using mine = (ebpf.program('dump_task') as Iter).attach({ task: { pid: process.pid } });
    const lines = mine.readAll('utf8').trimEnd().split('\n');
    assert.ok(lines.length >= 1 && lines.every((l) => l.startsWith(`${process.pid} `)), lines.join('|'));
    assert.equal(thrown(() => (ebpf.program('dump_task') as Iter).attach({ cgroup: { path: '/sys/fs/cgroup/tsbpf-no-such' } })).kind, 'UnknownTarget');
  }
  assert.equal(fdCount(), before);
});

test('Iter iter/cgroup: a cgroup by path or id, the walk order chosen at attach', () => {
  const root = `${cgroup2()}/tsbpf-test-trace-${process.pid}`;
  const child = `${root}/child`;
  mkdirSync(child, { recursive: true });
  const before = fdCount();
  try {
    using ebpf = load();
    const iter = ebpf.program('dump_cgroup') as Iter;
    const lines = (o: Parameters<Iter['attach']>[0]) => {
      using link = iter.attach(o);
      return link.readAll('utf8').trimEnd().split('\n');
    };
    assert.deepEqual(lines({ cgroup: { path: root }, order: CgroupIterOrder.SelfOnly }), ['cgroup 0']);
    assert.deepEqual(lines({ cgroup: { path: root }, order: CgroupIterOrder.DescendantsPre }), ['cgroup 0', 'cgroup 1']);
    // By id (the cgroup directory's inode number), walking up to the root: at least child, root, /.
    const id = statSync(child, { bigint: true }).ino;
    assert.ok(lines({ cgroup: { id }, order: CgroupIterOrder.AncestorsUp }).length >= 3);
    // No order: the kernel wants one for a cgroup walk (EINVAL).
    assert.equal(thrown(() => lines({ cgroup: { path: root } })).code, 'EINVAL');
  } finally {
    rmdirSync(child);
    rmdirSync(root);
  }
  assert.equal(fdCount(), before);
});

test('Syscall.run: the argument struct in, the result written back, a computed return value', () => {
  using ebpf = load();
  const prog = ebpf.program('sys_add');
  assert.ok(prog instanceof Syscall);
  const args = new Uint8Array(16);
  const v = new DataView(args.buffer);
  v.setUint32(0, 6, true);
  v.setUint32(4, 7, true);
  assert.equal(prog.run(args), 42);
  assert.equal(v.getBigUint64(8, true), 13n);
  assert.equal(bss(ebpf).lastSum, 13n);
  assert.equal(prog.testRun({ ctx: args }).returnValue, 42);
});

test('fentry, fexit, fmod_ret, lsm, freplace: this kernel refuses the program type, as a typed NotSupported naming it', () => {
  const before = fdCount();
  {
    using lim = new EbpfLoader().deferProgram('fentry_test1').deferProgram('fexit_test1').deferProgram('lsm_file_open').load(limits);
    using ebpf = load();
    const cases: [unknown, Function, string][] = [
      [lim.program('fentry_test1'), FEntry, 'BPF_PROG_TYPE_TRACING (BPF_TRACE_FENTRY)'],
      [lim.program('fexit_test1'), FExit, 'BPF_PROG_TYPE_TRACING (BPF_TRACE_FEXIT)'],
      [lim.program('lsm_file_open'), Lsm, 'BPF_PROG_TYPE_LSM (BPF_LSM_MAC)'],
      [ebpf.program('fmod_ret_test'), FModRet, 'BPF_PROG_TYPE_TRACING (BPF_MODIFY_RETURN)'],
    ];
    for (const [prog, Kind, feature] of cases) {
      assert.ok(prog instanceof Kind);
      const err = thrown(() => (prog as FEntry).load());
      assert.ok(err instanceof ProgramError);
      assert.equal(err.kind, 'NotSupported', err.message);
      assert.equal(err.feature, feature);
      assert.equal(err.code, 'EPERM');
      assert.equal(err.verifierLog, undefined);
      assert.match(err.message, /refuses .* before verification/);
      assert.equal(thrown(() => (prog as FEntry).attach()).kind, 'NotLoaded');
    }
    // freplace: Ebpf.load leaves it unloaded (it needs a target); with one, EPERM too.
    const ext = ebpf.program('new_sub');
    assert.ok(ext instanceof Extension);
    assert.equal(ext.loaded, false);
    assert.equal(thrown(() => ext.load()).kind, 'UnknownTarget');
    const err = thrown(() => ext.load({ target: ebpf.program('tc_main') }));
    assert.equal(err.kind, 'NotSupported');
    assert.equal(err.feature, 'BPF_PROG_TYPE_EXT');
    assert.equal(err.code, 'EPERM');
  }
  assert.equal(fdCount(), before);
});

test('BTF targets: kernel functions by vmlinux BTF id; an unknown one is UnknownKernelFunction naming it', () => {
  const vmlinux = loadKernelBtf();
  const fn = vmlinux.byName('bpf_fentry_test1', 'func')[0]!;
  assert.ok(fn.id > 0);
  assert.equal(kernelBtfTarget(vmlinux, 'bpf_fentry_test1', 'func'), fn.id);
  assert.equal(kernelBtfTarget(vmlinux, 'btf_trace_sys_enter', 'typedef'), vmlinux.byName('btf_trace_sys_enter', 'typedef')[0]!.id);
  const err = thrown(() => kernelBtfTarget(vmlinux, 'tsbpf_no_such_function', 'func', 'p'));
  assert.ok(err instanceof ProgramError);
  assert.equal(err.kind, 'UnknownKernelFunction');
  assert.match(err.message, /tsbpf_no_such_function/);
  // Through the loader: the section's function, resolved before BPF_PROG_LOAD.
  using ebpf = load();
  const missing = thrown(() => ebpf.program('fentry_missing').load());
  assert.equal(missing.kind, 'UnknownKernelFunction');
  assert.equal(missing.program, 'fentry_missing');
  assert.match(missing.message, /function tsbpf_no_such_function/);
});

/** The attrs of bpf(cmd) calls made by `fn`; `answer` decides what the kernel returns for them. */
function capture(cmds: number[], fn: () => void, answer: (cmd: number, attr: Uint8Array, real: typeof sys.kernel) => number): Map<number, Uint8Array> {
  const seen = new Map<number, Uint8Array>();
  const real = sys.kernel;
  const restore = sys.replaceKernel({
    bpf: (cmd, attr, mask, ...bufs) => {
      if (!cmds.includes(cmd)) return real.bpf(cmd, attr, mask, ...bufs);
      seen.set(cmd, attr.slice());
      return answer(cmd, attr, real);
    },
  });
  try {
    fn();
  } finally {
    restore();
  }
  return seen;
}

const u32At = (b: Uint8Array, off: number) => new DataView(b.buffer, b.byteOffset).getUint32(off, true);
const EPERM = 1;

test('fentry/fexit/fmod_ret/lsm attach attributes (captured): BPF_PROG_LOAD target, LINK_CREATE attach type, RAW_TRACEPOINT_OPEN fallback', () => {
  const before = fdCount();
  {
    using lim = new EbpfLoader().deferProgram('fentry_test1').deferProgram('fexit_test1').deferProgram('lsm_file_open').load(limits);
    using ebpf = load();
    const vmlinux = loadKernelBtf();
    const stand = programId(ebpf.program('sys_add').fd);
    const cases: [FEntry | FExit | Lsm | FModRet, number, string, number][] = [
      [lim.program('fentry_test1') as FEntry, 24, 'bpf_fentry_test1', 26],
      [lim.program('fexit_test1') as FExit, 25, 'bpf_fentry_test1', 26],
      [lim.program('lsm_file_open') as Lsm, 27, 'bpf_lsm_file_open', 29],
      [ebpf.program('fmod_ret_test') as FModRet, 26, 'bpf_modify_return_test', 26],
    ];
    for (const [prog, attachType, target, progType] of cases) {
      // The load the kernel would see; a stand-in program fd makes it "loaded".
      const load = capture([5], () => prog.load(), (_cmd, _attr, real) => {
        const idAttr = new Uint8Array(12);
        idAttr.set(new Uint8Array(new Uint32Array([stand]).buffer));
        return real.bpf(13, idAttr); // BPF_PROG_GET_FD_BY_ID
      }).get(5)!;
      assert.equal(u32At(load, 0), progType);
      assert.equal(u32At(load, 68), attachType, 'expected_attach_type');
      assert.equal(u32At(load, 108), vmlinux.byName(target, 'func')[0]!.id, 'attach_btf_id');
      assert.equal(u32At(load, 112), 0, 'attach_prog_fd');
      assert.ok(prog.loaded);
      // This kernel has no tracing links (the probe's program type is refused):
      // attach() takes BPF_RAW_TRACEPOINT_OPEN with no name.
      const raw = capture([17], () => assert.equal(thrown(() => prog.attach()).kind, 'AttachError'), () => -EPERM).get(17)!;
      assert.equal(new DataView(raw.buffer).getBigUint64(0, true), 0n, 'no name');
      assert.equal(u32At(raw, 8), prog.fd);
      assert.equal(thrown(() => prog.attach({ cookie: 1n })).kind, 'NotSupported');
      // With tracing links: LINK_CREATE with the attach type and the cookie.
      const link = capture([28], () => {
        const e = thrown(() => attachTracing(prog, attachType, 'x', { cookie: 0x1234n }, {}, 'link'));
        assert.equal(e.kind, 'AttachError');
        assert.equal(e.call, 'bpf_link_create');
      }, () => -EPERM).get(28)!;
      assert.deepEqual([u32At(link, 0), u32At(link, 4), u32At(link, 8), u32At(link, 16)], [prog.fd, 0, attachType, 0]);
      assert.equal(new DataView(link.buffer).getBigUint64(24, true), 0x1234n, 'tracing.cookie');
      prog.unload();
    }
  }
  assert.equal(fdCount(), before);
});

test('Extension: the target function resolved in the target program\'s kernel BTF; load and link attributes (captured)', () => {
  const before = fdCount();
  {
    using ebpf = load();
    const target = ebpf.program('tc_main');
    const id = programFunctionBtfId(target.fd, 'target_sub');
    const local = ebpf.spec.btf!.byName('target_sub', 'func')[0]!;
    assert.equal(id, local.id, 'the BTF the kernel holds is the object\'s');
    // The raw BTF through the addon: BTF magic first; a second nested buffer is refused for a BTF fd.
    const info = new Uint8Array(232);
    sys.objGetInfoByFd(target.fd, info);
    const btfFd = sys.btfGetFdById(new DataView(info.buffer).getUint32(128, true));
    try {
      const raw = sys.btfGetData(btfFd);
      assert.equal(new DataView(raw.buffer).getUint16(0, true), 0xeb9f);
      const attr = new Uint8Array(16);
      new DataView(attr.buffer).setUint32(0, btfFd, true);
      new DataView(attr.buffer).setUint32(4, 32, true);
      assert.throws(() => sys.kernel.bpf(15, attr, sys.ptrWords(8), new Uint8Array(32), null, new Uint8Array(8)), RangeError);
    } finally {
      sys.kernel.close(btfFd);
    }
    const err = thrown(() => programFunctionBtfId(target.fd, 'tsbpf_nope'));
    assert.equal(err.kind, 'UnknownTarget');
    const ext = ebpf.program('new_sub') as Extension;
    assert.equal(ext.sectionFunction, 'target_sub');
    const stand = programId(ebpf.program('sys_add').fd);
    const loadAttr = capture([5], () => ext.load({ target }), (_c, _a, real) => real.bpf(13, new Uint8Array(new Uint32Array([stand, 0, 0]).buffer))).get(5)!;
    assert.equal(u32At(loadAttr, 0), 28, 'BPF_PROG_TYPE_EXT');
    assert.equal(u32At(loadAttr, 108), id, 'attach_btf_id');
    assert.equal(u32At(loadAttr, 112), target.fd, 'attach_prog_fd');
    // attachTo another program needs tracing links, which this kernel lacks.
    assert.equal(thrown(() => ext.attachTo(target, 'target_sub')).feature, 'BPF_LINK_TYPE_TRACING');
    const link = capture([28], () => thrown(() => attachTracing(ext, 0, 'x', {}, { targetFd: target.fd, targetBtfId: id }, 'link')), () => -EPERM).get(28)!;
    assert.deepEqual([u32At(link, 0), u32At(link, 4), u32At(link, 8), u32At(link, 16)], [ext.fd, target.fd, 0, id]);
  }
  assert.equal(fdCount(), before);
});
