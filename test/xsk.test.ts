// AF_XDP end to end: frames sent over a veth pair from a namespace the test makes reach
// an XdpSocket bound to the receiving end, handed over by bpf/xsk.c's XDP program
// through an XskMap; an empty slot falls back to XDP_PASS and the stack. Also the
// addon's AF_XDP entry points (UMEM registration, ring mappings, socket options) with
// wrong arguments, and the typed errors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import {
  ArrayMap,
  EbpfLoader,
  isNotSupported,
  MapData,
  MapType,
  XdpSocket,
  XdpSocketError,
  XskMap,
  u64,
  type Xdp,
  type XdpSocketOptions,
} from '../src/index.js';
import { kernel, replaceKernel, type Kernel } from '../src/sys/native.js';
import { Errno } from '../src/sys/errors.js';
import { fdCount, thrown } from './helpers.js';
import { survives, throwsRange, throwsType, weirdValues } from './native-args.js';

const OBJECT = fileURLToPath(new URL('../../bpf/xsk.o', import.meta.url));
const AF_XDP = 44, AF_PACKET = 17, SOCK_RAW = 3, SOL_XDP = 283;
const MSG_DONTWAIT = 0x40;
const PROT_RW = 3, MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20;
const ETH_P_TEST = 0x88b5;
// counts (bpf/xsk.c)
const REDIRECTED = 0, PASSED = 1;

/** What the kernel answers to socket(AF_XDP): an fd (closed again) or -errno. */
function probeAfXdp(): number {
  const fd = kernel.socket(AF_XDP, SOCK_RAW, 0);
  if (fd >= 0) kernel.close(fd);
  return fd >= 0 ? 0 : fd;
}
const afXdp = probeAfXdp();

/** The mappings of AF_XDP sockets (their rings) in this process. */
const socketMappings = () => readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => /socket:\[\d+\]|XDP/.test(l)).length;

/** Waits until `done()` or 3 s. */
async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}

// ---- a veth pair: `inner` in a namespace made for the test sends, `outer` here receives ----

// One sender for the whole file (starting Python in the namespace takes most of a second):
// a line of hex frames in, "sent" out once they are sent.
const SENDER = `
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
print('ready', flush=True)
for line in sys.stdin:
    for h in line.split():
        s.send(bytes.fromhex(h))
    print('sent', flush=True)
`;

let sender: ChildProcess;
let senderOut: AsyncIterator<string>;
let ns: string, outer: string, inner: string, outerIndex: number;
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });

before(async () => {
  const pid = process.pid;
  ns = `tsbpf-xsk-${pid}`;
  outer = `txsk${pid}a`.slice(0, 15);
  inner = `txsk${pid}b`.slice(0, 15);
  ip('netns', 'add', ns);
  // One queue each way: every frame arrives on queue 0.
  ip('link', 'add', outer, 'numtxqueues', '1', 'numrxqueues', '1', 'type', 'veth', 'peer', 'name', inner, 'numtxqueues', '1', 'numrxqueues', '1', 'netns', ns);
  // An MTU above 1792 (2048 - XDP_PACKET_HEADROOM), for a frame too long for a 2048-byte UMEM frame.
  ip('link', 'set', outer, 'mtu', '2000', 'up');
  ip('-n', ns, 'link', 'set', inner, 'mtu', '2000', 'up');
  outerIndex = kernel.ifNameToIndex(outer);
  sender = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', SENDER, inner], { stdio: ['pipe', 'pipe', 'inherit'] });
  senderOut = createInterface({ input: sender.stdout! })[Symbol.asyncIterator]();
  const { value } = await senderOut.next();
  assert.equal(value, 'ready');
});

after(async () => {
  if (sender && sender.exitCode === null) {
    const closed = once(sender, 'close');
    sender.stdin!.end();
    await closed;
  }
  for (const args of [['link', 'del', outer], ['netns', 'del', ns]]) {
    try {
      ip(...args);
    } catch {
      // never made, or gone with the namespace
    }
  }
});

/** Sends raw Ethernet frames out of `inner`, from inside the namespace. */
async function send(frames: Uint8Array[]): Promise<void> {
  sender.stdin!.write(frames.map((f) => Buffer.from(f).toString('hex')).join(' ') + '\n');
  const { value } = await senderOut.next();
  assert.equal(value, 'sent');
}

/** A broadcast frame of ethertype 0x88b5, `length` bytes, its payload made from `seed`. */
function frame(seed: number, length: number): Uint8Array {
  const f = new Uint8Array(length);
  f.fill(0xff, 0, 6);
  f.set([0x02, 0x58, 0x53, 0x4b, 0, 1], 6);
  f.set([ETH_P_TEST >> 8, ETH_P_TEST & 0xff], 12);
  for (let i = 14; i < length; i++) f[i] = (seed * 31 + i * 7) & 0xff;
  return f;
}

/** A packet socket on `outer` for ethertype 0x88b5: what reaches the stack after XDP. */
function stackTap(): { count(): number; close(): void } {
  const fd = kernel.socket(AF_PACKET, SOCK_RAW, ((ETH_P_TEST & 0xff) << 8) | (ETH_P_TEST >> 8));
  assert.ok(fd >= 0, `AF_PACKET socket: ${fd}`);
  // struct sockaddr_ll {u16 family; be16 protocol; s32 ifindex; u16 hatype; u8 pkttype; u8 halen; u8 addr[8]}
  const sll = new DataView(new ArrayBuffer(20));
  sll.setUint16(0, AF_PACKET, true);
  sll.setUint16(2, ETH_P_TEST, false);
  sll.setInt32(4, outerIndex, true);
  assert.equal(kernel.bind(fd, new Uint8Array(sll.buffer)), 0);
  const buffer = new Uint8Array(2048);
  let seen = 0;
  return {
    count() {
      while (kernel.recv(fd, buffer, MSG_DONTWAIT) >= 0) seen++;
      return seen;
    },
    close: () => kernel.close(fd),
  };
}

/**
 * XdpSocket.create, waiting while the queue is busy: the kernel frees a closed socket's
 * queue from a work item, some milliseconds after the close.
 */
async function createWhenFree(iface: number | string, options?: XdpSocketOptions): Promise<XdpSocket> {
  const deadline = Date.now() + 3000;
  for (;;) {
    try {
      return XdpSocket.create(iface, options);
    } catch (err) {
      if (!(err instanceof XdpSocketError && err.code === 'EBUSY') || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

/** fdCount() once the event loop has closed what it was closing (a watch's duplicate fd closes on the loop's next turn). */
async function settledFdCount(expected: number): Promise<number> {
  await until(() => fdCount() === expected);
  return fdCount();
}

function loadProgram(xsks: XskMap) {
  const loader = new EbpfLoader();
  loader.replaceMap('xsks', xsks.map);
  return loader.load(OBJECT);
}

test('XdpSocket: frames an XDP program redirects through the XskMap arrive with their exact bytes, again and again through recycled frames; an empty slot falls back to XDP_PASS and the stack', async (t) => {
  if (afXdp === -Errno.EAFNOSUPPORT) {
    const err = thrown(() => XdpSocket.create(outerIndex));
    assert.ok(err instanceof XdpSocketError && err.kind === 'NotSupported' && err.feature === 'AF_XDP', String(err));
    t.diagnostic('this kernel has no AF_XDP: NotSupported checked');
    return;
  }
  const fds = fdCount();
  const mappings = socketMappings();
  {
    using xsks = XskMap.create({ maxEntries: 4 });
    using ebpf = loadProgram(xsks);
    const counts = ArrayMap.tryFrom(ebpf.map('counts'), u64);
    using _link = (ebpf.program('xsk_redirect') as Xdp).attach(outerIndex, { mode: 'drv' });
    const tap = stackTap();
    try {

    // An empty slot: bpf_redirect_map returns its fallback, and the frames go up the stack.
    await send([frame(0, 60), frame(1, 60), frame(2, 60)]);
    await until(() => tap.count() === 3);
    assert.equal(tap.count(), 3, 'the stack got the frames');
    assert.equal(counts.get(PASSED), 3n);
    assert.equal(counts.get(REDIRECTED), 0n);

    // A bound socket in slot 0 (queue 0): every frame reaches it, none the stack. 8 UMEM
    // frames receive 24 frames: each is copied out and its UMEM frame refilled.
    using xsk = await createWhenFree(outer, { queue: 0, frameCount: 8 });
    assert.equal(xsk.ifindex, outerIndex);
    assert.equal(xsk.zeroCopy, false, 'copy mode');
    assert.equal(socketMappings(), mappings + 2, 'RX and fill rings mapped');
    xsks.set(0, xsk.fd);
    const sent: Uint8Array[] = [];
    const got: Uint8Array[] = [];
    for (let round = 0; round < 3; round++) {
      const batch = Array.from({ length: 8 }, (_, i) => frame(round * 8 + i + 10, [60, 61, 64, 100, 333, 512, 1000, 1514][i]!));
      sent.push(...batch);
      await send(batch);
      while (got.length < sent.length) {
        await Promise.race([xsk.readable(), new Promise((r) => setTimeout(r, 3000))]);
        const frames = xsk.receive();
        if (frames.length === 0) break;
        got.push(...frames);
      }
    }
    assert.equal(got.length, sent.length, 'every frame received');
    assert.deepEqual(got.map((f) => Buffer.from(f).toString('hex')), sent.map((f) => Buffer.from(f).toString('hex')), 'the exact bytes, in order');
    assert.equal(counts.get(REDIRECTED), 24n);
    assert.equal(tap.count(), 3, 'no redirected frame reached the stack');
    assert.equal(xsk.pending, 0);
    const stats = xsk.statistics();
    assert.equal(stats.rxDropped, 0n);
    assert.equal(stats.rxRingFull, 0n);
    assert.equal(stats.rxInvalidDescs, 0n);

    // receive(max) takes no more than asked; the rest waits.
    await send([frame(100, 70), frame(101, 71), frame(102, 72)]);
    await until(() => xsk.pending === 3);
    assert.deepEqual(xsk.receive(2).map((f) => f.length), [70, 71]);
    assert.equal(xsk.pending, 1);
    assert.deepEqual(xsk.receive().map((f) => f[14]), [frame(102, 72)[14]]);

    // Emptied again: back to the fallback.
    xsks.remove(0);
    await send([frame(200, 60), frame(201, 60)]);
    await until(() => tap.count() === 5);
    assert.equal(tap.count(), 5);
    assert.deepEqual(xsk.receive(), []);
    assert.equal(counts.get(PASSED), 5n);

    // Closing releases the socket (its rings unmapped first: they hold it), and the kernel
    // takes a released socket out of every XskMap: the slot falls back by itself.
    xsks.set(0, xsk.fd);
    xsk.close();
    xsk.close(); // idempotent
    assert.equal(socketMappings(), mappings, 'rings unmapped');
    assert.equal(thrown(() => xsk.receive()).kind, 'Closed');
    assert.equal(thrown(() => xsk.statistics()).kind, 'Closed');
    await send([frame(300, 60)]);
    await until(() => tap.count() === 6);
    assert.equal(tap.count(), 6, 'the released socket left slot 0');
    assert.equal(counts.get(PASSED), 6n);
    assert.equal(counts.get(REDIRECTED), 27n);
    } finally {
      tap.close();
    }
  }
  assert.equal(await settledFdCount(fds), fds);
  assert.equal(socketMappings(), mappings);
});

test('XdpSocket: binding a queue the interface lacks is refused; readable() waits for a frame, stops on abort and on close; a frame longer than frameSize - 256 is dropped and counted', async () => {
  if (afXdp === -Errno.EAFNOSUPPORT) return;
  const fds = fdCount();
  {
    using xsks = XskMap.create({ maxEntries: 4 });
    using ebpf = loadProgram(xsks);
    const counts = ArrayMap.tryFrom(ebpf.map('counts'), u64);
    using _link = (ebpf.program('xsk_redirect') as Xdp).attach(outerIndex, { mode: 'drv' });
    // Queue 1 does not exist on a one-queue veth: bind refuses.
    const wrongQueue = thrown(() => XdpSocket.create(outer, { queue: 1 }));
    assert.ok(wrongQueue instanceof XdpSocketError && wrongQueue.kind === 'SyscallError', String(wrongQueue));
    assert.equal(wrongQueue.code, 'EINVAL');

    using xsk = await createWhenFree(outerIndex, { frameCount: 4, ringSize: 16 });
    xsks.set(0, xsk.fd);
    const ac = new AbortController();
    const waiting = xsk.readable(ac.signal);
    ac.abort(new Error('stop'));
    await assert.rejects(waiting, /stop/);
    const woken = xsk.readable();
    await send([frame(7, 99)]);
    await woken;
    assert.deepEqual(xsk.receive().map((f) => f.length), [99]);
    assert.equal(counts.get(REDIRECTED), 1n);
    assert.equal(xsk.statistics().rxDropped, 0n);
    xsk.close();

    // 2048-byte frames hold 1792 bytes of frame: 1792 arrives, 1793 is dropped (rxDropped).
    using small = await createWhenFree(outerIndex, { frameCount: 4, frameSize: 2048 });
    xsks.set(0, small.fd);
    await send([frame(8, 1792), frame(9, 1793), frame(10, 64)]);
    await until(() => counts.get(REDIRECTED) === 4n && small.pending === 2);
    assert.deepEqual(small.receive().map((f) => f.length), [1792, 64]);
    assert.equal(small.statistics().rxDropped, 1n);
    const pending = small.readable();
    small.close();
    await pending; // close resolves a waiter; receive then says Closed
    assert.equal(thrown(() => small.receive()).kind, 'Closed');
    assert.equal(thrown(() => small.readable()).kind, 'Closed');
  }
  assert.equal(await settledFdCount(fds), fds);
});

test('XdpSocket: typed errors: NotSupported without AF_XDP (EAFNOSUPPORT) or zero-copy support, InvalidArgument before any socket', async () => {
  const fds = fdCount();
  const restore = replaceKernel({ socket: () => -Errno.EAFNOSUPPORT });
  try {
    const err = thrown(() => XdpSocket.create(1));
    assert.ok(err instanceof XdpSocketError, String(err));
    assert.equal(err.kind, 'NotSupported');
    assert.equal(err.feature, 'AF_XDP');
    assert.ok(isNotSupported(err));
  } finally {
    restore();
  }
  let sockets = 0;
  const count = replaceKernel({ socket: (...args) => (sockets++, kernel.socket(...args)) });
  try {
    for (const [iface, options] of [
      [0, {}],
      ['', {}],
      ['no-such-iface0', {}],
      ['lo\0x', {}],
      [{}, {}],
      [1, { queue: -1 }],
      [1, { frameSize: 3000 }],
      [1, { frameSize: 1024 }],
      [1, { frameCount: 0 }],
      [1, { frameCount: 1.5 }],
      [1, { frameCount: 64, ringSize: 32 }],
      [1, { ringSize: 3 }],
      [1, { mode: 'fast' }],
      [1, null],
    ] as [never, never][]) {
      const err = thrown(() => XdpSocket.create(iface, options));
      assert.ok(err instanceof XdpSocketError && err.kind === 'InvalidArgument', `${String(iface)} ${JSON.stringify(options)}: ${String(err)}`);
    }
  } finally {
    count();
  }
  assert.equal(sockets, 0, 'refused before any socket');
  if (afXdp === 0) {
    // Zero-copy needs the driver; veth copies. Bound, or NotSupported, and nothing left open.
    try {
      (await createWhenFree(outer, { mode: 'zerocopy' })).close();
    } catch (err) {
      assert.ok(err instanceof XdpSocketError && err.kind === 'NotSupported' && err.feature === 'AF_XDP zero-copy', String(err));
    }
  }
  assert.equal(fdCount(), fds);
});

test('addon: xskUmemReg takes only a live anonymous mapping of its own; AF_XDP rings map only at their offsets, shared; XDP_UMEM_REG is not a plain socket option', () => {
  if (afXdp !== 0) return;
  const fds = fdCount();
  const fd = kernel.socket(AF_XDP, SOCK_RAW, 0);
  // Not a mapping, a map's mapping, an unmapped one: refused before the kernel.
  throwsType(() => kernel.xskUmemReg(fd, new ArrayBuffer(8192), 4096, 0, 0));
  const md = MapData.create({ type: MapType.Array, keySize: 4, valueSize: 4096, maxEntries: 2, flags: 1 << 10 /* BPF_F_MMAPABLE */ });
  const mapMemory = kernel.mmap(md.fd, 8192, PROT_RW, MAP_SHARED, 0);
  assert.ok(mapMemory instanceof ArrayBuffer);
  throwsRange(() => kernel.xskUmemReg(fd, mapMemory, 4096, 0, 0), 'a map is not anonymous memory');
  kernel.munmap(mapMemory);
  md.close();
  const gone = kernel.mmap(-1, 8192, PROT_RW, MAP_PRIVATE | MAP_ANONYMOUS, 0) as ArrayBuffer;
  kernel.munmap(gone);
  throwsRange(() => kernel.xskUmemReg(fd, gone, 4096, 0, 0), 'unmapped');
  const umem = kernel.mmap(-1, 8192, PROT_RW, MAP_PRIVATE | MAP_ANONYMOUS, 0) as ArrayBuffer;
  throwsRange(() => kernel.xskUmemReg(fd, umem, 4096, 0, 4), 'flags beyond XDP_UMEM_UNALIGNED_CHUNK_FLAG | XDP_UMEM_TX_SW_CSUM');
  for (const [name, v] of weirdValues()) {
    for (let i = 0; i < 5; i++) {
      const args: unknown[] = [fd, umem, 4096, 0, 0];
      args[i] = v;
      survives(`xskUmemReg arg ${i} = ${name}`, () => (kernel.xskUmemReg as (...a: unknown[]) => unknown)(...args));
    }
  }
  // The kernel checks what the addon passes on: a chunk size that is no power of two, on another socket.
  assert.equal(kernel.xskUmemReg(fd, umem, 3000, 0, 0), -Errno.EINVAL);
  const udp = kernel.socket(2, 2, 0);
  assert.ok(kernel.xskUmemReg(udp, umem, 4096, 0, 0) < 0);
  kernel.close(udp);
  assert.equal(kernel.xskUmemReg(fd, umem, 4096, 0, 0), 0);
  assert.equal(kernel.xskUmemReg(fd, umem, 4096, 0, 0), -Errno.EBUSY, 'one UMEM a socket');
  throwsRange(() => kernel.setsockopt(fd, SOL_XDP, 4 /* XDP_UMEM_REG */, new Uint8Array(32)), 'it carries an address');
  assert.equal(kernel.setsockopt(fd, SOL_XDP, 5 /* XDP_UMEM_FILL_RING */, 8), 0);
  assert.equal(kernel.setsockopt(fd, SOL_XDP, 2 /* XDP_RX_RING */, 8), 0);
  const offsets = new Uint8Array(128);
  assert.equal(kernel.getsockopt(fd, SOL_XDP, 1 /* XDP_MMAP_OFFSETS */, offsets), 128);
  // Rings: at their offsets only, shared, never through mmapRing; the kernel checks the length.
  throwsRange(() => kernel.mmap(fd, 4096, PROT_RW, MAP_SHARED, 4096), 'not a ring offset');
  throwsRange(() => kernel.mmap(fd, 4096, PROT_RW, MAP_PRIVATE, 0), 'a private copy');
  throwsRange(() => kernel.mmapRing(fd, 4096, 0), 'not an event ring');
  assert.equal(kernel.mmap(fd, 1 << 20, PROT_RW, MAP_SHARED, 0), -Errno.EINVAL, 'longer than the ring');
  const rx = kernel.mmap(fd, 4096, PROT_RW, MAP_SHARED, 0);
  assert.ok(rx instanceof ArrayBuffer, String(rx));
  new Uint8Array(rx).fill(0, 0, 4096); // writable without faulting
  assert.equal(kernel.munmap(rx), 0);
  assert.equal(kernel.mmap(fd, 4096, PROT_RW, MAP_SHARED, 0x180000000), -Errno.EINVAL, 'no completion ring set up');
  kernel.munmap(umem);
  kernel.close(fd);
  assert.equal(fdCount(), fds);
});

test('XdpSocket.create, failing at any step, throws a typed error and leaves no fd and no ring mapping behind', async () => {
  if (afXdp !== 0) return;
  const fds = fdCount();
  const mappings = socketMappings();
  const real = { ...kernel };
  const FILL_RING = 0x100000000;
  const cases: [string, Partial<Kernel>, string][] = [
    ['UMEM registration', { xskUmemReg: () => -Errno.ENOMEM }, 'ENOMEM'],
    ['the UMEM mapping', { mmap: (fd, len, prot, flags, off) => (fd === -1 ? -Errno.ENOMEM : real.mmap(fd, len, prot, flags, off)) }, 'ENOMEM'],
    ['a ring size', { setsockopt: () => -Errno.EINVAL }, 'EINVAL'],
    ['the ring offsets', { getsockopt: () => -Errno.EINVAL }, 'EINVAL'],
    ['the fill ring mapping', { mmap: (fd, len, prot, flags, off) => (off === FILL_RING ? -Errno.ENOMEM : real.mmap(fd, len, prot, flags, off)) }, 'ENOMEM'],
    ['bind', { bind: () => -Errno.EBUSY }, 'EBUSY'],
  ];
  for (const [step, fault, code] of cases) {
    const restore = replaceKernel(fault);
    let err: unknown;
    try {
      err = thrown(() => XdpSocket.create(outer));
    } finally {
      restore();
    }
    assert.ok(err instanceof XdpSocketError && err.kind === 'SyscallError', `${step}: ${String(err)}`);
    assert.equal(err.code, code, step);
    assert.equal(fdCount(), fds, `${step}: no fd left`);
    assert.equal(socketMappings(), mappings, `${step}: no ring left mapped`);
  }
});
