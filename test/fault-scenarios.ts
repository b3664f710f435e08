// The scenarios of the fault-injection matrix (test/fault-injector.ts): loading
// objects, operations on every typed map, attaching every kind the kernel allows.
// Each `run` is synchronous, asserts what a correct result is, and closes what it made;
// anything left after a failed run is the library's leak.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  ArrayMap,
  ArrayOfMaps,
  CgroupArray,
  CgrpStorage,
  CpuMap,
  DevMap,
  InodeStorage,
  attachPerfEvent,
  AttachType,
  Ebpf,
  EbpfLoader,
  enableStats,
  HashMap,
  HashOfMaps,
  isHelperSupported,
  isLinkTypeSupported,
  isMapTypeSupported,
  isProgramTypeSupported,
  Link,
  LinkType,
  loadedLinks,
  loadedMaps,
  loadedPrograms,
  MapBatchCursor,
  MapData,
  MapError,
  MapFlags,
  MapType,
  ObjectSpec,
  ProgramError,
  ProgramType,
  queryCgroup,
  RawTracePoint,
  SchedClassifier,
  SockHash,
  SockMap,
  SoftwareEvent,
  tracepointId,
  u32,
  u64,
  type CgroupAttachOptions,
  type CgroupSkb,
  type FlowDissector,
  type LwtXmit,
  type MapSpec,
  type Netfilter,
  type PerfEvent,
  type Program,
  type SkLookup,
  type SkMsg,
  type SkSkb,
  type SocketFilter,
  type TracePoint,
  type UProbe,
  type UProbeMulti,
  type Xdp,
  type XdpNetlinkLink,
} from '../src/index.js';
import * as sys from '../src/sys/index.js';
import { clearFeatureCache, forgetBatchRefusals } from '../src/testing.js';
import { createNetEnv, type NetEnv } from './net-env.js';
import type { Scenario } from './fault-injector.js';
import { markUndo, pinsUnder } from './fault-injector.js';
import { bpffsDir, cgroup2Root, corpusDir, loadOnly, repoRoot } from './helpers.js';

const bpf = (name: string) => resolve(repoRoot, 'bpf', name);
const corpus = (name: string) => join(corpusDir, 'testdata', name);
const PACKET = new Uint8Array(64);

type Own = <T extends { close(): void }>(thing: T) => T;

/**
 * Runs `body`, then closes what it handed to `own`, last first, whatever happened: the
 * undo phase. Every close runs even if one throws; the body's error wins over a close's.
 */
export function owning(body: (own: Own) => void): void {
  const owned: { close(): void }[] = [];
  let failure: { error: unknown } | undefined;
  try {
    body((thing) => {
      owned.push(thing);
      return thing;
    });
  } catch (error) {
    failure = { error };
  }
  markUndo();
  for (const thing of owned.reverse()) {
    try {
      thing.close();
    } catch (error) {
      failure ??= { error };
    }
  }
  if (failure) throw failure.error;
}

/** Removes a pin the run made, in the undo phase. */
function unpin(path: string): { close(): void } {
  return { close: () => rmSync(path) };
}

/** A scenario with nothing shared between runs. */
function plain(name: string, ci: boolean, run: () => void): Scenario<undefined> {
  return { name, ci, run };
}

/** The bytes of `path` with every `from` replaced by `to` (same length): kernel-global names of our own. */
function renamed(path: string, from: string, to: string): Uint8Array {
  assert.equal(from.length, to.length);
  const bytes = readFileSync(path);
  for (let at = bytes.indexOf(from); at >= 0; at = bytes.indexOf(from, at + 1)) bytes.write(to, at);
  return new Uint8Array(bytes);
}

// ---- loading -----------------------------------------------------------------------

function loadScenarios(): Scenario<any>[] {
  const out: Scenario<any>[] = [];

  out.push(plain('load globals.o (setGlobal, .data/.rodata/.bss, freeze)', true, () => owning((own) => {
    const ebpf = own(new EbpfLoader().setGlobal('ro_a', 11).load(bpf('globals.o')));
    assert.equal(ebpf.program('compute').testRun({ data: PACKET }).returnValue, 1138);
  })));

  out.push(plain('load map_in_map.o (map-in-map, PROG_ARRAY, static slots, BTF)', true, () => owning((own) => {
    const ebpf = own(Ebpf.load(bpf('map_in_map.o')));
    assert.equal(ArrayOfMaps.tryFrom(ebpf.map('outer')).getId(1), ebpf.map('inner_a').id);
    assert.equal(ebpf.program('tail_caller').testRun({ data: PACKET }).returnValue, 0x7a11);
  })));

  out.push(plain('load core.o (CO-RE, syscall programs)', true, () => owning((own) => {
    const ebpf = own(Ebpf.load(bpf('core.o')));
    assert.equal(ebpf.program('core_task_probe').testRun().returnValue, process.pid);
  })));



  out.push(plain('load many.o with a deferred program loaded later', false, () => owning((own) => {
    const ebpf = own(new EbpfLoader().deferProgram('socket_1').load(bpf('many.o')));
    const p = ebpf.program('socket_1');
    assert.equal(p.loaded, false);
    p.load();
    assert.equal(p.testRun({ data: PACKET }).returnValue, 50);
  })));

  // struct_ops names are kernel-global: copies of the objects with names of their own.
  // The BPF_F_LINK map is in an object of its own (struct_ops links are 6.4+).
  const structOps = renamed(bpf('struct_ops.o'), 'tsbpf_cc', 'tsbpf_fi');
  const structOpsLink = isLinkTypeSupported(LinkType.StructOps) ? renamed(bpf('struct_ops_link.o'), 'tsbpf_cc', 'tsbpf_fi') : undefined;
  const available = () => readFileSync('/proc/sys/net/ipv4/tcp_available_congestion_control', 'utf8');
  out.push({
    name: `load struct_ops.o, register${structOpsLink ? ' and link-attach (tsbpf_fi, tsbpf_fi_link)' : ' (tsbpf_fi)'}`,
    ci: true,
    run: () => owning((own) => {
      own(new EbpfLoader().load(structOps)).structOps('tsbpf_fi').register();
      assert.match(available(), /\btsbpf_fi\b/);
      if (structOpsLink) {
        own(own(new EbpfLoader().load(structOpsLink)).structOps('tsbpf_fi_link').attach());
        assert.match(available(), /\btsbpf_fi_link\b/);
      }
    }),
    state: () => available().split(/\s+/).filter((n) => n.startsWith('tsbpf_fi')).join(' '),
    repair: () => unregisterStructOps('tsbpf_fi'),
  });

  // Pins: maps declared LIBBPF_PIN_BY_NAME go to mapPinPath; a failed load takes back the pins it made.
  out.push({
    name: 'load iproute2_map_compat-el.elf with a pinned-by-name map, then again from the pin',
    ci: true,
    setup: () => bpffsDir('faults-pin'),
    run: (dir: string) => owning((own) => {
      const first = own(new EbpfLoader().mapPinPath(dir).load(corpus('iproute2_map_compat-el.elf')));
      own(unpin(join(dir, 'hash_map'))); // only once the load made it: a failed load must leave none
      const second = own(new EbpfLoader().mapPinPath(dir).load(corpus('iproute2_map_compat-el.elf')));
      assert.equal(second.map('hash_map').id, first.map('hash_map').id, 'the second load reuses the pinned map');
    }),
    state: (dir: string) => pinsUnder(dir).join('\n'),
    teardown: (dir: string) => rmSync(dir, { recursive: true, force: true }),
  });

  out.push({
    name: 'load loader-clang-17-el.elf (corpus: 15 maps, a pinned-by-name map)',
    ci: false,
    setup: () => bpffsDir('faults-loader'),
    run: (dir: string) => owning((own) => {
      own(new EbpfLoader().mapPinPath(dir).setExtern('MY_CONST', 7).load(corpus('loader-clang-17-el.elf')));
      own(unpin(join(dir, 'btf_pin')));
    }),
    state: (dir: string) => pinsUnder(dir).join('\n'),
    teardown: (dir: string) => rmSync(dir, { recursive: true, force: true }),
  });

  // Every object of bpf/, with the programs this kernel loads (asked of the kernel, one
  // program at a time: a refused type stays deferred, as it would be on such a kernel).
  for (const name of readdirSync(resolve(repoRoot, 'bpf')).filter((f) => f.endsWith('.o')).sort()) {
    if (name === 'struct_ops.o' || name === 'struct_ops_link.o') continue; // above, under names of their own
    out.push({
      name: `load bpf/${name} (the programs this kernel loads)`,
      ci: false,
      setup: () => loadable(bpf(name)),
      run: (programs: string[]) => owning((own) => {
        const ebpf = own(loadOnly(bpf(name), ...programs));
        assert.deepEqual([...ebpf.programs()].filter(([, p]) => p.loaded).map(([n]) => n).sort(), [...programs].sort());
      }),
    });
  }

  for (const name of ['variables-el.elf', 'btf_map_init-el.elf', 'subprog_reloc-el.elf', 'manyprogs-el.elf']) {
    out.push(plain(`load corpus ${name}`, name === 'btf_map_init-el.elf', () => owning((own) => void own(Ebpf.load(corpus(name))))));
  }
  return out;
}

/** The programs of the object at `path` that load on this kernel, each tried alone. */
function loadable(path: string): string[] {
  const out: string[] = [];
  for (const name of ObjectSpec.parse(readFileSync(path)).programs.keys()) {
    try {
      const ebpf = loadOnly(path, name);
      if (ebpf.program(name).loaded) out.push(name); // not an Extension, which loads against a target
      ebpf.close();
    } catch (err) {
      if (!(err instanceof ProgramError || err instanceof MapError)) throw err;
    }
  }
  return out;
}

/** Unregisters the struct_ops map `name` a run left registered (through its id: the run's fd is gone). */
function unregisterStructOps(name: string): void {
  for (let id = sys.mapGetNextId(0); id !== undefined; id = sys.mapGetNextId(id)) {
    try {
      const m = MapData.fromId(id);
      try {
        if (m.type === MapType.StructOps && m.name === name) m.delete(new Uint8Array(4));
      } finally {
        m.close();
      }
    } catch {
      // gone meanwhile, or not registered
    }
  }
}

// ---- maps --------------------------------------------------------------------------

const INNER: MapSpec = { type: MapType.Array, keySize: 4, valueSize: 8, maxEntries: 4 };

function mapScenarios(): Scenario<any>[] {
  const out: Scenario<any>[] = [];

  out.push(plain('HashMap batches: insertBatch, getBatch, removeBatch, getAndRemoveBatch, entries', true, () => owning((own) => {
    forgetBatchRefusals();
    const h = own(HashMap.create(u32, u64, { maxEntries: 16 }));
    assert.equal(h.insertBatch([1, 2, 3, 4], [10n, 20n, 30n, 40n]), 4);
    const cursor = new MapBatchCursor();
    const keys: number[] = [];
    // One call that reaches the end: how many calls a smaller batch takes depends on the map's hash seed.
    while (!cursor.done) keys.push(...h.getBatch(cursor, 16).keys);
    assert.deepEqual(keys.sort(), [1, 2, 3, 4]);
    assert.deepEqual([...h.entries()].sort((a, b) => a[0] - b[0]), [[1, 10n], [2, 20n], [3, 30n], [4, 40n]]);
    assert.equal(h.removeBatch([1, 9]), 1);
    const drained = h.getAndRemoveBatch(new MapBatchCursor(), 16);
    assert.deepEqual(drained.keys.sort(), [2, 3, 4]);
  })));

  out.push(plain('memory-mapped array and global variables', true, () => owning((own) => {
    const a = own(ArrayMap.create(u32, { maxEntries: 4, flags: MapFlags.BPF_F_MMAPABLE }));
    const mem = a.memory();
    mem.set(1, 9);
    assert.equal(a.get(1), 9);
    const ebpf = own(Ebpf.load(bpf('globals.o')));
    const v = ebpf.variable<number>('data_a');
    v.set(40);
    assert.equal(ebpf.program('compute').testRun({ data: PACKET }).returnValue, 40 + 5 + 10 + 20 + 100 + 1000 + 1);
    assert.equal(v.get(), 41);
    assert.equal(ebpf.variable('ro_a').get(), 10);
  })));

  out.push(plain('ArrayMap create, set, get, entries', true, () => owning((own) => {
    // entries() batches: an EINVAL injected there is remembered as the kernel's refusal; each run starts afresh.
    forgetBatchRefusals();
    const m = own(ArrayMap.create(u64, { maxEntries: 4 }));
    m.set(2, 7n);
    assert.equal(m.get(2), 7n);
    assert.deepEqual([...m.entries()].map(([, v]) => v), [0n, 0n, 7n, 0n]);
  })));

  out.push(plain('HashMap create, insert, get, keys, entries, remove', true, () => owning((own) => {
    // entries() batches: an EINVAL injected there is remembered as the kernel's refusal; each run starts afresh.
    forgetBatchRefusals();
    const m = own(HashMap.create(u32, u64, { maxEntries: 8 }));
    m.insert(1, 10n);
    m.insert(2, 20n);
    assert.equal(m.get(2), 20n);
    assert.deepEqual([...m.keys()].sort(), [1, 2]);
    assert.deepEqual(new Map(m.entries()), new Map([[1, 10n], [2, 20n]]));
    m.remove(1);
    assert.deepEqual([...m.keys()], [2]);
  })));

  out.push(plain('MapData create, update, lookup, nextKey, delete, freeze, info, fromId', true, () => owning((own) => {
    const m = own(MapData.create({ type: MapType.Hash, keySize: 4, valueSize: 4, maxEntries: 4, name: 'faults' }));
    const k = new Uint8Array([1, 0, 0, 0]);
    m.update(k, new Uint8Array([9, 0, 0, 0]));
    assert.deepEqual(m.lookup(k), new Uint8Array([9, 0, 0, 0]));
    assert.deepEqual(m.nextKey(null), k);
    assert.equal(m.delete(k), true);
    m.freeze();
    assert.equal(m.info().name, 'faults');
    assert.equal(own(MapData.fromId(m.id)).info().id, m.id);
  })));

  out.push({
    name: 'MapData and ArrayMap pin, fromPin',
    ci: true,
    setup: () => bpffsDir('faults-mappin'),
    run: (dir: string) => owning((own) => {
      const m = own(ArrayMap.create(u32, { maxEntries: 2 }));
      m.set(1, 5);
      m.map.pin(join(dir, 'a'));
      own(unpin(join(dir, 'a')));
      assert.equal(ArrayMap.tryFrom(own(MapData.fromPin(join(dir, 'a'))), u32).get(1), 5);
    }),
    state: (dir: string) => pinsUnder(dir).join('\n'),
    teardown: (dir: string) => rmSync(dir, { recursive: true, force: true }),
  });

  out.push(plain('ArrayOfMaps create, set, get through a converter, getId, setMany, delete, entries', true, () => owning((own) => {
    const outer = own(ArrayOfMaps.create(ArrayMap.fromMapData(u64), { maxEntries: 4, innerMap: INNER }));
    const a = own(ArrayMap.create(u64, { maxEntries: 4 }));
    const b = own(ArrayMap.create(u64, { maxEntries: 4 }));
    a.set(0, 42n);
    outer.set(0, a);
    assert.equal(own(outer.get(0)).get(0), 42n);
    assert.equal(outer.getId(0), a.map.id);
    outer.setMany([[1, a], [2, b]]);
    outer.remove(0);
    assert.deepEqual([...outer.entries()].map(([i]) => i), [1, 2]);
  })));

  out.push(plain('HashOfMaps create, insert, get, keys, remove', true, () => owning((own) => {
    const outer = own(HashOfMaps.create(u32, { maxEntries: 4, innerMap: INNER }));
    const a = own(ArrayMap.create(u64, { maxEntries: 4 }));
    outer.insert(7, a);
    assert.equal(own(outer.get(7)).id, a.map.id);
    assert.deepEqual([...outer.keys()], [7]);
    outer.remove(7);
  })));

  out.push({
    name: 'ArrayOfMaps pin and fromPin',
    ci: false,
    setup: () => bpffsDir('faults-aompin'),
    run: (dir: string) => owning((own) => {
      const outer = own(ArrayOfMaps.create({ maxEntries: 2, innerMap: INNER }));
      const a = own(ArrayMap.create(u64, { maxEntries: 4 }));
      outer.set(1, a);
      outer.pin(join(dir, 'outer'));
      own(unpin(join(dir, 'outer')));
      assert.equal(ArrayOfMaps.tryFrom(own(MapData.fromPin(join(dir, 'outer')))).getId(1), a.map.id);
    }),
    state: (dir: string) => pinsUnder(dir).join('\n'),
    teardown: (dir: string) => rmSync(dir, { recursive: true, force: true }),
  });

  out.push({
    name: 'SockMap and SockHash set, cookie, remove',
    ci: true,
    async setup() {
      const net = await import('node:net');
      const server = net.createServer();
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return server;
    },
    run: (server: import('node:net').Server) => owning((own) => {
      const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
      const sm = own(SockMap.create({ maxEntries: 2 }));
      const sh = own(SockHash.create(u32, { maxEntries: 2 }));
      sm.set(0, fd);
      sh.insert(5, fd);
      assert.equal(sm.get(0), sh.get(5));
      sm.remove(0);
      sh.remove(5);
    }),
    teardown: (server: import('node:net').Server) => new Promise<void>((r) => server.close(() => r())),
  });

  out.push({
    name: 'device, CPU and cgroup arrays, local storages: set, get, remove',
    ci: true,
    setup: () => openSync('/dev/null', 'r'),
    run: (file: number) => owning((own) => {
      const devs = own(DevMap.create({ maxEntries: 2 }));
      devs.set(0, 1);
      assert.deepEqual(devs.get(0), { ifindex: 1, programId: 0 });
      devs.remove(0);
      const cpus = own(CpuMap.create({ maxEntries: 1 }));
      cpus.set(0, 16);
      assert.equal(cpus.get(0).qsize, 16);
      const cgroups = own(CgroupArray.create({ maxEntries: 1 }));
      cgroups.set(0, cgroup2Root());
      cgroups.remove(0);
      const inodes = own(InodeStorage.create(u32));
      inodes.insert(file, 7);
      assert.equal(inodes.get(file), 7);
      inodes.remove(file);
      const cgrps = own(CgrpStorage.create(u64));
      cgrps.insert(cgroup2Root(), 5n);
      assert.equal(cgrps.get(cgroup2Root()), 5n);
      cgrps.remove(cgroup2Root());
    }),
    teardown: (file: number) => closeSync(file),
  });

  return out;
}

// ---- attaching ---------------------------------------------------------------------

function sh(cmd: string, ...args: string[]): string {
  return shIn('', cmd, ...args);
}

/** `cmd args` with `input` on stdin: its output, or what went wrong (as state to compare). */
function shIn(input: string, cmd: string, ...args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    return `(${cmd} ${args.join(' ')}: ${(err as Error).message.split('\n')[0]})`;
  }
}

/** The programs PROG_QUERY lists at `attachType` of the object open at `path` (a cgroup, a namespace). */
function queryPath(path: string, attachType: number): string {
  const fd = openSync(path, 'r');
  try {
    return sys.progQuery(fd, attachType).progIds.join(' ');
  } finally {
    closeSync(fd);
  }
}

interface NetCtx {
  env: NetEnv;
  ebpf: Ebpf;
}

/** A scenario on the veth pair of test/net-env.ts, with `programs` of `object` loaded. */
function onVeth(name: string, ci: boolean, object: string, programs: string[], run: (c: NetCtx) => void, state: (c: NetCtx) => string, repair: (c: NetCtx) => void): Scenario<NetCtx> {
  return {
    name,
    ci,
    ciMaxCalls: 12, // each netlink request is 8 calls; every call with --all
    setup: async () => ({ env: await sharedNetEnv(), ebpf: loadOnly(bpf(object), ...programs) }),
    run,
    state,
    repair,
    teardown: (c) => c.ebpf.close(),
  };
}

// One veth pair for every network scenario of a run (made on first use: a few seconds).
let netEnv: Promise<NetEnv> | undefined;
const sharedNetEnv = () => (netEnv ??= createNetEnv('flt'));

/** Removes what the scenarios share (the veth pair); call once the run is over. */
export async function closeShared(): Promise<void> {
  const env = netEnv;
  netEnv = undefined;
  await (await env)?.close();
}

const xdpState = (c: NetCtx) => c.env.linkShow().split('\n').filter((l) => /xdp/.test(l)).join('\n');
const xdpOff = (c: NetCtx) => void sh('ip', 'link', 'set', 'dev', c.env.outer, 'xdpgeneric', 'off');
const clsactOff = (c: NetCtx) => void sh('tc', 'qdisc', 'del', 'dev', c.env.outer, 'clsact');
// One tc for the three listings (an exec costs more than the run it checks).
const tcState = (c: NetCtx) => shIn(['qdisc show', 'filter show', 'filter show'].map((cmd, i) => `${cmd} dev ${c.env.outer}${i === 1 ? ' ingress' : i === 2 ? ' egress' : ''}\n`).join(''), 'tc', '-batch', '-');

/** A fresh cgroup v2 directory. */
function makeCgroup(): string {
  const dir = join(cgroup2Root(), `tsbpf-faults-${process.pid}-${Math.random().toString(36).slice(2, 6)}`);
  mkdirSync(dir);
  return dir;
}

function makeNetns(): string {
  const name = `tsbpf-faults-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
  execFileSync('ip', ['netns', 'add', name]);
  return name;
}

const tracefsProbes = () =>
  readFileSync('/sys/kernel/tracing/uprobe_events', 'utf8').split('\n').filter((l) => l.includes(`tsbpf_${process.pid}_`)).join('\n');

/** libc's path and the file offset of getpid (a function every process has). */
const LIBC = '/lib/x86_64-linux-gnu/libc.so.6';

function attachScenarios(): Scenario<any>[] {
  const out: Scenario<any>[] = [];

  out.push(onVeth('attach xdp (link), info, detach', true, 'attach_net.o', ['xdp_pass'], (c) => owning((own) => {
    const link = own((c.ebpf.program('xdp_pass') as Xdp).attach(c.env.outer, { netlink: false }));
    assert.equal(link.info().typeName, 'Xdp');
    assert.match(xdpState(c), /xdp/);
    markUndo();
    link.detach();
  }), xdpState, xdpOff));

  out.push(onVeth('attach xdp (netlink, skb mode), update, detach', true, 'attach_net.o', ['xdp_pass', 'xdp_drop'], (c) => owning((own) => {
    const link = own((c.ebpf.program('xdp_pass') as Xdp).attach(c.env.outer, { netlink: true, mode: 'skb' })) as XdpNetlinkLink;
    assert.match(xdpState(c), /xdp/);
    link.update(c.ebpf.program('xdp_drop'));
    markUndo();
    link.detach();
  }), xdpState, xdpOff));

  if (isLinkTypeSupported(LinkType.Tcx)) {
    out.push(onVeth('attach tcx ingress (link), query, detach', true, 'attach_net.o', ['tc_pass'], (c) => owning((own) => {
      const link = own((c.ebpf.program('tc_pass') as SchedClassifier).attach(c.env.outer, 'ingress'));
      assert.equal(SchedClassifier.query(c.env.outer, 'ingress').programs.length, 1);
      markUndo();
      link.detach();
    }), (c) => queryTcx(c.env.outer), () => undefined));
  }

  out.push(onVeth('attach cls_bpf ingress (netlink, clsact made and removed)', true, 'attach_net.o', ['tc_pass'], (c) => owning((own) => {
    const link = own((c.ebpf.program('tc_pass') as SchedClassifier).attach(c.env.outer, 'ingress', { netlink: true }));
    assert.match(tcState(c), /tc_pass/);
    markUndo();
    link.detach();
  }), tcState, clsactOff));

  out.push(onVeth('attach lwt xmit route, detach', true, 'many.o', ['lwt_xmit_0'], (c) => owning((own) => {
    const link = own((c.ebpf.program('lwt_xmit_0') as LwtXmit).attach({ destination: `${c.env.innerIp}/32`, device: c.env.outer }));
    assert.match(sh('ip', 'route', 'show', `${c.env.innerIp}/32`), /encap bpf xmit/);
    markUndo();
    link.detach();
  }), (c) => sh('ip', 'route', 'show', 'dev', c.env.outer), (c) => void sh('ip', 'route', 'del', `${c.env.innerIp}/32`)));

  out.push({
    name: 'attach socket filter, detach',
    ci: true,
    setup: () => ({ socket: sys.socket(2 /* AF_INET */, 2 /* SOCK_DGRAM */, 0), ebpf: loadOnly(bpf('attach_sock.o'), 'drop_x') }),
    run: (c: { socket: number; ebpf: Ebpf }) => owning((own) => {
      const link = own((c.ebpf.program('drop_x') as SocketFilter).attach(c.socket));
      markUndo();
      link.detach();
    }),
    // SO_DETACH_BPF succeeds only when a program is attached (and takes it off).
    state: (c: { socket: number }) => (sys.kernel.setsockopt(c.socket, 1, 27, 0) === 0 ? 'a filter was attached' : ''),
    teardown: (c: { socket: number; ebpf: Ebpf }) => {
      c.ebpf.close();
      sys.kernel.close(c.socket);
    },
  });

  const cgroupScenario = (name: string, ci: boolean, options: CgroupAttachOptions) => ({
    name,
    ci,
    setup: () => ({ dir: makeCgroup(), ebpf: loadOnly(bpf('attach_sock.o'), 'cg_egress') }),
    run: (c: { dir: string; ebpf: Ebpf }) => owning((own) => {
      const link = own((c.ebpf.program('cg_egress') as CgroupSkb).attach(c.dir, options));
      assert.equal(queryCgroup(c.dir, AttachType.CgroupInetEgress).progIds.length, 1);
      markUndo();
      link.detach();
    }),
    state: (c: { dir: string }) => queryPath(c.dir, AttachType.CgroupInetEgress),
    repair: (c: { dir: string }) => {
      for (const id of queryPath(c.dir, AttachType.CgroupInetEgress).split(' ').filter(Boolean)) {
        const fd = openSync(c.dir, 'r');
        const prog = sys.progGetFdById(Number(id));
        try {
          sys.progDetach(fd, AttachType.CgroupInetEgress, prog);
        } finally {
          sys.kernel.close(prog);
          closeSync(fd);
        }
      }
    },
    teardown: (c: { dir: string; ebpf: Ebpf }) => {
      c.ebpf.close();
      rmdirSync(c.dir);
    },
  });
  out.push(cgroupScenario('attach cgroup_skb egress (link), detach', true, {}));
  out.push(cgroupScenario('attach cgroup_skb egress (single, PROG_ATTACH), detach', true, { mode: 'single' }));
  out.push(cgroupScenario('attach cgroup_skb egress (multi, PROG_ATTACH), detach', false, { link: false }));

  const traceScenario = <C>(name: string, ci: boolean, object: string, program: string, attach: (p: Program) => Link, state?: () => string): Scenario<Ebpf> => ({
    name,
    ci,
    setup: () => loadOnly(bpf(object), program),
    run: (ebpf) => owning((own) => {
      const link = own(attach(ebpf.program(program)));
      assert.equal(link.attached, true);
      markUndo();
      link.detach();
    }),
    state,
    teardown: (ebpf) => ebpf.close(),
  });
  out.push(traceScenario('attach tracepoint (perf link), detach', true, 'attach_introspect.o', 'tp_getppid', (p) => (p as TracePoint).attach()));
  out.push({
    ...traceScenario('attach tracepoint (perf event ioctl), detach', true, 'attach_introspect.o', 'tp_getppid', (p) => {
      // The ioctl mechanism is chosen by attachPerfEvent; the event is opened here (raw layer) as TracePoint.attach does.
      const fd = sys.perfEventOpen({ type: sys.PerfType.Tracepoint, config: tracepointId('syscalls', 'sys_enter_getppid'), disabled: true }, { pid: -1, cpu: 0 });
      return attachPerfEvent(p, fd, 'tracepoint syscalls/sys_enter_getppid (ioctl)', undefined, 'ioctl');
    }),
    only: (call) => call.what !== 'perf_event_open', // the scenario's own raw call, not the library's
  });
  out.push(traceScenario('attach raw_tp, detach', true, 'attach_introspect.o', 'raw_args', (p) => (p as RawTracePoint).attach()));
  for (const mechanism of ['pmu', 'tracefs'] as const) {
    out.push(traceScenario(`attach uprobe (${mechanism}) on libc getpid, detach`, true, 'attach_probe.o', 'on_target',
      (p) => (p as UProbe).attach({ target: LIBC, symbol: 'getpid', mechanism }), tracefsProbes));
  }
  out.push(traceScenario('attach perf_event (software clock, every CPU), detach', true, 'attach_probe.o', 'on_sample',
    (p) => (p as PerfEvent).attach({ type: 'software', config: SoftwareEvent.CpuClock, samplePeriod: 1_000_000_000, scope: 'allCpus' })));
  if (isLinkTypeSupported(LinkType.Netfilter)) {
    out.push(traceScenario('attach netfilter (link), detach', true, 'attach_netfilter.o', 'nf_count',
      (p) => (p as Netfilter).attach({ family: 'ipv4', hook: 'output', priority: -100 })));
  }

  out.push({
    name: 'attach sk_skb verdict and sk_msg to a SockMap (link and PROG_ATTACH), detach',
    ci: true,
    setup: () => loadOnly(bpf('attach_sock.o'), 'skb_redirect', 'msg_count'),
    run: (ebpf: Ebpf) => owning((own) => {
      const map = own(SockMap.create({ maxEntries: 2 }));
      const verdict = own((ebpf.program('skb_redirect') as SkSkb).attach(map));
      const msg = own((ebpf.program('msg_count') as SkMsg).attach(map, { link: false }));
      assert.equal(verdict.attached && msg.attached, true);
      markUndo();
      msg.detach();
      verdict.detach();
    }),
    teardown: (ebpf: Ebpf) => ebpf.close(),
  });

  out.push({
    name: 'attach sk_lookup to a network namespace (link), detach',
    ci: true,
    setup: () => ({ ns: makeNetns(), ebpf: loadOnly(bpf('attach_sock.o'), 'steer') }),
    run: (c: { ns: string; ebpf: Ebpf }) => owning((own) => {
      const link = own((c.ebpf.program('steer') as SkLookup).attach(`/run/netns/${c.ns}`));
      assert.equal(link.info().typeName, 'Netns');
      markUndo();
      link.detach();
    }),
    teardown: (c: { ns: string; ebpf: Ebpf }) => {
      c.ebpf.close();
      execFileSync('ip', ['netns', 'del', c.ns]);
    },
  });

  out.push({
    name: 'attach flow_dissector to a network namespace (link), detach',
    ci: false,
    setup: () => ({ ns: makeNetns(), ebpf: loadOnly(bpf('attach_sock.o'), 'dissect') }),
    run: (c: { ns: string; ebpf: Ebpf }) => owning((own) => {
      const link = own((c.ebpf.program('dissect') as FlowDissector).attach(`/run/netns/${c.ns}`, { link: true }));
      markUndo();
      link.detach();
    }),
    teardown: (c: { ns: string; ebpf: Ebpf }) => {
      c.ebpf.close();
      execFileSync('ip', ['netns', 'del', c.ns]);
    },
  });

  if (isLinkTypeSupported(LinkType.UprobeMulti)) {
    out.push(traceScenario('attach uprobe_multi on libc getpid and getppid, detach', false, 'attach_probe.o', 'on_multi',
      (p) => (p as UProbeMulti).attach({ target: LIBC, symbols: ['getpid', 'getppid'] })));
  }

  out.push({
    name: 'pin a program and a link, take both back (Program.fromPin, Link.fromPin)',
    ci: true,
    setup: () => ({ dir: bpffsDir('faults-linkpin'), ebpf: loadOnly(bpf('attach_introspect.o'), 'raw_args') }),
    run: (c: { dir: string; ebpf: Ebpf }) => owning((own) => {
      const prog = c.ebpf.program('raw_args') as RawTracePoint;
      prog.pin(join(c.dir, 'prog'));
      own(unpin(join(c.dir, 'prog')));
      const back = own(RawTracePoint.fromPin(join(c.dir, 'prog')));
      const link = own(back.attach('sys_enter'));
      link.pin(join(c.dir, 'link'));
      own(unpin(join(c.dir, 'link')));
      const linkBack = own(Link.fromPin(join(c.dir, 'link')));
      assert.equal(linkBack.info().programId, back.info().id);
    }),
    state: (c: { dir: string }) => pinsUnder(c.dir).join('\n'),
    teardown: (c: { dir: string; ebpf: Ebpf }) => {
      c.ebpf.close();
      rmSync(c.dir, { recursive: true, force: true });
    },
  });

  return out;
}

// ---- feature probes and introspection --------------------------------------------

function otherScenarios(): Scenario<any>[] {
  const out: Scenario<any>[] = [];
  // A probe may answer "not supported" when the kernel refuses (EPERM, EINVAL, E2BIG): the
  // answer is then the truth or false, never true for a missing feature, and never an
  // untyped error. The cache is emptied after each run so no injected answer stays.
  const probes: [string, () => boolean][] = [
    ['program sk_lookup', () => isProgramTypeSupported(ProgramType.SkLookup)],
    ['program syscall', () => isProgramTypeSupported(ProgramType.Syscall)],
    ['map hash_of_maps', () => isMapTypeSupported(MapType.HashOfMaps)],
    ['map sk_storage', () => isMapTypeSupported(MapType.SkStorage)],
    ['map struct_ops', () => isMapTypeSupported(MapType.StructOps)],
    ['link tcx', () => isLinkTypeSupported(LinkType.Tcx)],
    ['link perf_event', () => isLinkTypeSupported(LinkType.PerfEvent)],
    ['link raw_tracepoint', () => isLinkTypeSupported(LinkType.RawTracepoint)],
    ['helper map_lookup_elem', () => isHelperSupported(ProgramType.SocketFilter, 1)],
  ];
  const truth = new Map<string, boolean>();
  out.push({
    name: 'feature probes (program, map, link, helper)',
    ci: true,
    setup: () => {
      clearFeatureCache();
      for (const [name, probe] of probes) truth.set(name, probe());
    },
    run: () => {
      clearFeatureCache();
      try {
        for (const [name, probe] of probes) {
          const answer = probe();
          assert.ok(answer === truth.get(name) || answer === false, `${name}: ${answer}, the kernel says ${truth.get(name)}`);
        }
      } finally {
        clearFeatureCache();
      }
    },
  });

  out.push({
    name: 'introspection: Program.info, link info, enableStats',
    ci: true,
    setup: () => loadOnly(bpf('attach_introspect.o'), 'raw_args'),
    run: (ebpf: Ebpf) => owning((own) => {
      const prog = ebpf.program('raw_args');
      const link = own((prog as RawTracePoint).attach());
      own(enableStats('runTime'));
      assert.equal(link.info().programId, prog.info().id);
    }),
    teardown: (ebpf: Ebpf) => ebpf.close(),
  });

  out.push({
    name: 'introspection: loadedPrograms, loadedLinks, loadedMaps',
    ci: false,
    varies: 'walks every object of the kernel, which other processes make and remove',
    maxCalls: 60, // of thousands
    setup: () => loadOnly(bpf('attach_introspect.o'), 'raw_args'),
    run: (ebpf: Ebpf) => owning((own) => {
      const prog = ebpf.program('raw_args');
      own((prog as RawTracePoint).attach());
      const { id, mapIds } = prog.info();
      assert.ok([...loadedPrograms()].some((p) => p.id === id));
      assert.ok([...loadedLinks()].some((l) => l.programId === id));
      const maps = new Set([...loadedMaps()].map((m) => m.id));
      assert.ok(mapIds.every((m) => maps.has(m)));
    }),
    teardown: (ebpf: Ebpf) => ebpf.close(),
  });
  return out;
}

function queryTcx(iface: string): string {
  const index = sys.kernel.ifNameToIndex(iface);
  return [AttachType.TcxIngress, AttachType.TcxEgress].map((t) => sys.progQuery(index, t).progIds.join(' ')).join(' / ');
}

export function scenarios(): Scenario<any>[] {
  return [...loadScenarios(), ...mapScenarios(), ...attachScenarios(), ...otherScenarios()];
}
