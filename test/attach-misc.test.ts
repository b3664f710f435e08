// Attach tests of the program kinds outside the big families: Netfilter (BPF links on
// a netfilter hook) and the common Link behaviour (pin, fromPin, detach twice).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ArrayMap, Ebpf, FdLink, Link, LinkType, Netfilter, ProgramError, u64 } from '../src/index.js';
import { bpffsDir, fdCount, thrown } from './helpers.js';

const object = fileURLToPath(new URL('../../bpf/attach_misc.o', import.meta.url));

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

test('Netfilter: a BPF link on ipv4 output sees our packets; detach stops it; link info names the hook', async () => {
  const before = fdCount();
  {
    using ebpf = Ebpf.load(object);
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
    const seen = calls.get(1);
    assert.ok(seen >= 5n, `counted ${seen}`);
    link.detach();
    assert.equal(link.attached, false);
    link.detach(); // harmless
    link.close();
    await sendUdp(3);
    assert.equal(calls.get(1), seen, 'nothing counted once detached');
    const err = thrown(() => link.info());
    assert.ok(err instanceof ProgramError && err.kind === 'NotAttached', String(err));
  }
  assert.equal(fdCount(), before);
});

test('Netfilter: bad options are refused before any system call; the kernel\'s refusal names the call', () => {
  using ebpf = Ebpf.load(object);
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
});

test('Link: pinned links outlive their object; Link.fromPin takes them back; detach ends a pinned link', async () => {
  const dir = bpffsDir('attach-misc');
  try {
    using ebpf = Ebpf.load(object);
    const nf = ebpf.program('nf_count') as Netfilter;
    const calls = ArrayMap.tryFrom(ebpf.map('calls'), u64);
    const link = nf.attach({ family: 'ipv4', hook: 'output', priority: -127 });
    const id = link.info().id;
    link.pin(`${dir}/nf`);
    assert.equal(link.pinnedPath, `${dir}/nf`);
    link.close(); // pinned: stays attached
    nf.unload(); // the link holds the program
    const base = calls.get(1);
    await sendUdp(2);
    assert.ok(calls.get(1) >= base + 2n, 'still counting after close');
    using again = Link.fromPin(`${dir}/nf`);
    assert.ok(again instanceof FdLink);
    assert.equal(again.info().id, id);
    again.detach();
    const after = calls.get(1);
    await sendUdp(2);
    assert.equal(calls.get(1), after, 'detach ended the pinned link');
    const pin = thrown(() => again.pin(`${dir}/nf2`));
    assert.ok(pin instanceof ProgramError && pin.kind === 'NotAttached');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
