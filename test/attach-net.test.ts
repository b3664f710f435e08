// XDP and tc attachment on a veth pair with real traffic (test/net-env.ts): BPF links
// and netlink for XDP, TCX links with ordering and cls_bpf over netlink for tc, errors,
// lifetimes and persistence of a pinned link across processes.
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import {
  ArrayMap,
  ClsBpfLink,
  Ebpf,
  FdLink,
  type Link,
  LinkType,
  ProgramError,
  SchedClassifier,
  Xdp,
  XdpNetlinkLink,
  isLinkTypeSupported,
  u64,
} from '../src/index.js';
import * as sys from '../src/sys/index.js';
import { clearFeatureCache, replaceKernel } from '../src/testing.js';
import { bpfCalls, bpffsDir, fdCount, thrown } from './helpers.js';
import { branch } from './kernel-features.js';
import { describe as describeRun, runScript } from './child.js';
import { createNetEnv, type NetEnv } from './net-env.js';

const OBJECT = fileURLToPath(new URL('../../bpf/attach_net.o', import.meta.url));
// Slots of the counts map (bpf/attach_net.c).
const XDP_PASS = 0;
const XDP_DROP = 1;
const TC_PASS = 2;
const TC_DROP = 3;
const TC_NEXT = 4;
const N = 5;

let env: NetEnv;
let ebpf: Ebpf;
let counts: ArrayMap<bigint>;
let xdpPass: Xdp;
let xdpDrop: Xdp;
let tcPass: SchedClassifier;
let tcDrop: SchedClassifier;
let tcNext: SchedClassifier;
let tcNext2: SchedClassifier;

before(async () => {
  env = await createNetEnv('net');
  ebpf = Ebpf.load(OBJECT);
  counts = ArrayMap.tryFrom(ebpf.map('counts'), u64);
  xdpPass = ebpf.program('xdp_pass') as Xdp;
  xdpDrop = ebpf.program('xdp_drop') as Xdp;
  tcPass = ebpf.program('tc_pass') as SchedClassifier;
  tcDrop = ebpf.program('tc_drop') as SchedClassifier;
  tcNext = ebpf.program('tc_next') as SchedClassifier;
  tcNext2 = ebpf.program('tc_next2') as SchedClassifier;
});

after(async () => {
  ebpf?.close();
  await env?.close();
});

function resetCounts(): void {
  for (let i = 0; i < 8; i++) counts.set(i, 0n);
}

const count = (slot: number) => Number(counts.get(slot));

/** Detaches `link` when the test ends, whatever happens. */
function track<L extends Link>(t: TestContext, link: L): L {
  t.after(() => link.detach());
  return link;
}

/** The XDP program ids `ip -d link` shows on the outer end ('xdpgeneric' = skb, 'xdp' = drv). */
function xdpShown(): { mode?: string; id?: number } {
  const out = env.linkShow();
  const mode = out.match(/ mtu \d+ (xdp\w*) /)?.[1];
  const id = out.match(/prog\/xdp id (\d+)/)?.[1];
  return mode === undefined && id === undefined ? {} : { mode, id: id === undefined ? undefined : Number(id) };
}

function progId(p: { fd: number }): number {
  const info = new Uint8Array(8);
  sys.objGetInfoByFd(p.fd, info);
  return new DataView(info.buffer).getUint32(4, true);
}

function expectProgramError(fn: () => unknown, kind: string): ProgramError {
  const err = thrown(fn);
  assert.ok(err instanceof ProgramError, `expected ProgramError ${kind}, got ${err}`);
  assert.equal(err.kind, kind, err.message);
  return err;
}

test('traffic flows through the veth pair with nothing attached', async () => {
  assert.equal(await env.exchange(N, true), N);
});

test('XDP link, skb mode: the pass program counts and passes, the drop program counts and drops', async (t) => {
  resetCounts();
  const link = track(t, xdpPass.attach(env.outer, { mode: 'skb' }));
  assert.ok(link instanceof FdLink);
  assert.equal(await env.exchange(N, true), N);
  assert.equal(count(XDP_PASS), N);
  const info = link.info();
  assert.equal(info.type, LinkType.Xdp);
  assert.equal(info.typeName, 'Xdp');
  assert.equal(info.ifindex, sys.kernel.ifNameToIndex(env.outer));
  assert.equal(info.programId, progId(xdpPass));
  assert.deepEqual(xdpShown(), { mode: 'xdpgeneric', id: progId(xdpPass) });
  link.detach();
  assert.deepEqual(xdpShown(), {});

  const drop = track(t, xdpDrop.attach(env.outer, { mode: 'skb' }));
  assert.equal(await env.exchange(N, false), 0);
  assert.equal(count(XDP_DROP), N);
  drop.detach();
  assert.equal(await env.exchange(N, true), N, 'flows again after detach');
  assert.equal(count(XDP_DROP), N);
});

test('XDP link, drv mode (veth has native XDP), attached by ifindex', async (t) => {
  resetCounts();
  const link = track(t, xdpDrop.attach(sys.kernel.ifNameToIndex(env.outer), { mode: 'drv' }));
  assert.deepEqual(xdpShown(), { mode: 'xdp', id: progId(xdpDrop) });
  assert.equal(await env.exchange(N, false), 0);
  assert.equal(count(XDP_DROP), N);
  link.detach();
  assert.equal(await env.exchange(N, true), N);
});

test('FdLink.update swaps the XDP program atomically; with a wrong expected program the kernel refuses (EPERM)', async (t) => {
  resetCounts();
  const link = track(t, xdpPass.attach(env.outer) as FdLink);
  assert.equal(await env.exchange(N, true), N);
  link.update(xdpDrop);
  assert.equal(link.info().programId, progId(xdpDrop));
  assert.equal(await env.exchange(N, false), 0);
  link.update(xdpPass, xdpDrop);
  assert.equal(await env.exchange(N, true), N);
  assert.deepEqual([count(XDP_PASS), count(XDP_DROP)], [2 * N, N]);
  const err = expectProgramError(() => link.update(xdpDrop, xdpDrop), 'AttachError');
  assert.equal(err.call, 'bpf_link_update');
  assert.equal(err.code, 'EPERM');
  assert.equal(link.info().programId, progId(xdpPass));
});

test('XDP over netlink: attach, update with XDP_FLAGS_REPLACE, detach', async (t) => {
  resetCounts();
  const link = track(t, xdpDrop.attach(env.outer, { netlink: true, mode: 'skb' }));
  assert.ok(link instanceof XdpNetlinkLink);
  assert.equal(link.programId, progId(xdpDrop));
  assert.deepEqual(xdpShown(), { mode: 'xdpgeneric', id: progId(xdpDrop) });
  assert.equal(await env.exchange(N, false), 0);
  link.update(xdpPass);
  assert.equal(link.programId, progId(xdpPass));
  assert.deepEqual(xdpShown(), { mode: 'xdpgeneric', id: progId(xdpPass) });
  assert.equal(await env.exchange(N, true), N);
  assert.deepEqual([count(XDP_PASS), count(XDP_DROP)], [N, N]);
  assert.equal(expectProgramError(() => link.pin('/sys/fs/bpf/never'), 'NotSupported').feature, 'bpf link');
  link.detach();
  assert.deepEqual(xdpShown(), {});
  assert.equal(expectProgramError(() => link.update(xdpDrop), 'NotAttached').kind, 'NotAttached');
});

test('XDP over netlink: detach leaves a program that replaced ours alone', async (t) => {
  const mine = track(t, xdpPass.attach(env.outer, { netlink: true }));
  // replace: true takes the hook over (no XDP_FLAGS_UPDATE_IF_NOEXIST).
  const theirs = track(t, xdpDrop.attach(env.outer, { replace: true }));
  assert.ok(theirs instanceof XdpNetlinkLink);
  assert.equal(xdpShown().id, progId(xdpDrop));
  mine.detach();
  assert.equal(xdpShown().id, progId(xdpDrop), 'still attached');
  // Updating a link whose program was replaced fails: the expected program is not there.
  const other = track(t, xdpPass.attach(env.outer, { netlink: true, replace: true }));
  const err = expectProgramError(() => (theirs as XdpNetlinkLink).update(xdpPass), 'AttachError');
  assert.equal(err.call, 'netlink RTM_SETLINK');
  assert.equal(err.code, 'EEXIST');
  assert.match(err.message, /Active program does not match expected/);
  other.detach();
  assert.deepEqual(xdpShown(), {});
  theirs.detach(); // harmless: the program is gone
});

test('XDP over netlink: detach and update work after the user unloaded the program', async (t) => {
  const other = Ebpf.load(OBJECT);
  t.after(() => other.close());
  const drop = other.program('xdp_drop') as Xdp;
  const id = progId(drop);
  const link = track(t, drop.attach(env.outer, { netlink: true }) as XdpNetlinkLink);
  other.close(); // the program lives on, attached
  assert.equal(drop.loaded, false);
  assert.equal(xdpShown().id, id);
  assert.equal(await env.exchange(N, false), 0);
  link.update(xdpPass); // the expected program is opened by id
  assert.equal(xdpShown().id, progId(xdpPass));
  link.detach();
  assert.deepEqual(xdpShown(), {});

  const again = Ebpf.load(OBJECT);
  t.after(() => again.close());
  const p = again.program('xdp_pass') as Xdp;
  const l2 = track(t, p.attach(env.outer, { netlink: true }) as XdpNetlinkLink);
  again.close();
  l2.detach();
  assert.deepEqual(xdpShown(), {});
  assert.equal(await env.exchange(N, true), N);
});

test('XDP: AlreadyAttached for a taken interface, through a link or netlink', (t) => {
  const link = track(t, xdpPass.attach(env.outer));
  let err = expectProgramError(() => xdpDrop.attach(env.outer), 'AlreadyAttached');
  assert.equal(err.call, 'bpf_link_create');
  assert.equal(err.code, 'EBUSY');
  err = expectProgramError(() => xdpDrop.attach(env.outer, { netlink: true }), 'AlreadyAttached');
  assert.equal(err.call, 'netlink RTM_SETLINK');
  assert.equal(err.code, 'EBUSY');
  assert.match(err.message, /Can't replace active BPF XDP link/, 'the extended ack text');
  // generic and native XDP cannot both be active: EEXIST
  err = expectProgramError(() => xdpDrop.attach(env.outer, { mode: 'skb' }), 'AlreadyAttached');
  assert.equal(err.code, 'EEXIST');
  link.detach();

  const nl = track(t, xdpPass.attach(env.outer, { netlink: true }));
  err = expectProgramError(() => xdpDrop.attach(env.outer, { netlink: true }), 'AlreadyAttached');
  assert.match(err.message, /XDP program already attached/);
  err = expectProgramError(() => xdpDrop.attach(env.outer), 'AlreadyAttached');
  assert.equal(err.code, 'EBUSY');
  nl.detach();
  assert.deepEqual(xdpShown(), {});
});

test('XDP: hw mode on veth is NotSupported naming the mode; drv on lo too', () => {
  for (const netlink of [false, true]) {
    const err = expectProgramError(() => xdpPass.attach(env.outer, { mode: 'hw', netlink }), 'NotSupported');
    assert.equal(err.feature, 'XDP hw mode');
    assert.equal(err.code, 'EINVAL');
  }
  const err = expectProgramError(() => xdpPass.attach('lo', { mode: 'drv' }), 'NotSupported');
  assert.equal(err.feature, 'XDP drv mode');
  assert.equal(err.code, 'ENOTSUP');
  assert.deepEqual(xdpShown(), {});
});

test('UnknownInterface before any bpf(2) call, by name and by index', () => {
  for (const target of ['tsbpf-none0', 99999999, 0, -1]) {
    let err: any;
    const calls = bpfCalls(() => {
      err = thrown(() => xdpPass.attach(target));
    });
    assert.ok(err instanceof ProgramError && err.kind === 'UnknownInterface', String(err));
    assert.deepEqual(calls, []);
    const calls2 = bpfCalls(() => {
      err = thrown(() => tcPass.attach(target, 'ingress'));
    });
    assert.ok(err instanceof ProgramError && err.kind === 'UnknownInterface', String(err));
    assert.deepEqual(calls2, []);
  }
  assert.throws(() => tcPass.attach(env.outer, 'sideways' as 'ingress'), (e: unknown) => e instanceof ProgramError && e.kind === 'InvalidArgument');
  assert.throws(() => xdpPass.attach(env.outer, { mode: 'fast' as 'skb' }), (e: unknown) => e instanceof ProgramError && e.kind === 'InvalidArgument');
  assert.throws(() => xdpPass.attach(env.outer, { replace: true, netlink: false }), (e: unknown) => e instanceof ProgramError && e.kind === 'InvalidArgument');
});

test('a program that is not loaded cannot attach: NotLoaded', () => {
  const other = Ebpf.load(OBJECT);
  const p = other.program('xdp_pass') as Xdp;
  const q = other.program('tc_pass') as SchedClassifier;
  other.close();
  expectProgramError(() => p.attach(env.outer), 'NotLoaded');
  expectProgramError(() => q.attach(env.outer, 'ingress'), 'NotLoaded');
});

/** Where the kernel has no TCX: attaching asks for cls_bpf, a TCX-only request is NotSupported. */
function tcxRefused(): void {
  const link = tcPass.attach(env.outer, 'ingress');
  try {
    assert.ok(!(link instanceof FdLink), 'cls_bpf over netlink');
    assert.ok(env.tcFilters('ingress').includes('tc_pass'));
  } finally {
    link.detach();
  }
  assert.equal(expectProgramError(() => tcPass.attach(env.outer, 'ingress', { netlink: false }), 'NotSupported').feature, 'BPF_LINK_TYPE_TCX');
  assert.equal(expectProgramError(() => SchedClassifier.query(env.outer, 'ingress'), 'NotSupported').feature, 'BPF_LINK_TYPE_TCX');
}

test('TCX: ingress and egress links count and drop real traffic', async (t) => {
  await branch(t, 'TCX links', isLinkTypeSupported(LinkType.Tcx), () => tcxCounts(t), () => tcxRefused());
});

async function tcxCounts(t: TestContext): Promise<void> {
  resetCounts();
  const egress = track(t, tcPass.attach(env.outer, 'egress'));
  assert.ok(egress instanceof FdLink);
  const info = egress.info();
  assert.equal(info.type, LinkType.Tcx);
  assert.equal(info.attachTypeName, 'BPF_TCX_EGRESS');
  assert.equal(info.ifindex, sys.kernel.ifNameToIndex(env.outer));
  assert.equal(await env.exchange(N, true), N);
  assert.equal(count(TC_PASS), N, 'the requests went out through egress');

  const ingress = track(t, tcDrop.attach(env.outer, 'ingress'));
  assert.equal(ingress.info().attachTypeName, 'BPF_TCX_INGRESS');
  assert.equal(await env.exchange(N, false), 0);
  assert.equal(count(TC_DROP), N, 'the replies were dropped at ingress');
  assert.equal(count(TC_PASS), 2 * N);
  ingress.detach();
  egress.detach();
  assert.deepEqual(SchedClassifier.query(env.outer, 'ingress').programs, []);
  assert.equal(await env.exchange(N, true), N);

  // The same program twice at one hook: EEXIST.
  const again = track(t, tcPass.attach(env.outer, 'egress'));
  const err = expectProgramError(() => tcPass.attach(env.outer, 'egress'), 'AlreadyAttached');
  assert.equal(err.code, 'EEXIST');
  again.detach();
}

test('TCX: before/after ordering, seen in the query order and in the counters', async (t) => {
  await branch(t, 'TCX links', isLinkTypeSupported(LinkType.Tcx), () => tcxOrdering(t), () => tcxRefused());
});

async function tcxOrdering(t: TestContext): Promise<void> {
  resetCounts();
  const ids = { next: progId(tcNext), next2: progId(tcNext2), drop: progId(tcDrop) };
  const order = () => SchedClassifier.query(env.outer, 'ingress').programs.map((p) => p.programId);

  const next = track(t, tcNext.attach(env.outer, 'ingress') as FdLink);
  const drop = track(t, tcDrop.attach(env.outer, 'ingress', { before: tcNext }) as FdLink);
  assert.deepEqual(order(), [ids.drop, ids.next]);
  assert.equal(await env.exchange(N, false), 0);
  assert.deepEqual([count(TC_DROP), count(TC_NEXT)], [N, 0], 'drop ran first: next saw nothing');
  drop.detach();

  const drop2 = track(t, tcDrop.attach(env.outer, 'ingress', { after: next }) as FdLink);
  assert.deepEqual(order(), [ids.next, ids.drop]);
  assert.equal(await env.exchange(N, false), 0);
  assert.deepEqual([count(TC_DROP), count(TC_NEXT)], [2 * N, N], 'next ran, then drop');

  // By id: next2 before drop's program, then relative to links by id and 'all'.
  const next2 = track(t, tcNext2.attach(env.outer, 'ingress', { before: { programId: ids.drop } }) as FdLink);
  assert.deepEqual(order(), [ids.next, ids.next2, ids.drop]);
  next2.detach();
  const next2b = track(t, tcNext2.attach(env.outer, 'ingress', { before: 'all' }) as FdLink);
  assert.deepEqual(order(), [ids.next2, ids.next, ids.drop]);
  next2b.detach();
  const next2c = track(t, tcNext2.attach(env.outer, 'ingress', { after: { linkId: next.info().id } }) as FdLink);
  assert.deepEqual(order(), [ids.next, ids.next2, ids.drop]);
  const q = SchedClassifier.query(env.outer, 'ingress');
  assert.deepEqual(q.programs.map((p) => p.linkId), [next.info().id, next2c.info().id, drop2.info().id]);
  next2c.detach();

  // expected_revision: a stale one is refused (ESTALE), the current one accepted.
  const { revision } = SchedClassifier.query(env.outer, 'ingress');
  const err = expectProgramError(() => tcNext2.attach(env.outer, 'ingress', { expectedRevision: revision - 1n }), 'AttachError');
  assert.equal(err.code, 'ESTALE');
  const next2d = track(t, tcNext2.attach(env.outer, 'ingress', { after: 'all', expectedRevision: revision }) as FdLink);
  assert.deepEqual(order(), [ids.next, ids.drop, ids.next2]);
  // An anchor that is not at the hook: ENOENT from the kernel.
  next2d.detach();
  const err2 = expectProgramError(() => tcNext2.attach(env.outer, 'ingress', { before: tcPass }), 'AttachError');
  assert.equal(err2.code, 'ENOENT');
  assert.throws(() => tcNext2.attach(env.outer, 'ingress', { before: 'all', after: 'all' }), (e: unknown) => e instanceof ProgramError && e.kind === 'InvalidArgument');
  next.detach();
  drop2.detach();
  assert.deepEqual(order(), []);
}

test('TCX: FdLink.update swaps the program in place', async (t) => {
  await branch(t, 'TCX links', isLinkTypeSupported(LinkType.Tcx), () => tcxUpdate(t), () => tcxRefused());
});

async function tcxUpdate(t: TestContext): Promise<void> {
  resetCounts();
  const link = track(t, tcPass.attach(env.outer, 'ingress') as FdLink);
  assert.equal(await env.exchange(N, true), N);
  link.update(tcDrop);
  assert.equal(await env.exchange(N, false), 0);
  assert.deepEqual([count(TC_PASS), count(TC_DROP)], [N, N]);
  assert.deepEqual(SchedClassifier.query(env.outer, 'ingress').programs, [{ programId: progId(tcDrop), linkId: link.info().id }]);
}

test('cls_bpf over netlink: clsact added, priority and handle, filters run by priority, clsact removed with the last filter', async (t) => {
  resetCounts();
  assert.doesNotMatch(env.tcQdiscs(), /clsact/);
  const a = track(t, tcNext.attach(env.outer, 'egress', { netlink: true, priority: 10, handle: 1 }));
  assert.ok(a instanceof ClsBpfLink);
  assert.equal(a.createdQdisc, true);
  assert.deepEqual([a.priority, a.handle, a.programId], [10, 1, progId(tcNext)]);
  assert.match(env.tcQdiscs(), /qdisc clsact ffff:/);
  const b = track(t, tcDrop.attach(env.outer, 'egress', { netlink: true, priority: 20, handle: 2 }) as ClsBpfLink);
  assert.equal(b.createdQdisc, false);
  const shown = env.tcFilters('egress');
  assert.match(shown, new RegExp(`pref 10 bpf chain 0 handle 0x1 tc_next:\\[${progId(tcNext)}\\] direct-action`));
  assert.match(shown, new RegExp(`pref 20 bpf chain 0 handle 0x2 tc_drop:\\[${progId(tcDrop)}\\] direct-action`));
  assert.equal(await env.exchange(N, false), 0);
  assert.deepEqual([count(TC_NEXT), count(TC_DROP)], [N, N], 'priority 10 ran, then 20 dropped');

  // The same priority and handle again: EEXIST from the kernel.
  const err = expectProgramError(() => tcNext2.attach(env.outer, 'egress', { netlink: true, priority: 20, handle: 2 }), 'AlreadyAttached');
  assert.equal(err.call, 'netlink RTM_NEWTFILTER');
  assert.equal(err.code, 'EEXIST');

  a.detach();
  b.detach();
  assert.equal(env.tcFilters('egress').trim(), '');
  assert.doesNotMatch(env.tcQdiscs(), /clsact/, 'tsbpf added clsact and removed it with the last filter');

  // Reversed priorities: drop first, next never sees the packets.
  resetCounts();
  const c = track(t, tcDrop.attach(env.outer, 'egress', { netlink: true, priority: 10 }));
  const d = track(t, tcNext.attach(env.outer, 'egress', { netlink: true, priority: 20 }));
  assert.equal(await env.exchange(N, false), 0);
  assert.deepEqual([count(TC_NEXT), count(TC_DROP)], [0, N]);
  c.detach();
  assert.equal(await env.exchange(N, true), N);
  assert.equal(count(TC_NEXT), N);
  d.detach();
  assert.doesNotMatch(env.tcQdiscs(), /clsact/);
});

test('cls_bpf: the kernel picks priority and handle when not given; a clsact that was there stays', async (t) => {
  execFileSync('tc', ['qdisc', 'add', 'dev', env.outer, 'clsact']);
  t.after(() => execFileSync('tc', ['qdisc', 'del', 'dev', env.outer, 'clsact']));
  resetCounts();
  const link = track(t, tcDrop.attach(env.outer, 'ingress', { netlink: true }) as ClsBpfLink);
  assert.equal(link.createdQdisc, false);
  assert.ok(link.priority > 0 && link.handle > 0, `${link.priority} ${link.handle}`);
  assert.match(env.tcFilters('ingress'), new RegExp(`pref ${link.priority} bpf chain 0 handle 0x${link.handle.toString(16)} tc_drop`));
  assert.equal(await env.exchange(N, false), 0);
  assert.equal(count(TC_DROP), N);
  link.detach();
  assert.equal(env.tcFilters('ingress').trim(), '');
  assert.match(env.tcQdiscs(), /clsact/, 'not ours: left in place');
});

test('cls_bpf: detach leaves a filter that now runs another program alone', (t) => {
  const link = track(t, tcPass.attach(env.outer, 'ingress', { netlink: true, priority: 5, handle: 7 }) as ClsBpfLink);
  // Someone replaces the filter's program (tc filter replace, same priority and handle).
  const pinDir = bpffsDir('net-cls');
  t.after(() => rmSync(pinDir, { recursive: true, force: true }));
  tcDrop.pin(`${pinDir}/drop`);
  execFileSync('tc', ['filter', 'replace', 'dev', env.outer, 'ingress', 'pref', '5', 'handle', '7', 'bpf', 'da', 'pinned', `${pinDir}/drop`]);
  link.detach();
  assert.match(env.tcFilters('ingress'), /pref 5 bpf chain 0 handle 0x7 .*tc_drop/);
  execFileSync('tc', ['filter', 'del', 'dev', env.outer, 'ingress', 'pref', '5', 'handle', '7', 'bpf']);
});

test('where the probes find no XDP or TCX links: netlink for XDP and cls_bpf for tc, NotSupported where only links would do', async (t) => {
  // A kernel whose LINK_CREATE refuses everything (EINVAL), as before 5.9.
  const real = sys.kernel;
  clearFeatureCache();
  const restore = replaceKernel({ bpf: (cmd, attr, mask, ...bufs) => (cmd === sys.Cmd.LinkCreate ? -sys.Errno.EINVAL : real.bpf(cmd, attr, mask, ...bufs)) });
  t.after(() => {
    restore();
    clearFeatureCache();
  });
  assert.equal(isLinkTypeSupported(LinkType.Xdp), false);
  assert.equal(isLinkTypeSupported(LinkType.Tcx), false);
  resetCounts();
  const xdp = track(t, xdpDrop.attach(env.outer));
  assert.ok(xdp instanceof XdpNetlinkLink);
  let err = expectProgramError(() => xdpPass.attach(env.outer, { netlink: false }), 'NotSupported');
  assert.equal(err.feature, 'BPF_LINK_TYPE_XDP');
  assert.equal(await env.exchange(N, false), 0);
  xdp.detach();
  const tc = track(t, tcDrop.attach(env.outer, 'egress'));
  assert.ok(tc instanceof ClsBpfLink);
  err = expectProgramError(() => tcNext.attach(env.outer, 'egress', { before: tcDrop }), 'NotSupported');
  assert.equal(err.feature, 'BPF_LINK_TYPE_TCX');
  err = expectProgramError(() => tcNext.attach(env.outer, 'egress', { netlink: false }), 'NotSupported');
  assert.equal(err.feature, 'BPF_LINK_TYPE_TCX');
  assert.equal(expectProgramError(() => SchedClassifier.query(env.outer, 'egress'), 'NotSupported').feature, 'BPF_LINK_TYPE_TCX');
  assert.equal(await env.exchange(N, false), 0);
  assert.deepEqual([count(XDP_DROP), count(TC_DROP)], [N, N]);
  tc.detach();
  assert.doesNotMatch(env.tcQdiscs(), /clsact/);
});

test('detach twice is harmless, close() detaches, `using` detaches, for every kind of attachment this kernel has', (t) => {
  const tcx = isLinkTypeSupported(LinkType.Tcx);
  t.diagnostic(tcx ? 'this kernel has TCX links: tcx included' : 'this kernel has no TCX links: tcx left out (tcxRefused asserts its NotSupported)');
  const make: Array<[string, () => Link, () => boolean]> = [
    ['xdp link', () => xdpPass.attach(env.outer), () => xdpShown().id !== undefined],
    ['xdp netlink', () => xdpPass.attach(env.outer, { netlink: true }), () => xdpShown().id !== undefined],
    ...(tcx ? [['tcx', () => tcPass.attach(env.outer, 'ingress'), () => SchedClassifier.query(env.outer, 'ingress').programs.length > 0] as [string, () => Link, () => boolean]] : []),
    ['cls_bpf', () => tcPass.attach(env.outer, 'ingress', { netlink: true }), () => env.tcFilters('ingress').includes('tc_pass')],
  ];
  for (const [what, attach, present] of make) {
    const l = attach();
    assert.equal(present(), true, what);
    assert.equal(l.attached, true);
    l.detach();
    assert.equal(present(), false, what);
    assert.equal(l.attached, false);
    l.detach();
    l.close();

    const c = attach();
    c.close();
    assert.equal(present(), false, `${what}: close detaches`);
    c.close();
    c.detach();

    {
      using u = attach();
      assert.equal(present(), true, what);
      void u;
    }
    assert.equal(present(), false, `${what}: using detaches`);
  }
});

test('no fd leak across attach and detach of every kind', () => {
  const cycle = () => {
    xdpPass.attach(env.outer).detach();
    xdpPass.attach(env.outer, { netlink: true }).detach();
    const n = xdpPass.attach(env.outer, { netlink: true }) as XdpNetlinkLink;
    n.update(xdpDrop);
    n.close();
    tcPass.attach(env.outer, 'ingress').detach();
    tcPass.attach(env.outer, 'egress', { netlink: true }).close();
    if (isLinkTypeSupported(LinkType.Tcx)) SchedClassifier.query(env.outer, 'egress');
    else thrown(() => SchedClassifier.query(env.outer, 'egress'));
    thrown(() => xdpPass.attach(env.outer, { mode: 'hw' }));
    const l = xdpPass.attach(env.outer);
    thrown(() => xdpDrop.attach(env.outer, { netlink: true }));
    l.close();
  };
  cycle(); // first use may open long-lived descriptors (none expected)
  const before = fdCount();
  for (let i = 0; i < 3; i++) cycle();
  assert.equal(fdCount(), before);
});

const ATTACH_AND_PIN = `
const [object, iface, pinPath] = process.argv.slice(2);
const ebpf = tsbpf.Ebpf.load(object);
const link = ebpf.program('xdp_drop').attach(iface, { mode: 'skb' });
link.pin(pinPath);
console.log(JSON.stringify({ id: link.info().id, programId: link.info().programId }));
link.close();   // pinned: stays attached
ebpf.close();
`;

const UNPIN_AND_DETACH = `
const [pinPath] = process.argv.slice(2);
const link = tsbpf.Link.fromPin(pinPath);
const info = link.info();
link.unpin();
link.detach();
console.log(JSON.stringify(info));
`;

test('persistence: a pinned XDP link outlives the process that attached it until another process detaches it', async (t) => {
  const dir = bpffsDir('net-persist');
  const pinPath = `${dir}/xdp_link`;
  t.after(() => {
    if (existsSync(pinPath)) {
      const l = FdLink.fromPin(pinPath);
      l.unpin();
      l.detach();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const first = runScript(ATTACH_AND_PIN, { args: [OBJECT, env.outer, pinPath] });
  assert.equal(first.status, 0, describeRun(first));
  const made = first.json as { id: number; programId: number };
  assert.ok(existsSync(pinPath));
  assert.deepEqual(xdpShown(), { mode: 'xdpgeneric', id: made.programId });
  assert.equal(await env.exchange(N, false), 0, 'dropped after the attaching process exited');

  const second = runScript(UNPIN_AND_DETACH, { args: [pinPath] });
  assert.equal(second.status, 0, describeRun(second));
  const info = second.json as { id: number; programId: number; typeName: string; ifindex: number };
  assert.deepEqual([info.id, info.programId, info.typeName, info.ifindex], [made.id, made.programId, 'Xdp', sys.kernel.ifNameToIndex(env.outer)]);
  assert.equal(existsSync(pinPath), false);
  assert.deepEqual(xdpShown(), {});
  assert.equal(await env.exchange(N, true), N, 'flows again');
});

test('sys.netlink: messages with nested attributes are laid out as the kernel expects', () => {
  const { NlMessage, NlmF, Rtm, parseAttrs, attrU32, attrStr } = sys.netlink;
  const bytes = new NlMessage(Rtm.SetLink, NlmF.Ack)
    .bytes(new Uint8Array(16))
    .str(3, 'ab')
    .nest(43, (m) => m.s32(1, -1).u32(3, 0x12345678))
    .encode(7);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.equal(v.getUint32(0, true), bytes.length);
  assert.equal(bytes.length, 16 + 16 + 8 + 4 + 8 + 8);
  assert.deepEqual([v.getUint16(4, true), v.getUint16(6, true), v.getUint32(8, true)], [19, NlmF.Request | NlmF.Ack, 7]);
  const attrs = parseAttrs(bytes, 32);
  assert.equal(attrStr(attrs.get(3)), 'ab');
  assert.equal(v.getUint16(40 + 2, true), 43 | sys.netlink.NLA_F_NESTED);
  const nested = parseAttrs(attrs.get(43)!);
  assert.equal(attrU32(nested.get(1)), 0xffffffff);
  assert.equal(attrU32(nested.get(3)), 0x12345678);
});

test('sys.netlink: a dump lists the interfaces; errors name the request; a missing reply times out', () => {
  const { NlMessage, NlmF, Rtm, NetlinkSocket, parseAttrs, attrStr } = sys.netlink;
  const before = fdCount();
  const links = sys.netlink.rtnetlink(new NlMessage(Rtm.GetLink, NlmF.Dump).bytes(new Uint8Array(16)));
  const names = links.filter((r) => r.type === Rtm.NewLink).map((r) => attrStr(parseAttrs(r.payload, 16).get(3 /* IFLA_IFNAME */)));
  assert.ok(names.includes('lo') && names.includes(env.outer), names.join(' '));

  const tcmsg = new Uint8Array(20);
  new DataView(tcmsg.buffer).setInt32(4, 0x7ffffff0, true);
  const err = thrown(() => sys.netlink.rtnetlink(new NlMessage(Rtm.NewQdisc, NlmF.Ack | NlmF.Create).bytes(tcmsg).str(1, 'clsact')));
  assert.ok(err instanceof sys.SyscallError);
  assert.equal(err.call, 'netlink RTM_NEWQDISC');
  assert.equal(err.code, 'ENODEV');

  // RTM_SETLINK without NLM_F_ACK and nothing to change: the kernel sends nothing back.
  const s = NetlinkSocket.open(undefined, 100);
  try {
    const ifinfomsg = new Uint8Array(16);
    new DataView(ifinfomsg.buffer).setInt32(4, 1, true);
    const started = Date.now();
    const timeout = thrown(() => s.request(new NlMessage(Rtm.SetLink, 0).bytes(ifinfomsg)));
    assert.equal(timeout.call, 'netlink RTM_SETLINK');
    assert.equal(timeout.code, 'ETIMEDOUT');
    assert.ok(Date.now() - started < 2000);
    // The socket still works for the next request.
    assert.ok(s.request(new NlMessage(Rtm.GetLink, NlmF.Dump).bytes(new Uint8Array(16))).length > 0);
  } finally {
    s.close();
  }
  assert.equal(fdCount(), before);
});
