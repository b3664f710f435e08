// Attach tests of the program kinds outside the big families: Netfilter (BPF links on
// a netfilter hook, 6.4+), SkReuseport, LWT routes, and the common Link behaviour (pin,
// fromPin, detach twice). Kernel-dependent tests ask the feature probe and report the
// branch they took.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ArrayMap, Ebpf, EbpfLoader, FdLink, isLinkTypeSupported, LircMode2, Link, LinkType, LsmCgroup, LwtOut, LwtXmit, Netfilter, ObjectSpec, ProgramError, SkReuseport, u64 } from '../src/index.js';
import { kernel } from '../src/sys/native.js';
import { createNetEnv } from './net-env.js';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { bpffsDir, fdCount, le32, le64, drainDatagrams, reuseportSocket, thrown } from './helpers.js';
import { assertRefused, branch, kindOf, loadsHere } from './kernel-features.js';

// Taken before any test runs: the last test checks that every fd opened here was closed.
const fdsAtStart = fdCount();

const netfilterObject = fileURLToPath(new URL('../../bpf/attach_netfilter.o', import.meta.url));
const reuseportObject = fileURLToPath(new URL('../../bpf/attach_reuseport.o', import.meta.url));
const netfilter = kindOf(netfilterObject, 'nf_count');

/** Runs `has` on attach_netfilter.o where the kernel has netfilter programs and links; else asserts the typed refusal. */
async function withNetfilter(t: { diagnostic(m: string): void }, has: (ebpf: Ebpf) => unknown): Promise<void> {
  const programs = loadsHere(netfilter);
  await branch(t, 'netfilter programs and BPF_LINK_TYPE_NETFILTER', programs && isLinkTypeSupported(LinkType.Netfilter), async () => {
    const ebpf = Ebpf.load(netfilterObject);
    try {
      await has(ebpf);
    } finally {
      ebpf.close();
    }
  }, () => {
    if (!programs) return assertRefused(thrown(() => Ebpf.load(netfilterObject)), netfilter);
    const ebpf = Ebpf.load(netfilterObject);
    try {
      const err = thrown(() => (ebpf.program('nf_count') as Netfilter).attach({ family: 'ipv4', hook: 'output', priority: 1 }));
      assert.ok(err instanceof ProgramError && err.kind === 'NotSupported', String(err));
      assert.equal(err.feature, 'BPF_LINK_TYPE_NETFILTER');
    } finally {
      ebpf.close();
    }
  });
}

async function sendUdp(count: number): Promise<void> {
  const rx = createSocket('udp4');
  await new Promise<void>((resolve) => rx.bind(0, '127.0.0.1', resolve));
  const port = rx.address().port;
  let got = 0;
  const done = new Promise<void>((resolve) => rx.on('message', () => ++got === count && resolve()));
  const tx = createSocket('udp4');
  for (let i = 0; i < count; i++) tx.send('ping', port, '127.0.0.1');
  await done;
  tx.close();
  rx.close();
}

test('Netfilter: a BPF link on ipv4 output sees our packets; detach stops it; link info names the hook', async (t) => {
  const before = fdCount();
  await withNetfilter(t, async (ebpf) => {
    const nf = ebpf.program('nf_count');
    assert.ok(nf instanceof Netfilter);
    const calls = ArrayMap.tryFrom(ebpf.map('calls'), u64);
    const link = nf.attach({ family: 'ipv4', hook: 'output', priority: -128 });
    const info = link.info();
    assert.equal(info.type, LinkType.Netfilter);
    assert.equal(info.typeName, 'Netfilter');
    assert.deepEqual([info.pf, info.hooknum, info.priority], [2, 3, -128]);
    assert.ok(info.programId > 0);
    await sendUdp(5);
    const seen = calls.get(0);
    assert.ok(seen >= 5n, `counted ${seen}`);
    link.detach();
    assert.equal(link.attached, false);
    link.detach(); // harmless
    link.close();
    await sendUdp(3);
    assert.equal(calls.get(0), seen, 'nothing counted once detached');
    const err = thrown(() => link.info());
    assert.ok(err instanceof ProgramError && err.kind === 'NotAttached', String(err));
  });
  assert.equal(fdCount(), before);
});

test('Netfilter: bad options are refused before any system call; the kernel\'s refusal names the call', async (t) => {
  await withNetfilter(t, (ebpf) => netfilterOptions(ebpf));
});

function netfilterOptions(ebpf: Ebpf): void {
  const nf = ebpf.program('nf_count') as Netfilter;
  const bad = thrown(() => nf.attach({ family: 'ipx' as never, hook: 'output', priority: 1 }));
  assert.ok(bad instanceof ProgramError && bad.kind === 'AttachError');
  const refused = thrown(() => nf.attach({ family: 'ipv4', hook: 'output', priority: 0x7fffffff }));
  assert.ok(refused instanceof ProgramError && refused.kind === 'AttachError', String(refused));
  assert.equal(refused.call, 'bpf_link_create');
  assert.equal(refused.code, 'ERANGE'); // the kernel reserves INT_MIN and INT_MAX
  nf.unload();
  const notLoaded = thrown(() => nf.attach({ family: 'ipv4', hook: 'output', priority: 1 }));
  assert.ok(notLoaded instanceof ProgramError && notLoaded.kind === 'NotLoaded');
}

test('Link: pinned links outlive their object; Link.fromPin takes them back; detach ends a pinned link', async (t) => {
  const dir = bpffsDir('attach-misc');
  try {
    await withNetfilter(t, (ebpf) => pinnedLinks(ebpf, dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function pinnedLinks(ebpf: Ebpf, dir: string): Promise<void> {
  {
    const nf = ebpf.program('nf_count') as Netfilter;
    const calls = ArrayMap.tryFrom(ebpf.map('calls'), u64);
    const link = nf.attach({ family: 'ipv4', hook: 'output', priority: -127 });
    const id = link.info().id;
    link.pin(`${dir}/nf`);
    assert.equal(link.pinnedPath, `${dir}/nf`);
    link.close(); // pinned: stays attached
    nf.unload(); // the link holds the program
    const base = calls.get(0);
    await sendUdp(2);
    assert.ok(calls.get(0) >= base + 2n, 'still counting after close');
    using again = Link.fromPin(`${dir}/nf`);
    assert.ok(again instanceof FdLink);
    assert.equal(again.info().id, id);
    again.detach();
    const after = calls.get(0);
    await sendUdp(2);
    assert.equal(calls.get(0), after, 'detach ended the pinned link');
    const pin = thrown(() => again.pin(`${dir}/nf2`));
    assert.ok(pin instanceof ProgramError && pin.kind === 'NotAttached');
  }
}

test('SkReuseport: the program picks the socket of the SO_REUSEPORT group; detach gives the choice back to the kernel', async () => {
  const probe = createSocket('udp4');
  await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
  const port = probe.address().port;
  probe.close();
  const fds = [reuseportSocket(port), reuseportSocket(port)];
  try {
    using ebpf = new EbpfLoader().setGlobal('target', 1).load(reuseportObject);
    const select = ebpf.program('select_socket');
    assert.ok(select instanceof SkReuseport);
    const sockets = ebpf.map('sockets');
    fds.forEach((fd, i) => sockets.update(le32(i), le64(BigInt(fd))));
    const calls = ArrayMap.tryFrom(ebpf.map('calls'), u64);
    const link = select.attach(fds[0]!);
    const tx = createSocket('udp4');
    const send = async (n: number) => {
      for (let i = 0; i < n; i++) await new Promise<void>((resolve) => tx.send(`d${i}`, port, '127.0.0.1', () => resolve()));
      await new Promise((resolve) => setTimeout(resolve, 20));
    };
    await send(8);
    assert.deepEqual(fds.map(drainDatagrams), [0, 8], 'every datagram went to socket 1');
    assert.equal(calls.get(0), 8n);
    link.detach();
    link.detach();
    await send(8);
    assert.equal(calls.get(0), 8n, 'not run once detached');
    assert.equal(fds.map(drainDatagrams).reduce((a, b) => a + b), 8, 'the kernel spreads them again');
    tx.close();
  } finally {
    fds.forEach((fd) => kernel.close(fd));
  }
});

test('LircMode2 and LsmCgroup: loaded where the kernel has them, typed NotSupported naming the kind where not; attach of an unloaded program is NotLoaded', async (t) => {
  const kinds = fileURLToPath(new URL('../../bpf/kinds.o', import.meta.url));
  const names = [...ObjectSpec.parse(readFileSync(kinds)).programs.keys()];
  const only = (name: string | undefined) => {
    const loader = new EbpfLoader();
    for (const n of names) if (n !== name) loader.deferProgram(n);
    return loader.load(kinds);
  };
  for (const [name, Kind] of [['k_lirc', LircMode2], ['k_lsm_cgroup', LsmCgroup]] as const) {
    const k = kindOf(kinds, name);
    await branch(t, `${k.section} programs`, loadsHere(k), () => {
      const ebpf = only(name);
      try {
        assert.ok(ebpf.program(name) instanceof Kind);
        assert.ok(ebpf.program(name).loaded);
      } finally {
        ebpf.close();
      }
    }, () => assertRefused(thrown(() => only(name)), k));
  }
  using ebpf = only(undefined);
  const notLoaded = [
    thrown(() => (ebpf.program('k_lirc') as LircMode2).attach('/dev/lirc0')),
    thrown(() => (ebpf.program('k_lsm_cgroup') as LsmCgroup).attach('/sys/fs/cgroup')),
  ];
  for (const err of notLoaded) assert.ok(err instanceof ProgramError && err.kind === 'NotLoaded', String(err));
});

test('LwtXmit / LwtOut: a route with BPF encapsulation runs the program for our packets; detach deletes the route', async (t) => {
  const env = await createNetEnv('lwt');
  t.after(() => env.close());
  using ebpf = Ebpf.load(fileURLToPath(new URL('../../bpf/many.o', import.meta.url)));
  const counters = ArrayMap.tryFrom(ebpf.map('counters'), u64);
  const xmit = ebpf.program('lwt_xmit_0') as LwtXmit;
  assert.ok(xmit instanceof LwtXmit);
  // A host route to the echo server, more specific than the connected /30.
  const link = xmit.attach({ destination: `${env.innerIp}/32`, device: env.outer });
  const route = execFileSync('ip', ['route', 'show', `${env.innerIp}/32`], { encoding: 'utf8' });
  assert.match(route, /encap bpf xmit lwt_xmit_0/);
  assert.equal(await env.exchange(5, true), 5, 'BPF_OK lets every packet through');
  const seen = counters.get(16);
  assert.ok(seen >= 5n, `xmit ran ${seen} times`);
  const clash = thrown(() => (ebpf.program('lwt_out_0') as LwtOut).attach({ destination: env.innerIp, device: env.outer }));
  assert.ok(clash instanceof ProgramError && clash.kind === 'AttachError' && clash.code === 'EEXIST', String(clash));
  const out = (ebpf.program('lwt_out_0') as LwtOut).attach({ destination: env.innerIp, device: env.outer, replace: true });
  assert.match(execFileSync('ip', ['route', 'show', `${env.innerIp}/32`], { encoding: 'utf8' }), /encap bpf out lwt_out_0/);
  assert.equal(await env.exchange(3, true), 3);
  assert.ok(counters.get(15) >= 3n, 'out ran');
  out.detach();
  out.detach();
  link.detach(); // its route was replaced, then deleted: nothing left to do
  assert.equal(execFileSync('ip', ['route', 'show', `${env.innerIp}/32`], { encoding: 'utf8' }).trim(), '');
  const before = counters.get(15) + counters.get(16);
  assert.equal(await env.exchange(2, true), 2);
  assert.equal(counters.get(15) + counters.get(16), before, 'no program runs once the routes are gone');
  const bad = thrown(() => xmit.attach({ destination: '300.1.1.1/32', device: env.outer }));
  assert.ok(bad instanceof ProgramError && bad.kind === 'UnknownTarget');
  const noDev = thrown(() => xmit.attach({ destination: '198.18.0.1', device: 'no-such-if' }));
  assert.ok(noDev instanceof ProgramError && noDev.kind === 'UnknownInterface');
});

test('no file descriptor leaked by this file', () => {
  assert.equal(fdCount(), fdsAtStart);
});
