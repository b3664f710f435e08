// The hot path's entry points (native/fast.cc): bpfElem over a buffer the addon
// allocates (elemBuffer), and close, each a V8 fast call with a slow twin. No JS
// value crashes either path; the checks are those of bpfIo; the fast path really
// engages once optimised; a registered buffer outlives GC of its handle's owner and a
// transfer of its ArrayBuffer; replaceKernel still sees every call.
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { ArrayMap, ArrayOfMaps, HashMap, MapType, u32, u64 } from '../src/index.js';
import * as sys from '../src/sys/index.js';
import { elemBuffer, replaceKernel } from '../src/sys/native.js';
import { bpfCalls, fdCount } from './helpers.js';
import { describe, runScript } from './child.js';

const k = sys.kernel;
const { Cmd, Errno } = sys;
const KEY_VALUE = sys.ptrWords(8, 16);
const KEY = sys.ptrWords(8);
const ADDON = fileURLToPath(new URL('../../build/Release/tsbpf.node', import.meta.url));

/** Values no argument should accept silently (numbers out of every range included). */
function weirdValues(): [string, unknown][] {
  const ab = new ArrayBuffer(8);
  return [
    ['undefined', undefined], ['null', null], ['true', true], ['string', 'abc'], ['numeric string', '3'],
    ['object', {}], ['object with valueOf', { valueOf: () => 3 }], ['array', [3]], ['function', () => 3],
    ['symbol', Symbol('x')], ['bigint', 3n], ['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity],
    ['-2', -2], ['0.5', 0.5], ['-0.5', -0.5], ['2^31', 2 ** 31], ['2^32', 2 ** 32], ['2^53', 2 ** 53],
    ['-2^53', -(2 ** 53)], ['1e308', 1e308], ['Uint8Array', new Uint8Array(4)], ['ArrayBuffer', ab], ['Date', new Date(0)],
  ];
}

/** Throws TypeError/RangeError or returns a number. */
function survives(what: string, fn: () => unknown): unknown {
  try {
    const r = fn();
    assert.equal(typeof r, 'number', `${what}: returned ${String(r)}`);
    return r;
  } catch (err) {
    assert.ok(err instanceof TypeError || err instanceof RangeError, `${what}: threw ${String(err)}`);
    return err;
  }
}

/** An element buffer for `fd`: attr (32 bytes), key at 32, value at 40 (8 bytes). */
function elemIo(fd: number) {
  const { handle, buffer } = elemBuffer(48);
  const view = new DataView(buffer);
  view.setUint32(0, fd, true);
  view.setUint32(8, 32, true);
  view.setUint32(16, 40, true);
  return { handle, buffer, view };
}

test('bpfElem: update, lookup, next key, delete and fds by id work as bpfIo does', () => {
  using m = HashMap.create(u32, u64, { maxEntries: 4 });
  const io = elemIo(m.fd);
  io.view.setUint32(32, 7, true);
  io.view.setBigUint64(40, 0x1122334455667788n, true);
  assert.equal(k.bpfElem(Cmd.MapUpdateElem, io.handle, 32, KEY_VALUE), 0);
  assert.equal(m.get(7), 0x1122334455667788n, 'the kernel read key and value from the registered buffer');
  io.view.setBigUint64(40, 0n, true);
  assert.equal(k.bpfElem(Cmd.MapLookupElem, io.handle, 32, KEY_VALUE), 0);
  assert.equal(io.view.getBigUint64(40, true), 0x1122334455667788n, 'and wrote the value into it');
  assert.equal(io.view.getUint32(8, true), 32, 'the pointer words stay offsets');
  // GET_NEXT_KEY from NULL (offset 0): the first key into the value slot.
  io.view.setUint32(8, 0, true);
  assert.equal(k.bpfElem(Cmd.MapGetNextKey, io.handle, 32, KEY_VALUE), 0);
  assert.equal(io.view.getUint32(40, true), 7);
  io.view.setUint32(8, 32, true);
  assert.equal(k.bpfElem(Cmd.MapDeleteElem, io.handle, 16, KEY), 0);
  assert.equal(k.bpfElem(Cmd.MapDeleteElem, io.handle, 16, KEY), -Errno.ENOENT);
  assert.equal(k.bpfElem(Cmd.MapLookupElem, io.handle, 32, KEY_VALUE), -Errno.ENOENT);
  // A command without pointers: the kernel's answer, attr copied back.
  const byId = elemBuffer(12);
  const v = new DataView(byId.buffer);
  v.setUint32(0, m.map.id, true);
  const before = fdCount();
  const fd = k.bpfElem(Cmd.MapGetFdById, byId.handle, 12, 0);
  assert.ok(fd > 2, `MAP_GET_FD_BY_ID gave ${fd}`);
  assert.equal(fdCount(), before + 1);
  assert.equal(k.close(fd), 0);
  v.setUint32(0, 0, true);
  assert.equal(k.bpfElem(Cmd.MapGetNextId, byId.handle, 12, 0), 0);
  assert.ok(v.getUint32(4, true) > 0, 'next_id written by the kernel is copied back');
});

test('bpfElem refuses what bpfIo refuses: commands with other pointers, short buffers, stray pointers, bad handles', () => {
  using m = ArrayMap.create(u64, { maxEntries: 4 });
  const io = elemIo(m.fd);
  const r = (f: () => unknown, what: string) => assert.throws(f, RangeError, what);
  r(() => k.bpfElem(Cmd.MapCreate, io.handle, 32, 0), 'a command with pointer words not of an element command');
  r(() => k.bpfElem(Cmd.ProgLoad, io.handle, 32, 0), 'PROG_LOAD');
  r(() => k.bpfElem(Cmd.LinkCreate, io.handle, 32, 0), 'LINK_CREATE (pointers by attach type)');
  r(() => k.bpfElem(Cmd.MapLookupElem, io.handle, 33, KEY_VALUE), 'attr longer than 32 bytes');
  r(() => k.bpfElem(Cmd.MapLookupElem, io.handle, 20, KEY_VALUE), 'a pointer word partly beyond attr');
  r(() => k.bpfElem(Cmd.MapLookupElem, io.handle, 32, sys.ptrWords(0)), 'map_fd is not a pointer');
  r(() => k.bpfElem(Cmd.MapDeleteElem, io.handle, 32, KEY_VALUE), 'delete has no value pointer');
  r(() => k.bpfElem(Cmd.MapLookupElem, io.handle, 32, KEY), 'the value word holds an offset ptrMask does not name');
  r(() => k.bpfElem(Cmd.MapGetFdById, io.handle, 12, 2), 'a command without pointers takes no ptrMask');
  // The value (8 bytes) at offset 44 would end 4 bytes past the buffer.
  io.view.setUint32(16, 44, true);
  r(() => k.bpfElem(Cmd.MapLookupElem, io.handle, 32, KEY_VALUE), 'a value slot shorter than value_size');
  io.view.setUint32(16, 48, true);
  r(() => k.bpfElem(Cmd.MapLookupElem, io.handle, 32, KEY_VALUE), 'an offset past the buffer');
  io.view.setUint32(16, 40, true);
  // The same slot a thousand generations on (handle + 1 may name another live buffer's slot).
  r(() => k.bpfElem(Cmd.MapLookupElem, io.handle + 1000 * 2 ** 24, 32, KEY_VALUE), 'a handle never made');
  r(() => k.bpfElem(Cmd.MapLookupElem, 1, 32, KEY_VALUE), 'handle 1');
  assert.equal(k.bpfElem(Cmd.MapLookupElem, io.handle, 32, KEY_VALUE), 0, 'the same call, well formed');
  // Not a map at the fd: the kernel answers, with NULL pointers.
  io.view.setUint32(0, 0x7fff_fff0, true);
  assert.equal(k.bpfElem(Cmd.MapLookupElem, io.handle, 32, KEY_VALUE), -Errno.EBADF);
  assert.throws(() => (k.bpfElem as Function)(), TypeError, 'no arguments');
  assert.throws(() => elemBuffer(0), RangeError);
  assert.throws(() => elemBuffer(2 ** 32 + 1), RangeError);
  assert.throws(() => elemBuffer('8' as never), TypeError);
});

test('no weird value in any position of bpfElem, elemBuffer or close crashes', () => {
  using m = ArrayMap.create(u32, { maxEntries: 4 });
  const io = elemIo(m.fd);
  const before = fdCount();
  for (let pos = 0; pos < 4; pos++) {
    for (const [name, v] of weirdValues()) {
      const args: unknown[] = [Cmd.MapLookupElem, io.handle, 32, KEY_VALUE];
      args[pos] = v;
      const r = survives(`bpfElem arg ${pos} = ${name}`, () => (k.bpfElem as Function)(...args));
      if (typeof r === 'number') assert.ok(r <= 0, `bpfElem arg ${pos} = ${name} made no descriptor`);
    }
  }
  for (const [name, v] of weirdValues()) {
    try {
      const r = (elemBuffer as Function)(v) as { buffer: ArrayBuffer };
      assert.ok(r.buffer instanceof ArrayBuffer, `elemBuffer(${name})`);
    } catch (err) {
      assert.ok(err instanceof TypeError || err instanceof RangeError, `elemBuffer(${name}) threw ${String(err)}`);
    }
    survives(`close(${name})`, () => k.close(v as never));
  }
  assert.equal(fdCount(), before);
});

test('a registered buffer stays valid when its ArrayBuffer is transferred, and its handle dies with it', () => {
  const child = runScript(`
    const { elemBuffer } = await import(${JSON.stringify(new URL('../src/sys/native.js', import.meta.url).href)});
    const { Cmd } = sys;
    const m = tsbpf.ArrayMap.create(tsbpf.u32, { maxEntries: 4 });
    m.set(1, 0xabcd);
    const { handle, buffer } = elemBuffer(48);
    const v = new DataView(buffer);
    v.setUint32(0, m.fd, true); v.setUint32(8, 32, true); v.setUint32(16, 40, true); v.setUint32(32, 1, true);
    // Transfer: this side's ArrayBuffer is detached; the memory lives on in the addon's slot.
    const moved = structuredClone(buffer, { transfer: [buffer] });
    const detached = buffer.byteLength === 0;
    const r1 = sys.kernel.bpfElem(Cmd.MapLookupElem, handle, 32, 6);
    const seen = new DataView(moved).getUint32(40, true);
    // Many buffers made and dropped: their slots are retired by GC and reused.
    const v8 = await import('node:v8'); const vm = await import('node:vm');
    v8.setFlagsFromString('--expose-gc'); const gc = vm.runInNewContext('gc');
    let dead = 0;
    for (let i = 0; i < 2000; i++) elemBuffer(64);
    const stale = elemBuffer(64).handle;
    for (let i = 0; i < 5; i++) { gc(); await new Promise((r) => setImmediate(r)); }
    try { sys.kernel.bpfElem(Cmd.MapLookupElem, stale, 32, 6); } catch (e) { dead = e instanceof RangeError ? 1 : 2; }
    // The detached ArrayBuffer object is still referenced here: its handle still works, on memory the moved one shows.
    new DataView(moved).setUint32(40, 0, true);
    m.set(1, 0x1234);
    const r2 = sys.kernel.bpfElem(Cmd.MapLookupElem, handle, 32, 6);
    const seen2 = new DataView(moved).getUint32(40, true);
    m.close();
    console.log(JSON.stringify({ detached, r1, seen, dead, r2, seen2 }));
  `);
  assert.equal(child.status, 0, describe(child));
  assert.deepEqual(child.json, { detached: true, r1: 0, seen: 0xabcd, dead: 1, r2: 0, seen2: 0x1234 });
});

test('the fast path engages once the caller is optimised, and falls back to the slow one for refusals', () => {
  const child = runScript(`
    const { elemBuffer } = await import(${JSON.stringify(new URL('../src/sys/native.js', import.meta.url).href)});
    const { createRequire } = await import('node:module');
    const addon = createRequire(import.meta.url)(${JSON.stringify(ADDON)});
    const m = tsbpf.ArrayMap.create(tsbpf.u32, { maxEntries: 4 });
    m.set(2, 99);
    const { handle, buffer } = elemBuffer(48);
    const v = new DataView(buffer);
    v.setUint32(0, m.fd, true); v.setUint32(8, 32, true); v.setUint32(16, 40, true); v.setUint32(32, 2, true);
    const k = sys.kernel;
    function call(h) { return k.bpfElem(1, h, 32, 6); }
    %PrepareFunctionForOptimization(call);
    // Warm: the wrapper in src/sys/native.ts gets its feedback (lazily allocated) too.
    for (let i = 0; i < 50; i++) call(handle);
    %OptimizeFunctionOnNextCall(call);
    const before = addon.fastCalls();
    let sum = 0;
    for (let i = 0; i < 1000; i++) sum += call(handle);
    const fast = addon.fastCalls() - before;
    let refused = '';
    try { call(handle + 1); } catch (e) { refused = e.constructor.name; }
    const value = v.getUint32(40, true);
    m.close();
    console.log(JSON.stringify({ sum, fast, refused, value, optimised: %GetOptimizationStatus(call) !== 0 }));
  `, { prefix: ['sh', '-c', 'exec "$0" --allow-natives-syntax "$@"'] });
  assert.equal(child.status, 0, describe(child));
  const r = child.json as { sum: number; fast: number; refused: string; value: number };
  assert.equal(r.sum, 0);
  assert.equal(r.value, 99);
  assert.equal(r.refused, 'RangeError', 'a refusal in optimised code still throws (through the slow path)');
  assert.ok(r.fast >= 900, `most calls took the fast path (${r.fast} of 1000)`);
});

test('a refusal is caught by a try/catch in the optimised function that made the call (V8 11.3 lets a fast-call fallback exception skip it)', () => {
  // Found by the native fuzzer: with the fast functions asking V8 for their fallback,
  // which threw, the process ended on an exception its own caller caught.
  const child = runScript(`
    const { elemBuffer } = await import(${JSON.stringify(new URL('../src/sys/native.js', import.meta.url).href)});
    const { createRequire } = await import('node:module');
    const addon = createRequire(import.meta.url)(${JSON.stringify(ADDON)});
    const m = tsbpf.ArrayMap.create(tsbpf.u32, { maxEntries: 4 });
    const { handle, buffer } = elemBuffer(48);
    const v = new DataView(buffer);
    v.setUint32(0, m.fd, true); v.setUint32(16, 40, true);
    const k = sys.kernel;
    function call() { return k.bpfElem(1, handle, 32, 6); }
    function run(n) {
      let ok = 0, caught = 0, other = 0;
      for (let i = 0; i < n; i++) {
        // Every 1000th call puts the key offset beyond the buffer: refused, RangeError.
        v.setUint32(8, i % 1000 === 999 ? 4096 : 32, true);
        try { if (call() === 0) ok++; } catch (e) { if (e instanceof RangeError) caught++; else other++; }
      }
      return { ok, caught, other };
    }
    const before = addon.fastCalls();
    const osr = run(100000);
    let again = { ok: 0, caught: 0, other: 0 };
    for (let j = 0; j < 40; j++) { const r = run(2000); again.ok += r.ok; again.caught += r.caught; again.other += r.other; }
    // The raw fast function answers INT32_MIN instead of throwing, for any argument.
    const refused = [addon.bpfElemFast(1, handle + 1, 32, 6), addon.bpfElemFast('1', handle, 32, 6), addon.bpfElemFast(), addon.closeFast(-1), addon.closeFast(null)];
    m.close();
    console.log(JSON.stringify({ osr, again, fast: addon.fastCalls() - before > 100000, refused }));
  `);
  assert.equal(child.status, 0, describe(child));
  const I32_MIN = -2147483648;
  assert.deepEqual(child.json, {
    osr: { ok: 99900, caught: 100, other: 0 },
    again: { ok: 79920, caught: 80, other: 0 },
    fast: true,
    refused: [I32_MIN, I32_MIN, I32_MIN, I32_MIN, I32_MIN],
  });
});

test('replaceKernel sees bpfElem calls: through bpfIo for element commands, bpf for the others', () => {
  using m = ArrayMap.create(u32, { maxEntries: 4 });
  using aom = ArrayOfMaps.create({ maxEntries: 2, innerMap: { type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 4 } });
  aom.set(0, m);
  assert.deepEqual(bpfCalls(() => m.get(1)), [Cmd.MapLookupElem]);
  assert.deepEqual(bpfCalls(() => aom.get(0).close()), [Cmd.MapLookupElem, Cmd.MapGetFdById]);
  // Only bpf replaced: MAP_GET_FD_BY_ID goes to it, with the attr JS wrote.
  const real = k;
  const seen: number[] = [];
  const restore = replaceKernel({
    bpf: (cmd, attr, mask, ...bufs) => {
      seen.push(cmd, new DataView(attr.buffer, attr.byteOffset).getUint32(0, true));
      return cmd === Cmd.MapGetFdById ? -Errno.EPERM : real.bpf(cmd, attr, mask, ...bufs);
    },
  });
  try {
    assert.throws(() => aom.get(0), /EPERM/);
  } finally {
    restore();
  }
  assert.deepEqual(seen, [Cmd.MapGetFdById, m.map.id]);
  // Only bpfIo replaced: element commands go to it.
  const restore2 = replaceKernel({ bpfIo: () => -Errno.EPERM });
  try {
    assert.throws(() => m.get(1), /EPERM/);
  } finally {
    restore2();
  }
  assert.equal(m.get(1), 0);
});
