// The addon never crashes the process, whatever JS passes: every raw function either
// throws TypeError/RangeError or makes the call and returns its result (-errno on
// failure). Plus mmap of a BPF_F_MMAPABLE array, munmap, and the memory-safety holes
// found while writing these tests (run in child processes where they crash).
import { describe as suite, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArrayMap, AttachType, MapData, MapFlags, MapType, u32, u64, possibleCpus } from '../src/index.js';
import * as sys from '../src/sys/index.js';
import { cgroup2Root, collectGarbage, fdCount, le32 } from './helpers.js';
import { describe, runScript } from './child.js';
import { detached, survives, throwsRange, throwsType, weirdValues } from './native-args.js';

const k = sys.kernel;
const { Cmd, Errno } = sys;

const PROT_NONE = 0, PROT_READ = 1, PROT_WRITE = 2;
const MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20;
const RLIMIT_NOFILE = 7, RLIMIT_MEMLOCK = 8;
const PAGE = 4096;

/** attr of an element command for `fd`. */
function elemAttr(fd: number): Uint8Array {
  const attr = new Uint8Array(32);
  new DataView(attr.buffer).setUint32(0, fd, true);
  return attr;
}
const KEY_VALUE = sys.ptrWords(8, 16);

/** struct perf_event_attr for a software cpu-clock counter (type 1, config 0), disabled. */
function cpuClockAttr(): Uint8Array {
  const attr = new Uint8Array(128);
  const v = new DataView(attr.buffer);
  v.setUint32(0, 1, true); // PERF_TYPE_SOFTWARE
  v.setUint32(4, 128, true); // size
  v.setBigUint64(8, 0n, true); // PERF_COUNT_SW_CPU_CLOCK
  v.setBigUint64(40, 1n, true); // disabled:1
  return attr;
}

function bpfMapMappings(): number {
  return readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('anon_inode:bpf-map')).length;
}

/** The first mapping of this process with the given permission prefix ('r', 'rw'), below `limit`. */
function mappingAddress(perm: RegExp, limit = 2n ** 64n): bigint | undefined {
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-[0-9a-f]+ (\S+)/.exec(line);
    if (m && perm.test(m[2]!)) {
      const start = BigInt(`0x${m[1]}`);
      if (start < limit) return start;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------

suite('bpf(cmd, attr, ptrMask, ...buffers)', () => {
  test('a valid call works and leaves the pointer words as JS wrote them', () => {
    using m = ArrayMap.create(u32, { maxEntries: 4 });
    m.set(2, 0xabcdef);
    const attr = elemAttr(m.fd);
    const value = new Uint8Array(4);
    assert.equal(k.bpf(Cmd.MapLookupElem, attr, KEY_VALUE, le32(2), value), 0);
    assert.equal(new DataView(value.buffer).getUint32(0, true), 0xabcdef);
    assert.deepEqual([...attr.subarray(8, 24)], new Array(16).fill(0), 'no address leaks into attr');

    // OBJ_GET_INFO_BY_FD writes info_len back: copied back; the info pointer word is not.
    const info = new Uint8Array(88);
    const infoAttr = new Uint8Array(16);
    const iv = new DataView(infoAttr.buffer);
    iv.setUint32(0, m.fd, true);
    iv.setUint32(4, info.length, true);
    iv.setUint32(8, 0x1234, true);
    assert.equal(k.bpf(Cmd.ObjGetInfoByFd, infoAttr, sys.ptrWords(8), info), 0);
    assert.equal(iv.getUint32(8, true), 0x1234, 'the pointer word keeps the JS value');
    assert.equal(iv.getUint32(4, true), 88, 'info_len copied back');
    assert.equal(new DataView(info.buffer).getUint32(0, true), MapType.Array);
    assert.equal(new DataView(info.buffer).getUint32(4, true), m.map.id);
  });

  test('wrong arguments throw TypeError / RangeError', () => {
    const attr = new Uint8Array(32);
    throwsType(() => (k.bpf as Function)());
    throwsType(() => (k.bpf as Function)(1));
    throwsType(() => k.bpf('1' as never, attr));
    throwsType(() => k.bpf(1n as never, attr));
    throwsType(() => k.bpf({ valueOf: () => 1 } as never, attr));
    throwsRange(() => k.bpf(-1, attr));
    throwsRange(() => k.bpf(256, attr));
    throwsRange(() => k.bpf(2 ** 31, attr));
    throwsType(() => k.bpf(1, 'attr' as never));
    throwsType(() => k.bpf(1, null as never));
    throwsType(() => k.bpf(1, [0, 0, 0, 0] as never));
    throwsType(() => k.bpf(1, new ArrayBuffer(32) as never));
    throwsRange(() => k.bpf(1, new Uint8Array(257)), 'attr longer than 256 bytes');
    throwsRange(() => k.bpf(1, new Float64Array(33) as never), 'attr of 264 bytes as Float64Array');
    throwsType(() => k.bpf(1, attr, 'x' as never));
    throwsType(() => k.bpf(1, attr, null as never));
    throwsType(() => k.bpf(1, attr, {} as never));
    throwsRange(() => k.bpf(1, attr, 1 << 4), 'ptrMask word 4 is beyond a 32-byte attr');
    throwsRange(() => k.bpf(1, attr, 1 << 31), 'ptrMask word 31 is beyond a 32-byte attr');
    throwsRange(() => k.bpf(1, attr, -1), 'ptrMask -1 names every word');
    throwsRange(() => k.bpf(1, new Uint8Array(12), 0b10), 'a pointer word only half inside attr');
    throwsRange(() => k.bpf(1, new Uint8Array(256), 0x1ff), 'at most 8 pointer words');
    throwsType(() => k.bpf(1, attr, 0b10, 'key' as never));
    throwsType(() => k.bpf(1, attr, 0b10, {} as never));
    throwsType(() => k.bpf(1, attr, 0b10, 5 as never));
    throwsType(() => k.bpf(1, attr, 0b10, new ArrayBuffer(4) as never));
  });

  test('odd but harmless arguments reach the kernel and come back as -errno', () => {
    using m = ArrayMap.create(u32, { maxEntries: 4 });
    const attr = elemAttr(m.fd);
    const value = new Uint8Array(4);
    // A detached or empty key is a NULL pointer: EFAULT, not a crash.
    assert.equal(k.bpf(Cmd.MapLookupElem, attr, KEY_VALUE, detached(), value), -Errno.EFAULT);
    assert.equal(k.bpf(Cmd.MapLookupElem, attr, KEY_VALUE, new Uint8Array(0), value), -Errno.EFAULT);
    assert.equal(k.bpf(Cmd.MapLookupElem, attr, KEY_VALUE, null, value), -Errno.EFAULT);
    assert.equal(k.bpf(Cmd.MapLookupElem, attr, KEY_VALUE, le32(0), undefined), -Errno.EFAULT);
    // Missing buffer arguments are NULL too.
    assert.equal(k.bpf(Cmd.MapLookupElem, attr, KEY_VALUE), -Errno.EFAULT);
    // A detached attr is an empty attr.
    assert.ok((k.bpf(Cmd.MapLookupElem, detached()) as number) < 0);
    // Any typed array or DataView may carry bytes.
    assert.equal(k.bpf(Cmd.MapLookupElem, attr, KEY_VALUE, new Uint32Array([1]) as never, new DataView(new ArrayBuffer(4)) as never), 0);
    // A full 256-byte attr of zeros: fd 0 is no map.
    assert.ok((k.bpf(Cmd.MapLookupElem, new Uint8Array(256)) as number) < 0);
    // A command the kernel does not know.
    assert.equal(k.bpf(255, new Uint8Array(8)), -Errno.EINVAL);
    // A closed descriptor.
    assert.equal(k.bpf(Cmd.MapLookupElem, elemAttr(0x7fff_fff0), KEY_VALUE, le32(0), value), -Errno.EBADF);
  });

  test('no weird value in any position crashes', () => {
    using m = ArrayMap.create(u32, { maxEntries: 4 });
    const before = fdCount();
    const baseline = (): unknown[] => [Cmd.MapLookupElem, elemAttr(m.fd), KEY_VALUE, le32(0), new Uint8Array(4)];
    for (let pos = 0; pos < 5; pos++) {
      for (const [name, v] of weirdValues()) {
        const args = baseline();
        // A weird cmd gets a zeroed attr, so that whatever command it coerces to does nothing.
        if (pos === 0) args[1] = new Uint8Array(32);
        args[pos] = v;
        const r = survives(`bpf arg ${pos} = ${name}`, () => (k.bpf as Function)(...args));
        if (typeof r === 'number' && r > 2) k.close(r);
      }
    }
    assert.equal(fdCount(), before);
  });
});

suite('close, ioctl, setrlimit, getrlimit, perf_event_open', () => {
  test('every function called without arguments throws TypeError', () => {
    const wrong: string[] = [];
    for (const name of ['bpf', 'close', 'ioctl', 'mmap', 'munmap', 'perf_event_open', 'setrlimit', 'getrlimit'] as const) {
      try {
        const result: unknown = (k[name] as Function)();
        wrong.push(`${name}() returned ${String(result)}`);
      } catch (err) {
        if (!(err instanceof TypeError)) wrong.push(`${name}() threw ${String(err)}`);
      }
    }
    assert.deepEqual(wrong, [], 'each must throw TypeError');
  });

  test('close', () => {
    throwsType(() => k.close('3' as never));
    throwsType(() => k.close(null as never));
    throwsRange(() => k.close(-1));
    throwsRange(() => k.close(NaN));
    throwsRange(() => k.close(1.5));
    throwsRange(() => k.close(2 ** 31));
    throwsRange(() => k.close(Infinity));
    assert.equal(k.close(0x7fff_ffff), -Errno.EBADF);
    for (const [name, v] of weirdValues()) survives(`close(${name})`, () => k.close(v as never));
    // A real descriptor.
    const fd = openSync('/dev/null', 'r');
    assert.equal(k.close(fd), 0);
    assert.equal(k.close(fd), -Errno.EBADF);
  });

  test('ioctl', (t) => {
    const perfFd = k.perf_event_open(cpuClockAttr(), 0, -1, -1, 0);
    assert.ok(perfFd >= 0, `perf_event_open: ${perfFd}`);
    t.after(() => k.close(perfFd));
    const PERF_EVENT_IOC_ENABLE = 0x2400;
    const PERF_EVENT_IOC_DISABLE = 0x2401;
    const PERF_EVENT_IOC_ID = 0x80082407; // _IOR('$', 7, __u64 *)
    const id = new BigUint64Array(1);
    assert.equal(k.ioctl(perfFd, PERF_EVENT_IOC_ID, id as never), 0);
    assert.ok(id[0]! > 0n, 'the kernel wrote the event id');
    assert.equal(k.ioctl(perfFd, PERF_EVENT_IOC_ENABLE, 0), 0);
    assert.equal(k.ioctl(perfFd, PERF_EVENT_IOC_DISABLE), 0);

    throwsType(() => (k.ioctl as Function)(perfFd));
    throwsRange(() => k.ioctl(-1, PERF_EVENT_IOC_ENABLE));
    throwsRange(() => k.ioctl(perfFd, -1));
    throwsRange(() => k.ioctl(perfFd, 2 ** 32));
    throwsRange(() => k.ioctl(perfFd, NaN));
    throwsType(() => k.ioctl(perfFd, PERF_EVENT_IOC_ENABLE, 'x' as never));
    throwsType(() => k.ioctl(perfFd, PERF_EVENT_IOC_ENABLE, {} as never));
    throwsRange(() => k.ioctl(perfFd, PERF_EVENT_IOC_ENABLE, 2 ** 32));
    throwsRange(() => k.ioctl(perfFd, PERF_EVENT_IOC_ENABLE, 0.5));
    throwsRange(() => k.ioctl(perfFd, PERF_EVENT_IOC_ID, new Uint8Array(4)), 'shorter than _IOC_SIZE');
    throwsRange(() => k.ioctl(perfFd, PERF_EVENT_IOC_ID, detached()), 'detached buffer');
    assert.equal(k.ioctl(0x7fff_fff0, PERF_EVENT_IOC_ENABLE), -Errno.EBADF);

    // Weird values in every position, on /dev/null with FIONCLEX (harmless if accepted).
    const devNull = openSync('/dev/null', 'r');
    t.after(() => closeSync(devNull));
    const FIONCLEX = 0x5450;
    for (let pos = 0; pos < 3; pos++) {
      for (const [name, v] of weirdValues()) {
        const args: unknown[] = [devNull, FIONCLEX, 0];
        args[pos] = v;
        survives(`ioctl arg ${pos} = ${name}`, () => (k.ioctl as Function)(...args));
      }
    }
  });

  test('getrlimit and setrlimit', () => {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const [, soft, hard] = /Max open files\s+(\d+)\s+(\d+)/.exec(limits)!;
    assert.deepEqual(k.getrlimit(RLIMIT_NOFILE), [Number(soft), Number(hard)]);
    const current = k.getrlimit(RLIMIT_MEMLOCK);
    const [cur, max] = current as [number, number];
    assert.equal(k.setrlimit(RLIMIT_MEMLOCK, cur, max), 0, 'setting the same limits');
    if (max !== -1) assert.equal(k.setrlimit(RLIMIT_MEMLOCK, max + 1, max), -Errno.EINVAL, 'cur above max');
    assert.equal(k.getrlimit(64), -Errno.EINVAL);
    throwsRange(() => k.setrlimit(RLIMIT_NOFILE, cur, max), 'only RLIMIT_MEMLOCK may be set');
    throwsRange(() => k.getrlimit(-1));
    throwsRange(() => k.getrlimit(65));
    throwsRange(() => k.getrlimit(NaN));
    throwsType(() => k.getrlimit('7' as never));
    throwsType(() => (k.setrlimit as Function)(RLIMIT_MEMLOCK, cur));
    throwsRange(() => k.setrlimit(RLIMIT_MEMLOCK, -2, max));
    throwsRange(() => k.setrlimit(RLIMIT_MEMLOCK, cur, 2 ** 63));
    throwsRange(() => k.setrlimit(RLIMIT_MEMLOCK, NaN, max));
    throwsRange(() => k.setrlimit(RLIMIT_MEMLOCK, 1.5, max));
    throwsType(() => k.setrlimit(RLIMIT_MEMLOCK, 1n as never, max));
    for (const [name, v] of weirdValues()) {
      survives(`getrlimit(${name})`, () => k.getrlimit(v as never));
      // Weird values beside the current limits: nothing may change.
      for (let pos = 0; pos < 3; pos++) {
        const args: unknown[] = [RLIMIT_MEMLOCK, cur, max];
        args[pos] = v;
        survives(`setrlimit arg ${pos} = ${name}`, () => (k.setrlimit as Function)(...args));
      }
    }
    assert.deepEqual(k.getrlimit(RLIMIT_MEMLOCK), current, 'limits unchanged');
  });

  test('perf_event_open', () => {
    const before = fdCount();
    const fd = k.perf_event_open(cpuClockAttr(), 0, -1, -1, 0);
    assert.ok(fd >= 0, `perf_event_open: ${fd}`);
    assert.equal(k.close(fd), 0);
    throwsType(() => (k.perf_event_open as Function)(cpuClockAttr(), 0, -1, -1));
    throwsType(() => k.perf_event_open('attr' as never, 0, -1, -1, 0));
    throwsRange(() => k.perf_event_open(new Uint8Array(4), 0, -1, -1, 0));
    throwsRange(() => k.perf_event_open(new Uint8Array(513), 0, -1, -1, 0));
    throwsRange(() => k.perf_event_open(detached(), 0, -1, -1, 0));
    throwsRange(() => k.perf_event_open(cpuClockAttr(), -2, -1, -1, 0));
    throwsRange(() => k.perf_event_open(cpuClockAttr(), 0, NaN, -1, 0));
    throwsRange(() => k.perf_event_open(cpuClockAttr(), 0, -1, -1, -1));
    assert.equal(k.perf_event_open(cpuClockAttr(), -1, -1, -1, 0), -Errno.EINVAL, 'pid -1 with cpu -1');
    const unknownType = cpuClockAttr();
    new DataView(unknownType.buffer).setUint32(0, 0xffff, true);
    assert.ok(k.perf_event_open(unknownType, 0, -1, -1, 0) < 0);
    // A 512-byte attr with garbage past the known struct: refused, not an overread.
    const big = new Uint8Array(512).fill(0xff);
    big.set(cpuClockAttr().subarray(0, 128));
    throwsRange(() => k.perf_event_open(big, 0, -1, -1, 0));
    // Zeros past the known struct are what older kernels accept from newer callers.
    const zeroTail = new Uint8Array(512);
    zeroTail.set(cpuClockAttr().subarray(0, 128));
    const tailFd = k.perf_event_open(zeroTail, 0, -1, -1, 0);
    assert.ok(tailFd >= 0 || tailFd === -Errno.E2BIG, `zero tail: ${tailFd}`);
    if (tailFd >= 0) k.close(tailFd);
    throwsRange(() => k.perf_event_open(cpuClockAttr(), 0, -1, -1, 0, new Uint8Array([0x61])), 'name is for dynamic PMUs only');
    throwsType(() => k.perf_event_open(cpuClockAttr(), 0, -1, -1, 0, 'name' as never));
    const dynamic = cpuClockAttr();
    new DataView(dynamic.buffer).setUint32(0, 6, true); // the first dynamic PMU type
    throwsRange(() => k.perf_event_open(dynamic, 0, -1, -1, 0, new Uint8Array([0x61])), 'name without NUL');
    throwsRange(() => k.perf_event_open(dynamic.subarray(0, 56), 0, -1, -1, 0, new Uint8Array(1)), 'attr too short for config1');
    for (let pos = 0; pos < 6; pos++) {
      for (const [name, v] of weirdValues()) {
        const args: unknown[] = [cpuClockAttr(), 0, -1, -1, 0, undefined];
        args[pos] = v;
        const r = survives(`perf_event_open arg ${pos} = ${name}`, () => (k.perf_event_open as Function)(...args));
        if (typeof r === 'number' && r >= 0) k.close(r);
      }
    }
    assert.equal(fdCount(), before);
  });
});

suite('socket, bind, send, recv, setsockopt, getsockopt, ifNameToIndex', () => {
  const AF_NETLINK = 16, SOCK_RAW = 3, NETLINK_ROUTE = 0, SOL_SOCKET = 1, SO_RCVTIMEO = 20;

  test('a netlink round trip: RTM_GETLINK of lo answers with its index', () => {
    const fd = k.socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    assert.ok(fd >= 0);
    try {
      assert.equal(k.bind(fd, new Uint8Array(12).fill(0).map((_, i) => (i === 0 ? AF_NETLINK : 0))), 0);
      const tv = new Uint8Array(16);
      new DataView(tv.buffer).setBigInt64(0, 3n, true); // 3 s
      assert.equal(k.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv), 0);
      const out = new Uint8Array(16);
      assert.equal(k.getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, out), 16);
      assert.equal(new DataView(out.buffer).getBigInt64(0, true), 3n);
      // nlmsghdr + ifinfomsg{ifindex = 1}
      const msg = new Uint8Array(32);
      const v = new DataView(msg.buffer);
      v.setUint32(0, 32, true);
      v.setUint16(4, 18, true); // RTM_GETLINK
      v.setUint16(6, 1, true); // NLM_F_REQUEST
      v.setUint32(8, 7, true);
      v.setInt32(20, 1, true);
      assert.equal(k.send(fd, msg, 0), 32);
      const reply = new Uint8Array(8192);
      const n = k.recv(fd, reply, 0);
      assert.ok(n > 32);
      const r = new DataView(reply.buffer);
      assert.equal(r.getUint16(4, true), 16, 'RTM_NEWLINK');
      assert.equal(r.getUint32(8, true), 7, 'our sequence number');
      assert.equal(r.getInt32(20, true), 1, 'ifindex of lo');
    } finally {
      k.close(fd);
    }
  });

  test('interface names', () => {
    assert.equal(k.ifNameToIndex('lo'), 1);
    assert.equal(k.ifIndexToName(1), 'lo');
    assert.equal(k.ifNameToIndex('no-such-if'), 0);
    assert.equal(k.ifNameToIndex('x'.repeat(100)), 0);
    assert.equal(k.ifIndexToName(0x7ffffff0), undefined);
    throwsType(() => k.ifNameToIndex(1 as never));
  });

  test('bad arguments throw; bad fds come back as -errno; nothing crashes', () => {
    assert.equal(k.send(0x7ffffff0, new Uint8Array(1), 0), -Errno.EBADF);
    assert.equal(k.recv(0x7ffffff0, new Uint8Array(1), 0), -Errno.EBADF);
    assert.equal(k.setsockopt(0x7ffffff0, SOL_SOCKET, 50, 0), -Errno.EBADF);
    assert.ok(k.socket(63, SOCK_RAW, 0) < 0);
    throwsRange(() => k.bind(0, new Uint8Array(0)));
    throwsRange(() => k.bind(0, new Uint8Array(129)));
    const before = fdCount();
    const calls: [keyof typeof k, unknown[]][] = [
      ['socket', [AF_NETLINK, SOCK_RAW, NETLINK_ROUTE]],
      ['bind', [0x7ffffff0, new Uint8Array(12)]],
      ['send', [0x7ffffff0, new Uint8Array(4), 0]],
      ['recv', [0x7ffffff0, new Uint8Array(4), 0]],
      ['setsockopt', [0x7ffffff0, SOL_SOCKET, SO_RCVTIMEO, new Uint8Array(16)]],
      ['getsockopt', [0x7ffffff0, SOL_SOCKET, SO_RCVTIMEO, new Uint8Array(16)]],
      ['ifNameToIndex', ['lo']],
      ['ifIndexToName', [1]],
    ];
    for (const [fn, baseline] of calls) {
      throwsType(() => (k[fn] as Function)());
      for (let pos = 0; pos < baseline.length; pos++) {
        for (const [name, v] of weirdValues()) {
          const args = [...baseline];
          args[pos] = v;
          const r = survives(`${fn} arg ${pos} = ${name}`, () => (k[fn] as Function)(...args));
          if (fn === 'socket' && typeof r === 'number' && r >= 0) k.close(r);
        }
      }
    }
    assert.equal(fdCount(), before);
  });
});

suite('mmap and munmap', () => {
  function mmapableArray(maxEntries = 4) {
    const md = MapData.create({ type: MapType.Array, keySize: 4, valueSize: 8, maxEntries, flags: MapFlags.BPF_F_MMAPABLE });
    return { md, map: ArrayMap.tryFrom(md, u64, { owned: true }) };
  }

  test('an mmap of a BPF_F_MMAPABLE array shares memory with the map; munmap detaches', () => {
    const { md, map } = mmapableArray();
    using _map = map;
    const mappingsBefore = bpfMapMappings();
    const ab = k.mmap(md.fd, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
    assert.ok(ab instanceof ArrayBuffer, `mmap returned ${String(ab)}`);
    assert.equal(ab.byteLength, PAGE);
    assert.equal(bpfMapMappings(), mappingsBefore + 1);
    const values = new BigUint64Array(ab);
    const bytes = new Uint8Array(ab);

    // Element i sits at offset 8 * i (value size 8).
    values[2] = 0x1122_3344_5566_7788n;
    assert.equal(map.get(2), 0x1122_3344_5566_7788n, 'a write through the mapping is seen by BPF_MAP_LOOKUP_ELEM');
    map.set(1, 42n);
    assert.equal(values[1], 42n, 'an update through the syscall is seen in the mapping');
    assert.equal(bytes[8], 42);

    assert.equal(k.munmap(ab), 0);
    assert.equal(ab.byteLength, 0, 'munmap detaches the ArrayBuffer');
    assert.equal(values.length, 0);
    assert.equal(bytes.length, 0);
    assert.equal(bytes[8], undefined, 'reads past a detached buffer are undefined, not a fault');
    assert.equal(bpfMapMappings(), mappingsBefore, 'the mapping is gone');
    assert.equal(k.munmap(ab), 0, 'a second munmap is harmless');
    assert.equal(map.get(2), 0x1122_3344_5566_7788n, 'the map keeps its value');
  });

  test('a mapping outlives the map descriptor', () => {
    const { md, map } = mmapableArray();
    const id = md.id;
    const ab = k.mmap(md.fd, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, 0) as ArrayBuffer;
    map.close();
    new BigUint64Array(ab)[3] = 7n;
    {
      using again = ArrayMap.tryFrom(MapData.fromId(id), u64, { owned: true });
      assert.equal(again.get(3), 7n);
    }
    assert.equal(k.munmap(ab), 0);
  });

  test('mmap refuses bad arguments with TypeError / RangeError / -errno', () => {
    const { md, map } = mmapableArray();
    using _map = map;
    const fd = md.fd;
    throwsType(() => (k.mmap as Function)(fd, PAGE, 3, MAP_SHARED));
    throwsType(() => k.mmap('3' as never, PAGE, 3, MAP_SHARED, 0));
    throwsRange(() => k.mmap(-2, PAGE, 3, MAP_SHARED, 0));
    throwsRange(() => k.mmap(fd, 0, 3, MAP_SHARED, 0));
    throwsRange(() => k.mmap(fd, -PAGE, 3, MAP_SHARED, 0));
    throwsRange(() => k.mmap(fd, 2 ** 41, 3, MAP_SHARED, 0));
    throwsRange(() => k.mmap(fd, NaN, 3, MAP_SHARED, 0));
    throwsRange(() => k.mmap(fd, PAGE, 4, MAP_SHARED, 0), 'PROT_EXEC');
    throwsRange(() => k.mmap(fd, PAGE, 3, MAP_SHARED | MAP_FIXED, 0), 'MAP_FIXED could replace live memory');
    throwsRange(() => k.mmap(fd, PAGE, 3, MAP_SHARED, 1), 'unaligned offset');
    throwsRange(() => k.mmap(fd, PAGE, 3, MAP_SHARED, -PAGE));
    assert.equal(k.mmap(fd, 2 * PAGE, 3, MAP_SHARED, 0), -Errno.EINVAL, 'longer than the map');
    assert.equal(k.mmap(0x7fff_fff0, PAGE, 3, MAP_SHARED, 0), -Errno.EBADF);
    {
      using plain = ArrayMap.create(u64, { maxEntries: 4 });
      assert.ok((k.mmap(plain.fd, PAGE, 3, MAP_SHARED, 0) as number) < 0, 'an array without BPF_F_MMAPABLE');
    }
    const mappingsBefore = bpfMapMappings();
    for (let pos = 0; pos < 5; pos++) {
      for (const [name, v] of weirdValues()) {
        const args: unknown[] = [fd, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, 0];
        args[pos] = v;
        const r = survives(`mmap arg ${pos} = ${name}`, () => (k.mmap as Function)(...args));
        if (r instanceof ArrayBuffer) assert.equal(k.munmap(r), 0);
      }
    }
    assert.equal(bpfMapMappings(), mappingsBefore);
  });

  test('munmap takes only ArrayBuffers made by mmap', () => {
    const { md, map } = mmapableArray();
    using _map = map;
    const ab = k.mmap(md.fd, PAGE, 3, MAP_SHARED, 0) as ArrayBuffer;
    throwsType(() => (k.munmap as Function)());
    throwsType(() => k.munmap(new ArrayBuffer(PAGE)));
    throwsType(() => k.munmap(Buffer.alloc(PAGE).buffer as ArrayBuffer));
    throwsType(() => k.munmap(new SharedArrayBuffer(PAGE) as never));
    throwsType(() => k.munmap(new Uint8Array(ab) as never), 'a view of a mapping is not the mapping');
    throwsType(() => k.munmap(new DataView(ab) as never));
    throwsType(() => k.munmap(detached().buffer as ArrayBuffer));
    for (const [name, v] of weirdValues()) throwsType(() => k.munmap(v as never), `munmap(${name})`);
    assert.equal(ab.byteLength, PAGE, 'refused calls left the mapping alone');
    new Uint8Array(ab)[0] = 1;
    assert.equal(map.get(0), 1n);
    assert.equal(k.munmap(ab), 0);
  });

  test('mappings JS forgets are unmapped when their ArrayBuffers are collected', async () => {
    const { md, map } = mmapableArray();
    using _map = map;
    const before = bpfMapMappings();
    (function forget() {
      for (let i = 0; i < 64; i++) {
        const ab = k.mmap(md.fd, PAGE, 3, MAP_SHARED, 0) as ArrayBuffer;
        new Uint8Array(ab)[i] = i;
        if (i % 2 === 0) assert.equal(k.munmap(ab), 0); // half are unmapped explicitly, then collected
      }
    })();
    assert.equal(bpfMapMappings(), before + 32);
    for (let i = 0; i < 20 && bpfMapMappings() > before; i++) {
      await collectGarbage();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal(bpfMapMappings(), before);
    // Every mapping wrote its own byte into the same map memory.
    assert.equal(map.get(0), 0x0706_0504_0302_0100n);
    assert.equal(map.get(1), 0x0f0e_0d0c_0b0a_0908n);
  });
});

// ---------------------------------------------------------------------------------
// Holes found while writing the tests above. Each test states the contract of
// native/common.h ("no JS value may crash the process") and native/bpf.c ("a forged
// [pointer] could make the kernel write anywhere", so JS never supplies addresses).

suite('memory safety (bugs found; see the report)', () => {
  /** Runs `body` in a child with `k` = sys.kernel and `tsbpf`; the child prints its verdict. */
  function child(body: string) {
    return runScript(`const k = sys.kernel;\n${body}`);
  }

  test('mmap with PROT_READ or PROT_NONE cannot crash JS that writes or reads the buffer', () => {
    const crashes: string[] = [];
    for (const [what, prot, touch] of [
      ['PROT_READ, then a write', PROT_READ, 'new Uint8Array(ab)[0] = 1;'],
      ['PROT_NONE, then a read', PROT_NONE, 'void new Uint8Array(ab)[0];'],
    ] as const) {
      const r = child(`
        let ab;
        try { ab = k.mmap(-1, ${PAGE}, ${prot}, ${MAP_PRIVATE | MAP_ANONYMOUS}, 0); }
        catch (err) { console.log(JSON.stringify({ refused: err.name })); process.exit(0); }
        if (typeof ab === 'number') { console.log(JSON.stringify({ errno: ab })); process.exit(0); }
        ${touch}
        console.log(JSON.stringify({ touched: true }));
      `);
      if (r.signal !== null || r.status !== 0) crashes.push(`${what}: killed by ${r.signal}, status ${r.status} ${r.stderr}`);
    }
    assert.deepEqual(crashes, [], 'a mapping JS can touch must never fault');
  });

  test('a read-only mmap of a frozen BPF map cannot crash JS that writes it', () => {
    const r = child(`
      const { MapData, MapType } = tsbpf;
      const md = MapData.create({ type: MapType.Array, keySize: 4, valueSize: 8, maxEntries: 4, flags: 1 << 10 });
      md.freeze();
      let ab;
      try { ab = k.mmap(md.fd, ${PAGE}, ${PROT_READ}, ${MAP_SHARED}, 0); }
      catch (err) { console.log(JSON.stringify({ refused: err.name })); process.exit(0); }
      if (typeof ab === 'number') { console.log(JSON.stringify({ errno: ab })); process.exit(0); }
      new BigUint64Array(ab)[0] = 1n;
      console.log(JSON.stringify({ touched: true }));
    `);
    assert.equal(r.signal, null, `the process was killed by ${r.signal}\n${describe(r)}`);
    assert.equal(r.status, 0, describe(r));
  });

  test('mmap of a regular file past its end cannot crash JS that reads the buffer (SIGBUS)', (t) => {
    const file = join(tmpdir(), `tsbpf-onebyte-${process.pid}`);
    writeFileSync(file, 'x');
    t.after(() => rmSync(file, { force: true }));
    const r = child(`
      const fs = await import('node:fs');
      const fd = fs.openSync(${JSON.stringify(file)}, 'r');
      let ab;
      try { ab = k.mmap(fd, ${2 * PAGE}, ${PROT_READ}, ${MAP_SHARED}, 0); }
      catch (err) { console.log(JSON.stringify({ refused: err.name })); process.exit(0); }
      if (typeof ab === 'number') { console.log(JSON.stringify({ errno: ab })); process.exit(0); }
      void new Uint8Array(ab)[${PAGE + 1}];
      console.log(JSON.stringify({ touched: true }));
    `);
    assert.equal(r.signal, null, `the process was killed by ${r.signal}\n${describe(r)}`);
    assert.equal(r.status, 0, describe(r));
  });

  test('ioctl does not let a JS number be used as a pointer into the process', (t) => {
    // FIONBIO reads an int through its argument. The addon knows only the requests tsbpf
    // makes, each with its argument kind: FIONBIO is refused before the kernel sees it,
    // and a request that takes a buffer refuses a number.
    const FIONBIO = 0x5421;
    const PERF_EVENT_IOC_ID = 0x80082407;
    const devNull = openSync('/dev/null', 'r');
    t.after(() => closeSync(devNull));
    const addr = Number(mappingAddress(/^r/, 2n ** 32n) ?? 0x400000n);
    throwsRange(() => k.ioctl(devNull, FIONBIO, addr), 'a request outside the table');
    throwsType(() => k.ioctl(devNull, PERF_EVENT_IOC_ID, addr), 'a number where the kernel expects a pointer');
  });

  test('bpf does not let attr carry a pointer that ptrMask does not name', () => {
    // BPF_MAP_UPDATE_ELEM with the value pointer written into attr by JS (ptrMask names
    // only the key): the kernel copies 8 bytes from that address into the map.
    using md = MapData.create({ type: MapType.Array, keySize: 4, valueSize: 8, maxEntries: 1 });
    const addr = mappingAddress(/^r/)!;
    const attr = elemAttr(md.fd);
    new DataView(attr.buffer).setBigUint64(16, addr, true);
    let result: unknown;
    try {
      result = k.bpf(Cmd.MapUpdateElem, attr, sys.ptrWords(8), le32(0));
    } catch (err) {
      assert.ok(err instanceof RangeError || err instanceof TypeError, String(err));
      return;
    }
    const leaked = md.lookup(le32(0))!;
    const mem = Buffer.alloc(8);
    const memFd = openSync('/proc/self/mem', 'r');
    try {
      readSync(memFd, mem, 0, 8, Number(addr));
    } finally {
      closeSync(memFd);
    }
    assert.ok(
      typeof result === 'number' && result < 0,
      `bpf(BPF_MAP_UPDATE_ELEM) with a JS-written value pointer 0x${addr.toString(16)} returned ${String(result)}; ` +
        `the map now holds ${Buffer.from(leaked).toString('hex')} (process memory there: ${mem.toString('hex')})`,
    );
  });

  test('bpf does not let the kernel write past the end of a pointer buffer', () => {
    using md = MapData.create({ type: MapType.Array, keySize: 4, valueSize: 8, maxEntries: 1 });
    md.update(le32(0), new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    const backing = new Uint8Array(16);
    let result: unknown;
    try {
      result = k.bpf(Cmd.MapLookupElem, elemAttr(md.fd), KEY_VALUE, le32(0), backing.subarray(0, 1));
    } catch (err) {
      assert.ok(err instanceof RangeError || err instanceof TypeError, String(err));
      return;
    }
    assert.deepEqual(
      [...backing.subarray(1)],
      new Array(15).fill(0),
      `lookup into a 1-byte buffer returned ${String(result)} and wrote past it: ${Buffer.from(backing).toString('hex')}`,
    );
  });
});

suite('bpf: buffer sizes the kernel will use are checked', () => {
  test('element commands: key and value sizes come from the map, per-CPU values included', () => {
    using md = MapData.create({ type: MapType.PercpuArray, keySize: 4, valueSize: 4, maxEntries: 1 });
    const perCpu = 8 * possibleCpus();
    throwsRange(() => k.bpf(Cmd.MapLookupElem, elemAttr(md.fd), KEY_VALUE, le32(0), new Uint8Array(perCpu - 1)));
    throwsRange(() => k.bpf(Cmd.MapLookupElem, elemAttr(md.fd), KEY_VALUE, new Uint8Array(3), new Uint8Array(perCpu)));
    throwsRange(() => k.bpf(Cmd.MapGetNextKey, elemAttr(md.fd), KEY_VALUE, null, new Uint8Array(2)));
    assert.equal(k.bpf(Cmd.MapLookupElem, elemAttr(md.fd), KEY_VALUE, le32(0), new Uint8Array(perCpu)), 0);
  });

  test('a closed and reused fd number is learnt again', () => {
    const a = sys.mapCreate({ mapType: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 1 });
    assert.equal(k.bpf(Cmd.MapLookupElem, elemAttr(a), KEY_VALUE, le32(0), new Uint8Array(4)), 0);
    assert.equal(k.close(a), 0);
    const b = sys.mapCreate({ mapType: MapType.Array, keySize: 4, valueSize: 64, maxEntries: 1 });
    try {
      assert.equal(b, a, 'the kernel reuses the lowest free number');
      throwsRange(() => k.bpf(Cmd.MapLookupElem, elemAttr(b), KEY_VALUE, le32(0), new Uint8Array(4)));
      assert.equal(k.bpf(Cmd.MapLookupElem, elemAttr(b), KEY_VALUE, le32(0), new Uint8Array(64)), 0);
    } finally {
      k.close(b);
    }
  });

  test('batch commands: count keys and values, cursors of at least 4 bytes', () => {
    using md = MapData.create({ type: MapType.Hash, keySize: 2, valueSize: 8, maxEntries: 8 });
    const attr = new Uint8Array(56);
    const v = new DataView(attr.buffer);
    v.setUint32(32, 4, true); // count
    v.setUint32(36, md.fd, true);
    const all = sys.ptrWords(0, 8, 16, 24);
    throwsRange(() => k.bpf(Cmd.MapLookupBatch, attr, all, null, new Uint8Array(4), new Uint8Array(8), new Uint8Array(31)));
    throwsRange(() => k.bpf(Cmd.MapLookupBatch, attr, all, null, new Uint8Array(4), new Uint8Array(7), new Uint8Array(32)));
    throwsRange(() => k.bpf(Cmd.MapLookupBatch, attr, all, null, new Uint8Array(2), new Uint8Array(8), new Uint8Array(32)));
    assert.equal(k.bpf(Cmd.MapLookupBatch, attr, all, null, new Uint8Array(4), new Uint8Array(8), new Uint8Array(32)), -Errno.ENOENT);
  });

  test('PROG_QUERY: each id array holds prog_cnt u32s', () => {
    const cgroup = openSync(cgroup2Root(), 'r');
    try {
      const attr = new Uint8Array(64);
      const v = new DataView(attr.buffer);
      v.setUint32(0, cgroup, true); // target_fd
      v.setUint32(4, AttachType.CgroupInetIngress, true);
      v.setUint32(24, 4, true); // prog_cnt
      const ids = sys.ptrWords(16);
      throwsRange(() => k.bpf(Cmd.ProgQuery, attr, ids, new Uint8Array(4)), 'prog_cnt bytes are not prog_cnt ids');
      throwsRange(() => k.bpf(Cmd.ProgQuery, attr, ids, new Uint8Array(15)));
      throwsRange(() => k.bpf(Cmd.ProgQuery, attr, sys.ptrWords(16, 40), new Uint8Array(16), new Uint8Array(8)), 'link_ids too');
      assert.equal(k.bpf(Cmd.ProgQuery, attr, ids, new Uint8Array(16)), 0);
      assert.ok(v.getUint32(24, true) <= 4, 'the kernel wrote back how many it has, at most what fits');
    } finally {
      closeSync(cgroup);
    }
  });

  test('attr length fields bound program, string and output buffers', () => {
    const load = new Uint8Array(144);
    const v = new DataView(load.buffer);
    v.setUint32(0, 1, true); // socket filter
    v.setUint32(4, 3, true); // insn_cnt 3 = 24 bytes
    throwsRange(() => k.bpf(Cmd.ProgLoad, load, sys.ptrWords(8, 16), new Uint8Array(16), sys.cString('GPL')));
    throwsRange(() => k.bpf(Cmd.ProgLoad, load, sys.ptrWords(8, 16), new Uint8Array(24), new Uint8Array([0x47, 0x50, 0x4c])), 'license without NUL');
    v.setUint32(28, 100, true); // log_size larger than the log buffer
    throwsRange(() => k.bpf(Cmd.ProgLoad, load, sys.ptrWords(8, 16, 32), new Uint8Array(24), sys.cString('GPL'), new Uint8Array(10)));
    throwsRange(() => k.bpf(Cmd.ObjPin, new Uint8Array(16), sys.ptrWords(0), new Uint8Array([0x2f, 0x61])), 'path without NUL');
    const run = new Uint8Array(80);
    throwsRange(() => k.bpf(Cmd.ProgTestRun, run, sys.ptrWords(24), new Uint8Array(64)), 'data_out with data_size_out 0 is unbounded to the kernel');
    const info = new Uint8Array(16);
    new DataView(info.buffer).setUint32(4, 89, true);
    throwsRange(() => k.bpf(Cmd.ObjGetInfoByFd, info, sys.ptrWords(8), new Uint8Array(88)));
  });

  test('a pointer word not named by ptrMask must be zero; unknown and undescribed commands are refused', () => {
    const attr = new Uint8Array(32);
    new DataView(attr.buffer).setUint32(8, 0x1000, true);
    throwsRange(() => k.bpf(Cmd.MapLookupElem, attr, 0));
    throwsRange(() => k.bpf(Cmd.MapLookupElem, new Uint8Array(32), sys.ptrWords(24), new Uint8Array(8)), 'flags is not a pointer');
    assert.equal(k.bpf(200, new Uint8Array(8)), -Errno.EINVAL);
  });

  test('LINK_CREATE: the attach type picks the pointer words and their lengths', () => {
    const attr = new Uint8Array(64);
    const v = new DataView(attr.buffer);
    v.setUint32(8, 99, true); // an attach type newer than the addon knows
    throwsRange(() => k.bpf(Cmd.LinkCreate, attr), 'undescribed attach type');
    v.setUint32(8, 37, true); // BPF_XDP: no pointers at all
    v.setUint32(16, 0x1000, true);
    assert.ok(k.bpf(Cmd.LinkCreate, attr) < 0, 'a number in a non-pointer word is passed as is');
    throwsRange(() => k.bpf(Cmd.LinkCreate, attr, sys.ptrWords(16), new Uint8Array(8)), 'XDP has no pointer words');
    attr.fill(0);
    v.setUint32(8, 28, true); // BPF_TRACE_ITER: iter_info of iter_info_len bytes
    v.setUint32(24, 16, true);
    throwsRange(() => k.bpf(Cmd.LinkCreate, attr, sys.ptrWords(16), new Uint8Array(8)), 'iter_info shorter than its length');
    assert.ok(k.bpf(Cmd.LinkCreate, attr, sys.ptrWords(16), new Uint8Array(16)) < 0);
    attr.fill(0);
    v.setUint32(8, 42, true); // BPF_TRACE_KPROBE_MULTI: syms (an array of pointers) is never passed
    v.setUint32(20, 2, true);
    throwsRange(() => k.bpf(Cmd.LinkCreate, attr, sys.ptrWords(24), new Uint8Array(16)), 'syms');
    throwsRange(() => k.bpf(Cmd.LinkCreate, attr, sys.ptrWords(32), new Uint8Array(15)), 'addrs shorter than cnt u64s');
    attr.fill(0);
    v.setUint32(8, 48, true); // BPF_TRACE_UPROBE_MULTI: path, then cnt u64s each
    v.setUint32(48, 3, true);
    throwsRange(() => k.bpf(Cmd.LinkCreate, attr, sys.ptrWords(16, 24), new Uint8Array([0x2f]), new Uint8Array(24)), 'path without NUL');
    throwsRange(() => k.bpf(Cmd.LinkCreate, attr, sys.ptrWords(16, 24), sys.cString('/bin/true'), new Uint8Array(16)), 'offsets too short');
    v.setBigUint64(40, 0x1000n, true);
    throwsRange(() => k.bpf(Cmd.LinkCreate, attr, sys.ptrWords(16, 24), sys.cString('/bin/true'), new Uint8Array(24)), 'cookies word not named');
  });

  test('OBJ_GET_INFO_BY_FD fills a program\'s nested arrays only through the addon', () => {
    const insns = new Uint8Array(16);
    insns.set([0xb7, 0, 0, 0, 2, 0, 0, 0, 0x95]); // r0 = 2; exit
    const load = new Uint8Array(144);
    const lv = new DataView(load.buffer);
    lv.setUint32(0, 1, true); // socket filter
    lv.setUint32(4, 2, true);
    const fd = k.bpf(Cmd.ProgLoad, load, sys.ptrWords(8, 16), insns, sys.cString('GPL'));
    assert.ok(fd > 0);
    try {
      const info = new Uint8Array(232);
      const attr = new Uint8Array(16);
      new DataView(attr.buffer).setUint32(0, fd, true);
      new DataView(attr.buffer).setUint32(4, info.length, true);
      const xlated = new Uint8Array(64);
      assert.equal(k.bpf(Cmd.ObjGetInfoByFd, attr, sys.ptrWords(8), info, null, xlated), 0);
      const iv = new DataView(info.buffer);
      assert.equal(iv.getUint32(20, true), 16, 'xlated_prog_len');
      assert.deepEqual([...xlated.subarray(0, 16)], [...insns], 'the translated program came back');
      assert.equal(iv.getBigUint64(32, true), 0n, 'the nested pointer is cleared before JS sees the info');
      throwsRange(() => k.bpf(Cmd.ObjGetInfoByFd, new Uint8Array([...attr.subarray(0, 4), 36, 0, 0, 0, ...attr.subarray(8)]), sys.ptrWords(8), info, null, xlated), 'info_len too short to reach the nested field');
      // A map fd: the first slot is a BTF object's raw data, whose offsets a map's info
      // only writes (type, id, key_size): the kernel ignores it. A map has no second slot.
      const mfd = k.bpf(Cmd.MapCreate, new Uint8Array([2, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0]));
      new DataView(attr.buffer).setUint32(0, mfd, true);
      new DataView(attr.buffer).setUint32(4, 88, true);
      const junk = new Uint8Array(8).fill(0xaa);
      const mapInfo = new Uint8Array(88);
      assert.equal(k.bpf(Cmd.ObjGetInfoByFd, attr, sys.ptrWords(8), mapInfo, junk), 0);
      assert.ok(junk.every((b) => b === 0xaa));
      assert.equal(new DataView(mapInfo.buffer).getUint32(0, true), MapType.Array, 'the map info is intact');
      assert.equal(new DataView(mapInfo.buffer).getUint32(8, true), 4, 'key_size');
      throwsRange(() => k.bpf(Cmd.ObjGetInfoByFd, attr, sys.ptrWords(8), new Uint8Array(88), null, junk), 'no second slot');
      k.close(mfd);
    } finally {
      k.close(fd);
    }
  });
});

test('the seam sees every kernel call of the typed maps (bpfCalls is not vacuous)', async () => {
  const { bpfCalls } = await import('./helpers.js');
  using m = ArrayMap.create(u32, { maxEntries: 4 });
  assert.deepEqual(bpfCalls(() => m.get(1)), [Cmd.MapLookupElem]);
  assert.deepEqual(bpfCalls(() => m.set(1, 5)), [Cmd.MapUpdateElem]);
  assert.deepEqual(bpfCalls(() => assert.throws(() => m.get(4))), []);
});
