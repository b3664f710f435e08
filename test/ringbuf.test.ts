// RingBuf and RingBufPoller against the real kernel: records written by a BPF program
// (bpf/ringbuf.c, run with BPF_PROG_TEST_RUN) read from the mapped ring in order, with
// their contents; wrap-around, discarded records, a full ring, batches, codecs, the
// event-loop wakeups, abort, several rings on one poller, close and leaks. The busy bit
// cannot be provoked from a test run (a program commits before the run returns), so
// its handling is shown on a ring of our own behind the kernel seam.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ArrayMap, Ebpf, EbpfLoader, isMapTypeSupported, MapError, MapType, RingBuf, RingBufPoller, struct, Syscall, u32 } from '../src/index.js';
import { replaceKernel } from '../src/testing.js';
import { fdCount, thrown, watchesClosed } from './helpers.js';
import { assertMapRefused } from './kernel-features.js';

const OBJECT = fileURLToPath(new URL('../../bpf/ringbuf.o', import.meta.url));
const PAGE = 4096;
const supported = isMapTypeSupported(MapType.Ringbuf);

/** Lines of /proc/self/maps that map BPF maps. */
function bpfMappings(): number {
  return readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('bpf-map')).length;
}

interface Produced {
  written: number;
  failed: number;
}

/** The producer object with its rings of `sizes` bytes, and a function running it. */
function producer(sizes: [number, number] = [PAGE, PAGE]): { ebpf: Ebpf; produce(count: number, size: number, o?: { seq?: number; discardEvery?: number; ring?: number }): Produced } {
  const ebpf = new EbpfLoader().setMaxEntries('rb', sizes[0]).setMaxEntries('rb2', sizes[1]).load(OBJECT);
  const prog = ebpf.program('produce');
  assert.ok(prog instanceof Syscall);
  const args = new Uint8Array(32);
  const v = new DataView(args.buffer);
  return {
    ebpf,
    produce(count, size, o = {}) {
      args.fill(0);
      v.setUint32(0, count, true);
      v.setUint32(4, size, true);
      v.setUint32(8, o.seq ?? 0, true);
      v.setUint32(12, o.discardEvery ?? 0, true);
      v.setUint32(16, o.ring ?? 0, true);
      prog.run(args);
      return { written: v.getUint32(24, true), failed: v.getUint32(28, true) };
    },
  };
}

const seqOf = (r: Uint8Array) => new DataView(r.buffer, r.byteOffset, r.byteLength).getUint32(0, true);
const sizeOf = (r: Uint8Array) => new DataView(r.buffer, r.byteOffset, r.byteLength).getUint32(4, true);

/** Runs `body` with the producer where the kernel has ring buffers; the typed NotSupported where not. */
async function withRing(t: { diagnostic(m: string): void }, body: (p: ReturnType<typeof producer>) => unknown, sizes?: [number, number]): Promise<void> {
  const before = fdCount();
  const mappings = bpfMappings();
  if (!supported) {
    t.diagnostic('this kernel lacks BPF_MAP_TYPE_RINGBUF: the typed NotSupported is asserted');
    assertMapRefused(thrown(() => RingBuf.create(PAGE)), 'BPF_MAP_TYPE_RINGBUF');
    return;
  }
  const p = producer(sizes);
  try {
    await body(p);
  } finally {
    p.ebpf.close();
  }
  // libuv closes a watch's descriptor in a later turn of the loop.
  await watchesClosed();
  assert.equal(fdCount(), before, 'every descriptor closed');
  assert.equal(bpfMappings(), mappings, 'every mapping unmapped');
}

test('RingBuf.drain: records in order with their contents, padded to 8 bytes', async (t) => {
  await withRing(t, (p) => {
    using rb = RingBuf.tryFrom(p.ebpf.map('rb'));
    assert.equal(rb.byteSize, PAGE);
    assert.equal(rb.drain(() => assert.fail('empty')), 0);
    assert.deepEqual(p.produce(10, 24, { seq: 100 }), { written: 10, failed: 0 });
    assert.equal(rb.pending, 10 * 32);
    const seen: number[] = [];
    assert.equal(rb.drain((r) => {
      assert.equal(r.length, 24);
      assert.equal(sizeOf(r), 24);
      seen.push(seqOf(r));
    }), 10);
    assert.deepEqual(seen, [100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);
    assert.equal(rb.pending, 0);
    assert.equal(rb.drain(() => assert.fail('consumed')), 0);
    // Odd sizes: records are padded to 8 bytes.
    p.produce(3, 13, { seq: 7 });
    const lens: number[] = [];
    rb.drain((r) => lens.push(r.length, seqOf(r)));
    assert.deepEqual(lens, [13, 7, 13, 8, 13, 9]);
  });
});

test('RingBuf: a record crossing the end of the ring is contiguous (the data is mapped twice)', async (t) => {
  await withRing(t, (p) => {
    const pattern = new Uint8Array(4096).map((_, i) => (i * 7) & 0xff);
    p.ebpf.map('.bss').update(new Uint8Array(4), pattern);
    using rb = RingBuf.tryFrom(p.ebpf.map('rb'));
    let seq = 0;
    // 1000-byte records take 1008 bytes: positions 0, 1008, 2016, 3024, then 4032 wraps.
    for (let round = 0; round < 12; round++) {
      assert.equal(p.produce(3, 1000, { seq }).written, 3);
      const got: number[] = [];
      rb.drain((r) => {
        got.push(seqOf(r));
        assert.equal(sizeOf(r), 1000);
        assert.deepEqual(r.subarray(8), pattern.subarray(8, 1000), `record ${seqOf(r)} intact`);
      });
      assert.deepEqual(got, [seq, seq + 1, seq + 2]);
      seq += 3;
    }
  });
});

test('RingBuf.drain: records up to 64 bytes come as copies (exact bytes, one reused view per length), longer ones as views into the ring; next() copies', async (t) => {
  await withRing(t, (p) => {
    const pattern = new Uint8Array(4096).map((_, i) => (i * 13 + 5) & 0xff);
    p.ebpf.map('.bss').update(new Uint8Array(4), pattern);
    using rb = RingBuf.tryFrom(p.ebpf.map('rb'));
    // What the program writes: u32 seq, u32 size, then the .bss bytes, cut at size.
    const expected = (seq: number, size: number): number[] => {
      const head = new Uint8Array(8);
      new DataView(head.buffer).setUint32(0, seq, true);
      new DataView(head.buffer).setUint32(4, size, true);
      return [...head.subarray(0, size), ...pattern.subarray(8, Math.max(8, size))];
    };
    let seq = 0;
    // Three rounds through a 4096-byte ring: records cross its end at different sizes.
    for (let round = 0; round < 3; round++) {
      for (const size of [1, 3, 4, 7, 8, 13, 16, 17, 31, 32, 33, 48, 63, 64, 65, 72, 200]) {
        assert.equal(p.produce(3, size, { seq }).written, 3);
        const views: Uint8Array[] = [];
        assert.equal(rb.drain((r) => {
          const i = views.length;
          assert.equal(r.length, size);
          assert.deepEqual([...r], expected(seq + i, size), `record of ${size} bytes, seq ${seq + i}`);
          assert.equal(r.buffer === rb.bytes.buffer, size > 64, `${size} bytes: ${size > 64 ? 'a view into the ring' : 'a copy'}`);
          // A copy may be written (it is not the ring); the next record is unaffected.
          if (size <= 64) r.fill(0xee);
          views.push(r);
        }), 3);
        if (size <= 64) {
          assert.equal(views[0], views[2], 'one view per length, reused: valid only during the callback');
        } else {
          assert.notEqual(views[0], views[1]);
          assert.deepEqual([...views[2]!], expected(seq + 2, size), 'a view into the ring still shows its record until the kernel reuses the space');
        }
        seq += 3;
        // next() copies: the same bytes, kept after the ring moves on.
        assert.equal(p.produce(2, size, { seq }).written, 2);
        const kept = [rb.next()!, rb.next()!];
        assert.equal(rb.next(), null);
        p.produce(1, size, { seq: 0xffff });
        rb.drain(() => {});
        assert.deepEqual(kept.map((r) => [...r]), [expected(seq, size), expected(seq + 1, size)], `next() of ${size} bytes`);
        seq += 2;
      }
    }
  });
});

test('RingBuf: discarded records are skipped; next() copies one record, with or without a codec', async (t) => {
  await withRing(t, (p) => {
    using rb = RingBuf.tryFrom(p.ebpf.map('rb'));
    // Every third record is a reservation the program discards.
    assert.equal(p.produce(9, 16, { discardEvery: 3 }).written, 6);
    const seen: number[] = [];
    rb.drain((r) => seen.push(seqOf(r)));
    assert.deepEqual(seen, [0, 1, 3, 4, 6, 7]);

    p.produce(3, 16, { seq: 40, discardEvery: 2 });
    const first = rb.next();
    assert.ok(first instanceof Uint8Array);
    assert.equal(seqOf(first), 40);
    const header = struct({ seq: u32, size: u32 });
    assert.deepEqual(rb.next(header), { seq: 42, size: 16 });
    assert.equal(rb.next(), null);
    // A record shorter than the codec: consumed and refused.
    p.produce(1, 4, { seq: 9 });
    const err = thrown(() => rb.next(struct({ a: u32, b: u32 })));
    assert.ok(err instanceof MapError && err.kind === 'InvalidValueSize', String(err));
    assert.equal(rb.next(), null);
    // The copy outlives the consumer position moving on.
    p.produce(PAGE / 32, 24, { seq: 1000 });
    const kept = rb.next()!;
    rb.drain(() => {});
    p.produce(PAGE / 32, 24, { seq: 2000 });
    assert.equal(seqOf(kept), 1000);
  });
});

test('RingBuf: a full ring refuses records (bpf_ringbuf_output fails) until consumed; drain max', async (t) => {
  await withRing(t, (p) => {
    using rb = RingBuf.tryFrom(p.ebpf.map('rb'));
    // 16-byte records take 24 bytes: 170 fit in 4096.
    assert.deepEqual(p.produce(200, 16), { written: 170, failed: 30 });
    let n = 0;
    assert.equal(rb.drain(() => n++, { max: 100 }), 100);
    assert.deepEqual(p.produce(200, 16, { seq: 500 }), { written: 100, failed: 100 });
    const seqs: number[] = [];
    assert.equal(rb.drain((r) => seqs.push(seqOf(r)), { max: 1000 }), 170);
    assert.equal(seqs[69], 169);
    assert.equal(seqs[70], 500);
    assert.equal(rb.drain(() => {}, { max: 0 }), 0);
    assert.equal(thrown(() => rb.drain(() => {}, { max: -1 })).kind, 'InvalidArgument');
  });
});

test('RingBuf.drain: a callback that throws has its record consumed and the position published', async (t) => {
  await withRing(t, (p) => {
    using rb = RingBuf.tryFrom(p.ebpf.map('rb'));
    p.produce(5, 16);
    const boom = new Error('boom');
    let calls = 0;
    assert.equal(thrown(() => rb.drain((r) => {
      calls++;
      if (seqOf(r) === 2) throw boom;
    })), boom);
    assert.equal(calls, 3);
    const rest: number[] = [];
    rb.drain((r) => rest.push(seqOf(r)));
    assert.deepEqual(rest, [3, 4]);
  });
});

test('RingBuf.records: woken through the event loop by a producer run later; abort rejects with the reason', async (t) => {
  await withRing(t, async (p) => {
    using rb = RingBuf.tryFrom(p.ebpf.map('rb'));
    const ac = new AbortController();
    const got: number[] = [];
    setTimeout(() => p.produce(3, 16, { seq: 10 }), 20);
    setTimeout(() => setImmediate(() => p.produce(2, 16, { seq: 20 })), 60);
    const started = Date.now();
    let err: unknown;
    try {
      for await (const r of rb.records({ signal: ac.signal })) {
        got.push(seqOf(r));
        if (got.length === 5) setTimeout(() => ac.abort(), 10);
      }
    } catch (e) {
      err = e;
    }
    assert.deepEqual(got, [10, 11, 12, 20, 21]);
    assert.ok(Date.now() - started >= 55, 'the second batch waited for its producer');
    assert.ok(err instanceof Error && err.name === 'AbortError', String(err));
    // A reason of one's own comes back as is; an aborted signal rejects at once.
    const reason = new Error('stop');
    const ac2 = new AbortController();
    ac2.abort(reason);
    await assert.rejects(rb.records({ signal: ac2.signal }).next(), (e) => e === reason);
    // [Symbol.asyncIterator] with a codec-less copy that outlives the ring's reuse.
    p.produce(1, 16, { seq: 77 });
    for await (const r of rb) {
      assert.equal(seqOf(r), 77);
      break;
    }
    // Decoded records.
    p.produce(2, 16, { seq: 5 });
    const it = rb.records({ codec: struct({ seq: u32, size: u32 }) });
    assert.deepEqual((await it.next()).value, { seq: 5, size: 16 });
    assert.deepEqual((await it.next()).value, { seq: 6, size: 16 });
    await it.return?.();
    // A record too short for the codec: the records before it first, then its error; the ones after stay in the ring.
    p.produce(1, 16, { seq: 1 });
    p.produce(1, 4, { seq: 2 });
    p.produce(1, 16, { seq: 3 });
    const it2 = rb.records({ codec: struct({ seq: u32, size: u32 }) });
    assert.deepEqual((await it2.next()).value, { seq: 1, size: 16 });
    await assert.rejects(it2.next(), (e) => e instanceof MapError && e.kind === 'InvalidValueSize');
    assert.equal(seqOf(rb.next()!), 3);
    // next() calls made at once are served in order.
    p.produce(3, 16, { seq: 50 });
    const it3 = rb.records();
    const three = await Promise.all([it3.next(), it3.next(), it3.next()]);
    assert.deepEqual(three.map((r) => seqOf(r.value as Uint8Array)), [50, 51, 52]);
    await it3.return?.();
  });
});

test('RingBuf.records: close() ends a waiting iteration; poll() waits synchronously with a timeout', async (t) => {
  await withRing(t, async (p) => {
    const rb = RingBuf.tryFrom(p.ebpf.map('rb'));
    const started = Date.now();
    assert.equal(rb.poll(50, () => assert.fail('nothing written')), 0);
    assert.ok(Date.now() - started >= 45, 'poll waited');
    p.produce(4, 16);
    let n = 0;
    assert.equal(rb.poll(-1, () => n++), 4);
    const it = rb.records();
    const pending = it.next();
    setTimeout(() => rb.close(), 20);
    assert.deepEqual(await pending, { done: true, value: undefined });
  });
});

test('RingBufPoller: two rings on one epoll, each to its callback; run() until aborted', async (t) => {
  await withRing(t, async (p) => {
    using a = RingBuf.tryFrom(p.ebpf.map('rb'));
    using b = RingBuf.tryFrom(p.ebpf.map('rb2'));
    using poller = new RingBufPoller();
    const fromA: number[] = [];
    const fromB: number[] = [];
    poller.add(a, (r) => fromA.push(seqOf(r))).add(b, (r) => fromB.push(seqOf(r)));
    assert.equal(poller.size, 2);
    assert.equal(poller.poll(0), 0);
    p.produce(2, 16, { seq: 1, ring: 1 });
    assert.equal(poller.poll(100), 2);
    assert.deepEqual([fromA, fromB], [[], [1, 2]]);
    p.produce(1, 16, { seq: 3, ring: 0 });
    p.produce(1, 16, { seq: 4, ring: 1 });
    assert.equal(poller.consume(), 2);
    assert.deepEqual([fromA, fromB], [[3], [1, 2, 4]]);

    const ac = new AbortController();
    setTimeout(() => p.produce(3, 16, { seq: 10, ring: 0 }), 10);
    setTimeout(() => p.produce(2, 16, { seq: 20, ring: 1 }), 30);
    // Aborted once the five came (a timer at 80 ms could fire before the producers' on a slow
    // emulated CPU); after 5 s at the latest, and the assertions say what came.
    const arrived = setInterval(() => fromA.length + fromB.length >= 9 && ac.abort(), 5);
    const latest = setTimeout(() => ac.abort(), 5000);
    try {
      assert.equal(await poller.run({ signal: ac.signal }), 5);
    } finally {
      clearInterval(arrived);
      clearTimeout(latest);
    }
    assert.deepEqual([fromA, fromB], [[3, 10, 11, 12], [1, 2, 4, 20, 21]]);
  }, [PAGE, 2 * PAGE]);
});

test('RingBuf.close: views become detached, use throws Closed, an owned map is closed, nothing leaks', async (t) => {
  await withRing(t, (p) => {
    const rb = RingBuf.tryFrom(p.ebpf.map('rb'));
    // A record over 64 bytes comes as a view into the ring; a shorter one as a copy.
    p.produce(1, 100);
    p.produce(1, 16);
    const views: Uint8Array[] = [];
    rb.drain((r) => views.push(r));
    assert.deepEqual(views.map((v) => v.length), [100, 16]);
    rb.close();
    rb.close();
    assert.equal(views[0]!.length, 0, 'detached');
    assert.equal(views[0]!.buffer.byteLength, 0);
    assert.equal(views[1]!.length, 16, 'a copy is not ring memory: not detached');
    assert.equal(thrown(() => rb.drain(() => {})).kind, 'Closed');
    assert.equal(thrown(() => rb.next()).kind, 'Closed');
    assert.equal(p.ebpf.map('rb').closed, false, 'a view does not close the map');
  });
  if (!supported) return;
  const before = fdCount();
  const mappings = bpfMappings();
  const owned = RingBuf.create(4 * PAGE);
  assert.equal(owned.byteSize, 4 * PAGE);
  assert.equal(bpfMappings(), mappings + 2, 'consumer page and producer part');
  owned.close();
  assert.equal(owned.map.closed, true);
  assert.equal(fdCount(), before);
  assert.equal(bpfMappings(), mappings);
});

test('RingBuf.tryFrom refuses other map types; create refuses sizes that are not a power of two pages', () => {
  using arr = ArrayMap.create(u32, { maxEntries: 1 });
  const err = thrown(() => RingBuf.tryFrom(arr.map));
  assert.ok(err instanceof MapError);
  assert.equal(err.kind, 'InvalidMapType');
  assert.deepEqual(err.expected, [MapType.Ringbuf]);
  for (const size of [0, 100, PAGE + 1, 3 * PAGE, 1.5, -PAGE, 2 ** 32, '4096' as unknown as number]) {
    assert.equal(thrown(() => RingBuf.create(size)).kind, 'InvalidArgument', String(size));
  }
});

test('RingBuf: the busy bit stops a batch, the discard bit skips, the position carries into the high word (a ring of our own behind the seam)', (t) => {
  if (!supported) return t.diagnostic('no ring buffers here: the NotSupported path is asserted by the other tests');
  // A fake ring of 4096 bytes: the consumer page, then producer page and data twice.
  const size = PAGE;
  const consumer = new ArrayBuffer(PAGE);
  const producerPart = new ArrayBuffer(PAGE + 2 * size);
  const cons32 = new Int32Array(consumer);
  const prod32 = new Int32Array(producerPart);
  // Positions just under 2^32: the consumer at 2^32 - 16, two records before the wrap of the low word.
  const start = 2 ** 32 - 16;
  cons32[0] = start | 0;
  cons32[1] = 0;
  const put = (pos: number, len: number) => {
    const at = (PAGE + (pos % size)) >> 2;
    prod32[at] = len;
    prod32[at + 2] = pos % 1000;
  };
  put(start, 8); // a record of 8 bytes: 16 with the header
  put(start + 16, 8 | (1 << 30)); // discarded
  put(start + 32, 8 | (1 << 31)); // busy
  const setProducer = (pos: number) => {
    prod32[0] = pos % 2 ** 32 | 0;
    prod32[1] = Math.floor(pos / 2 ** 32);
  };
  setProducer(start + 48);
  const unmapped: ArrayBuffer[] = [];
  const restore = replaceKernel({
    mmap: () => consumer,
    mmapRing: () => producerPart,
    munmap: (ab) => (unmapped.push(ab), 0),
  });
  let rb: RingBuf;
  try {
    using ring = RingBuf.create(size);
    rb = ring;
    const seen: number[] = [];
    assert.equal(rb.drain((r) => seen.push(new DataView(r.buffer, r.byteOffset).getUint32(0, true))), 1);
    assert.deepEqual(seen, [start % 1000]);
    // Published: past the discarded record, up to the busy one, the carry into the high word written whole.
    assert.deepEqual([cons32[0]! >>> 0, cons32[1]], [(start + 32) % 2 ** 32, 1]);
    assert.equal(rb.next(), null, 'stops at the busy record');
    put(start + 32, 8); // committed
    assert.equal(seqLike(rb.next()!), (start + 32) % 1000);
    assert.deepEqual([cons32[0]! >>> 0, cons32[1]], [(start + 48) % 2 ** 32, 1]);
  } finally {
    restore();
  }
  assert.deepEqual(unmapped, [consumer, producerPart]);
  assert.ok(rb!.closed);
});

const seqLike = (r: Uint8Array) => new DataView(r.buffer, r.byteOffset).getUint32(0, true);
