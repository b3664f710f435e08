// Perf buffers (PerfEventArray, PerfReader) on the real kernel: records written by
// bpf/perf_output.o under PROG_TEST_RUN (emit_raw on a chosen CPU with
// BPF_F_TEST_RUN_ON_CPU, emit_xdp on the CPU the test runs on).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ArrayMap, bytes, Ebpf, MapData, MapError, MapType, PerfEventArray, possibleCpus, struct, u32, type PerfReader, type PerfRecord } from '../src/index.js';
import { onlineCpus } from '../src/sys/cpus.js';
import { collectGarbage, fdCount, thrown } from './helpers.js';

const object = fileURLToPath(new URL('../../bpf/perf_output.o', import.meta.url));
/** BPF_F_TEST_RUN_ON_CPU: run the program on options.cpu. */
const ON_CPU = 1;
const PAYLOAD_MAX = 4096;
const configCodec = struct({ size: u32, count: u32, seq: u32, pad: u32 });

/** The loaded object with its payload filled with a byte pattern, and a way to make records. */
function setup() {
  const ebpf = Ebpf.load(object);
  const config = ArrayMap.tryFrom(ebpf.map('config'), configCodec);
  const payload = ArrayMap.tryFrom(ebpf.map('payload'), bytes(PAYLOAD_MAX));
  const pattern = new Uint8Array(PAYLOAD_MAX);
  for (let i = 0; i < PAYLOAD_MAX; i++) pattern[i] = (i * 7 + 3) & 0xff;
  payload.set(0, pattern);
  let seq = 0;
  /** `count` records of `size` bytes written on `cpu`; returns their sequence numbers. */
  const emit = (cpu: number, count: number, size: number): number[] => {
    const first = seq;
    config.set(0, { size, count, seq, pad: 0 });
    for (let left = count; left > 0; left -= 256) {
      config.set(0, { size, count: Math.min(left, 256), seq, pad: 0 });
      ebpf.program('emit_raw').testRun({ flags: ON_CPU, cpu });
      seq += Math.min(left, 256);
    }
    return Array.from({ length: count }, (_, i) => first + i);
  };
  const events = PerfEventArray.tryFrom(ebpf.map('events'));
  return { ebpf, events, pattern, emit };
}

/** What a view of `size` bytes written by the program holds: PERF_SAMPLE_RAW pads size + 4 to 8 bytes. */
const rawLength = (size: number) => ((size + 4 + 7) & ~7) - 4;

function checkRecord(data: Uint8Array, size: number, seq: number, cpu: number, pattern: Uint8Array): void {
  assert.equal(data.length, rawLength(size));
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  assert.equal(view.getUint32(0, true), seq, 'sequence number');
  assert.equal(view.getUint32(4, true), cpu, 'the CPU the program ran on');
  assert.deepEqual(data.subarray(8, size), pattern.subarray(8, size), `payload of record ${seq}`);
}

/** Lines of /proc/self/maps that map a perf event. */
const perfMappings = () => readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('[perf_event]')).length;

const cpus = onlineCpus();
const fdsAtStart = fdCount();

test('PerfEventArray: create has one slot per possible CPU; tryFrom refuses other map types; get is NotSupported', () => {
  using arr = PerfEventArray.create();
  assert.equal(arr.len(), possibleCpus());
  assert.equal(arr.map.type, MapType.PerfEventArray);
  assert.equal(arr.owned, true);
  using small = PerfEventArray.create({ maxEntries: 1, name: 'perf_small' });
  assert.equal(small.len(), 1);
  const notSupported = thrown(() => arr.get(0));
  assert.ok(notSupported instanceof MapError);
  assert.equal(notSupported.kind, 'NotSupported');
  using hash = MapData.create({ type: MapType.Hash, keySize: 4, valueSize: 4, maxEntries: 1 });
  const wrong = thrown(() => PerfEventArray.tryFrom(hash));
  assert.ok(wrong instanceof MapError);
  assert.equal(wrong.kind, 'InvalidMapType');
  assert.equal(thrown(() => arr.set(0, -1)).kind, 'InvalidArgument');
  assert.equal(thrown(() => arr.set(0, 0)).kind, 'SyscallError', 'fd 0 is not a perf event: the kernel refuses it');
});

test("read: every CPU's records, in order, with their contents; the view is the raw sample (padded to 8 bytes with its size)", () => {
  const { ebpf, events, pattern, emit } = setup();
  try {
    using reader = events.reader({ pageCount: 2 });
    assert.deepEqual(reader.cpus, cpus);
    const expected = new Map<number, number[]>();
    for (const cpu of cpus) expected.set(cpu, emit(cpu, 20, 24));
    const got = new Map<number, number[]>(cpus.map((c) => [c, []]));
    const n = reader.read((cpu, data) => {
      const seq = new DataView(data.buffer, data.byteOffset).getUint32(0, true);
      checkRecord(data, 24, seq, cpu, pattern);
      got.get(cpu)!.push(seq);
    });
    assert.equal(n, 20 * cpus.length);
    assert.deepEqual(got, expected);
    assert.equal(reader.read(() => assert.fail('nothing left')), 0);
    assert.equal(reader.lost, 0);
    // readRaw: the same records as offsets into the ring.
    const seqs = emit(cpus[0]!, 3, 9);
    const raw: number[] = [];
    assert.equal(reader.readRaw((cpu, buf, offset, size) => {
      assert.equal(cpu, cpus[0]);
      assert.equal(size, rawLength(9));
      raw.push(new DataView(buf.buffer, buf.byteOffset + offset).getUint32(0, true));
    }), 3);
    assert.deepEqual(raw, seqs);
  } finally {
    ebpf.close();
  }
});

test('wrap-around: a one-page ring and records of odd sizes, read through several laps; records that run past the end arrive whole', () => {
  const { ebpf, events, pattern, emit } = setup();
  try {
    using reader = events.reader({ pageCount: 1, cpus: [cpus[0]!] });
    const sizes = [13, 101, 333, 8, 57, 1001, 29];
    let wrapped = 0;
    let total = 0;
    for (let lap = 0; lap < 40; lap++) {
      const size = sizes[lap % sizes.length]!;
      const count = Math.max(1, Math.floor(3000 / (rawLength(size) + 12)));
      const seqs = emit(cpus[0]!, count, size);
      const got: number[] = [];
      reader.readRaw((cpu, buf, offset, len) => {
        const data = buf.subarray(offset, offset + len);
        const seq = new DataView(data.buffer, data.byteOffset).getUint32(0, true);
        checkRecord(data, size, seq, cpu, pattern);
        got.push(seq);
        // The ring's data is one page; a wrapped record comes from the scratch copy.
        if (buf.length !== 4096) wrapped++;
      });
      assert.deepEqual(got, seqs, `lap ${lap}`);
      total += got.length;
    }
    assert.ok(wrapped >= 5, `records that wrapped: ${wrapped} of ${total}`);
    assert.equal(reader.lost, 0);
  } finally {
    ebpf.close();
  }
});

test('lost samples: a full ring drops samples, the kernel reports how many, read counts them (onLost, lost) and records() yields them', async () => {
  const { ebpf, events, emit } = setup();
  try {
    using reader = events.reader({ pageCount: 1, cpus: [cpus[0]!] });
    emit(cpus[0]!, 256, 64); // 80 bytes each: about 51 fit in 4096
    const seen: number[] = [];
    assert.ok(reader.read((_cpu, data) => seen.push(new DataView(data.buffer, data.byteOffset).getUint32(0, true))) < 256);
    assert.ok(seen.length > 10 && seen.length < 256, `${seen.length} samples fit`);
    assert.deepEqual(seen, seen.map((_, i) => i), 'the first ones, in order');
    // The kernel writes its PERF_RECORD_LOST before the next sample that fits.
    emit(cpus[0]!, 1, 64);
    const lostReports: [number, number][] = [];
    const after: number[] = [];
    reader.read((_cpu, data) => after.push(new DataView(data.buffer, data.byteOffset).getUint32(0, true)), (cpu, count) => lostReports.push([cpu, count]));
    assert.deepEqual(lostReports, [[cpus[0]!, 256 - seen.length]]);
    assert.equal(reader.lost, 256 - seen.length);
    assert.deepEqual(after, [256]);

    // The same through records(): a record with lost > 0 and empty data, then the sample.
    emit(cpus[0]!, 256, 64);
    emit(cpus[0]!, 1, 64); // dropped too: the ring is still full
    const items: PerfRecord[] = [];
    for await (const r of reader.records()) {
      items.push(r);
      if (items.length === seen.length) break;
    }
    assert.ok(items.every((r) => r.lost === 0 && r.data.length === rawLength(64)));
    emit(cpus[0]!, 1, 64);
    const next: PerfRecord[] = [];
    for await (const r of reader.records()) {
      next.push(r);
      if (next.length === 2) break;
    }
    assert.equal(next[0]!.lost, 257 - seen.length);
    assert.equal(next[0]!.data.length, 0);
    assert.equal(next[0]!.cpu, cpus[0]);
    assert.equal(new DataView(next[1]!.data.buffer).getUint32(0, true), 256 + 1 + 256 + 1);
    assert.equal(reader.lost, 256 - seen.length + 257 - seen.length);
  } finally {
    ebpf.close();
  }
});

test('wakeupEvents and watermark: poll wakes only when enough samples or bytes wait; bad options are refused', () => {
  const { ebpf, events, emit } = setup();
  try {
    const cpu = cpus[0]!;
    {
      using reader = events.reader({ wakeupEvents: 4, cpus: [cpu] });
      emit(cpu, 3, 16);
      assert.equal(reader.poll(0, () => {}), 0, 'three samples do not wake the reader');
      emit(cpu, 1, 16);
      assert.equal(reader.poll(1000, () => {}), 4, 'the fourth does; poll reads all four');
    }
    {
      // Samples of 16 bytes take 32; the kernel wakes once more than 256 bytes wait.
      using reader = events.reader({ watermark: 256, cpus: [cpu], pageCount: 2 });
      emit(cpu, 4, 16);
      assert.equal(reader.poll(0, () => {}), 0, '128 bytes do not wake the reader');
      emit(cpu, 8, 16);
      assert.equal(reader.poll(1000, () => {}), 12, '384 bytes do');
    }
    if (cpus.length > 1) {
      // Once woken, poll reads every CPU's buffer, also one that did not wake it.
      using reader = events.reader({ wakeupEvents: 2, cpus: [cpus[0]!, cpus[1]!] });
      emit(cpus[1]!, 1, 16);
      assert.equal(reader.poll(0, () => {}), 0, 'one sample does not wake the reader');
      emit(cpus[0]!, 2, 16);
      const from: number[] = [];
      assert.equal(reader.poll(1000, (c) => from.push(c)), 3);
      assert.deepEqual(from, [cpus[0], cpus[0], cpus[1]]);
    }
    for (const [options, kind] of [
      [{ wakeupEvents: 2, watermark: 64 }, 'InvalidArgument'],
      [{ pageCount: 3 }, 'InvalidArgument'],
      [{ pageCount: 0 }, 'InvalidArgument'],
      [{ pageCount: 1 << 20 }, 'InvalidArgument'], // a 4 GiB ring per CPU
      [{ watermark: 4096, pageCount: 1 }, 'InvalidArgument'],
      [{ wakeupEvents: 0 }, 'InvalidArgument'],
      [{ cpus: [] }, 'InvalidArgument'],
      [{ cpus: [0, 0] }, 'InvalidArgument'],
      [{ cpus: [events.len()] }, 'OutOfBounds'],
      [{ pages: 2 }, 'InvalidArgument'],
    ] as const) {
      const err = thrown(() => events.reader(options as never));
      assert.ok(err instanceof MapError, JSON.stringify(options));
      assert.equal(err.kind, kind, JSON.stringify(options));
    }
    using reader = events.reader();
    assert.equal(thrown(() => reader.poll(-2, () => {})).kind, 'InvalidArgument');
  } finally {
    ebpf.close();
  }
});

test("cpus option: only the CPUs named get a buffer; the others' samples are refused by the kernel (empty slot)", () => {
  const { ebpf, events, emit } = setup();
  try {
    const last = cpus[cpus.length - 1]!;
    using reader = events.reader({ cpus: [last] });
    assert.deepEqual(reader.cpus, [last]);
    for (const cpu of cpus) emit(cpu, 2, 16);
    const from: number[] = [];
    assert.equal(reader.read((cpu) => from.push(cpu)), 2);
    assert.deepEqual(from, [last, last]);
  } finally {
    ebpf.close();
  }
});

test('records(): waits through the event loop (timers keep running), wakes on a sample from another CPU, stops on AbortSignal', async () => {
  const { ebpf, events, emit, pattern } = setup();
  try {
    using reader = events.reader();
    const cpu = cpus[cpus.length - 1]!;
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    const producer = setTimeout(() => emit(cpu, 3, 40), 60);
    const got: PerfRecord[] = [];
    const t0 = Date.now();
    try {
      for await (const r of reader) {
        got.push(r);
        if (got.length === 3) break;
      }
    } finally {
      clearInterval(ticker);
      clearTimeout(producer);
    }
    assert.ok(Date.now() - t0 >= 50, 'waited for the producer');
    assert.ok(ticks >= 1, `the event loop ran while waiting (${ticks} ticks)`);
    got.forEach((r, i) => {
      assert.equal(r.cpu, cpu);
      assert.equal(r.lost, 0);
      checkRecord(r.data, 40, i, cpu, pattern);
    });
    // The copies outlive the ring's space.
    emit(cpu, 50, 40);
    reader.read(() => {});
    checkRecord(got[0]!.data, 40, 0, cpu, pattern);

    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('enough')), 30);
    await assert.rejects(async () => {
      for await (const _ of reader.records({ signal: controller.signal })) assert.fail('no record was written');
    }, /enough/);
    await assert.rejects(async () => {
      for await (const _ of reader.records({ signal: AbortSignal.abort() })) assert.fail('aborted before it started');
    }, { name: 'AbortError' });

    // close() ends a waiting loop.
    const waiting = (async () => {
      let n = 0;
      for await (const _ of reader.records()) n++;
      return n;
    })();
    setTimeout(() => reader.close(), 20);
    assert.equal(await waiting, 0);
  } finally {
    ebpf.close();
  }
});

test("records(): a sample written after its last look at the rings, before the event loop registers its watch, still wakes it (a perf event's wakeup is reported to one poll only)", async () => {
  const { ebpf, events, emit } = setup();
  try {
    using reader = events.reader();
    for (const cpu of cpus) {
      const it = reader.records();
      // next() runs the loop up to its wait: rings read (empty), watch asked for. The
      // sample comes before libuv's next poll phase registers the watch; that
      // registration polls the perf event and takes its wakeup.
      const next = it.next();
      emit(cpu, 1, 16);
      let timer: NodeJS.Timeout | undefined;
      const r = await Promise.race([next, new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), 3000)))]);
      clearTimeout(timer);
      assert.notEqual(r, 'timeout', `a sample on CPU ${cpu} did not wake records() (read() finds ${reader.read(() => {})})`);
      assert.equal((r as IteratorResult<PerfRecord>).value.cpu, cpu);
      await it.return();
    }
  } finally {
    ebpf.close();
  }
});

test('records(): a CPU with many records waiting does not hold back the others (a batch per CPU per pass)', async (t) => {
  if (cpus.length < 2) return t.skip('one online CPU');
  const { ebpf, events, emit } = setup();
  try {
    using reader = events.reader();
    const last = cpus[cpus.length - 1]!;
    emit(cpus[0]!, 600, 16);
    emit(last, 2, 16);
    const order: number[] = [];
    for await (const r of reader.records()) {
      order.push(r.cpu);
      if (order.length === 602) break;
    }
    const firstOfLast = order.indexOf(last);
    assert.ok(firstOfLast > 0 && firstOfLast <= 256, `the other CPU's first record came at ${firstOfLast}`);
    assert.equal(order.filter((c) => c === last).length, 2);
  } finally {
    ebpf.close();
  }
});

test('a callback that throws: the records before it and itself are consumed, the rest stay for the next read', () => {
  const { ebpf, events, emit } = setup();
  try {
    using reader = events.reader({ cpus: [cpus[0]!] });
    emit(cpus[0]!, 5, 16);
    let calls = 0;
    assert.throws(() => reader.read(() => {
      if (++calls === 2) throw new Error('stop');
    }), /stop/);
    const rest: number[] = [];
    assert.equal(reader.read((_c, d) => rest.push(d[0]!)), 3);
    assert.deepEqual(rest, [2, 3, 4]);
  } finally {
    ebpf.close();
  }
});

test('close: every perf fd, ring mapping and the epoll fd released, the slots emptied, use after close refused, close twice is harmless', async () => {
  const fdsBefore = fdCount();
  const mapsBefore = perfMappings();
  const { ebpf, events, emit } = setup();
  try {
    const fdsLoaded = fdCount();
    const reader: PerfReader = events.reader({ pageCount: 4 });
    assert.equal(fdCount(), fdsLoaded + cpus.length + 1, 'a perf fd per CPU and the epoll fd');
    assert.equal(perfMappings(), mapsBefore + cpus.length);
    emit(cpus[0]!, 2, 16);
    reader.close();
    assert.equal(fdCount(), fdsLoaded);
    assert.equal(perfMappings(), mapsBefore);
    for (const cpu of cpus) assert.equal(thrown(() => events.remove(cpu)).kind, 'KeyNotFound', `slot ${cpu} emptied`);
    assert.equal(thrown(() => reader.read(() => {})).kind, 'Closed');
    assert.equal(reader.closed, true);
    reader.close();
    // The map closed first (ebpf.close) while a reader is open: closing the reader still releases its own.
    const second = events.reader();
    ebpf.close();
    second.close();
  } finally {
    ebpf.close();
  }
  assert.equal(fdCount(), fdsBefore);
  assert.equal(perfMappings(), mapsBefore);
});

test("a reader collected without close(): its slots are emptied (the map's references kept the events writing), its fds and rings released; a later reader's slots are left alone", async () => {
  // libuv closes an earlier test's watch duplicate on its next turn.
  await new Promise((resolve) => setTimeout(resolve, 20));
  const fdsBefore = fdCount();
  const mapsBefore = perfMappings();
  const { ebpf, events, emit } = setup();
  try {
    const fdsLoaded = fdCount();
    // Made in a function of its own: nothing here keeps it reachable.
    const forget = (cpus?: number[]) => {
      const r = events.reader({ pageCount: 2, ...(cpus ? { cpus } : {}) });
      return r.cpus.length;
    };
    assert.equal(forget(), cpus.length);
    assert.equal(perfMappings(), mapsBefore + cpus.length);
    await collectGarbage();
    for (const cpu of cpus) assert.equal(thrown(() => events.remove(cpu)).kind, 'KeyNotFound', `slot ${cpu} emptied by the finalizer`);
    assert.equal(fdCount(), fdsLoaded, 'perf fds and the epoll fd closed');
    assert.equal(perfMappings(), mapsBefore, 'rings unmapped');

    // A forgotten reader whose CPUs a later reader took over: collecting it leaves the
    // later reader's slots (and records) alone; so does closing an earlier one.
    const cpu = cpus[0]!;
    const earlier = events.reader({ cpus: [cpu] });
    forget([cpu]);
    using later = events.reader({ cpus: [cpu] });
    earlier.close();
    await collectGarbage();
    emit(cpu, 3, 16);
    assert.equal(later.read(() => {}), 3, "the later reader's event is still in the slot");
  } finally {
    ebpf.close();
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(fdCount(), fdsBefore);
  assert.equal(perfMappings(), mapsBefore);
});

test('reader over a map made with create, written by no program: empty reads', () => {
  const fds = fdCount();
  {
    using arr = PerfEventArray.create();
    using reader = arr.reader({ pageCount: 1 });
    assert.equal(reader.read(() => assert.fail()), 0);
    assert.equal(reader.poll(0, () => assert.fail()), 0);
    assert.match(String(reader), /PerfReader\(cpus /);
  }
  assert.equal(fdCount(), fds);
});

test('no descriptor left open by the tests above', async () => {
  // libuv closes the duplicate descriptor of a readiness watch on its next turn.
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(fdCount(), fdsAtStart);
});
