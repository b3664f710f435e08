// Attach tests of the tracing programs, against the running kernel: tracepoints (perf
// event links and the ioctl mechanism), raw tracepoints, tp_btf, iterators read as a
// stream, syscall programs, and the BPF-trampoline kinds (fentry, fexit, fmod_ret, lsm,
// freplace). Each kind lives in an object of its own (bpf/attach_<kind>.c), so a kind
// the kernel refuses cannot take the others down; each test asks the feature probe,
// asserts the behaviour where the kernel has the kind and the loader's typed
// NotSupported where it does not, and reports the branch. Attributes the trampoline
// kinds send are captured at the kernel seam either way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
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
  isLinkTypeSupported,
  Iter,
  IterLink,
  Link,
  LinkType,
  Lsm,
  PerfEventIoctlLink,
  ProgramError,
  RawTracePoint,
  RawTracePointWritable,
  ProgramType,
  SchedClassifier,
  SocketFilter,
  Syscall,
  TracePoint,
  attachPerfEvent,
  attachTracing,
  kernelBtfTarget,
  loadKernelBtf,
  programFunctionBtfId,
  u64,
} from '../src/index.js';
import { assemble, exit, ldxDW, mov64Imm, R0, R1, R2, stW, type Insn } from './asm.js';
import * as sys from '../src/sys/index.js';
import { replaceKernel } from '../src/testing.js';
import { bpfCalls, bpffsDir, cgroup2Root, fdCount, thrown } from './helpers.js';
import { assertRefused, branch, kindOf, linkInfoHas, loadsHere, type ProgramKindOf } from './kernel-features.js';

const obj = (name: string) => fileURLToPath(new URL(`../../bpf/${name}.o`, import.meta.url));

const kinds = {
  tracepoint: kindOf(obj('attach_tracepoint'), 'tp_getppid'),
  rawTp: kindOf(obj('attach_raw_tp'), 'raw_sys_enter'),
  tpBtf: kindOf(obj('attach_tp_btf'), 'btf_sys_enter'),
  iterTask: kindOf(obj('attach_iter_task'), 'dump_task'),
  iterMap: kindOf(obj('attach_iter_map'), 'dump_elem'),
  iterCgroup: kindOf(obj('attach_iter_cgroup'), 'dump_cgroup'),
  syscall: kindOf(obj('attach_syscall'), 'sys_add'),
  fentry: kindOf(obj('attach_fentry'), 'on_entry'),
  fexit: kindOf(obj('attach_fexit'), 'on_exit'),
  fmodRet: kindOf(obj('attach_fmod_ret'), 'fmod_ret_test'),
  lsm: kindOf(obj('attach_lsm'), 'lsm_file_open'),
  freplace: kindOf(obj('attach_freplace'), 'new_sub'),
};

/** The object of `k`, with target_tgid set where the object has one. */
function load(k: ProgramKindOf): Ebpf {
  const loader = new EbpfLoader();
  if (['tp_getppid', 'raw_sys_enter', 'btf_sys_enter', 'lsm_file_open'].includes(k.program)) loader.setGlobal('target_tgid', process.pid);
  return loader.load(k.object);
}

/** A u64 of .bss by its index (the objects declare their counters as consecutive u64s). */
function bss(ebpf: Ebpf, index: number): bigint {
  const b = ebpf.map('.bss').lookup(new Uint8Array(4))!;
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(index * 8, true);
}

/** Where the kernel loads `k`, runs `has` on its loaded object; else asserts the loader's NotSupported. */
async function withKind(t: { diagnostic(m: string): void }, k: ProgramKindOf, has: (ebpf: Ebpf) => unknown): Promise<void> {
  const before = fdCount();
  await branch(t, `${k.section} programs`, loadsHere(k), async () => {
    const ebpf = load(k);
    try {
      await has(ebpf);
    } finally {
      ebpf.close();
    }
  }, () => {
    assertRefused(thrown(() => load(k)), k);
  });
  assert.equal(fdCount(), before, 'every descriptor closed, on either branch');
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

// .bss of attach_tracepoint.o
const TP_CALLS = 0, TP_OTHER_CPU = 1, TP_COOKIE = 2;

test('TracePoint.attach: perf_event link on syscalls/sys_enter_getppid counts our calls; cookie; info; detach stops it', async (t) => {
  await withKind(t, kinds.tracepoint, async (ebpf) => {
    const tp = ebpf.program('tp_getppid');
    assert.ok(tp instanceof TracePoint);
    await branch(t, 'BPF perf_event links (a cookie needs one)', isLinkTypeSupported(LinkType.PerfEvent), () => {
      const link = tp.attach(undefined, undefined, { cookie: 0xfeedn }); // the section's tracepoint
      try {
        assert.ok(link instanceof FdLink);
        assert.equal(link.description, 'tracepoint syscalls/sys_enter_getppid');
        getppid(7);
        assert.equal(bss(ebpf, TP_CALLS), 7n);
        assert.equal(bss(ebpf, TP_COOKIE), 0xfeedn);
        const info = link.info();
        assert.equal(info.type, LinkType.PerfEvent);
        assert.equal(info.typeName, 'PerfEvent');
        // BPF_PERF_EVENT_TRACEPOINT where the kernel reports perf_event link details (6.6+).
        assert.equal(info.perfEventType, linkInfoHas('perf_event') ? 5 : 0);
        assert.equal(info.programId, programId(tp.fd));
        link.detach();
        link.detach(); // harmless
        assert.equal(link.attached, false);
      } finally {
        link.close();
      }
    }, () => {
      const err = thrown(() => tp.attach(undefined, undefined, { cookie: 0xfeedn }));
      assert.equal(err.kind, 'NotSupported');
      assert.equal(err.feature, 'BPF_LINK_TYPE_PERF_EVENT');
      const link = tp.attach();
      getppid(7);
      assert.equal(bss(ebpf, TP_CALLS), 7n);
      link.detach();
    });
    getppid(3);
    assert.equal(bss(ebpf, TP_CALLS), 7n);
    // Explicit category and name, and the link's close() (not pinned: detaches).
    const again = tp.attach('syscalls', 'sys_enter_getppid');
    getppid(2);
    again.close();
    getppid(2);
    assert.equal(bss(ebpf, TP_CALLS), 9n);
  });
});

test('TracePoint: one perf event on CPU 0 runs the program for calls made on the other CPUs too', async (t) => {
  await withKind(t, kinds.tracepoint, async (ebpf) => {
    const link = (ebpf.program('tp_getppid') as TracePoint).attach();
    try {
      const pid = String(process.pid);
      const all = execFileSync('taskset', ['-p', pid], { encoding: 'utf8' }).trim().split(' ').at(-1)!;
      // The highest CPU of this thread's affinity mask (hex): another than 0 where there are two.
      const last = BigInt(`0x${all}`).toString(2).length - 1;
      t.diagnostic(last > 0 ? `calls made on CPU ${last}` : 'one CPU: every call is made on CPU 0');
      // Move this (main) thread there, call, and give it its CPUs back.
      execFileSync('taskset', ['-p', '-c', String(last), pid], { stdio: 'ignore' });
      try {
        getppid(20);
      } finally {
        execFileSync('taskset', ['-p', all, pid], { stdio: 'ignore' });
      }
      assert.equal(bss(ebpf, TP_CALLS), 20n);
      assert.equal(bss(ebpf, TP_OTHER_CPU), last > 0 ? 20n : 0n, 'the calls ran where this thread was, not on the event\'s CPU 0');
    } finally {
      link.close();
    }
  });
});

test('TracePoint: an unknown tracepoint is UnknownTarget (no perf event opened); a name with a slash too', async (t) => {
  await withKind(t, kinds.tracepoint, (ebpf) => {
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
});

test('attachPerfEvent by ioctl (PERF_EVENT_IOC_SET_BPF + ENABLE): counts, detaches by closing the event; no pin, no info, no cookie', async (t) => {
  await withKind(t, kinds.tracepoint, async (ebpf) => {
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
    assert.equal(bss(ebpf, TP_CALLS), 4n);
    assert.equal(thrown(() => link.info()).kind, 'NotSupported');
    assert.equal(thrown(() => link.pin('/sys/fs/bpf/x')).kind, 'NotSupported');
    link.detach();
    link.detach();
    getppid(4);
    assert.equal(bss(ebpf, TP_CALLS), 4n);
    assert.equal(thrown(() => link.perfFd).kind, 'NotAttached');
    // A cookie needs a perf_event link: typed, and the event fd is closed anyway.
    const err = thrown(() => attachPerfEvent(tp, open(), 'tracepoint', 1n, 'ioctl'));
    assert.equal(err.kind, 'NotSupported');
    assert.equal(err.feature, 'BPF_LINK_TYPE_PERF_EVENT');
    // SET_BPF of a program of the wrong type (a socket filter is never a tracing
    // program): AttachError naming the ioctl, fd closed.
    const wrongType = Ebpf.load(obj('globals'));
    try {
      const other = wrongType.program('compute');
      const wrong = thrown(() => attachPerfEvent(other, open(), 'tracepoint', undefined, 'ioctl'));
      assert.equal(wrong.kind, 'AttachError');
      assert.equal(wrong.call, 'ioctl(PERF_EVENT_IOC_SET_BPF)');
      assert.equal(wrong.code, 'EINVAL');
      await branch(t, 'BPF perf_event links', isLinkTypeSupported(LinkType.PerfEvent), () => {
        // The same through a link: bpf_link_create named.
        const wrongLink = thrown(() => attachPerfEvent(other, open(), 'tracepoint', undefined, 'link'));
        assert.equal(wrongLink.kind, 'AttachError');
        assert.equal(wrongLink.call, 'bpf_link_create');
        assert.equal(wrongLink.code, 'EINVAL');
      }, () => {
        assert.equal(thrown(() => attachPerfEvent(tp, open(), 'tracepoint', undefined, 'link')).kind, 'AttachError');
      });
    } finally {
      wrongType.close();
    }
  });
});

test('TracePoint link pinned: survives close(), Link.fromPin takes it back, detach ends it', async (t) => {
  const dir = bpffsDir('trace');
  try {
    await withKind(t, kinds.tracepoint, async (ebpf) => {
      await branch(t, 'BPF perf_event links (pinnable)', isLinkTypeSupported(LinkType.PerfEvent), () => {
        const link = (ebpf.program('tp_getppid') as TracePoint).attach() as FdLink;
        const id = link.info().id;
        link.pin(`${dir}/tp`);
        link.close(); // pinned: stays attached
        getppid(3);
        assert.equal(bss(ebpf, TP_CALLS), 3n);
        const back = Link.fromPin(`${dir}/tp`);
        assert.equal(back.info().id, id);
        assert.equal(back.info().type, LinkType.PerfEvent);
        back.detach(); // LINK_DETACH is EOPNOTSUPP for perf links: the pin goes, then the last fd
        getppid(3);
        assert.equal(bss(ebpf, TP_CALLS), 3n);
      }, () => {
        const link = (ebpf.program('tp_getppid') as TracePoint).attach();
        assert.equal(thrown(() => link.pin(`${dir}/tp`)).kind, 'NotSupported');
        link.close();
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('RawTracePoint.attach: sys_enter sees our getppid calls; link info; unknown name is UnknownTarget', async (t) => {
  await withKind(t, kinds.rawTp, (ebpf) => {
    const raw = ebpf.program('raw_sys_enter');
    assert.ok(raw instanceof RawTracePoint);
    const link = raw.attach(); // the section's 'sys_enter'
    getppid(6);
    assert.equal(bss(ebpf, 0), 6n);
    const info = link.info();
    assert.equal(info.type, LinkType.RawTracepoint);
    assert.equal(info.programId, programId(raw.fd));
    link.detach();
    getppid(2);
    assert.equal(bss(ebpf, 0), 6n);
    const err = thrown(() => raw.attach('tsbpf_no_such_tracepoint'));
    assert.ok(err instanceof ProgramError);
    assert.equal(err.kind, 'UnknownTarget');
    assert.equal(err.code, 'ENOENT');
  });
});

test('RawTracePointWritable.attach (raw_tp.w/bpf_test_finish): the program rewrites the result of a test run; a tracepoint without a writable buffer refuses it', () => {
  const E2BIG = 7;
  const loader = (progType: number, insns: Insn[]) => () => sys.progLoad({ progType, insns: assemble(insns), license: 'GPL' });
  // args[0] of bpf_test_finish is `int *err`, the test run's result (a 4-byte writable buffer).
  using writer = new RawTracePointWritable(
    { name: 'finish_w', kind: 'RawTracePointWritable', type: ProgramType.RawTracepointWritable, section: 'raw_tp.w/bpf_test_finish' },
    loader(ProgramType.RawTracepointWritable, [ldxDW(R2, R1, 0), stW(R2, 0, -E2BIG), mov64Imm(R0, 0), exit()]),
  );
  writer.load();
  using filter = new SocketFilter({ name: 'keep_none', kind: 'SocketFilter', type: ProgramType.SocketFilter, section: 'socket' }, loader(ProgramType.SocketFilter, [mov64Imm(R0, 0), exit()]));
  filter.load();
  const data = new Uint8Array(64);
  assert.equal(filter.testRun({ data }).returnValue, 0);
  {
    using link = writer.attach(); // the section's bpf_test_finish
    assert.equal(link.info().type, LinkType.RawTracepoint);
    const err = thrown(() => filter.testRun({ data }));
    assert.ok(err instanceof ProgramError, String(err));
    assert.equal(err.code, 'E2BIG', 'the test run returned what the program wrote');
  }
  assert.equal(filter.testRun({ data }).returnValue, 0, 'detached: the test run succeeds again');
  // sys_enter has no writable buffer: the kernel refuses a program that writes one (EINVAL).
  const refused = thrown(() => writer.attach('sys_enter'));
  assert.ok(refused instanceof ProgramError && refused.kind === 'AttachError', String(refused));
  assert.equal(refused.code, 'EINVAL');
});

test('BtfTracePoint.attach (tp_btf/sys_enter): typed arguments, a raw_tp link', async (t) => {
  await withKind(t, kinds.tpBtf, (ebpf) => {
    const btf = ebpf.program('btf_sys_enter');
    assert.ok(btf instanceof BtfTracePoint);
    const link = btf.attach();
    assert.equal(link.description, 'tp_btf sys_enter');
    getppid(5);
    assert.equal(bss(ebpf, 0), 5n);
    assert.equal(link.info().type, LinkType.RawTracepoint);
    link.detach();
    getppid(5);
    assert.equal(bss(ebpf, 0), 5n);
  });
});

test('Iter iter/task: readAll finds our process; stream() gives the same tasks; each read is a fresh iterator; task options', async (t) => {
  await withKind(t, kinds.iterTask, async (ebpf) => {
    const iter = ebpf.program('dump_task');
    assert.ok(iter instanceof Iter);
    const link = iter.attach();
    try {
      assert.ok(link instanceof IterLink);
      assert.equal(link.info().type, LinkType.Iter);
      const text = link.readAll('utf8');
      const lines = text.trimEnd().split('\n');
      const comm = readFileSync(`/proc/${process.pid}/comm`, 'utf8').trim();
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
    } finally {
      link.close();
    }
    // iter/task for one process: only its threads.
    const mine = iter.attach({ task: { pid: process.pid } });
    try {
      const lines = mine.readAll('utf8').trimEnd().split('\n');
      assert.ok(lines.length >= 1 && lines.every((l) => l.startsWith(`${process.pid} `)), lines.join('|'));
    } finally {
      mine.close();
    }
    assert.equal(thrown(() => iter.attach({ cgroup: { path: '/sys/fs/cgroup/tsbpf-no-such' } })).kind, 'UnknownTarget');
    // The map of an element iterator is a map of tsbpf: a bare { fd } is refused before any system call.
    for (const fake of [{ fd: 0 }, { fd: 1 }]) {
      let err: any;
      assert.deepEqual(bpfCalls(() => (err = thrown(() => iter.attach({ map: fake as never })))), []);
      assert.ok(err instanceof ProgramError && err.kind === 'InvalidArgument', String(err));
    }
  });
});

test('Iter iter/bpf_map_elem over a map the test fills: every element in order; a missing map is the kernel\'s EBADF', async (t) => {
  await withKind(t, kinds.iterMap, (ebpf) => {
    const iter = ebpf.program('dump_elem') as Iter;
    const values = ArrayMap.create(u64, { maxEntries: 4 });
    try {
      values.set(1, 11n);
      values.set(2, 22n);
      values.set(3, 1n << 40n);
      const link = iter.attach({ map: values });
      try {
        assert.equal(link.readAll('utf8'), `0=0\n1=11\n2=22\n3=${1n << 40n}\n`);
        values.set(0, 5n); // each read runs the iterator again
        assert.ok(link.readAll('utf8').startsWith('0=5\n'));
      } finally {
        link.close();
      }
    } finally {
      values.close();
    }
    // An element iterator without a map: the kernel looks up map fd 0 (EBADF), as AttachError.
    const err = thrown(() => iter.attach());
    assert.equal(err.kind, 'AttachError');
    assert.equal(err.call, 'bpf_link_create');
    assert.equal(err.code, 'EBADF');
  });
});

test('Iter iter/cgroup: a cgroup by path or id, the walk order chosen at attach', async (t) => {
  const root = `${cgroup2Root()}/tsbpf-test-trace-${process.pid}`;
  const child = `${root}/child`;
  mkdirSync(child, { recursive: true });
  try {
    await withKind(t, kinds.iterCgroup, (ebpf) => {
      const iter = ebpf.program('dump_cgroup') as Iter;
      const lines = (o: Parameters<Iter['attach']>[0]) => {
        const link = iter.attach(o);
        try {
          return link.readAll('utf8').trimEnd().split('\n');
        } finally {
          link.close();
        }
      };
      assert.deepEqual(lines({ cgroup: { path: root }, order: CgroupIterOrder.SelfOnly }), ['cgroup 0']);
      assert.deepEqual(lines({ cgroup: { path: root }, order: CgroupIterOrder.DescendantsPre }), ['cgroup 0', 'cgroup 1']);
      // By id (the cgroup directory's inode number), walking up to the root: at least child, root, /.
      const id = statSync(child, { bigint: true }).ino;
      assert.ok(lines({ cgroup: { id }, order: CgroupIterOrder.AncestorsUp }).length >= 3);
      // No order: the kernel wants one for a cgroup walk (EINVAL).
      assert.equal(thrown(() => lines({ cgroup: { path: root } })).code, 'EINVAL');
    });
  } finally {
    rmdirSync(child);
    rmdirSync(root);
  }
});

test('Syscall.run: the argument struct in, the result written back, a computed return value', async (t) => {
  await withKind(t, kinds.syscall, (ebpf) => {
    const prog = ebpf.program('sys_add');
    assert.ok(prog instanceof Syscall);
    const args = new Uint8Array(16);
    const v = new DataView(args.buffer);
    v.setUint32(0, 6, true);
    v.setUint32(4, 7, true);
    assert.equal(prog.run(args), 42);
    assert.equal(v.getBigUint64(8, true), 13n);
    assert.equal(bss(ebpf, 0), 13n);
    assert.equal(prog.testRun({ ctx: args }).returnValue, 42);
  });
});

// ---- BPF trampolines ----------------------------------------------------------------

/** Asserts the link is a tracing link (LINK_CREATE) or the raw_tp link RAW_TRACEPOINT_OPEN makes for a trampoline program. */
function assertTrampolineLink(link: FdLink): void {
  assert.equal(link.info().type, LinkType.Tracing);
}

test('FEntry.attach (fentry/bpf_fentry_test1): a test run of a tracing program calls the function, the program sees its argument', async (t) => {
  await withKind(t, kinds.fentry, (ebpf) => {
    const prog = ebpf.program('on_entry');
    assert.ok(prog instanceof FEntry);
    const link = prog.attach();
    assertTrampolineLink(link);
    prog.testRun(); // BPF_PROG_TEST_RUN of an fentry program calls bpf_fentry_test1(1)
    assert.deepEqual([bss(ebpf, 0), bss(ebpf, 1)], [1n, 1n], 'one call, a = 1');
    link.detach();
    prog.testRun();
    assert.equal(bss(ebpf, 0), 1n, 'not run once detached');
  });
});

test('FExit.attach (fexit/bpf_fentry_test1): the program sees the return value', async (t) => {
  await withKind(t, kinds.fexit, (ebpf) => {
    const prog = ebpf.program('on_exit');
    assert.ok(prog instanceof FExit);
    const link = prog.attach();
    assertTrampolineLink(link);
    prog.testRun();
    assert.deepEqual([bss(ebpf, 0), bss(ebpf, 1)], [1n, 2n], 'one call, returned a + 1 = 2');
    link.detach();
    prog.testRun();
    assert.equal(bss(ebpf, 0), 1n);
  });
});

test('FModRet.attach (fmod_ret/bpf_modify_return_test): the program runs instead of the function and its return value replaces it', async (t) => {
  await withKind(t, kinds.fmodRet, (ebpf) => {
    const prog = ebpf.program('fmod_ret_test');
    assert.ok(prog instanceof FModRet);
    const unmodified = prog.testRun().returnValue;
    assert.equal(bss(ebpf, 0), 0n);
    const link = prog.attach();
    assertTrampolineLink(link);
    const modified = prog.testRun().returnValue;
    assert.deepEqual([bss(ebpf, 0), bss(ebpf, 1)], [1n, 1n], 'one call, a = 1');
    assert.notEqual(modified, unmodified, 'the kernel saw 7 and the function skipped');
    link.detach();
    assert.equal(prog.testRun().returnValue, unmodified);
    assert.equal(bss(ebpf, 0), 1n);
  });
});

/** The active LSMs, from securityfs (mounted here when it is not: a fresh guest has none). */
function activeLsms(): string[] {
  const read = () => readFileSync('/sys/kernel/security/lsm', 'utf8').split(',');
  try {
    return read();
  } catch {
    execFileSync('mount', ['-t', 'securityfs', 'securityfs', '/sys/kernel/security']);
    return read();
  }
}

test('Lsm.attach (lsm/file_open): an LSM link; where "bpf" is an active LSM the hook sees our opens', async (t) => {
  await withKind(t, kinds.lsm, async (ebpf) => {
    const prog = ebpf.program('lsm_file_open');
    assert.ok(prog instanceof Lsm);
    const link = prog.attach();
    try {
      assertTrampolineLink(link);
      const lsms = activeLsms();
      await branch(t, 'the bpf LSM active (/sys/kernel/security/lsm)', lsms.includes('bpf'), () => {
        closeSync(openSync('/proc/self/status', 'r'));
        assert.ok(bss(ebpf, 0) >= 1n, 'the hook ran for our open');
      }, () => {
        closeSync(openSync('/proc/self/status', 'r'));
        assert.equal(bss(ebpf, 0), 0n, 'an inactive LSM runs no hook');
      });
    } finally {
      link.close();
    }
  });
});

test('Extension (freplace/target_sub): loaded against tc_main, attached, a test run of tc_main returns the replacement\'s value', async (t) => {
  const before = fdCount();
  const ebpf = load(kinds.freplace);
  try {
    const target = ebpf.program('tc_main');
    assert.ok(target instanceof SchedClassifier);
    const packet = new Uint8Array(64);
    assert.equal(target.testRun({ data: packet }).returnValue, 65, 'target_sub: len + 1');
    const ext = ebpf.program('new_sub');
    assert.ok(ext instanceof Extension);
    assert.equal(ext.loaded, false, 'Ebpf.load leaves freplace unloaded: it needs a target');
    assert.equal(thrown(() => ext.load()).kind, 'UnknownTarget');
    await branch(t, 'freplace programs', loadsHere(kinds.freplace), () => {
      ext.load({ target });
      const link = ext.attach();
      assertTrampolineLink(link);
      assert.equal(target.testRun({ data: packet }).returnValue, 1234);
      link.detach();
      assert.equal(target.testRun({ data: packet }).returnValue, 65);
    }, () => {
      assertRefused(thrown(() => ext.load({ target })), kinds.freplace);
      assert.equal(ext.loaded, false);
    });
  } finally {
    ebpf.close();
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
  // Through the loader: the section's function, resolved before BPF_PROG_LOAD, whether
  // or not the kernel loads fentry programs.
  const missing = thrown(() => Ebpf.load(obj('attach_unknown_target')));
  assert.equal(missing.kind, 'UnknownKernelFunction');
  assert.equal(missing.program, 'fentry_missing');
  assert.match(missing.message, /function tsbpf_no_such_function/);
});

/** The attrs of bpf(cmd) calls made by `fn`; `answer` decides what the kernel returns for them. */
function capture(cmds: number[], fn: () => void, answer: (cmd: number, attr: Uint8Array, real: typeof sys.kernel) => number): Map<number, Uint8Array> {
  const seen = new Map<number, Uint8Array>();
  const real = sys.kernel;
  const restore = replaceKernel({
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

/** The freplace object (tc_main always loads: a SCHED_CLS program) stands in for a loaded program. */
function withStandIn(use: (ebpf: Ebpf, standIn: number) => void): void {
  const ebpf = load(kinds.freplace);
  try {
    use(ebpf, programId(ebpf.program('tc_main').fd));
  } finally {
    ebpf.close();
  }
}

/** BPF_PROG_GET_FD_BY_ID of the stand-in: what the captured BPF_PROG_LOAD returns. */
function standInFd(real: typeof sys.kernel, id: number): number {
  return real.bpf(13, new Uint8Array(new Uint32Array([id, 0, 0]).buffer));
}

test('fentry/fexit/fmod_ret/lsm attributes (captured): BPF_PROG_LOAD target, LINK_CREATE attach type, RAW_TRACEPOINT_OPEN where the kernel has no tracing links', async (t) => {
  const before = fdCount();
  const objects = [kinds.fentry, kinds.fexit, kinds.lsm, kinds.fmodRet].map((k) => new EbpfLoader().deferProgram(k.program).load(k.object));
  try {
    const [fentry, fexit, lsm, fmodRet] = objects.map((o, i) => o.program([kinds.fentry, kinds.fexit, kinds.lsm, kinds.fmodRet][i]!.program));
    const vmlinux = loadKernelBtf();
    const links = isLinkTypeSupported(LinkType.Tracing);
    t.diagnostic(links ? 'this kernel has tracing links: attach() takes LINK_CREATE' : 'this kernel has no tracing links: attach() takes RAW_TRACEPOINT_OPEN');
    withStandIn((_, stand) => {
      const cases: [FEntry | FExit | Lsm | FModRet, number, string, number][] = [
        [fentry as FEntry, 24, 'bpf_fentry_test1', 26],
        [fexit as FExit, 25, 'bpf_fentry_test1', 26],
        [lsm as Lsm, 27, 'bpf_lsm_file_open', 29],
        [fmodRet as FModRet, 26, 'bpf_modify_return_test', 26],
      ];
      for (const [prog, attachType, target, progType] of cases) {
        // The load the kernel would see; a stand-in program fd makes it "loaded".
        const load = capture([5], () => prog.load(), (_cmd, _attr, real) => standInFd(real, stand)).get(5)!;
        assert.equal(u32At(load, 0), progType);
        assert.equal(u32At(load, 68), attachType, 'expected_attach_type');
        assert.equal(u32At(load, 108), vmlinux.byName(target, 'func')[0]!.id, 'attach_btf_id');
        assert.equal(u32At(load, 112), 0, 'attach_prog_fd');
        assert.ok(prog.loaded);
        if (links) {
          const link = capture([28], () => assert.equal(thrown(() => prog.attach({ cookie: 0x1234n })).kind, 'AttachError'), () => -EPERM).get(28)!;
          assert.deepEqual([u32At(link, 0), u32At(link, 4), u32At(link, 8), u32At(link, 16)], [prog.fd, 0, attachType, 0]);
          assert.equal(new DataView(link.buffer).getBigUint64(24, true), 0x1234n, 'tracing.cookie');
        } else {
          const raw = capture([17], () => assert.equal(thrown(() => prog.attach()).kind, 'AttachError'), () => -EPERM).get(17)!;
          assert.equal(new DataView(raw.buffer).getBigUint64(0, true), 0n, 'no name');
          assert.equal(u32At(raw, 8), prog.fd);
          assert.equal(thrown(() => prog.attach({ cookie: 1n })).kind, 'NotSupported');
        }
        // LINK_CREATE asked for explicitly: the attach type and the cookie.
        const link = capture([28], () => {
          const e = thrown(() => attachTracing(prog, attachType, 'x', { cookie: 0x1234n }, {}, 'link'));
          assert.equal(e.kind, 'AttachError');
          assert.equal(e.call, 'bpf_link_create');
        }, () => -EPERM).get(28)!;
        assert.deepEqual([u32At(link, 0), u32At(link, 4), u32At(link, 8), u32At(link, 16)], [prog.fd, 0, attachType, 0]);
        assert.equal(new DataView(link.buffer).getBigUint64(24, true), 0x1234n, 'tracing.cookie');
        prog.unload();
      }
    });
  } finally {
    for (const o of objects) o.close();
  }
  assert.equal(fdCount(), before);
});

test('Extension: the target function resolved in the target program\'s kernel BTF; load and link attributes (captured)', async (t) => {
  const before = fdCount();
  withStandIn((ebpf, stand) => {
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
    const loadAttr = capture([5], () => ext.load({ target }), (_c, _a, real) => standInFd(real, stand)).get(5)!;
    assert.equal(u32At(loadAttr, 0), 28, 'BPF_PROG_TYPE_EXT');
    assert.equal(u32At(loadAttr, 108), id, 'attach_btf_id');
    assert.equal(u32At(loadAttr, 112), target.fd, 'attach_prog_fd');
    // attachTo another program needs tracing links.
    if (isLinkTypeSupported(LinkType.Tracing)) {
      t.diagnostic('this kernel has tracing links: attachTo reaches LINK_CREATE (the stand-in is no extension: refused)');
      assert.equal(thrown(() => ext.attachTo(target, 'target_sub')).kind, 'AttachError');
    } else {
      t.diagnostic('this kernel has no tracing links: attachTo is NotSupported');
      assert.equal(thrown(() => ext.attachTo(target, 'target_sub')).feature, 'BPF_LINK_TYPE_TRACING');
    }
    const link = capture([28], () => thrown(() => attachTracing(ext, 0, 'x', {}, { targetFd: target.fd, targetBtfId: id }, 'link')), () => -EPERM).get(28)!;
    assert.deepEqual([u32At(link, 0), u32At(link, 4), u32At(link, 8), u32At(link, 16)], [ext.fd, target.fd, 0, id]);
  });
  assert.equal(fdCount(), before);
});
