// Typed access without casts, on the running kernel: ebpf.program(name, Class) and
// ebpf.map(name, Class, ...shape) return the class (checked at run time, typed at compile
// time: the @ts-expect-error lines below fail the build if the misuse they mark starts to
// compile), and ebpf.attachAll() attaches what the sections name, all or nothing.
import { test, type TestContext } from 'node:test';
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import {
  ArrayMap,
  ArrayOfMaps,
  AttachedLinks,
  ClsBpfLink,
  Ebpf,
  EbpfLoader,
  FlowDissector,
  isLinkTypeSupported,
  LinkType,
  HashMap,
  HashOfMaps,
  Link,
  LpmTrie,
  MapData,
  MapError,
  PerCpuHashMap,
  Program,
  ProgramError,
  RawTracePoint,
  RingBuf,
  SchedClassifier,
  SkLookup,
  SockHash,
  Syscall,
  TracePoint,
  UProbe,
  Xdp,
  u32,
  u64,
  bytes,
} from '../src/index.js';
import { ksyscallFunction } from '../src/programs/kprobe.js';
import { Cmd } from '../src/sys/abi/enums.js';
import { bpfCalls, fdCount, loadOnly, thrown } from './helpers.js';

const object = fileURLToPath(new URL('../../bpf/typed_access.o', import.meta.url));

function load(configure: (l: EbpfLoader) => void = () => {}): Ebpf {
  const loader = new EbpfLoader().setGlobal('target_tgid', process.pid);
  configure(loader);
  return loader.load(object);
}

/** getppid(2) n times through libc (process.ppid makes the call on every read). */
function getppid(n: number): void {
  for (let i = 0; i < n; i++) void process.ppid;
}

// ---- compile-time checks: never run, only type-checked by tsc ----------------------

function compileTimeChecks(ebpf: Ebpf): void {
  // The class decides the type: attach() of each kind, no cast.
  const xdp: Xdp = ebpf.program('xdp_pass', Xdp);
  const tp: TracePoint = ebpf.program('tp_getppid', TracePoint);
  void tp.attach('syscalls', 'sys_enter_getppid');
  void xdp.attach('lo', { mode: 'skb' });
  const plain: Program = ebpf.program('xdp_pass');
  // @ts-expect-error a plain Program has no attach: the class argument is what gives it one
  void plain.attach('lo');
  // @ts-expect-error not a program class
  void ebpf.program('xdp_pass', HashMap);

  // Maps: the codecs type keys and values.
  const counts: HashMap<number, bigint> = ebpf.map('counts', HashMap, u32, u64);
  counts.insert(1, 2n);
  const inferred = ebpf.map('counts', HashMap, u32, u64);
  inferred.insert(1, 2n);
  // @ts-expect-error the value codec is u64: values are bigint
  inferred.insert(1, 2);
  // @ts-expect-error and keys are numbers
  inferred.insert('1', 2n);
  // @ts-expect-error HashMap takes a key and a value codec
  void ebpf.map('counts', HashMap, u32);
  // @ts-expect-error a codec, not a number, for the key
  void ebpf.map('counts', HashMap, 4, u64);
  const slots: ArrayMap<bigint> = ebpf.map('slots', ArrayMap, u64);
  // @ts-expect-error ArrayMap<bigint> holds bigints
  slots.set(0, 'x');
  const ring: RingBuf = ebpf.map('events', RingBuf);
  void ring;
  const perCpu: PerCpuHashMap<number, bigint> = ebpf.map('x', PerCpuHashMap, u32, u64);
  void perCpu;
  const trie: LpmTrie<Uint8Array, number> = ebpf.map('x', LpmTrie, 4, u32);
  void trie;
  const outer: ArrayOfMaps<ArrayMap<number>> = ebpf.map('x', ArrayOfMaps, ArrayMap.fromMapData(u32));
  const rawOuter: ArrayOfMaps<MapData> = ebpf.map('x', ArrayOfMaps);
  const hashOuter: HashOfMaps<number, MapData> = ebpf.map('x', HashOfMaps, u32);
  const sockHash: SockHash<number> = ebpf.map('x', SockHash, u32);
  void [outer, rawOuter, hashOuter, sockHash];
  const data: MapData = ebpf.map('counts');
  void data;
  const links: AttachedLinks = ebpf.attachAll();
  const link: Link | undefined = links.get('tp_getppid');
  void link;
}
void compileTimeChecks;

// ---- ebpf.program(name, Class) -------------------------------------------------------

test('program(name, Class): the instance typed as its class; another kind is WrongProgramType naming both', () => {
  using ebpf = load();
  const tp = ebpf.program('tp_getppid', TracePoint);
  assert.ok(tp instanceof TracePoint);
  assert.equal(tp, ebpf.program('tp_getppid'));
  assert.ok(ebpf.program('xdp_pass', Xdp) instanceof Xdp);
  assert.ok(ebpf.program('raw_getppid', RawTracePoint) instanceof RawTracePoint);
  assert.ok(ebpf.program('up_getppid', UProbe) instanceof UProbe);
  assert.ok(ebpf.program('sys_noop', Syscall) instanceof Syscall);
  // Program itself takes every kind.
  assert.equal(ebpf.program('xdp_pass', Program), ebpf.program('xdp_pass'));

  const wrong = thrown(() => ebpf.program('tp_getppid', Xdp));
  assert.ok(wrong instanceof ProgramError, String(wrong));
  assert.equal(wrong.kind, 'WrongProgramType');
  assert.equal(wrong.program, 'tp_getppid');
  assert.match(wrong.message, /tp_getppid is a TracePoint program \(section tracepoint\/syscalls\/sys_enter_getppid\), not a Xdp program/);
  const tc = thrown(() => ebpf.program('xdp_pass', SchedClassifier));
  assert.ok(tc instanceof ProgramError && tc.kind === 'WrongProgramType');
  assert.match(tc.message, /xdp_pass is a Xdp program .*not a SchedClassifier program/);

  // Not a class of tsbpf, or no such program.
  const notClass = thrown(() => ebpf.program('xdp_pass', HashMap as never));
  assert.ok(notClass instanceof ProgramError && notClass.kind === 'InvalidArgument', String(notClass));
  assert.match(notClass.message, /HashMap is not a program class/);
  const missing = thrown(() => ebpf.program('nope', Xdp));
  assert.ok(missing instanceof ProgramError && missing.kind === 'NotLoaded');
});

test('program(name, Class).attach() without a cast: the typed tracepoint program counts', () => {
  using ebpf = load();
  const counts = ebpf.map('counts', HashMap, u32, u64);
  {
    using link = ebpf.program('tp_getppid', TracePoint).attach();
    getppid(5);
    assert.equal(link.attached, true);
  }
  assert.equal(counts.get(0), 5n);
  getppid(3);
  assert.equal(counts.get(0), 5n, 'detached when the link was disposed');
});

// ---- ebpf.map(name, Class, ...shape) ---------------------------------------------------

test('map(name, Class, ...shape): typed views over the object\'s maps; the Ebpf keeps owning them', () => {
  const before = fdCount();
  {
    using ebpf = load();
    const counts = ebpf.map('counts', HashMap, u32, u64);
    assert.ok(counts instanceof HashMap);
    assert.equal(counts.map, ebpf.map('counts'));
    assert.equal(counts.owned, false);
    counts.insert(7, 70n);
    assert.equal(counts.get(7), 70n);
    const slots = ebpf.map('slots', ArrayMap, u64);
    slots.set(3, 33n);
    assert.equal(slots.get(3), 33n);
    assert.equal(ebpf.map('slots', ArrayMap, u64).get(3), 33n);
    const ring = ebpf.map('events', RingBuf);
    assert.ok(ring instanceof RingBuf);
    ring.close();
    // A view's close leaves the Ebpf's map open.
    counts.close();
    assert.equal(ebpf.map('counts', HashMap, u32, u64).get(7), 70n);
  }
  assert.equal(fdCount(), before);
});

test('map(name, Class): the class\'s own refusals (InvalidMapType, sizes), naming the map', () => {
  using ebpf = load();
  const type = thrown(() => ebpf.map('counts', ArrayMap, u64));
  assert.ok(type instanceof MapError, String(type));
  assert.equal(type.kind, 'InvalidMapType');
  assert.match(type.message, /^map counts: ArrayMap needs BPF_MAP_TYPE_ARRAY, the map is BPF_MAP_TYPE_HASH/);
  assert.deepEqual(type.expected, ArrayMap.mapTypes);
  const ring = thrown(() => ebpf.map('slots', RingBuf));
  assert.ok(ring instanceof MapError && ring.kind === 'InvalidMapType');
  assert.match(ring.message, /^map slots: /);
  const size = thrown(() => ebpf.map('counts', HashMap, u64, u64));
  assert.ok(size instanceof MapError && size.kind === 'InvalidKeySize', String(size));
  assert.match(size.message, /^map counts: /);
  const value = thrown(() => ebpf.map('counts', HashMap, u32, bytes(4)));
  assert.ok(value instanceof MapError && value.kind === 'InvalidValueSize');
  const notClass = thrown(() => ebpf.map('counts', {} as never));
  assert.ok(notClass instanceof MapError && notClass.kind === 'InvalidArgument');
  assert.match(notClass.message, /is not a map class/);
  const missing = thrown(() => ebpf.map('nope', HashMap, u32, u64));
  assert.ok(missing instanceof MapError && missing.kind === 'InvalidArgument');
  assert.match(missing.message, /no map named nope/);
});

// ---- ebpf.attachAll() -----------------------------------------------------------------

test('attachAll: attaches the tracepoint, raw tracepoint and uprobe the sections name; skips the rest', () => {
  const before = fdCount();
  {
    using ebpf = load();
    const counts = ebpf.map('counts', HashMap, u32, u64);
    const links = ebpf.attachAll();
    try {
      assert.ok(links instanceof AttachedLinks);
      assert.ok(links instanceof Map);
      assert.deepEqual([...links.keys()].sort(), ['raw_getppid', 'tp_getppid', 'up_getppid']);
      for (const link of links.values()) assert.equal(link.attached, true);
      getppid(4);
      assert.equal(counts.get(0), 4n, 'tracepoint');
      assert.equal(counts.get(1), 4n, 'raw tracepoint');
      assert.equal(counts.get(2), 4n, 'uprobe on libc getppid');
    } finally {
      links.close();
    }
    for (const link of links.values()) assert.equal(link.attached, false);
    getppid(2);
    assert.equal(counts.get(0), 4n, 'every link detached by close()');
    assert.equal(counts.get(1), 4n);
    assert.equal(counts.get(2), 4n);
    // using: the same through Symbol.dispose.
    {
      using again = ebpf.attachAll();
      assert.equal(again.size, 3);
      getppid(1);
    }
    getppid(1);
    assert.equal(counts.get(0), 5n);
  }
  assert.equal(fdCount(), before);
});

test('attachAll: a program that cannot attach fails with its name, and the links made before are detached', () => {
  const before = fdCount();
  {
    using ebpf = load((l) => l.setAutoload('tp_missing', true));
    const counts = ebpf.map('counts', HashMap, u32, u64);
    const order = [...ebpf.programs()].map(([name]) => name);
    assert.ok(order.indexOf('tp_missing') > Math.max(order.indexOf('tp_getppid'), order.indexOf('raw_getppid'), order.indexOf('up_getppid')), order.join());
    let err: unknown;
    const calls = bpfCalls(() => {
      err = thrown(() => ebpf.attachAll());
    });
    // The three before it were attached (a raw tracepoint, perf event links) ...
    assert.ok(calls.includes(Cmd.RawTracepointOpen), `${calls}`);
    assert.ok(calls.includes(Cmd.LinkCreate), `${calls}`);
    assert.ok(err instanceof ProgramError, String(err));
    assert.equal(err.program, 'tp_missing');
    assert.equal(err.kind, 'UnknownTarget');
    assert.match(err.message, /tp_missing/);
    assert.match(err.message, /tsbpf_none\/no_such_event/);
    // tp_getppid, raw_getppid and up_getppid come first in the object: attached, then detached.
    // ... and detached again.
    getppid(3);
    assert.deepEqual([...counts.entries()], [], 'nothing attached');
  }
  assert.equal(fdCount(), before);
});

test('attachAll: programs not loaded are skipped; an object with nothing to attach gives no links', () => {
  using ebpf = load((l) => l.deferProgram('tp_getppid').deferProgram('raw_getppid'));
  using links = ebpf.attachAll();
  assert.deepEqual([...links.keys()], ['up_getppid']);
  const none = new EbpfLoader().setGlobal('target_tgid', process.pid);
  for (const p of ['tp_getppid', 'raw_getppid', 'up_getppid']) none.deferProgram(p);
  using bare = none.load(object);
  using empty = bare.attachAll();
  assert.equal(empty.size, 0);
});

test('ksyscall sections name the kernel function as libbpf does', () => {
  const name = ksyscallFunction('getppid');
  assert.match(name, /^__(x64|ia32|arm64|arm|s390x|powerpc|riscv|loongarch|mips)_sys_getppid$|^__se_sys_getppid$/);
  if (process.arch === 'x64') assert.equal(name, '__x64_sys_getppid');
});

// ---- network namespaces by name --------------------------------------------------------

const sockObject = fileURLToPath(new URL('../../bpf/attach_sock.o', import.meta.url));

function makeNetns(t: TestContext): string {
  const name = `tsbpf-typed-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
  const ip = (...args: string[]) => {
    const r = spawnSync('ip', args, { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  };
  ip('netns', 'add', name);
  t.after(() => ip('netns', 'del', name));
  return name;
}

test('sk_lookup and flow dissector take { netns: name } (an ip netns name) as well as a path', (t) => {
  const before = fdCount();
  const ns = makeNetns(t);
  {
    using ebpf = loadOnly(sockObject, 'steer', 'dissect');
    const lookup = ebpf.program('steer', SkLookup);
    const dissect = ebpf.program('dissect', FlowDissector);
    if (!isLinkTypeSupported(LinkType.Netns)) {
      // Without netns links: sk_lookup cannot attach at all, the flow dissector only to our own namespace.
      const refused = thrown(() => lookup.attach({ netns: ns }));
      assert.ok(refused instanceof ProgramError && refused.kind === 'NotSupported' && refused.feature === 'BPF_LINK_TYPE_NETNS', String(refused));
      t.diagnostic('branch: no netns links on this kernel');
      return;
    }
    const ino = statSync(`/run/netns/${ns}`).ino;
    {
      using a = lookup.attach({ netns: ns });
      assert.equal(a.info().netnsIno, ino);
      using b = dissect.attach({ netns: ns });
      assert.equal(b.info().netnsIno, ino);
      using c = lookup.attach({ netns: `/run/netns/${ns}` });
      assert.equal(c.info().netnsIno, ino);
    }
    const missing = thrown(() => lookup.attach({ netns: `${ns}-missing` }));
    assert.ok(missing instanceof ProgramError && missing.kind === 'UnknownTarget', String(missing));
    assert.match(missing.message, new RegExp(`/run/netns/${ns}-missing`));
    const bad = thrown(() => lookup.attach({ netns: '' }));
    assert.ok(bad instanceof ProgramError && bad.kind === 'InvalidArgument', String(bad));
  }
  assert.equal(fdCount(), before);
});

const netObject = fileURLToPath(new URL('../../bpf/attach_net.o', import.meta.url));

/** `ip -n NS -d link show dev lo` and `tc -n NS filter show dev lo DIR`, as one string. */
function seenIn(ns: string): string {
  const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' }).stdout;
  return run('ip', ['-n', ns, '-d', 'link', 'show', 'dev', 'lo']) + run('tc', ['-n', ns, 'filter', 'show', 'dev', 'lo', 'ingress']) + run('tc', ['-n', ns, 'qdisc', 'show', 'dev', 'lo']);
}

test('XDP and tc take { netns: name }: the program runs on that namespace\'s interface, this thread stays home, netlink detach goes back there', (t) => {
  const before = fdCount();
  const home = statSync('/proc/thread-self/ns/net').ino;
  const ns = makeNetns(t);
  const ownLo = spawnSync('ip', ['-d', 'link', 'show', 'dev', 'lo'], { encoding: 'utf8' }).stdout;
  {
    using ebpf = loadOnly(netObject, 'xdp_pass', 'tc_pass');
    const xdp = ebpf.program('xdp_pass', Xdp);
    const tc = ebpf.program('tc_pass', SchedClassifier);
    const id = (p: { info(): { id: number } }) => p.info().id;
    const xdpId = id(xdp);
    const tcId = id(tc);
    const attachedThere = (what: RegExp) => assert.match(seenIn(ns), what);
    for (const netlink of [false, true]) {
      if (!netlink && !isLinkTypeSupported(LinkType.Xdp)) continue;
      const link = xdp.attach('lo', { netns: ns, netlink, mode: 'skb' });
      assert.equal(statSync('/proc/thread-self/ns/net').ino, home, 'the thread is back in its own namespace');
      attachedThere(new RegExp(`xdpgeneric[^\\n]*\\n?[^]*prog/xdp id ${xdpId}`));
      assert.equal(spawnSync('ip', ['-d', 'link', 'show', 'dev', 'lo'], { encoding: 'utf8' }).stdout, ownLo, 'our own lo is untouched');
      link.close();
      assert.doesNotMatch(seenIn(ns), /prog\/xdp/, `${netlink ? 'netlink' : 'link'}: detached in that namespace`);
    }
    {
      using cls = tc.attach('lo', 'ingress', { netlink: true, netns: `/run/netns/${ns}` });
      assert.ok(cls instanceof ClsBpfLink && cls.programId === tcId, 'a cls_bpf filter of this program');
      assert.match(seenIn(ns), new RegExp(`bpf[^\\n]*id ${tcId}`));
      assert.match(seenIn(ns), /qdisc clsact/);
    }
    assert.doesNotMatch(seenIn(ns), /qdisc clsact|direct-action/, 'the filter and the clsact qdisc tsbpf added are gone from that namespace');
    if (isLinkTypeSupported(LinkType.Tcx)) {
      using tcx = tc.attach('lo', 'ingress', { netns: ns });
      assert.equal(tcx.info().programId, tcId);
      assert.equal(statSync('/proc/thread-self/ns/net').ino, home);
    }
    const unknown = thrown(() => xdp.attach('tsbpf-none0', { netns: ns }));
    assert.ok(unknown instanceof ProgramError && unknown.kind === 'UnknownInterface', String(unknown));
    const notNs = thrown(() => tc.attach('lo', 'ingress', { netns: '/proc/self/stat' }));
    assert.ok(notNs instanceof ProgramError && notNs.kind === 'InvalidArgument', String(notNs));
    assert.match(notNs.message, /\/proc\/self\/stat is not a network namespace/);
    const missing = thrown(() => xdp.attach('lo', { netns: `${ns}-missing` }));
    assert.ok(missing instanceof ProgramError && missing.kind === 'UnknownTarget', String(missing));
    assert.equal(statSync('/proc/thread-self/ns/net').ino, home);
  }
  assert.equal(fdCount(), before);
});
