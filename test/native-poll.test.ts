// The addon's readiness calls (epoll sets, libuv watches) and mmapRing, the read-only part
// of event rings: bad arguments throw, never crash; a watch survives its descriptor being
// closed under it; ring memory is mapped where the kernel says and released by munmap.
import { describe as suite, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MapData, MapType } from '../src/index.js';
import * as sys from '../src/sys/index.js';
import { fdCount, watchesClosed } from './helpers.js';
import { describe, runScript } from './child.js';
import { survives, throwsRange, throwsType, weirdValues } from './native-args.js';

const k = sys.kernel;
const { Errno } = sys;
const PAGE = 4096;
const EPOLL_CTL_ADD = 1, EPOLLIN = 1;

/** A FIFO opened read-write and non-blocking: readable once written. */
function fifo(t: { after(fn: () => void): void }): number {
  const path = join(tmpdir(), `tsbpf-fifo-${process.pid}-${Math.random().toString(36).slice(2)}`);
  execFileSync('mkfifo', [path]);
  const fd = openSync(path, 'r+');
  t.after(() => {
    closeSync(fd);
    rmSync(path, { force: true });
  });
  return fd;
}

const ringMappings = () => readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('anon_inode:bpf-map') || l.includes('perf_event')).length;

suite('epoll sets', () => {
  test('a set reports the data of readable descriptors, and only those', (t) => {
    const before = fdCount();
    const a = fifo(t), b = fifo(t);
    const ep = k.epollCreate();
    assert.ok(ep >= 0);
    assert.equal(k.epollCtl(ep, EPOLL_CTL_ADD, a, EPOLLIN, 7), 0);
    assert.equal(k.epollCtl(ep, EPOLL_CTL_ADD, b, EPOLLIN, 0xffff_ffff), 0);
    assert.equal(k.epollCtl(ep, EPOLL_CTL_ADD, a, EPOLLIN, 7), -Errno.EEXIST);
    const out = new Uint32Array(4);
    assert.equal(k.epollWait(ep, out, 0), 0);
    writeSync(b, 'x');
    assert.equal(k.epollWait(ep, out, 0), 1);
    assert.equal(out[0], 0xffff_ffff);
    writeSync(a, 'x');
    assert.equal(k.epollWait(ep, out, 10), 2);
    assert.deepEqual([...out.subarray(0, 2)].sort(), [7, 0xffff_ffff].sort());
    readSync(a, Buffer.alloc(1));
    readSync(b, Buffer.alloc(1));
    assert.equal(k.epollWait(ep, out, 0), 0);
    assert.equal(k.close(ep), 0);
    assert.equal(fdCount(), before + 2);
  });

  test('bad arguments throw TypeError or RangeError, bad descriptors are -errno', (t) => {
    const a = fifo(t);
    const ep = k.epollCreate();
    t.after(() => k.close(ep));
    throwsType(() => (k.epollCtl as Function)(ep, EPOLL_CTL_ADD, a, EPOLLIN));
    throwsRange(() => k.epollCtl(ep, 0, a, EPOLLIN, 0), 'op 0');
    throwsRange(() => k.epollCtl(ep, 4, a, EPOLLIN, 0), 'op 4');
    throwsRange(() => k.epollCtl(ep, EPOLL_CTL_ADD, a, EPOLLIN, 2 ** 32), 'data beyond u32');
    assert.equal(k.epollCtl(ep, EPOLL_CTL_ADD, 0x7fff_fff0, EPOLLIN, 0), -Errno.EBADF);
    assert.equal(k.epollWait(a, new Uint32Array(1), 0), -Errno.EINVAL, 'a FIFO is no epoll set');
    throwsType(() => k.epollWait(ep, new Int32Array(1) as never, 0));
    throwsType(() => k.epollWait(ep, new Uint8Array(4) as never, 0));
    throwsRange(() => k.epollWait(ep, new Uint32Array(0), 0));
    throwsRange(() => k.epollWait(ep, new Uint32Array(1), -2));
    for (const [name, v] of weirdValues()) {
      for (let pos = 0; pos < 5; pos++) {
        const args: unknown[] = [ep, EPOLL_CTL_ADD, a, EPOLLIN, 1];
        args[pos] = v;
        survives(`epollCtl arg ${pos} = ${name}`, () => (k.epollCtl as Function)(...args));
      }
      for (let pos = 0; pos < 3; pos++) {
        const args: unknown[] = [ep, new Uint32Array(2), 0];
        args[pos] = v;
        survives(`epollWait arg ${pos} = ${name}`, () => (k.epollWait as Function)(...args));
      }
    }
  });
});

suite('watches', () => {
  test('a watch calls back on the event loop while its descriptor is readable, until unwatched', async (t) => {
    const before = fdCount();
    const a = fifo(t);
    let calls = 0;
    let w: sys.Watch | undefined;
    await new Promise<void>((resolve) => {
      const r = k.watch(a, () => {
        readSync(a, Buffer.alloc(8));
        if (++calls === 2) resolve();
        else setTimeout(() => writeSync(a, 'y'), 5);
      });
      assert.equal(typeof r, 'object');
      w = r as sys.Watch;
      writeSync(a, 'x');
    });
    assert.equal(calls, 2);
    assert.equal(fdCount(), before + 2, 'the watch holds a duplicate of the descriptor');
    assert.equal(k.unwatch(w!), 0);
    assert.equal(k.unwatch(w!), 0, 'unwatch is idempotent');
    // libuv closes the handle (and then the duplicate) in its close phase.
    await watchesClosed();
    assert.equal(fdCount(), before + 1, 'the duplicate is closed with the watch');
  });

  test('bad arguments throw; a descriptor epoll cannot watch is -errno', (t) => {
    const a = fifo(t);
    throwsType(() => (k.watch as Function)(a));
    throwsType(() => k.watch(a, 3 as never), 'a number for a callback');
    assert.equal(k.watch(0x7fff_fff0, () => undefined), -Errno.EBADF);
    const file = openSync('/proc/self/status', 'r');
    try {
      assert.equal(k.watch(file, () => undefined), -Errno.EPERM, 'a regular file');
    } finally {
      closeSync(file);
    }
    throwsType(() => k.unwatch({} as never));
    throwsType(() => k.unwatch(new Uint8Array(8) as never));
    for (const [name, v] of weirdValues()) {
      survives(`watch fd = ${name}`, () => (k.watch as Function)(v, () => undefined));
      if (typeof v !== 'function') assert.throws(() => (k.watch as Function)(a, v), TypeError, `watch callback = ${name}`);
      assert.throws(() => (k.unwatch as Function)(v), TypeError, `unwatch(${name})`);
    }
  });

  test('closing the watched descriptor, a throwing callback, and forgotten watches do not crash the process', () => {
    const r = runScript(`
      const k = sys.kernel;
      const { execFileSync } = await import('node:child_process');
      const fs = await import('node:fs');
      const path = '/tmp/tsbpf-fifo-child-' + process.pid;
      execFileSync('mkfifo', [path]);
      const fd = fs.openSync(path, 'r+');
      fs.rmSync(path);
      const events = [];
      process.on('uncaughtException', (e) => events.push('uncaught ' + e.message));
      // Closed under the watch: the watch polls its own duplicate.
      const w = k.watch(fd, () => {
        events.push('ready');
        fs.readSync(fd2, Buffer.alloc(8));
        k.unwatch(w);
        // A throwing callback: the error reaches uncaughtException, the loop goes on.
        const w2 = k.watch(fd2, () => { k.unwatch(w2); throw new Error('boom'); });
        fs.writeSync(fd2, 'z');
      });
      const fd2 = fs.openSync('/proc/self/fd/' + fd, 'r+');
      fs.closeSync(fd);
      fs.writeSync(fd2, 'x');
      // Watches made and forgotten, then collected.
      for (let i = 0; i < 200; i++) { const f = k.watch(fd2, () => undefined); k.unwatch(f); }
      await new Promise((r) => setTimeout(r, 50));
      const v8 = await import('node:v8'); v8.setFlagsFromString('--expose-gc');
      const gc = (await import('node:vm')).runInNewContext('gc');
      gc(); await new Promise((r) => setTimeout(r, 10)); gc();
      console.log(JSON.stringify(events));
    `);
    assert.equal(r.signal, null, describe(r));
    assert.equal(r.status, 0, describe(r));
    assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()!), ['ready', 'uncaught boom']);
  });
});

suite('mmapRing', () => {
  test('a ring buffer: consumer page read-write by mmap, producer page and data (twice) read-only by mmapRing', () => {
    const size = 4 * PAGE;
    const md = MapData.create({ type: MapType.Ringbuf, keySize: 0, valueSize: 0, maxEntries: size });
    try {
      const before = ringMappings();
      const consumer = k.mmap(md.fd, PAGE, 3, 1, 0) as ArrayBuffer;
      const ring = k.mmapRing(md.fd, PAGE + 2 * size, PAGE);
      assert.ok(ring instanceof ArrayBuffer);
      assert.equal(ring.byteLength, PAGE + 2 * size);
      assert.equal(new BigUint64Array(ring)[0], 0n, 'producer position');
      assert.equal(new BigUint64Array(consumer)[0], 0n, 'consumer position');
      assert.equal(ringMappings(), before + 2);
      throwsRange(() => k.mmapRing(md.fd, PAGE, 0), 'the consumer page is writable: mmap maps it');
      throwsRange(() => k.mmapRing(md.fd, PAGE, 2 * PAGE), 'not from the producer page');
      assert.equal(k.mmapRing(md.fd, PAGE + 4 * size, PAGE), -Errno.EINVAL, 'longer than the ring mapped twice');
      assert.equal(k.mmap(md.fd, PAGE + 2 * size, 3, 1, PAGE), -Errno.EPERM, 'mmap never maps read-only memory writable');
      assert.equal(k.munmap(ring), 0);
      assert.equal(ring.byteLength, 0);
      assert.equal(k.munmap(consumer), 0);
      assert.equal(ringMappings(), before);
    } finally {
      md.close();
    }
  });

  test('a user ring buffer: its consumer page is the read-only part; producer and data are writable through mmap', () => {
    const md = MapData.create({ type: MapType.UserRingbuf, keySize: 0, valueSize: 0, maxEntries: PAGE });
    try {
      const consumer = k.mmapRing(md.fd, PAGE, 0) as ArrayBuffer;
      assert.equal(consumer.byteLength, PAGE);
      const data = k.mmap(md.fd, PAGE + 2 * PAGE, 3, 1, PAGE) as ArrayBuffer;
      assert.equal(data.byteLength, 3 * PAGE);
      throwsRange(() => k.mmapRing(md.fd, 2 * PAGE, 0), 'more than the consumer page');
      assert.equal(k.munmap(consumer), 0);
      assert.equal(k.munmap(data), 0);
    } finally {
      md.close();
    }
  });

  test('a perf event ring: the whole ring from its first page; mmap still maps its first page only', () => {
    const attr = new Uint8Array(136);
    const v = new DataView(attr.buffer);
    v.setUint32(0, 1, true); // PERF_TYPE_SOFTWARE
    v.setUint32(4, 136, true);
    v.setBigUint64(8, 10n, true); // PERF_COUNT_SW_BPF_OUTPUT
    v.setBigUint64(24, 1n << 10n, true); // PERF_SAMPLE_RAW
    v.setBigUint64(40, 1n, true); // disabled
    const fd = k.perf_event_open(attr, -1, 0, -1, 8);
    assert.ok(fd >= 0, `perf_event_open: ${fd}`);
    try {
      const ring = k.mmapRing(fd, 3 * PAGE, 0) as ArrayBuffer;
      assert.equal(ring.byteLength, 3 * PAGE);
      const page = new DataView(ring);
      assert.equal(page.getBigUint64(1024, true), 0n, 'data_head');
      assert.equal(page.getBigUint64(1040, true), BigInt(PAGE), 'data_offset');
      assert.equal(page.getBigUint64(1048, true), BigInt(2 * PAGE), 'data_size');
      throwsRange(() => k.mmapRing(fd, 2 * PAGE, PAGE), 'an aux area');
      throwsRange(() => k.mmap(fd, 3 * PAGE, 3, 1, 0), 'mmap: data pages fault on write');
      assert.equal(k.munmap(ring), 0);
      assert.equal(k.mmapRing(fd, 4 * PAGE, 0), -Errno.EINVAL, 'data of 3 pages: not a power of two');
    } finally {
      k.close(fd);
    }
  });

  test('anything else is refused; bad arguments throw', () => {
    const array = MapData.create({ type: MapType.Array, keySize: 4, valueSize: 8, maxEntries: 1, flags: 1 << 10 });
    try {
      throwsRange(() => k.mmapRing(array.fd, PAGE, 0), 'an mmapable array: mmap maps it writable');
      throwsRange(() => k.mmapRing(0, PAGE, 0), 'stdin');
      throwsType(() => (k.mmapRing as Function)(array.fd, PAGE));
      throwsRange(() => k.mmapRing(array.fd, PAGE, 1), 'unaligned offset');
      for (const [name, val] of weirdValues()) {
        for (let pos = 0; pos < 3; pos++) {
          const args: unknown[] = [array.fd, PAGE, 0];
          args[pos] = val;
          const r = survives(`mmapRing arg ${pos} = ${name}`, () => (k.mmapRing as Function)(...args));
          if (r instanceof ArrayBuffer) k.munmap(r);
        }
      }
    } finally {
      array.close();
    }
  });
});
