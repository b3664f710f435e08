// Introspection, statistics, program pins and test runs, on the real kernel:
// loadedPrograms / loadedMaps / loadedLinks, enableStats, program.info(),
// programFromPin / programFromId, Program.fromPin, and testRun for every program type the kernel can
// test-run (bpf/attach_introspect.c), with a typed NotSupported for the others.
// The object holds programs of many kinds: the loader leaves those the kernel refuses
// (the feature probe says which) unloaded, and the tests that use one of them assert
// its NotSupported instead, saying so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import {
  CgroupSock,
  Ebpf,
  EbpfLoader,
  ObjectSpec,
  enableStats,
  loadedLinks,
  loadedMaps,
  loadedPrograms,
  MapData,
  MapType,
  PinError,
  Program,
  programFromId,
  programFromPin,
  ProgramError,
  ProgramType,
  SchedClassifier,
  SocketFilter,
  TracePoint,
  Xdp,
  type ProgramInfo,
} from '../src/index.js';
import * as sys from '../src/sys/index.js';
import { replaceKernel } from '../src/testing.js';
import { FdLink } from '../src/links/link.js';
import { bpffsDir, fdCount, repoRoot, thrown } from './helpers.js';
import { assertRefused, branch, kindOf, loadsHere } from './kernel-features.js';

const OBJ = `${repoRoot}/bpf/attach_introspect.o`;
const fdsAtStart = fdCount();
const refusedHere = [...ObjectSpec.parse(readFileSync(OBJ)).programs.keys()].filter((name) => !loadsHere(kindOf(OBJ, name)));

/** attach_introspect.o with the programs of kinds this kernel refuses left unloaded. */
function loadIntrospect(): Ebpf {
  const loader = new EbpfLoader();
  for (const name of refusedHere) loader.deferProgram(name);
  return loader.load(OBJ);
}

/** Runs `has` with program `name` where the kernel loads its kind; else asserts its load is NotSupported. */
async function withProgram(t: { diagnostic(m: string): void }, ebpf: Ebpf, name: string, has: (prog: Program) => unknown): Promise<void> {
  const k = kindOf(OBJ, name);
  await branch(t, `${k.section} programs`, !refusedHere.includes(name), () => has(ebpf.program(name)), () => {
    assertRefused(thrown(() => ebpf.program(name).load()), k);
  });
}

/** An Ethernet + IPv4 + UDP frame of `size` bytes (contents do not matter to most programs). */
function frame(size = 64): Uint8Array {
  const p = new Uint8Array(size);
  p.set([0x08, 0x00], 12); // h_proto = IPv4
  p[14] = 0x45; // version 4, ihl 5
  p[23] = 17; // UDP
  return p;
}

function isNotSupported(err: unknown, feature: string): boolean {
  return err instanceof ProgramError && err.kind === 'NotSupported' && err.feature === feature && err.errno === 524 && err.code === 'ENOTSUPP';
}

test('program.info(): id, name, type, tag, map ids, BTF, verified instructions, lengths', () => {
  using ebpf = loadIntrospect();
  const prog = ebpf.program('sock_count');
  const info = prog.info();
  assert.ok(info.id > 0);
  assert.equal(info.name, 'sock_count');
  assert.equal(info.type, ProgramType.SocketFilter);
  assert.equal(info.typeName, 'BPF_PROG_TYPE_SOCKET_FILTER');
  assert.match(info.tag, /^[0-9a-f]{16}$/);
  const mapIds = [ebpf.map('counts').id, ebpf.map('lens').id].sort((a, b) => a - b);
  assert.deepEqual([...info.mapIds].sort((a, b) => a - b), mapIds, 'the maps the program uses');
  assert.ok(info.btfId > 0, 'loaded with BTF');
  assert.ok(info.verifiedInsns > 0);
  assert.ok(info.xlatedLength > 0 && info.xlatedLength % 8 === 0);
  assert.ok(info.jitedLength > 0, 'JIT on');
  assert.equal(info.gplCompatible, true);
  assert.equal(info.createdByUid, process.getuid!());
  assert.ok(info.loadTime > 0n);
  assert.equal(info.attachBtfId, 0);
  assert.equal(typeof info.runCount, 'bigint');
  // A program without maps reports none; the tag differs with the code.
  const pass = ebpf.program('xdp_pass').info();
  assert.deepEqual(pass.mapIds, []);
  assert.notEqual(pass.tag, info.tag);
  assert.equal(pass.typeName, 'BPF_PROG_TYPE_XDP');
});

test('loadedPrograms / loadedMaps / loadedLinks list what this process loaded, with info', () => {
  using ebpf = loadIntrospect();
  const raw = ebpf.program('raw_args');
  using link = new FdLink(sys.rawTracepointOpen(raw.fd, 'sys_enter'), 'raw_tp sys_enter');
  const progId = raw.info().id;

  const progs = [...loadedPrograms()];
  const mine = progs.find((p) => p.id === progId);
  assert.ok(mine, 'the loaded program is listed');
  assert.equal(mine.name, 'raw_args');
  assert.equal(mine.type, ProgramType.RawTracepoint);
  assert.deepEqual(mine, { ...raw.info(), runCount: mine.runCount, runTimeNs: mine.runTimeNs }, 'the same info as program.info()');
  assert.ok(progs.filter((p) => p.name === 'sock_count' || p.name === 'xdp_pass').length >= 2);
  const ids = progs.map((p) => p.id);
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'in id order');

  const maps = [...loadedMaps()];
  const counts = maps.find((m) => m.id === ebpf.map('counts').id);
  assert.ok(counts);
  assert.equal(counts.name, 'counts');
  assert.equal(counts.type, MapType.Array);
  assert.equal(counts.maxEntries, 4);
  assert.equal(counts.valueSize, 8);

  const links = [...loadedLinks()];
  const l = links.find((x) => x.id === link.info().id);
  assert.ok(l, 'the raw tracepoint link is listed');
  assert.equal(l.programId, progId);
  assert.equal(l.typeName, 'RawTracepoint');
  link.detach();
  assert.equal([...loadedLinks()].find((x) => x.id === l.id), undefined, 'gone once detached');
});

test('the walks skip an object that disappears between its id and its fd (ENOENT)', () => {
  using ebpf = loadIntrospect();
  const victim = ebpf.program('xdp_pass').info().id;
  const victimMap = ebpf.map('lens').id;
  const real = sys.kernel;
  const restore = replaceKernel({
    bpf: (cmd, attr, mask, ...bufs) => {
      const id = new DataView(attr.buffer, attr.byteOffset).getUint32(0, true);
      if (cmd === sys.Cmd.ProgGetFdById && id === victim) return -sys.Errno.ENOENT;
      if (cmd === sys.Cmd.MapGetFdById && id === victimMap) return -sys.Errno.ENOENT;
      return real.bpf(cmd, attr, mask, ...bufs);
    },
  });
  let progs: ProgramInfo[];
  let mapIds: number[];
  try {
    progs = [...loadedPrograms()];
    mapIds = [...loadedMaps()].map((m) => m.id);
  } finally {
    restore();
  }
  assert.equal(progs.find((p) => p.id === victim), undefined);
  assert.ok(progs.find((p) => p.name === 'sock_count'), 'the others are still listed');
  assert.ok(!mapIds.includes(victimMap));
  assert.ok(mapIds.includes(ebpf.map('counts').id));
  // Another error is not swallowed.
  const restore2 = replaceKernel({
    bpf: (cmd, attr, mask, ...bufs) => (cmd === sys.Cmd.ProgGetFdById ? -sys.Errno.EPERM : real.bpf(cmd, attr, mask, ...bufs)),
  });
  try {
    const err = thrown(() => [...loadedPrograms()]);
    assert.equal(err.code, 'EPERM');
    assert.equal(err.call, 'bpf_prog_get_fd_by_id');
  } finally {
    restore2();
  }
});

test("enableStats('runTime'): run count and run time grow while on, stop after close", () => {
  const SYSCTL = '/proc/sys/kernel/bpf_stats_enabled';
  const saved = readFileSync(SYSCTL, 'utf8').trim();
  // The sysctl is global and also keeps statistics on: off for the test, restored after.
  if (saved !== '0') writeFileSync(SYSCTL, '0');
  try {
    using ebpf = loadIntrospect();
    const prog = ebpf.program('xdp_pass');
    const data = frame();
    prog.testRun({ data, repeat: 500 });
    assert.equal(prog.info().runCount, 0n, 'not counted while statistics are off');

    using stats = enableStats('runTime');
    // The sysctl shows only its own setting, not the BPF_ENABLE_STATS holders.
    assert.equal(readFileSync(SYSCTL, 'utf8').trim(), '0');
    prog.testRun({ data, repeat: 500 });
    const on = prog.info();
    assert.equal(on.runCount, 500n);
    assert.ok(on.runTimeNs > 0n);
    prog.testRun({ data, repeat: 250 });
    const more = prog.info();
    assert.equal(more.runCount, 750n);
    assert.ok(more.runTimeNs > on.runTimeNs);

    stats.close();
    stats.close(); // harmless
    prog.testRun({ data, repeat: 500 });
    const off = prog.info();
    assert.equal(off.runCount, 750n, 'no longer counted');
    assert.equal(off.runTimeNs, more.runTimeNs);
    assert.throws(() => enableStats('cycles' as 'runTime'), (e: unknown) => e instanceof ProgramError && e.kind === 'InvalidArgument');
  } finally {
    writeFileSync(SYSCTL, saved);
  }
});

test('programFromPin / programFromId: a program of the right class owning its fd; load() after unload() opens again', (t) => {
  const dir = bpffsDir('introspect');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fds = fdCount();
  {
    using ebpf = loadIntrospect();
    ebpf.program('sock_count').pin(`${dir}/sock`);
    ebpf.program('tc_len').pin(`${dir}/tc`);
    ebpf.map('counts').pin(`${dir}/map`);
  }
  {
    using sock = programFromPin(`${dir}/sock`);
    assert.ok(sock instanceof SocketFilter);
    assert.equal(sock.kind, 'SocketFilter');
    assert.equal(sock.name, 'sock_count');
    assert.equal(sock.type, ProgramType.SocketFilter);
    assert.equal(sock.testRun({ data: frame(80) }).returnValue, 66, 'the pinned program runs');
    const id = sock.info().id;
    sock.unload();
    assert.equal(sock.loaded, false);
    assert.throws(() => sock.fd, (e: unknown) => e instanceof ProgramError && e.kind === 'NotLoaded');
    sock.load();
    assert.equal(sock.info().id, id, 'load() opened the pin again');

    using byId = programFromId(id);
    assert.ok(byId instanceof SocketFilter);
    assert.equal(byId.testRun({ data: frame(70) }).returnValue, 56);
    using typed = SocketFilter.fromId(id);
    assert.equal(typed.info().id, id);

    // Program.fromPin takes any type and gives a plain Program of the type's kind.
    using plain = Program.fromPin(`${dir}/sock`);
    assert.equal(plain.constructor, Program);
    assert.equal(plain.kind, 'SocketFilter');
    assert.equal(plain.testRun({ data: frame(80) }).returnValue, 66);

    using tc = SchedClassifier.fromPin(`${dir}/tc`);
    assert.ok(tc instanceof SchedClassifier);
    assert.equal(tc.testRun({ data: frame(200) }).returnValue, 2);
  }
  // Refusals, none of which leaks the fd it opened.
  const wrong = thrown(() => Xdp.fromPin(`${dir}/sock`));
  assert.ok(wrong instanceof ProgramError && wrong.kind === 'InvalidProgramType', String(wrong));
  assert.match(wrong.message, /BPF_PROG_TYPE_SOCKET_FILTER, not a Xdp program/);
  const map = thrown(() => programFromPin(`${dir}/map`));
  assert.ok(map instanceof ProgramError && map.kind === 'InvalidProgramType');
  assert.match(map.message, /not a BPF program/);
  const missing = thrown(() => programFromPin(`${dir}/nothing`));
  assert.ok(missing instanceof PinError && missing.code === 'ENOENT');
  const gone = thrown(() => programFromId(0xfffffff0));
  assert.ok(gone instanceof ProgramError && gone.kind === 'UnknownTarget' && gone.code === 'ENOENT' && gone.call === 'bpf_prog_get_fd_by_id');
  assert.throws(() => programFromId(-1), (e: unknown) => e instanceof ProgramError && e.kind === 'InvalidArgument');
  // Once the pins go, the programs go with them.
  const sockId = (() => {
    using p = Program.fromPin(`${dir}/sock`);
    return p.info().id;
  })();
  rmSync(`${dir}/sock`);
  rmSync(`${dir}/tc`);
  assert.equal([...loadedPrograms()].find((p) => p.id === sockId), undefined);
  assert.equal(fdCount(), fds, 'no fd leaked');
});

test('programFromId picks the class by type; a map from MapData.fromId agrees with loadedMaps', () => {
  using ebpf = loadIntrospect();
  const cases: [string, Function, string][] = [
    ['xdp_rewrite', Xdp, 'Xdp'],
    ['tc_len', SchedClassifier, 'SchedClassifier'],
    ['tp_getppid', TracePoint, 'TracePoint'],
    ['sock_create', CgroupSock, 'CgroupSock'],
  ];
  for (const [name, cls, kind] of cases) {
    using p = programFromId(ebpf.program(name).info().id);
    assert.ok(p instanceof cls, `${name}: ${p.constructor.name}`);
    assert.equal(p.kind, kind);
  }
  using m = MapData.fromId(ebpf.map('lens').id);
  assert.deepEqual([...loadedMaps()].find((x) => x.id === m.id), m.info());
});

// ---- test runs, one program type after another --------------------------------------

test('testRun: socket filter, sched_cls, sched_act, cgroup_skb, lwt_in/out/xmit', () => {
  using ebpf = loadIntrospect();
  const sock = ebpf.program('sock_count');
  // A socket filter sees the packet after its Ethernet header (the kernel pulls 14 bytes).
  assert.equal(sock.testRun({ data: frame(64) }).returnValue, 50);
  assert.equal(sock.testRun({ data: frame(99), repeat: 10 }).returnValue, 85);
  // The program ran 11 times and saw the lengths it recorded.
  const counts = ebpf.map('counts').lookup(new Uint8Array(4))!;
  assert.equal(new DataView(counts.buffer, counts.byteOffset).getBigUint64(0, true), 11n);
  assert.ok(ebpf.map('lens').lookup(new Uint8Array([85, 0, 0, 0])));

  const tc = ebpf.program('tc_len');
  assert.equal(tc.testRun({ data: frame(64) }).returnValue, 0, 'TC_ACT_OK');
  assert.equal(tc.testRun({ data: frame(200) }).returnValue, 2, 'TC_ACT_SHOT');
  const run = tc.testRun({ data: frame(64), repeat: 1000 });
  assert.ok(run.duration > 0, 'the kernel timed the runs');
  assert.equal(run.dataOut!.length, 64, 'the packet comes back');
  // tsbpf attaches no tc action nor seg6local route: those programs are plain Programs of their kind.
  const act = ebpf.program('act_mark');
  assert.equal(act.constructor, Program);
  assert.equal(act.kind, 'SchedAct');
  assert.equal('attach' in act, false);
  assert.equal(act.testRun({ data: frame(64) }).returnValue, 1064);
  assert.equal(ebpf.program('seg6_ok').constructor, Program);
  assert.equal(ebpf.program('seg6_ok').kind, 'LwtSeg6local');
  assert.equal(ebpf.program('cg_ingress').testRun({ data: frame(64) }).returnValue, 1);
  assert.equal(ebpf.program('lwt_in_ok').testRun({ data: frame(64) }).returnValue, 0);
  assert.equal(ebpf.program('lwt_out_drop').testRun({ data: frame(64) }).returnValue, 2);
  // LWT programs see the packet from its network header: 64 - 14 bytes.
  assert.equal(ebpf.program('lwt_xmit_len').testRun({ data: frame(64) }).returnValue, 50);
  // A packet shorter than an Ethernet header: EINVAL, with what the type takes.
  const err = thrown(() => tc.testRun({ data: new Uint8Array(4) }));
  assert.ok(err instanceof ProgramError && err.kind === 'SyscallError' && err.code === 'EINVAL');
  assert.match(err.message, /at least 14 bytes/);
});

test('testRun: xdp returns its action and the packet it rewrote', () => {
  using ebpf = loadIntrospect();
  const prog = ebpf.program('xdp_rewrite');
  const data = frame(64);
  data[2] = 0x77;
  const r = prog.testRun({ data });
  assert.equal(r.returnValue, 3, 'XDP_TX');
  assert.equal(r.dataOut!.length, 64);
  assert.deepEqual([...r.dataOut!.subarray(0, 3)], [0xaa, 0xbb, 0x77], 'the program wrote the first two bytes');
  assert.deepEqual([...r.dataOut!.subarray(3)], [...data.subarray(3)]);
  assert.equal(data[0], 0, 'the input is not modified');
  // Too short for the program's bounds check: XDP_ABORTED.
  assert.equal(prog.testRun({ data: frame(14).subarray(0, 14) }).returnValue, 3);
  // With an xdp_md context in and out, and repeat.
  const ctx = new Uint8Array(24);
  new DataView(ctx.buffer).setUint32(4, 64, true); // data_end
  const withCtx = prog.testRun({ data, ctx, ctxOut: new Uint8Array(24), repeat: 100 });
  assert.equal(withCtx.returnValue, 3);
  assert.equal(withCtx.ctxOut!.length, 24);
  assert.equal(new DataView(withCtx.ctxOut!.buffer, withCtx.ctxOut!.byteOffset).getUint32(4, true), 64, 'data_end in ctxOut');
  assert.equal(ebpf.program('xdp_pass').testRun({ data }).returnValue, 2);
});

test('testRun: raw_tp takes its u64 arguments as ctx', () => {
  using ebpf = loadIntrospect();
  const prog = ebpf.program('raw_args');
  const ctx = new Uint8Array(new BigUint64Array([40n, 2n]).buffer);
  assert.equal(prog.testRun({ ctx }).returnValue, 42);
  const err = thrown(() => prog.testRun({ data: frame() }));
  assert.ok(err instanceof ProgramError && err.code === 'EINVAL');
  assert.match(err.message, /ctx only/);
  assert.equal(thrown(() => prog.testRun({ ctx, repeat: 2 })).code, 'EINVAL', 'no repeat for raw_tp');
});

test('testRun: netfilter takes a packet', async (t) => {
  using ebpf = loadIntrospect();
  await withProgram(t, ebpf, 'nf_accept', (prog) => {
    const r = prog.testRun({ data: frame(64), repeat: 10 });
    assert.equal(r.returnValue, 1, 'NF_ACCEPT');
    assert.equal(thrown(() => prog.testRun()).code, 'EINVAL', 'no packet');
  });
});

test('testRun: flow_dissector returns the flow keys it set as dataOut', () => {
  using ebpf = loadIntrospect();
  const r = ebpf.program('dissect').testRun({ data: frame(64) });
  assert.equal(r.returnValue, 0, 'BPF_OK');
  const keys = r.dataOut!;
  assert.equal(keys.length, 56, 'sizeof(struct bpf_flow_keys)');
  const v = new DataView(keys.buffer, keys.byteOffset);
  assert.equal(v.getUint16(0, true), 14, 'nhoff');
  assert.equal(v.getUint16(2, true), 34, 'thoff');
  assert.equal(keys[9], 17, 'ip_proto');
  assert.equal(v.getUint16(10, false), 0x0800, 'n_proto');
  assert.equal(v.getUint16(12, false), 1234, 'sport');
  assert.equal(v.getUint16(14, false), 80, 'dport');
});

test('testRun: sk_lookup takes a struct bpf_sk_lookup as ctx', () => {
  using ebpf = loadIntrospect();
  const prog = ebpf.program('lookup_port');
  const ctx = (port: number) => {
    const b = new Uint8Array(72);
    const v = new DataView(b.buffer);
    v.setUint32(8, 2, true); // AF_INET
    v.setUint32(12, 6, true); // IPPROTO_TCP
    v.setUint32(16, 0x0100007f, true); // remote 127.0.0.1
    v.setUint32(40, 0x0100007f, true); // local 127.0.0.1
    v.setUint32(60, port, true); // local_port, host order
    return b;
  };
  assert.equal(prog.testRun({ ctx: ctx(8080) }).returnValue, 1, 'SK_PASS');
  const r = prog.testRun({ ctx: ctx(80), ctxOut: new Uint8Array(72), repeat: 5 });
  assert.equal(r.returnValue, 0, 'SK_DROP');
  assert.equal(r.ctxOut!.length, 72);
  assert.equal(new DataView(r.ctxOut!.buffer).getUint32(60, true), 80);
  const err = thrown(() => prog.testRun({ data: frame() }));
  assert.ok(err instanceof ProgramError && err.code === 'EINVAL');
  assert.match(err.message, /struct bpf_sk_lookup/);
});

test('testRun: a syscall program writes its ctx in place, also returned as ctxOut (or copied to a given ctxOut)', async (t) => {
  using ebpf = loadIntrospect();
  await withProgram(t, ebpf, 'sys_add', (prog) => syscallTestRun(prog));
});

function syscallTestRun(prog: Program): void {
  const ctx = new Uint8Array(new Uint32Array([20, 22, 0]).buffer);
  const r = prog.testRun({ ctx });
  assert.equal(r.returnValue, 7);
  assert.deepEqual([...new Uint32Array(ctx.buffer)], [20, 22, 42], 'the kernel wrote the sum into ctx');
  assert.equal(r.ctxOut, ctx);
  // A caller-provided ctxOut receives it (the kernel refuses ctx_out for this type: copied).
  const out = new Uint8Array(16);
  const again = new Uint8Array(new Uint32Array([1, 2, 0]).buffer);
  assert.equal(prog.testRun({ ctx: again, ctxOut: out }).ctxOut!.length, 12);
  assert.deepEqual([...new Uint32Array(out.buffer, 0, 3)], [1, 2, 3]);
  // The verifier recorded how far the program reads its ctx: a shorter one is refused.
  for (const short of [undefined, new Uint8Array(8)]) {
    const err = thrown(() => prog.testRun({ ctx: short }));
    assert.ok(err instanceof ProgramError && err.code === 'EINVAL', String(err));
    assert.match(err.message, /at least as many bytes as the program reads/);
  }
}

test('testRun: types the kernel cannot test-run raise NotSupported naming the type (ENOTSUPP)', async (t) => {
  using ebpf = loadIntrospect();
  for (const [name, type] of [
    ['tp_getppid', 'BPF_PROG_TYPE_TRACEPOINT'],
    ['kprobe_nop', 'BPF_PROG_TYPE_KPROBE'],
    ['sock_create', 'BPF_PROG_TYPE_CGROUP_SOCK'],
    ['seg6_ok', 'BPF_PROG_TYPE_LWT_SEG6LOCAL'],
    ['raw_w', 'BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE'],
  ] as const) {
    await withProgram(t, ebpf, name, (prog) => {
      let err: any;
      try {
        // Kernels up to 6.1 test-run lwt_seg6local programs like other skb programs.
        const r = prog.testRun({ data: frame() });
        assert.equal(name, 'seg6_ok', `${name} ran: ${JSON.stringify(r.returnValue)}`);
        t.diagnostic(`this kernel test-runs ${type}: it returned ${r.returnValue}`);
        return;
      } catch (e) {
        err = e;
      }
      assert.ok(isNotSupported(err, `test run of ${type}`), `${name}: ${err}`);
      assert.equal(err.program, name);
      assert.equal(err.call, 'bpf_prog_test_run');
    });
  }
  // Tracing programs other than fentry/fexit/fmod_ret: the kernel answers EFAULT.
  for (const [name, attach] of [
    ['btf_sys_enter', 'BPF_TRACE_RAW_TP'],
    ['iter_maps', 'BPF_TRACE_ITER'],
  ] as const) {
    await withProgram(t, ebpf, name, (prog) => {
      const err = thrown(() => prog.testRun());
      assert.ok(err instanceof ProgramError && err.kind === 'NotSupported', `${name}: ${err}`);
      assert.equal(err.feature, `test run of BPF_PROG_TYPE_TRACING (${attach})`);
      assert.equal(err.code, 'EFAULT');
    });
  }
  // A program that is not loaded: NotLoaded before any system call.
  const prog = ebpf.program('sock_count');
  prog.unload();
  assert.equal(thrown(() => prog.testRun()).kind, 'NotLoaded');
});

test('no fd leaked by this file', () => {
  assert.equal(fdCount(), fdsAtStart);
});
