// Feature probes against the real kernel: every answer a probe gives must be the
// outcome of a real load, create or attach of a representative program, map or link
// on this kernel, whatever this kernel allows; where the kernel refuses, the library's
// own load or create path must raise the typed NotSupported naming the feature. Nothing
// here knows what this machine allows: the agreement is what is asserted, and each test
// reports what it found.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  AttachType,
  CgroupSkb,
  Ebpf,
  EbpfLoader,
  Extension,
  FdLink,
  Iter,
  isHelperSupported,
  isLinkTypeSupported,
  isMapTypeSupported,
  isProgramTypeSupported,
  KProbeMulti,
  LinkType,
  loadKernelBtf,
  MapData,
  MapError,
  MapFlags,
  MapType,
  mapTypeName,
  Netfilter,
  ObjectSpec,
  ProgramError,
  ProgramType,
  RawTracePoint,
  SchedClassifier,
  SkLookup,
  SkMsg,
  SockMap,
  SyscallError,
  TracePoint,
  tracepointId,
  UProbeMulti,
  Xdp,
  attachTracing,
  Btf,
  type Link,
  type MapSpec,
} from '../src/index.js';
import * as sys from '../src/sys/index.js';
import { enumEntries, enumValues } from '../src/sys/abi/enums.js';
import { clearFeatureCache, replaceKernel } from '../src/testing.js';
import { sectionDefs } from '../src/obj/sections.js';
import { assemble, call, exit, ldMapFd, mov64Imm, mov64Reg, add64Imm, stW, R0, R1, R2, R10 } from './asm.js';
import { createNetEnv } from './net-env.js';
import { bpfCalls, cgroup2Root, fdCount } from './helpers.js';
import { assertMapRefused, assertRefused, kindOf, type ProgramKindOf } from './kernel-features.js';
import { runScript } from './child.js';

// Taken before any test runs: the last test checks that every fd opened here was closed.
const fdsAtStart = fdCount();

const obj = (name: string) => fileURLToPath(new URL(`../../bpf/${name}.o`, import.meta.url));
const KINDS = obj('kinds');
const kindsSpec = ObjectSpec.parse(readFileSync(KINDS));
const kindNames = [...kindsSpec.programs.keys()];

/** kinds.o with only `name` loaded. */
function loadKind(name: string): Ebpf {
  const loader = new EbpfLoader();
  for (const other of kindNames) if (other !== name) loader.deferProgram(other);
  return loader.load(KINDS);
}

/** The load of one program: its Ebpf, or the error. */
function tryLoad(load: () => Ebpf): { ebpf?: Ebpf; err?: unknown } {
  try {
    return { ebpf: load() };
  } catch (err) {
    return { err };
  }
}

test('program types: for every kind of the section table, the probe answers as a real load of that kind (kinds.o), and a refused load is NotSupported naming it', (t) => {
  const before = fdCount();
  const refused: string[] = [];
  for (const name of kindNames) {
    const k = kindOf(KINDS, name);
    const probe = isProgramTypeSupported(k.type, k.attachType, k.attachTo);
    const { ebpf, err } = tryLoad(() => loadKind(name));
    if (ebpf) {
      try {
        assert.equal(probe, true, `${k.section}: loads, but the probe says no`);
        assert.equal(ebpf.program(name).info().type, k.type);
      } finally {
        ebpf.close();
      }
    } else {
      assert.equal(probe, false, `${k.section}: the probe says yes, but the load failed: ${String(err)}`);
      assertRefused(err, k);
      refused.push(k.section);
    }
  }
  t.diagnostic(`${kindNames.length} kinds, ${kindNames.length - refused.length} load here; refused: ${refused.join(', ') || 'none'}`);
  assert.equal(fdCount(), before);
});

test('kinds.o covers every program type and attach type pair of the section table (struct_ops and freplace are tested below)', () => {
  // Attach type 0 is "none" for most types (BPF_CGROUP_INET_INGRESS for cgroup_skb, the same load).
  const key = (type: number, attach: number | undefined) => `${type}:${attach || '-'}`;
  const covered = new Set(kindNames.map((n) => kindOf(KINDS, n)).map((k) => key(k.type, k.attachType)));
  const missing = [...new Set(sectionDefs.map((d) => key(d.progType, d.expectedAttachType)))].filter((k) => !covered.has(k));
  assert.deepEqual(missing.sort(), [key(ProgramType.StructOps, undefined), key(ProgramType.Ext, undefined)].sort());
});

/** The program of kinds.o a type's probe without an attach type stands for (the probe's documented default). */
const defaultKind: Partial<Record<number, string>> = {
  [ProgramType.CgroupSockAddr]: 'k_connect4',
  [ProgramType.CgroupSockopt]: 'k_getsockopt',
  [ProgramType.Tracing]: 'k_fentry',
  [ProgramType.Lsm]: 'k_lsm',
};

test('program types without an attach type: each type\'s probe answers as the load of its default kind', (t) => {
  const answers: string[] = [];
  for (const [name, type] of enumEntries(ProgramType)) {
    if (type === ProgramType.Unspec || type === ProgramType.StructOps || type === ProgramType.Ext) continue;
    const kind = defaultKind[type] ?? kindNames.find((n) => kindOf(KINDS, n).type === type);
    assert.ok(kind, `kinds.o has a program of type ${name}`);
    const { ebpf } = tryLoad(() => loadKind(kind));
    ebpf?.close();
    assert.equal(isProgramTypeSupported(type), ebpf !== undefined, `${name} (as ${kind})`);
    answers.push(`${name}=${ebpf !== undefined}`);
  }
  assert.equal(isProgramTypeSupported(ProgramType.Unspec), false);
  assert.equal(isProgramTypeSupported(9999), false, 'a type from the future');
  t.diagnostic(answers.join(' '));
});

test('struct_ops programs: the probe answers as the load of bpf/struct_ops.o (tcp_congestion_ops members)', (t) => {
  const before = fdCount();
  const probe = isProgramTypeSupported(ProgramType.StructOps);
  const { ebpf, err } = tryLoad(() => Ebpf.load(obj('struct_ops')));
  t.diagnostic(`struct_ops programs ${probe ? 'load' : 'are refused'} here`);
  if (ebpf) {
    ebpf.close();
    assert.equal(probe, true);
  } else {
    assert.equal(probe, false, String(err));
    assert.ok((err as { kind?: string }).kind === 'NotSupported', String(err));
  }
  assert.equal(fdCount(), before);
});

test('freplace programs: the probe answers as Extension.load against a program of bpf/attach_freplace.o', (t) => {
  const before = fdCount();
  const k = kindOf(obj('attach_freplace'), 'new_sub');
  const ebpf = Ebpf.load(k.object);
  try {
    const ext = ebpf.program('new_sub') as Extension;
    const probe = isProgramTypeSupported(ProgramType.Ext);
    t.diagnostic(`freplace programs ${probe ? 'load' : 'are refused'} here`);
    const err = (() => {
      try {
        ext.load({ target: ebpf.program('tc_main') });
        return undefined;
      } catch (e) {
        return e;
      }
    })();
    assert.equal(probe, err === undefined, String(err));
    if (err) assertRefused(err, k);
  } finally {
    ebpf.close();
  }
  assert.equal(fdCount(), before);
});

// ---- maps -------------------------------------------------------------------------

/** A BTF object with int (1) and long long (2), for maps whose key and value need BTF. */
function storageBtf(): number {
  const btf = Btf.fromTypes([
    { id: 0, kind: 'void' },
    { id: 1, kind: 'int', name: 'int', size: 4, encoding: 1, bitOffset: 0, bits: 32 },
    { id: 2, kind: 'int', name: 'long long', size: 8, encoding: 1, bitOffset: 0, bits: 64 },
  ]);
  return sys.btfLoad(btf.marshal());
}

const inner: MapSpec = { type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 2 };

/** A map of each type as a program would ask for it (a user's MapSpec), given the BTF fd local storage needs. */
function representative(type: number, btfFd: number): MapSpec | undefined {
  const storage = { keySize: 4, valueSize: 8, maxEntries: 0, flags: MapFlags.BPF_F_NO_PREALLOC, btf: { fd: btfFd, keyTypeId: 1, valueTypeId: 2 } };
  const specs: Partial<Record<number, Omit<MapSpec, 'type'>>> = {
    [MapType.Hash]: { keySize: 4, valueSize: 8, maxEntries: 16 },
    [MapType.Array]: { keySize: 4, valueSize: 8, maxEntries: 16 },
    [MapType.ProgArray]: { keySize: 4, valueSize: 4, maxEntries: 8 },
    [MapType.PerfEventArray]: { keySize: 4, valueSize: 4, maxEntries: 8 },
    [MapType.PercpuHash]: { keySize: 8, valueSize: 12, maxEntries: 16 },
    [MapType.PercpuArray]: { keySize: 4, valueSize: 12, maxEntries: 16 },
    [MapType.StackTrace]: { keySize: 4, valueSize: 8 * 16, maxEntries: 8 },
    [MapType.CgroupArray]: { keySize: 4, valueSize: 4, maxEntries: 8 },
    [MapType.LruHash]: { keySize: 4, valueSize: 8, maxEntries: 16 },
    [MapType.LruPercpuHash]: { keySize: 4, valueSize: 8, maxEntries: 16 },
    [MapType.LpmTrie]: { keySize: 8, valueSize: 4, maxEntries: 16, flags: MapFlags.BPF_F_NO_PREALLOC },
    [MapType.ArrayOfMaps]: { keySize: 4, valueSize: 4, maxEntries: 4, innerMap: inner },
    [MapType.HashOfMaps]: { keySize: 8, valueSize: 4, maxEntries: 4, innerMap: inner },
    [MapType.Devmap]: { keySize: 4, valueSize: 8, maxEntries: 4 },
    [MapType.Sockmap]: { keySize: 4, valueSize: 4, maxEntries: 4 },
    [MapType.Cpumap]: { keySize: 4, valueSize: 4, maxEntries: 1 },
    [MapType.Xskmap]: { keySize: 4, valueSize: 4, maxEntries: 4 },
    [MapType.Sockhash]: { keySize: 8, valueSize: 8, maxEntries: 4 },
    [MapType.CgroupStorage]: { keySize: 8, valueSize: 16, maxEntries: 0 },
    [MapType.ReuseportSockarray]: { keySize: 4, valueSize: 8, maxEntries: 4 },
    [MapType.PercpuCgroupStorage]: { keySize: 8, valueSize: 16, maxEntries: 0 },
    [MapType.Queue]: { keySize: 0, valueSize: 8, maxEntries: 4 },
    [MapType.Stack]: { keySize: 0, valueSize: 8, maxEntries: 4 },
    [MapType.SkStorage]: storage,
    [MapType.DevmapHash]: { keySize: 4, valueSize: 4, maxEntries: 4 },
    [MapType.Ringbuf]: { keySize: 0, valueSize: 0, maxEntries: 4096 },
    [MapType.InodeStorage]: storage,
    [MapType.TaskStorage]: storage,
    [MapType.BloomFilter]: { keySize: 0, valueSize: 8, maxEntries: 64, mapExtra: 3 },
    [MapType.UserRingbuf]: { keySize: 0, valueSize: 0, maxEntries: 8192 },
    [MapType.CgrpStorage]: storage,
    [MapType.Arena]: { keySize: 0, valueSize: 0, maxEntries: 2, flags: MapFlags.BPF_F_MMAPABLE },
  };
  if (type === MapType.StructOps) {
    // The value of a struct the kernel can register; none: no struct_ops map can be made.
    const value = loadKernelBtf().byName('bpf_struct_ops_tcp_congestion_ops', 'struct')[0];
    return value && { type, keySize: 4, valueSize: value.size, maxEntries: 1, btf: { fd: btfFd }, btfVmlinuxValueTypeId: value.id };
  }
  const s = specs[type];
  return s && { type, ...s };
}

test('map types: for every type, the probe answers as MapData.create of a map of that type, and a refused create is NotSupported naming it', (t) => {
  const before = fdCount();
  const btfFd = storageBtf();
  const refused: string[] = [];
  try {
    for (const [name, type] of enumEntries(MapType)) {
      if (type === MapType.Unspec) continue;
      const probe = isMapTypeSupported(type);
      const spec = representative(type, btfFd);
      if (!spec) {
        // Only struct_ops lacks one, on a kernel without a registrable struct: nothing to create.
        assert.equal(type, MapType.StructOps);
        assert.equal(probe, false, 'no struct_ops value type in vmlinux BTF');
        refused.push(name);
        continue;
      }
      let err: unknown;
      try {
        MapData.create(spec).close();
      } catch (e) {
        err = e;
      }
      assert.equal(probe, err === undefined, `${name}: probe ${probe}, create ${String(err ?? 'ok')}`);
      if (err) {
        assertMapRefused(err, mapTypeName(type));
        refused.push(name);
      }
    }
  } finally {
    sys.kernel.close(btfFd);
  }
  assert.equal(isMapTypeSupported(MapType.Unspec), false);
  assert.equal(isMapTypeSupported(9999), false, 'a type from the future');
  t.diagnostic(`refused here: ${refused.join(', ') || 'none'}`);
  assert.equal(fdCount(), before);
});

// ---- links ------------------------------------------------------------------------

interface LinkCase {
  /** The kinds.o program the link carries (loaded alone). */
  program: string;
  /** Makes the link with bare system calls against a real target: the link fd. Not the probe's way, and not asking it. */
  raw: (progFd: number) => number;
  /** Makes the link the library's way (which may ask the probe first). */
  attach: (ebpf: Ebpf) => Link;
}

/** A kernel text symbol's address, from /proc/kallsyms. */
function kallsymsAddress(name: string): bigint {
  const m = new RegExp(`^([0-9a-f]+) [tT] ${name}$`, 'm').exec(readFileSync('/proc/kallsyms', 'utf8'));
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

/** Runs `use` with an fd of `path` open, closing it after. */
function withFd<T>(path: string, use: (fd: number) => T): T {
  const fd = openSync(path, 'r');
  try {
    return use(fd);
  } finally {
    closeSync(fd);
  }
}

function linkCases(env: { outer: string; ns: string }, cgroup: string): Partial<Record<number, LinkCase>> {
  const ifindex = () => sys.kernel.ifNameToIndex(env.outer);
  const link = (progFd: number, target: number, attachType: number, extra?: Parameters<typeof sys.linkCreate>[0]['extra']) => sys.linkCreate({ progFd, target, attachType, extra });
  return {
    [LinkType.RawTracepoint]: {
      program: 'k_raw_tp',
      raw: (fd) => sys.rawTracepointOpen(fd, 'sys_enter'),
      attach: (e) => (e.program('k_raw_tp') as RawTracePoint).attach('sys_enter'),
    },
    [LinkType.Tracing]: {
      program: 'k_fentry',
      raw: (fd) => link(fd, 0, AttachType.TraceFentry),
      attach: (e) => attachTracing(e.program('k_fentry'), AttachType.TraceFentry, 'fentry bpf_fentry_test1', {}, {}, 'link'),
    },
    [LinkType.Cgroup]: {
      program: 'k_cg_skb_in',
      raw: (fd) => withFd(cgroup, (cg) => link(fd, cg, AttachType.CgroupInetIngress)),
      attach: (e) => (e.program('k_cg_skb_in') as CgroupSkb).attach(cgroup, { link: true }),
    },
    [LinkType.Iter]: {
      program: 'k_iter_task',
      raw: (fd) => link(fd, 0, AttachType.TraceIter),
      attach: (e) => (e.program('k_iter_task') as Iter).attach(),
    },
    [LinkType.Netns]: {
      program: 'k_sk_lookup',
      raw: (fd) => withFd(`/run/netns/${env.ns}`, (ns) => link(fd, ns, AttachType.SkLookup)),
      attach: (e) => (e.program('k_sk_lookup') as SkLookup).attach(`/run/netns/${env.ns}`),
    },
    [LinkType.Xdp]: {
      program: 'k_xdp',
      raw: (fd) => link(fd, ifindex(), AttachType.Xdp),
      attach: (e) => (e.program('k_xdp') as Xdp).attach(env.outer, { netlink: false }),
    },
    [LinkType.PerfEvent]: {
      program: 'k_tracepoint',
      raw: (fd) => {
        const event = sys.perfEventOpen({ type: sys.PerfType.Tracepoint, config: tracepointId('syscalls', 'sys_enter_getppid'), sample: 1 }, { pid: -1, cpu: 0 });
        try {
          return link(fd, event, AttachType.PerfEvent);
        } finally {
          sys.kernel.close(event);
        }
      },
      attach: (e) => (e.program('k_tracepoint') as TracePoint).attach('syscalls', 'sys_enter_getppid', { cookie: 1n }),
    },
    [LinkType.KprobeMulti]: {
      program: 'k_kprobe_multi',
      raw: (fd) => link(fd, 0, AttachType.TraceKprobeMulti, { kind: 'kprobeMulti', addrs: new BigUint64Array([kallsymsAddress('do_nanosleep')]), flags: 0 }),
      attach: (e) => (e.program('k_kprobe_multi') as KProbeMulti).attach({ symbols: ['do_nanosleep'] }),
    },
    [LinkType.Netfilter]: {
      program: 'k_netfilter',
      raw: (fd) => link(fd, 0, AttachType.Netfilter, { kind: 'netfilter', pf: 2, hooknum: 3, priority: -121, flags: 0 }),
      attach: (e) => (e.program('k_netfilter') as Netfilter).attach({ family: 'ipv4', hook: 'output', priority: -120 }),
    },
    [LinkType.Tcx]: {
      program: 'k_tcx_ingress',
      raw: (fd) => link(fd, ifindex(), AttachType.TcxIngress),
      attach: (e) => (e.program('k_tcx_ingress') as SchedClassifier).attach(env.outer, 'ingress', { netlink: false }),
    },
    [LinkType.UprobeMulti]: {
      program: 'k_uprobe_multi',
      // Offset 0 of a regular file: a valid place for a uprobe that never runs.
      raw: (fd) => link(fd, 0, AttachType.TraceUprobeMulti, { kind: 'uprobeMulti', path: process.execPath, offsets: new BigUint64Array([0n]), flags: 0, pid: 0 }),
      attach: (e) => (e.program('k_uprobe_multi') as UProbeMulti).attach({ target: 'libc.so.6', symbols: ['getpid'] }),
    },
    [LinkType.Sockmap]: {
      program: 'k_sk_msg',
      raw: (fd) => {
        const map = SockMap.create({ maxEntries: 2 });
        try {
          return link(fd, map.map.fd, AttachType.SkMsgVerdict);
        } finally {
          map.close();
        }
      },
      attach: (e) => {
        const map = SockMap.create({ maxEntries: 2 });
        try {
          return (e.program('k_sk_msg') as SkMsg).attach(map, { link: true });
        } finally {
          map.close();
        }
      },
    },
  };
}

/** The link types that need a device (netkit) or a kernel-wide registration (struct_ops), made below. */
async function netkitAgrees(t: { diagnostic(m: string): void }): Promise<void> {
  const probe = isLinkTypeSupported(LinkType.Netkit);
  const name = `tnk${process.pid}`.slice(0, 15);
  let made = true;
  try {
    execFileSync('ip', ['link', 'add', name, 'type', 'netkit'], { stdio: 'ignore' });
  } catch {
    made = false;
  }
  if (!made) {
    t.diagnostic('Netkit: this kernel makes no netkit device (ip link add type netkit fails)');
    assert.equal(probe, false);
    return;
  }
  const ebpf = loadKind('k_netkit_prim');
  try {
    const ifindex = sys.kernel.ifNameToIndex(name);
    const fd = sys.linkCreate({ progFd: ebpf.program('k_netkit_prim').fd, target: ifindex, attachType: AttachType.NetkitPrimary });
    const link = new FdLink(fd, 'netkit primary');
    try {
      assert.equal(link.info().type, LinkType.Netkit);
    } finally {
      link.close();
    }
    assert.equal(probe, true);
    t.diagnostic('Netkit: a netkit link made on a netkit device');
  } finally {
    ebpf.close();
    execFileSync('ip', ['link', 'del', name], { stdio: 'ignore' });
  }
}

test('link types: the probe answers as a real attach of that link type (bare system calls, real targets); the library attaches where it is yes and raises NotSupported where it is no', async (t) => {
  const before = fdCount();
  const env = await createNetEnv('feat');
  const cgroup = `${cgroup2Root()}/tsbpf-test-features-${process.pid}`;
  mkdirSync(cgroup, { recursive: true });
  const found: string[] = [];
  try {
    const cases = linkCases(env, cgroup);
    for (const [name, type] of enumEntries(LinkType)) {
      if (type === LinkType.Unspec || type === LinkType.Netkit || type === LinkType.StructOps) continue;
      const c = cases[type];
      assert.ok(c, `a case for ${name}`);
      const probe = isLinkTypeSupported(type);
      const k: ProgramKindOf = kindOf(KINDS, c.program);
      const { ebpf, err: loadErr } = tryLoad(() => loadKind(c.program));
      if (!ebpf) {
        // The link's program does not load here: neither can the link be made.
        assert.equal(probe, false, `${name}: the probe says yes, but its program is refused: ${String(loadErr)}`);
        assertRefused(loadErr, k);
        found.push(`${name}=no (program refused)`);
        continue;
      }
      try {
        // The real attach, by hand.
        let made = false;
        let rawErr: unknown;
        try {
          const fd = c.raw(ebpf.program(c.program).fd);
          const l = new FdLink(fd, name);
          try {
            assert.equal(l.info().type, type, `${name}: the link made is of that type`);
          } finally {
            l.close();
          }
          made = true;
        } catch (e) {
          rawErr = e;
          assert.ok(e instanceof SyscallError, `${name}: ${String(e)}`);
        }
        assert.equal(probe, made, `${name}: probe ${probe}, real attach ${made ? 'made a link' : (rawErr as SyscallError).code}`);
        // The library's attach.
        let link: Link | undefined;
        let err: unknown;
        try {
          link = c.attach(ebpf);
        } catch (e) {
          err = e;
        }
        if (link) {
          try {
            assert.ok(probe, `${name}: the library attached where the probe says no`);
            assert.ok(link instanceof FdLink, `${name}: a BPF link`);
            assert.equal(link.info().type, type);
          } finally {
            link.close();
          }
        } else {
          assert.equal(probe, false, `${name}: ${String(err)}`);
          assert.ok(err instanceof ProgramError && err.kind === 'NotSupported', `${name}: ${String(err)}`);
        }
        found.push(`${name}=${probe ? 'yes' : `no (${(rawErr as SyscallError).code}; ${(err as ProgramError).feature})`}`);
      } finally {
        ebpf.close();
      }
    }
    await netkitAgrees(t);
  } finally {
    rmdirSync(cgroup);
    await env.close();
  }
  assert.equal(isLinkTypeSupported(LinkType.Unspec), false);
  assert.equal(isLinkTypeSupported(9999), false);
  t.diagnostic(found.join(', '));
  assert.equal(fdCount(), before);
});

test('struct_ops links: the probe answers as StructOpsMap.attach of bpf/struct_ops_link.o\'s BPF_F_LINK map', (t) => {
  const probe = isLinkTypeSupported(LinkType.StructOps);
  const { ebpf, err } = tryLoad(() => Ebpf.load(obj('struct_ops_link')));
  if (!ebpf) {
    t.diagnostic(`struct_ops_link.o does not load here (${String(err)}): no struct_ops links either`);
    assert.equal(probe, false);
    assert.ok((err as { kind?: string }).kind === 'NotSupported', String(err));
    return;
  }
  try {
    let link: FdLink | undefined;
    try {
      link = ebpf.structOps('tsbpf_cc_link').attach();
      assert.equal(link.info().type, LinkType.StructOps);
    } catch (e) {
      assert.equal(probe, false, String(e));
    } finally {
      link?.close();
    }
    assert.equal(probe, link !== undefined);
    t.diagnostic(`struct_ops links ${probe ? 'are made' : 'are refused'} here`);
  } finally {
    ebpf.close();
  }
});

// ---- helpers ----------------------------------------------------------------------

const BPF_FUNC = { map_lookup_elem: 1, ktime_get_ns: 5, get_current_pid_tgid: 14, redirect: 23 } as const;

test('helpers: the probe answers as the load of a program that calls the helper with its arguments set up', (t) => {
  const before = fdCount();
  const map = MapData.create({ type: MapType.Array, keySize: 4, valueSize: 8, maxEntries: 1 });
  try {
    const lookup = (ret: number) => assemble([
      stW(R10, -4, 0),
      mov64Reg(R2, R10),
      add64Imm(R2, -4),
      ldMapFd(R1, map.fd),
      call(BPF_FUNC.map_lookup_elem),
      mov64Imm(R0, ret),
      exit(),
    ]);
    const noArgs = (id: number) => assemble([call(id), mov64Imm(R0, 0), exit()]);
    const redirect = assemble([mov64Imm(R1, 1), mov64Imm(R2, 0), call(BPF_FUNC.redirect), exit()]);
    const cases: [string, number, number, Uint8Array][] = [
      ['xdp map_lookup_elem', ProgramType.Xdp, BPF_FUNC.map_lookup_elem, lookup(2)],
      ['socket filter map_lookup_elem', ProgramType.SocketFilter, BPF_FUNC.map_lookup_elem, lookup(0)],
      ['socket filter ktime_get_ns', ProgramType.SocketFilter, BPF_FUNC.ktime_get_ns, noArgs(BPF_FUNC.ktime_get_ns)],
      ['kprobe get_current_pid_tgid', ProgramType.Kprobe, BPF_FUNC.get_current_pid_tgid, noArgs(BPF_FUNC.get_current_pid_tgid)],
      ['socket filter get_current_pid_tgid', ProgramType.SocketFilter, BPF_FUNC.get_current_pid_tgid, noArgs(BPF_FUNC.get_current_pid_tgid)],
      ['tc redirect', ProgramType.SchedCls, BPF_FUNC.redirect, redirect],
      ['socket filter redirect', ProgramType.SocketFilter, BPF_FUNC.redirect, redirect],
      ['socket filter helper 100000', ProgramType.SocketFilter, 100000, noArgs(100000)],
    ];
    const answers: string[] = [];
    for (const [what, progType, helper, insns] of cases) {
      let loads = true;
      try {
        sys.kernel.close(sys.progLoad({ progType, insns, license: 'GPL' }));
      } catch (err) {
        assert.ok(err instanceof SyscallError, String(err));
        loads = false;
      }
      assert.equal(isHelperSupported(progType, helper), loads, what);
      answers.push(`${what}: ${loads}`);
    }
    // A helper of a program type the kernel refuses is refused with it.
    for (const type of [ProgramType.Lsm, ProgramType.Tracing]) {
      if (!isProgramTypeSupported(type)) assert.equal(isHelperSupported(type, BPF_FUNC.map_lookup_elem), false);
    }
    t.diagnostic(answers.join('; '));
  } finally {
    map.close();
  }
  assert.equal(fdCount(), before);
});

// ---- the probes themselves ----------------------------------------------------------

/** Every probe the library has, cold: each program kind of kinds.o, every map and link type, some helpers. */
function everyProbe(): (() => unknown)[] {
  return [
    ...kindNames.map((n) => kindOf(KINDS, n)).map((k) => () => isProgramTypeSupported(k.type, k.attachType, k.attachTo)),
    ...enumValues(ProgramType).map((type) => () => isProgramTypeSupported(type)),
    ...enumValues(MapType).map((type) => () => isMapTypeSupported(type)),
    ...enumValues(LinkType).map((type) => () => isLinkTypeSupported(type)),
    () => isHelperSupported(ProgramType.Xdp, BPF_FUNC.map_lookup_elem),
    () => isHelperSupported(ProgramType.Tracing, BPF_FUNC.get_current_pid_tgid),
  ];
}

test('answers are cached: a second question makes no system call', () => {
  for (const probe of everyProbe()) probe();
  assert.deepEqual(bpfCalls(() => {
    for (const probe of everyProbe()) probe();
  }), []);
});

test('probes leak no descriptor, also when any of their system calls fails', (t) => {
  clearFeatureCache();
  t.after(() => clearFeatureCache());
  const before = fdCount();
  for (const probe of everyProbe()) probe();
  assert.equal(fdCount(), before, 'cold probes closed everything they opened');
  // Each probe again, cold, with its n-th bpf(2) call failing (EINVAL: a refusal), for every n.
  const real = sys.kernel;
  let injected = 0;
  for (const probe of everyProbe()) {
    clearFeatureCache();
    const calls = bpfCalls(() => void probe()).length;
    for (let n = 0; n < calls; n++) {
      clearFeatureCache();
      let seen = 0;
      const restore = replaceKernel({ bpf: (cmd, attr, mask, ...b) => (seen++ === n ? -22 : real.bpf(cmd, attr, mask, ...b)) });
      try {
        probe();
      } catch (err) {
        // No answer: the typed error of the probe's kind, the kernel's error as cause.
        assert.ok((err instanceof MapError || err instanceof ProgramError) && err.cause instanceof SyscallError, String(err));
      } finally {
        restore();
      }
      injected++;
      assert.equal(fdCount(), before, `probe ${everyProbe().indexOf(probe)} with call ${n} failing`);
    }
  }
  t.diagnostic(`${injected} failures injected`);
});

test('an error that says nothing about the kernel is thrown, not taken for "unsupported"; EPERM is a refusal only with the capabilities', (t) => {
  clearFeatureCache();
  t.after(() => clearFeatureCache());
  const fail = (errno: number) => replaceKernel({ bpf: () => -errno });
  let restore = fail(14 /* EFAULT */);
  try {
    // Typed as the probe's kind, the kernel's failure as its cause.
    assert.throws(() => isMapTypeSupported(MapType.Hash), (e: unknown) => e instanceof MapError && e.code === 'EFAULT' && e.cause instanceof SyscallError);
    assert.throws(() => isProgramTypeSupported(ProgramType.Xdp), (e: unknown) => e instanceof ProgramError && e.code === 'EFAULT' && e.cause instanceof SyscallError);
    assert.throws(() => isLinkTypeSupported(LinkType.Tcx), (e: unknown) => e instanceof ProgramError && e.code === 'EFAULT');
    assert.throws(() => isHelperSupported(ProgramType.Xdp, 1), (e: unknown) => e instanceof ProgramError && e.code === 'EFAULT');
  } finally {
    restore();
  }
  restore = fail(22 /* EINVAL */);
  try {
    assert.equal(isMapTypeSupported(MapType.Hash), false);
  } finally {
    restore();
  }
  // This process holds CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (the tests run as root):
  // EPERM is then the kernel refusing the feature.
  clearFeatureCache();
  restore = fail(1 /* EPERM */);
  try {
    assert.equal(isProgramTypeSupported(ProgramType.Xdp), false);
    assert.equal(isMapTypeSupported(MapType.Sockmap), false);
  } finally {
    restore();
  }
  clearFeatureCache();
  assert.equal(isMapTypeSupported(MapType.Hash), true);
  // Without them EPERM says "you may not" and the probe throws: test/unprivileged.test.ts.
});

test('cold start: probes of types that need no BTF target do not read vmlinux BTF', () => {
  const r = runScript(`
    import { createRequire, syncBuiltinESMExports } from 'node:module';
    const fs = createRequire(import.meta.url)('node:fs');
    const reads = [];
    // Files are read whole (readFileSync) or opened and read (openSync): watch both.
    for (const name of ['readFileSync', 'openSync']) {
      const original = fs[name];
      fs[name] = (path, ...rest) => { reads.push(String(path)); return original(path, ...rest); };
    }
    syncBuiltinESMExports();
    const { isMapTypeSupported, isProgramTypeSupported, isLinkTypeSupported, MapType, ProgramType, LinkType, AttachType } = tsbpf;
    isProgramTypeSupported(ProgramType.Xdp);
    isProgramTypeSupported(ProgramType.SocketFilter);
    isMapTypeSupported(MapType.Hash);
    isMapTypeSupported(MapType.Arena);
    isLinkTypeSupported(LinkType.Tcx);
    const before = reads.filter((p) => p.includes('/sys/kernel/btf/')).length;
    isProgramTypeSupported(ProgramType.Tracing, AttachType.TraceIter);
    const after = reads.filter((p) => p.includes('/sys/kernel/btf/')).length;
    console.log(JSON.stringify({ before, after }));
  `);
  assert.deepEqual(r.json, { before: 0, after: 1 }, r.stderr);
});

test('no file descriptor leaked by this file', () => {
  assert.equal(fdCount(), fdsAtStart);
});
