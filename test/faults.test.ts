// Fault injection through the kernel seam (replaceKernel): failures the real
// kernel will not produce on demand, and the typed errors they must become.
import { beforeEach, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArrayMap, ArrayOfMaps, Ebpf, EbpfLoader, MapData, MapError, MapType, PinError, ProgramError, SyscallError, u32, type MapSpec, type TracePoint } from '../src/index.js';
import * as sys from '../src/sys/index.js';
import { clearFeatureCache, replaceKernel } from '../src/testing.js';
import { bpffsDir, corpusDir, fdCount, loadOnly, thrown } from './helpers.js';
import { gcUntilFdCount } from './gc.js';

const { Cmd, Errno } = sys;
const ENOTSUPP = 524;
const REAL_KERNEL = sys.kernel;
const fdsAtStart = fdCount();

// t.after hooks run after afterEach hooks, so a leaked injection shows up in the next test.
beforeEach(() => {
  assert.equal(sys.kernel, REAL_KERNEL, 'every injection of the previous test was undone');
});
const INNER: MapSpec = { type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 4 };

interface Injection {
  /** Calls of each bpf command seen since the injection. */
  calls: Map<number, number>;
  restore(): void;
}

/**
 * Makes bpf(cmd) fail with -errno (`when` picks which calls, by their 1-based number
 * for that command), through either native entry (bpf, or bpfIo of the hot path);
 * every other call goes to the kernel in force before. Restored by t.after even when
 * the test fails (nested injections in reverse order).
 */
function failBpf(t: TestContext, cmd: number, errno: number, when: (n: number) => boolean = () => true): Injection {
  const real = sys.kernel;
  const calls = new Map<number, number>();
  const inject = (c: number): boolean => {
    const n = (calls.get(c) ?? 0) + 1;
    calls.set(c, n);
    return c === cmd && when(n);
  };
  const restore = replaceUntilAfter(t, {
    bpf(c, attr, ptrMask, ...buffers) {
      return inject(c) ? -errno : real.bpf(c, attr, ptrMask, ...buffers);
    },
    bpfIo(c, io, attrLen, ptrMask) {
      return inject(c) ? -errno : real.bpfIo(c, io, attrLen, ptrMask);
    },
  });
  return { calls, restore };
}

/**
 * Makes seam method `method` (perf_event_open, recv, close, ...) fail with -errno on the
 * calls `when` picks (1-based); the others go to the kernel in force before. Returns the
 * number of calls seen so far. A failing close closes for real first, as Linux does.
 */
function failCall(t: TestContext, method: 'perf_event_open' | 'recv' | 'send' | 'close' | 'ioctl', errno: number, when: (n: number) => boolean = () => true): { count(): number; restore(): void } {
  const real = sys.kernel as unknown as Record<string, (...args: unknown[]) => number>;
  let n = 0;
  const restore = replaceUntilAfter(t, {
    [method]: (...args: unknown[]) => {
      if (!when(++n)) return real[method]!(...args);
      if (method === 'close') real.close!(args[0]);
      return -errno;
    },
  });
  return { count: () => n, restore };
}

/** replaceKernel, undone by t.after even when the test fails (nested ones last first). */
function replaceUntilAfter(t: TestContext, overrides: Partial<sys.Kernel>): () => void {
  const restore = replaceKernel(overrides);
  let restored = false;
  const once = () => {
    if (!restored) restore();
    restored = true;
    // A refusal injected here also reached any feature probe asked meanwhile.
    clearFeatureCache();
  };
  // Injections nest: undo them last-in first-out, whatever the test did.
  let stack = injections.get(t);
  if (stack === undefined) {
    const list: (() => void)[] = [];
    injections.set(t, (stack = list));
    t.after(() => {
      for (const undo of list.reverse()) undo();
    });
  }
  stack.push(once);
  return once;
}

const injections = new WeakMap<TestContext, (() => void)[]>();

/** Asserts a MapError of `kind` carrying the SyscallError of `call` with `errno`. */
function kernelError(kind: string, call: string, errno: number, code: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof MapError, `expected MapError, got ${String(err)}`);
    assert.equal(err.kind, kind);
    assert.equal(err.call, call);
    assert.equal(err.errno, errno);
    assert.equal(err.code, code);
    assert.ok(err.cause instanceof SyscallError, 'cause is the SyscallError');
    assert.equal(err.cause.call, call);
    assert.equal(err.cause.errno, errno);
    assert.equal(err.cause.code, code);
    assert.ok(err.message.includes(call), err.message);
    assert.ok(err.message.includes(code), err.message);
    return true;
  };
}

function outerWithInner() {
  const outer = ArrayOfMaps.create({ maxEntries: 4, innerMap: INNER });
  const inner = ArrayMap.create(u32, { maxEntries: 4 });
  inner.set(1, 77);
  outer.set(0, inner);
  return { outer, inner };
}

test('EPERM from BPF_MAP_LOOKUP_ELEM: MapError SyscallError naming bpf_map_lookup_elem', (t) => {
  const { outer, inner } = outerWithInner();
  t.after(() => {
    outer.close();
    inner.close();
  });
  const injected = failBpf(t, Cmd.MapLookupElem, Errno.EPERM);
  const check = kernelError('SyscallError', 'bpf_map_lookup_elem', 1, 'EPERM');
  assert.throws(() => inner.get(1), check);
  assert.throws(() => outer.get(0), check);
  assert.throws(() => outer.getId(0), check);
  assert.throws(() => inner.map.lookup(new Uint8Array(4)), check);
  assert.throws(() => [...outer.entries()], check);
  assert.throws(() => inner.get(1), /CAP_BPF/, 'EPERM messages say what is missing');
  assert.ok((injected.calls.get(Cmd.MapLookupElem) ?? 0) >= 6);
  // Bounds are checked before any syscall.
  assert.throws(() => inner.get(4), { name: 'MapError', kind: 'OutOfBounds' });

  injected.restore();
  assert.equal(inner.get(1), 77);
  assert.equal(outer.getId(0), inner.map.id);
});

test('ENOMEM from BPF_MAP_GET_FD_BY_ID: typed error and no descriptor leaked', (t) => {
  const { outer, inner } = outerWithInner();
  t.after(() => {
    outer.close();
    inner.close();
  });
  const before = fdCount();
  failBpf(t, Cmd.MapGetFdById, Errno.ENOMEM);
  const check = kernelError('SyscallError', 'bpf_map_get_fd_by_id', 12, 'ENOMEM');
  assert.throws(() => outer.get(0), check);
  assert.throws(() => ArrayOfMaps.tryFrom(outer.map, ArrayMap.fromMapData(u32)).get(0), check);
  assert.throws(() => MapData.fromId(inner.map.id), check);
  assert.equal(outer.getId(0), inner.map.id, 'getId needs no descriptor');
  assert.equal(fdCount(), before);
});

test('a converter that throws: the descriptor get() opened is closed', () => {
  const { outer, inner } = outerWithInner();
  using _o = outer;
  using _i = inner;
  const before = fdCount();
  let seen: MapData | undefined;
  const failing = ArrayOfMaps.tryFrom(outer.map, (m) => {
    seen = m;
    throw new RangeError('converter refused');
  });
  assert.throws(() => failing.get(0), { name: 'RangeError', message: 'converter refused' });
  assert.equal(seen?.closed, true);
  // A converter of the wrong type (an ARRAY_OF_MAPS wrapper for an ARRAY) fails the same way.
  assert.throws(() => ArrayOfMaps.tryFrom(outer.map, (m) => ArrayOfMaps.tryFrom(m)).get(0), { name: 'MapError', kind: 'InvalidMapType' });
  assert.equal(fdCount(), before);
});

test('EFAULT from BPF_MAP_UPDATE_ELEM: set() fails typed and the slot is unchanged', (t) => {
  const { outer, inner } = outerWithInner();
  using other = ArrayMap.create(u32, { maxEntries: 4 });
  t.after(() => {
    outer.close();
    inner.close();
  });
  const injected = failBpf(t, Cmd.MapUpdateElem, Errno.EFAULT);
  const check = kernelError('SyscallError', 'bpf_map_update_elem', 14, 'EFAULT');
  assert.throws(() => outer.set(0, other), check);
  assert.throws(() => outer.set(1, other), check);
  assert.throws(() => inner.set(1, 5), check);
  assert.throws(() => inner.map.update(new Uint8Array(4), new Uint8Array(4)), check);
  injected.restore();
  assert.deepEqual([...outer.entries()], [[0, inner.map.id]]);
  assert.equal(inner.get(1), 77);
});

test('EPERM from BPF_OBJ_PIN: PinError naming bpf_obj_pin; an owner is not consumed', (t) => {
  const dir = bpffsDir('faults');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { outer, inner } = outerWithInner();
  t.after(() => {
    outer.close();
    inner.close();
  });
  failBpf(t, Cmd.ObjPin, Errno.EPERM);
  for (const pin of [() => outer.pin(`${dir}/outer`), () => inner.map.pin(`${dir}/inner`)]) {
    assert.throws(pin, (err: unknown) => {
      assert.ok(err instanceof PinError, String(err));
      assert.equal(err.kind, 'SyscallError');
      assert.equal(err.call, 'bpf_obj_pin');
      assert.equal(err.errno, 1);
      assert.equal(err.code, 'EPERM');
      assert.ok(err.cause instanceof SyscallError);
      assert.equal(err.cause.call, 'bpf_obj_pin');
      assert.match(err.path, /\/(outer|inner)$/);
      assert.match(err.message, /CAP_BPF/);
      return true;
    });
  }
  assert.equal(outer.map.closed, false, 'a failed pin does not consume the owner');
  assert.equal(outer.getId(0), inner.map.id);
  assert.ok(!existsSync(`${dir}/outer`));
});

test('ENOMEM from BPF_MAP_CREATE of the outer map: CreateError, the template is closed', (t) => {
  const before = fdCount();
  // The first create is the inner-map template, the second the outer map.
  const injected = failBpf(t, Cmd.MapCreate, Errno.ENOMEM, (n) => n === 2);
  assert.throws(
    () => ArrayOfMaps.create({ maxEntries: 4, innerMap: INNER }),
    kernelError('CreateError', 'bpf_map_create', 12, 'ENOMEM'),
  );
  assert.equal(injected.calls.get(Cmd.MapCreate), 2);
  assert.equal(fdCount(), before, 'the template map was closed');
  // And a failing template: nothing is created at all. (Only the template's create
  // fails: were every create refused, the feature probe's too, the kernel would lack
  // array maps, which MapData.create reports as NotSupported.)
  failBpf(t, Cmd.MapCreate, Errno.EINVAL, (n) => n === 1);
  assert.throws(() => ArrayOfMaps.create({ maxEntries: 4, innerMap: INNER }), kernelError('CreateError', 'bpf_map_create', 22, 'EINVAL'));
  assert.equal(fdCount(), before);
});

test('setMany: a real batch error (EFAULT) is thrown, not hidden by the fallback', (t) => {
  const { outer, inner } = outerWithInner();
  t.after(() => {
    outer.close();
    inner.close();
  });
  const injected = failBpf(t, Cmd.MapUpdateBatch, Errno.EFAULT);
  assert.throws(() => outer.setMany([[1, inner], [2, inner]]), kernelError('SyscallError', 'bpf_map_update_batch', 14, 'EFAULT'));
  assert.equal(injected.calls.get(Cmd.MapUpdateElem) ?? 0, 0, 'no single updates after a real error');
  injected.restore();
  assert.deepEqual([...outer.entries()], [[0, inner.map.id]]);
});

test('setMany falls back to single updates when BPF_MAP_UPDATE_BATCH returns ENOTSUPP', (t) => {
  const outer = ArrayOfMaps.create({ maxEntries: 8, innerMap: INNER });
  const inners = [0, 1, 2].map((i) => {
    const m = ArrayMap.create(u32, { maxEntries: 4 });
    m.set(0, 10 + i);
    return m;
  });
  t.after(() => {
    outer.close();
    for (const m of inners) m.close();
  });
  const injected = failBpf(t, Cmd.MapUpdateBatch, ENOTSUPP);
  outer.setMany([[5, inners[0]!], [1, inners[1]!], [7, inners[2]!]]);
  assert.equal(injected.calls.get(Cmd.MapUpdateBatch), 1, 'the batch was tried once');
  assert.equal(injected.calls.get(Cmd.MapUpdateElem), 3, 'then one update per slot');
  assert.deepEqual([...outer.entries()], [[1, inners[1]!.map.id], [5, inners[0]!.map.id], [7, inners[2]!.map.id]]);
  const typed = ArrayOfMaps.tryFrom(outer.map, ArrayMap.fromMapData(u32));
  for (const [slot, i] of [[5, 0], [1, 1], [7, 2]] as const) {
    using m = typed.get(slot);
    assert.equal(m.get(0), 10 + i);
  }

  // Index errors are found before any system call, batch or not.
  const callsBefore = injected.calls.get(Cmd.MapUpdateElem);
  assert.throws(() => outer.setMany([[0, inners[0]!], [8, inners[1]!]]), { name: 'MapError', kind: 'OutOfBounds', index: 8 });
  assert.equal(injected.calls.get(Cmd.MapUpdateElem), callsBefore);
  assert.deepEqual([...outer.entries()].map(([i]) => i), [1, 5, 7], 'slot 0 was not written');

  // A failure of a single update in the fallback is typed too.
  const elem = failBpf(t, Cmd.MapUpdateElem, Errno.EFAULT, (n) => n === 2);
  assert.throws(() => outer.setMany([[2, inners[0]!], [3, inners[1]!]]), kernelError('SyscallError', 'bpf_map_update_elem', 14, 'EFAULT'));
  elem.restore();
});

test('close() with a failing close(2) still marks the object closed and does not throw', (t) => {
  const m = MapData.create(INNER);
  const fd = m.fd;
  const real = sys.kernel;
  const closed: number[] = [];
  const restore = replaceKernel({
    close(n) {
      closed.push(n);
      return -Errno.EIO;
    },
  });
  t.after(restore);
  m.close();
  m.close();
  restore();
  assert.deepEqual(closed, [fd], 'close(2) called exactly once');
  assert.equal(m.closed, true);
  assert.throws(() => m.lookup(new Uint8Array(4)), { name: 'MapError', kind: 'Closed' });
  assert.equal(real.close(fd), 0, 'the descriptor the fake close left open');
});

// ---- retries: where the kernel says "try again", bounded ----------------------------

const root = new URL('../../', import.meta.url);
const object = (name: string) => fileURLToPath(new URL(`bpf/${name}`, root));

test('EAGAIN from BPF_PROG_LOAD (the verifier stopped for a signal) is retried: 4 in a row still load, a lasting one is a typed LoadError after 5 calls per attempt', (t) => {
  const before = fdCount();
  const four = failBpf(t, Cmd.ProgLoad, Errno.EAGAIN, (n) => n <= 4);
  using ebpf = Ebpf.load(object('globals.o'));
  assert.equal(ebpf.program('compute').testRun({ data: new Uint8Array(64) }).returnValue, 1137);
  assert.equal(four.calls.get(Cmd.ProgLoad), 5, 'four interrupted calls, then the load');
  four.restore();
  const always = failBpf(t, Cmd.ProgLoad, Errno.EAGAIN);
  const err = thrown(() => Ebpf.load(object('globals.o')));
  assert.ok(err instanceof ProgramError && err.kind === 'LoadError' && err.code === 'EAGAIN', String(err));
  assert.equal(always.calls.get(Cmd.ProgLoad), 10, '5 calls without a log, 5 with one: bounded');
  always.restore();
  ebpf.close();
  assert.equal(fdCount(), before);
});

test('EINTR from BPF_PROG_TEST_RUN (a signal in the repeat loop) is retried, at most 5 calls', (t) => {
  using ebpf = Ebpf.load(object('globals.o'));
  const prog = ebpf.program('compute');
  const twice = failBpf(t, Cmd.ProgTestRun, Errno.EINTR, (n) => n <= 2);
  assert.equal(prog.testRun({ data: new Uint8Array(64) }).returnValue, 1137);
  assert.equal(twice.calls.get(Cmd.ProgTestRun), 3);
  twice.restore();
  const always = failBpf(t, Cmd.ProgTestRun, Errno.EINTR);
  const err = thrown(() => prog.testRun({ data: new Uint8Array(64) }));
  assert.ok(err instanceof ProgramError && err.code === 'EINTR' && err.cause instanceof SyscallError, String(err));
  assert.equal(always.calls.get(Cmd.ProgTestRun), 5);
});

test('EINTR from perf_event_open (waiting for the exec lock) is retried: the attach succeeds; a lasting one is a typed AttachError, nothing left', (t) => {
  using ebpf = loadOnly(object('attach_introspect.o'), 'tp_getppid');
  const tp = ebpf.program('tp_getppid') as TracePoint;
  const before = fdCount();
  const thrice = failCall(t, 'perf_event_open', Errno.EINTR, (n) => n <= 3);
  const link = tp.attach();
  assert.equal(thrice.count(), 4);
  link.detach();
  thrice.restore();
  const always = failCall(t, 'perf_event_open', Errno.EINTR);
  const err = thrown(() => tp.attach());
  assert.ok(err instanceof ProgramError && err.kind === 'AttachError' && err.code === 'EINTR', String(err));
  assert.equal(always.count(), 5);
  always.restore();
  assert.equal(fdCount(), before);
});

test('EINTR from a netlink receive (a signal ends the blocking recv) is retried, not reported', (t) => {
  const dump = () => sys.netlink.rtnetlink(new sys.netlink.NlMessage(sys.netlink.Rtm.GetLink, sys.netlink.NlmF.Dump).bytes(new Uint8Array(16)));
  const links = dump().length;
  const interrupted = failCall(t, 'recv', Errno.EINTR, (n) => n <= 2);
  assert.equal(dump().length, links, 'the same interfaces');
  assert.ok(interrupted.count() >= 3);
  interrupted.restore();
  const always = failCall(t, 'recv', Errno.EINTR);
  const err = thrown(dump);
  assert.ok(err instanceof SyscallError && err.errno === Errno.EINTR, String(err));
  assert.equal(always.count(), 5);
});

test('close(2) failing with EINTR or EIO is neither retried nor thrown: Linux released the descriptor, and every owner closes its own once', (t) => {
  const before = fdCount();
  for (const errno of [Errno.EINTR, Errno.EIO]) {
    const ebpf = Ebpf.load(object('map_in_map.o'));
    const closed: number[] = [];
    const real = sys.kernel;
    const restore = replaceUntilAfter(t, {
      close(fd) {
        closed.push(fd);
        real.close(fd);
        return -errno;
      },
    });
    ebpf.close();
    ebpf.close(); // a second close() makes no call
    restore();
    assert.equal(new Set(closed).size, closed.length, `no descriptor closed twice: ${closed.join(' ')}`);
    assert.equal(closed.length, 13, 'the 8 maps, the 4 programs and the BTF, once each');
    assert.equal(fdCount(), before);
  }
});

// ---- all or nothing --------------------------------------------------------------------

test('a load that fails after pinning a LIBBPF_PIN_BY_NAME map removes the pin it made, and keeps one that was there', (t) => {
  const dir = bpffsDir('faults-loadpin');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(corpusDir, 'testdata', 'loader-clang-17-el.elf');
  const before = fdCount();
  const failing = failBpf(t, Cmd.ProgLoad, Errno.ENOMEM);
  const err = thrown(() => new EbpfLoader().mapPinPath(dir).setExtern('MY_CONST', 1).load(path));
  assert.ok(err instanceof ProgramError && err.code === 'ENOMEM', String(err));
  assert.deepEqual(readdirSync(dir), [], 'btf_pin was pinned during the load, and removed with it');
  failing.restore();
  // Pinned by an earlier load: a failing load leaves it.
  new EbpfLoader().mapPinPath(dir).setExtern('MY_CONST', 1).load(path).close();
  assert.deepEqual(readdirSync(dir), ['btf_pin']);
  failBpf(t, Cmd.ProgLoad, Errno.ENOMEM);
  assert.throws(() => new EbpfLoader().mapPinPath(dir).setExtern('MY_CONST', 1).load(path), ProgramError);
  assert.deepEqual(readdirSync(dir), ['btf_pin'], 'a pin the load reused is not the load\'s to remove');
  assert.equal(fdCount(), before);
});

test('a struct_ops map the kernel refuses to unregister: Ebpf.close() closes the rest, then says which stays registered', (t) => {
  // A copy of the object with a congestion control name of its own (names are kernel-global).
  const bytes = readFileSync(object('struct_ops.o'));
  for (let at = bytes.indexOf('tsbpf_cc'); at >= 0; at = bytes.indexOf('tsbpf_cc', at + 1)) bytes.write('tsbpf_fu', at);
  const available = () => readFileSync('/proc/sys/net/ipv4/tcp_available_congestion_control', 'utf8').split(/\s+/);
  const before = fdCount();
  const ebpf = new EbpfLoader().load(new Uint8Array(bytes));
  const ops = ebpf.structOps('tsbpf_fu');
  ops.register();
  const id = ops.map.id;
  assert.ok(available().includes('tsbpf_fu'));
  const refused = failBpf(t, Cmd.MapDeleteElem, Errno.EBUSY);
  const err = thrown(() => ebpf.close());
  refused.restore();
  assert.ok(err instanceof MapError && err.code === 'EBUSY' && /tsbpf_fu stays registered/.test(err.message), String(err));
  assert.equal(fdCount(), before, 'every descriptor closed all the same');
  assert.ok(available().includes('tsbpf_fu'), 'still registered, as the error says');
  using m = MapData.fromId(id);
  m.delete(new Uint8Array(4));
  assert.ok(!available().includes('tsbpf_fu'));
});

test('replaceKernel restores the previous calls', () => {
  const real = sys.kernel;
  const restoreOuter = replaceKernel({ bpf: () => -Errno.EPERM });
  const restoreInner = replaceKernel({ close: () => -Errno.EBADF });
  assert.equal(sys.kernel.bpf(0, new Uint8Array(8)), -Errno.EPERM, 'the outer replacement is kept');
  restoreInner();
  assert.equal(sys.kernel.close, real.close);
  restoreOuter();
  assert.equal(sys.kernel, real);
  using m = ArrayMap.create(u32, { maxEntries: 1 });
  m.set(0, 1);
  assert.equal(m.get(0), 1);
});

test('no injection outlives its test', () => {
  assert.equal(sys.kernel, REAL_KERNEL);
});

test('no descriptor left by this file', async () => {
  assert.equal(await gcUntilFdCount(fdsAtStart), fdsAtStart);
});
