// UserRingBuf against the real kernel: samples written from JavaScript and drained by a
// BPF program with bpf_user_ringbuf_drain (bpf/ringbuf_user.c, a syscall program run
// with BPF_PROG_TEST_RUN), which sums each sample's first u64 into .bss.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ebpf, EbpfLoader, isMapTypeSupported, MapError, MapType, RingBuf, Syscall, UserRingBuf } from '../src/index.js';
import { fdCount, runInWorker, thrown } from './helpers.js';
import { assertMapRefused } from './kernel-features.js';

const OBJECT = fileURLToPath(new URL('../../bpf/ringbuf_user.o', import.meta.url));
const SIZE = 1 << 14;
const supported = isMapTypeSupported(MapType.UserRingbuf);

function bpfMappings(): number {
  return readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('bpf-map')).length;
}

interface Kernel {
  ebpf: Ebpf;
  prog: Syscall;
  /** Runs the drain program: samples drained (or -errno). */
  drain(): number;
  /** .bss: total, samples, short_samples. */
  counters(): [bigint, bigint, bigint];
}

async function withUser(t: { diagnostic(m: string): void }, body: (k: Kernel, urb: UserRingBuf) => unknown): Promise<void> {
  const before = fdCount();
  const mappings = bpfMappings();
  if (!supported) {
    t.diagnostic('this kernel lacks BPF_MAP_TYPE_USER_RINGBUF: the typed NotSupported is asserted');
    assertMapRefused(thrown(() => UserRingBuf.create(SIZE)), 'BPF_MAP_TYPE_USER_RINGBUF');
    return;
  }
  const ebpf = new EbpfLoader().load(OBJECT);
  const prog = ebpf.program('drain');
  assert.ok(prog instanceof Syscall);
  const k: Kernel = {
    ebpf,
    prog,
    drain: () => prog.run() | 0,
    counters() {
      const b = ebpf.map('.bss').lookup(new Uint8Array(4))!;
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      return [v.getBigUint64(0, true), v.getBigUint64(8, true), v.getBigUint64(16, true)];
    },
  };
  const urb = UserRingBuf.tryFrom(ebpf.map('urb'));
  try {
    await body(k, urb);
  } finally {
    urb.close();
    ebpf.close();
  }
  // libuv closes a watch's descriptor, and a worker thread its own, a little later.
  for (let i = 0; i < 100 && fdCount() !== before; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(fdCount(), before, 'every descriptor closed');
  assert.equal(bpfMappings(), mappings, 'every mapping unmapped');
}

function put(urb: UserRingBuf, value: bigint, size = 8): void {
  const s = urb.reserve(size);
  assert.ok(s, 'room');
  assert.equal(s.data.length, size);
  if (size >= 8) new DataView(s.data.buffer, s.data.byteOffset, size).setBigUint64(0, value, true);
  s.submit();
}

test('UserRingBuf: samples submitted from JS are drained by bpf_user_ringbuf_drain; discarded ones are not', async (t) => {
  await withUser(t, (k, urb) => {
    assert.equal(urb.byteSize, SIZE);
    assert.equal(urb.available, SIZE);
    assert.equal(k.drain(), 0);
    put(urb, 5n);
    put(urb, 7n, 24);
    const d = urb.reserve(8)!;
    new DataView(d.data.buffer, d.data.byteOffset).setBigUint64(0, 1000n, true);
    d.discard();
    assert.equal(thrown(() => d.submit()).kind, 'InvalidArgument', 'once');
    put(urb, 4n, 3); // shorter than a u64: the program counts it apart
    assert.equal(k.drain(), 3, 'the discarded sample is skipped, not counted');
    assert.deepEqual(k.counters(), [12n, 2n, 1n]);
    assert.equal(urb.available, SIZE);
  });
});

test('UserRingBuf: a busy sample stops the kernel until submitted (out-of-order completion)', async (t) => {
  await withUser(t, (k, urb) => {
    const a = urb.reserve(8)!;
    const b = urb.reserve(8)!;
    new DataView(a.data.buffer, a.data.byteOffset).setBigUint64(0, 1n, true);
    new DataView(b.data.buffer, b.data.byteOffset).setBigUint64(0, 2n, true);
    b.submit();
    assert.ok(k.drain() <= 0, 'nothing before the busy sample');
    assert.deepEqual(k.counters(), [0n, 0n, 0n]);
    a.submit();
    assert.equal(k.drain(), 2);
    assert.deepEqual(k.counters(), [3n, 2n, 0n]);
  });
});

test('UserRingBuf: a full ring gives null; wrap-around samples arrive whole; sizes that cannot fit are refused', async (t) => {
  await withUser(t, (k, urb) => {
    let n = 0;
    for (let s; (s = urb.reserve(8)); n++) s.submit();
    // 16 bytes a sample, until reserve returns null.
    assert.equal(n, SIZE / 16);
    assert.equal(urb.available, 0);
    assert.equal(urb.reserve(8), null);
    assert.equal(k.drain(), SIZE / 16);
    assert.equal(thrown(() => urb.reserve(SIZE)).kind, 'InvalidArgument');
    assert.equal(thrown(() => urb.reserve(-1)).kind, 'InvalidArgument');
    // Samples of 1000 bytes (1008 with the header) cross the end of the ring now and then.
    let expect = k.counters()[0];
    for (let i = 0; i < 50; i++) {
      for (let j = 0; j < 3; j++) {
        const v = BigInt(i * 3 + j + 1) * 0x1_0000_0001n;
        put(urb, v, 1000);
        expect += v;
      }
      assert.equal(k.drain(), 3);
    }
    assert.equal(k.counters()[0], expect);
  });
});

test('UserRingBuf.reserveBlocking: times out on a full ring; returns once a BPF drain (another thread) makes room', async (t) => {
  await withUser(t, async (k, urb) => {
    // Reserved, never submitted: a drain stops at the first (busy), so no room comes.
    while (urb.reserve(8)) void 0;
    assert.ok(k.drain() <= 0);
    const started = Date.now();
    assert.equal(urb.reserveBlocking(8, 60), null);
    assert.ok(Date.now() - started >= 55, 'waited for the timeout');
  });
  await withUser(t, async (k, urb) => {
    while (urb.available >= 16) put(urb, 1n);
    assert.equal(urb.reserve(8), null);
    const programId = k.prog.info().id;
    const worker = runInWorker<{ drained: number }>(new URL('./user-ringbuf-worker.js', import.meta.url), { programId, delayMs: 100 }, 30_000);
    // The worker thread starts and runs while this thread blocks in epoll_wait (starting
    // it takes seconds on a busy emulated CPU).
    const started = Date.now();
    const s = urb.reserveBlocking(8, 20_000);
    const waited = Date.now() - started;
    assert.ok(s, 'room after the drain');
    s.discard();
    assert.equal((await worker).drained, SIZE / 16);
    assert.ok(waited >= 50 && waited < 20_000, `woken by the drain after ${waited} ms`);
  });
});

test('UserRingBuf: tryFrom refuses other map types; close detaches sample views', async (t) => {
  if (isMapTypeSupported(MapType.Ringbuf)) {
    using rb = RingBuf.create(4096);
    const err = thrown(() => UserRingBuf.tryFrom(rb.map));
    assert.ok(err instanceof MapError && err.kind === 'InvalidMapType', String(err));
  }
  await withUser(t, (_k, urb) => {
    const s = urb.reserve(8)!;
    urb.close();
    assert.equal(s.data.length, 0, 'detached');
    s.discard(); // nothing left to complete, no fault
    assert.equal(thrown(() => urb.reserve(8)).kind, 'Closed');
  });
  if (supported) {
    const before = fdCount();
    const u = UserRingBuf.create(SIZE);
    u.close();
    assert.equal(u.map.closed, true);
    assert.equal(fdCount(), before);
  }
});
