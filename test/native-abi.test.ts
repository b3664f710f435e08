// The addon's kernel-ABI rules, each found broken once and kept fixed here: the raw
// addon (sys.kernel) is reachable from any JS, so every rule is tested through it.
// Calls that crashed the process before the fix run in child processes, so that a
// regression fails the test instead of killing the runner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { MapType } from '../src/index.js';
import * as sys from '../src/sys/index.js';
import { assemble, exit, mov64Imm } from './asm.js';
import { describe, runScript, type ChildResult } from './child.js';
import { fdCount, le32 } from './helpers.js';

const k = sys.kernel;
const { Cmd, Errno } = sys;

// Every test closes what it opens: checked over the whole file by the last test.
const fdsAtStart = fdCount();

const PAGE = 4096;
const RETURN_0 = assemble([mov64Imm(0, 0), exit()]);

/** The outcome of a call: its number, or the name of what it threw. */
function outcome(fn: () => unknown): number | string {
  try {
    const r = fn();
    return typeof r === 'number' ? r : typeof r;
  } catch (err) {
    return (err as Error).name;
  }
}

/**
 * Runs `body` in a child (`k` = sys.kernel, `tsbpf`, `outcome` as above); the child
 * prints its result with `done(x)`. Fails when the child is killed or exits non-zero.
 */
function inChild(body: string, prefix: string[] = []): unknown {
  const r: ChildResult = runScript(
    `const k = sys.kernel;
     const outcome = ${outcome.toString()};
     const done = (x) => { console.log(JSON.stringify(x)); process.exit(0); };
     ${body}`,
    { prefix },
  );
  assert.equal(r.signal, null, `the child was killed by ${r.signal}\n${describe(r)}`);
  assert.equal(r.status, 0, describe(r));
  return r.json;
}

/** A child in a mount namespace of its own where `paths` are hidden: /proc unmounted, others covered by an empty tmpfs. */
function without(paths: string[]): string[] {
  const hide = paths.map((p) => (p === '/proc' ? 'umount -l /proc' : `mount -t tmpfs none ${p}`)).join(' && ');
  return ['unshare', '-m', '--propagation', 'private', 'sh', '-c', `${hide} && exec "$0" "$@"`];
}

/** A writable address of this process below 4 GiB (the brk heap of a non-PIE node), else any writable one. */
function writableAddress(): bigint {
  let fallback: bigint | undefined;
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-[0-9a-f]+ rw/.exec(line);
    if (!m) continue;
    const start = BigInt(`0x${m[1]}`) + 0x100n;
    if (start < 2n ** 32n) return start;
    fallback ??= start;
  }
  return fallback!;
}

function progFd(): number {
  const attr = new Uint8Array(144);
  const v = new DataView(attr.buffer);
  v.setUint32(0, 1, true); // socket filter
  v.setUint32(4, RETURN_0.length / 8, true);
  const fd = k.bpf(Cmd.ProgLoad, attr, sys.ptrWords(8, 16), RETURN_0, sys.cString('GPL'));
  assert.ok(fd > 0, `prog load: ${fd}`);
  return fd;
}

/** A minimal BTF object: one 32-bit int named "int". */
function btfBlob(): Uint8Array {
  const strings = new TextEncoder().encode('\0int\0');
  const blob = new Uint8Array(24 + 16 + strings.length);
  const v = new DataView(blob.buffer);
  v.setUint16(0, 0xeb9f, true);
  v.setUint8(2, 1); // version
  v.setUint32(4, 24, true); // hdr_len
  v.setUint32(8, 0, true); // type_off
  v.setUint32(12, 16, true); // type_len
  v.setUint32(16, 16, true); // str_off
  v.setUint32(20, strings.length, true); // str_len
  v.setUint32(24, 1, true); // name_off "int"
  v.setUint32(28, 1 << 24, true); // BTF_KIND_INT
  v.setUint32(32, 4, true); // size
  v.setUint32(36, 32, true); // bits
  blob.set(strings, 40);
  return blob;
}

function infoAttr(fd: number, infoLen: number, attrLen = 16): Uint8Array {
  const attr = new Uint8Array(attrLen);
  const v = new DataView(attr.buffer);
  v.setUint32(0, fd, true);
  if (attrLen >= 8) v.setUint32(4, infoLen, true);
  return attr;
}

// ---- pointer words and length fields against attr_len -------------------------------

test('a pointer word partly inside attr_len is a pointer word: JS cannot put its low bytes there (bpf and bpfIo)', () => {
  const addr = writableAddress();
  const low = Number(addr & 0xffff_ffffn);
  const r = inChild(`
    const md = tsbpf.MapData.create({ type: tsbpf.MapType.Array, keySize: 4, valueSize: 8, maxEntries: 1 });
    const { Cmd } = sys;
    // OBJ_GET_INFO_BY_FD with attr_len 12: info (bytes 8..15) is cut after its low 4 bytes.
    const info = new Uint8Array(12);
    new DataView(info.buffer).setUint32(0, md.fd, true);
    new DataView(info.buffer).setUint32(4, 88, true);
    new DataView(info.buffer).setUint32(8, ${low}, true);
    const viaBpf = outcome(() => k.bpf(Cmd.ObjGetInfoByFd, info));
    const io = new Uint8Array(64);
    io.set(info);
    const viaIo = outcome(() => k.bpfIo(Cmd.ObjGetInfoByFd, io, 12, 0));
    // PROG_LOAD with attr_len 36: log_buf (bytes 32..39) cut after its low 4 bytes.
    const load = new Uint8Array(36);
    const lv = new DataView(load.buffer);
    lv.setUint32(0, 1, true);
    lv.setUint32(4, 1, true);
    lv.setUint32(24, 1, true); // log_level
    lv.setUint32(28, 4096, true); // log_size
    lv.setUint32(32, ${low}, true);
    const insns = new Uint8Array(8); insns[0] = 0x95; // exit without r0: the verifier logs
    const viaLog = outcome(() => k.bpf(Cmd.ProgLoad, load, sys.ptrWords(8, 16), insns, sys.cString('GPL')));
    // Zeros there are fine: the call is made.
    new DataView(info.buffer).setUint32(8, 0, true);
    const zeros = outcome(() => k.bpf(Cmd.ObjGetInfoByFd, info));
    md.close();
    done({ viaBpf, viaIo, viaLog, zeros });
  `) as Record<string, unknown>;
  assert.deepEqual(r, { viaBpf: 'RangeError', viaIo: 'RangeError', viaLog: 'RangeError', zeros: r.zeros });
  assert.equal(typeof r.zeros, 'number', 'a zero partial word is passed to the kernel');
});

test('a length field partly inside attr_len is read as the kernel reads it (its low bytes)', () => {
  // PROG_LOAD cut at 90 bytes: func_info (word 10) is inside, func_info_cnt (88..91)
  // only by its low 2 bytes, which the kernel reads with zeros above them.
  const fd0 = fdCount();
  const load = new Uint8Array(90);
  const v = new DataView(load.buffer);
  v.setUint32(0, 1, true);
  v.setUint32(4, RETURN_0.length / 8, true);
  v.setUint32(76, 8, true); // func_info_rec_size
  const call = (cntLow: number) => {
    load[88] = cntLow;
    load[89] = 0;
    return outcome(() => k.bpf(Cmd.ProgLoad, load, sys.ptrWords(8, 16, 80), RETURN_0, sys.cString('GPL'), new Uint8Array(8)));
  };
  // JS wrote 0x????0001 into a field the kernel reads as 1: one 8-byte record fits.
  const one = call(1);
  assert.equal(typeof one, 'number', `cnt 1 reaches the kernel: ${one}`);
  assert.ok((one as number) < 0, 'no BTF for func_info: the kernel refuses');
  // 2 records do not fit in 8 bytes.
  assert.equal(call(2), 'RangeError');
  assert.equal(fdCount(), fd0);
});

// ---- nested info --------------------------------------------------------------------

test('nested info: every byte the addon writes lies inside info_len (BTF data, program arrays)', () => {
  const btf = k.bpf(Cmd.BtfLoad, (() => {
    const a = new Uint8Array(32);
    new DataView(a.buffer).setUint32(16, btfBlob().length, true);
    return a;
  })(), sys.ptrWords(0), btfBlob());
  assert.ok(btf > 0, `btf load: ${btf}`);
  const prog = progFd();
  try {
    // bpf_btf_info: btf @0, btf_size @8. An 8-byte info reaches the pointer but not the size.
    const backing = new Uint8Array(16).fill(0xcc);
    const data = new Uint8Array(64);
    assert.equal(outcome(() => k.bpf(Cmd.ObjGetInfoByFd, infoAttr(btf, 8), sys.ptrWords(8), backing.subarray(0, 8), data)), 'RangeError');
    assert.deepEqual([...backing.subarray(8)], new Array(8).fill(0xcc), 'nothing written past the info buffer');
    // 12 bytes hold both: the raw BTF comes back, the pointer does not.
    const info12 = new Uint8Array(12);
    assert.equal(k.bpf(Cmd.ObjGetInfoByFd, infoAttr(btf, 12), sys.ptrWords(8), info12, data), 0);
    const blob = btfBlob();
    assert.deepEqual([...data.subarray(0, blob.length)], [...blob]);
    assert.equal(new DataView(info12.buffer).getBigUint64(0, true), 0n, 'no address leaks to JS');
    assert.equal(new DataView(info12.buffer).getUint32(8, true), blob.length, 'btf_size');
    // bpf_prog_info: xlated_prog_insns @32 needs 40 bytes; map_ids @56 needs 64.
    assert.equal(outcome(() => k.bpf(Cmd.ObjGetInfoByFd, infoAttr(prog, 39), sys.ptrWords(8), new Uint8Array(39), null, new Uint8Array(64))), 'RangeError');
    assert.equal(outcome(() => k.bpf(Cmd.ObjGetInfoByFd, infoAttr(prog, 63), sys.ptrWords(8), new Uint8Array(63), new Uint8Array(8))), 'RangeError');
    const xlated = new Uint8Array(64);
    assert.equal(k.bpf(Cmd.ObjGetInfoByFd, infoAttr(prog, 40), sys.ptrWords(8), new Uint8Array(40), null, xlated), 0);
    assert.deepEqual([...xlated.subarray(0, RETURN_0.length)], [...RETURN_0]);
    // A BTF object has no second nested array; a program's first slot is map ids, not data.
    assert.equal(outcome(() => k.bpf(Cmd.ObjGetInfoByFd, infoAttr(btf, 32), sys.ptrWords(8), new Uint8Array(32), null, xlated)), 'RangeError');
  } finally {
    k.close(btf);
    k.close(prog);
  }
});

test('info and strings the kernel reads are private copies: another thread rewriting shared memory cannot reach the kernel', async () => {
  // A SharedArrayBuffer info buffer, into which a worker keeps writing a program info's
  // xlated_prog_len and xlated_prog_insns (a made-up address): were the kernel to read
  // the JS buffer, it would copy the program there and answer EFAULT.
  const prog = progFd();
  const info = new Uint8Array(new SharedArrayBuffer(232));
  const state = new Int32Array(new SharedArrayBuffer(8)); // [stop, running]
  const worker = new Worker(
    `const { workerData: { info, state } } = require('node:worker_threads');
     const v = new DataView(info.buffer);
     Atomics.store(state, 1, 1);
     while (Atomics.load(state, 0) === 0) { v.setUint32(20, 4096, true); v.setBigUint64(32, 0x10000n, true); }`,
    { eval: true, workerData: { info, state } },
  );
  const stop = state.subarray(0, 1);
  try {
    while (Atomics.load(state, 1) === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const results = new Map<number, number>();
    for (let i = 0; i < 30_000; i++) {
      const r = k.bpf(Cmd.ObjGetInfoByFd, infoAttr(prog, info.length), sys.ptrWords(8), info);
      results.set(r, (results.get(r) ?? 0) + 1);
    }
    assert.deepEqual([...results], [[0, 30_000]], 'every call succeeded (no EFAULT from a pointer written by the other thread)');
  } finally {
    Atomics.store(stop, 0, 1);
    await worker.terminate();
    k.close(prog);
  }
});

// ---- perf_event_open ----------------------------------------------------------------

/** struct perf_event_attr (136 bytes) of a software event; `set` edits it. */
function perfAttr(set: (v: DataView) => void = () => {}): Uint8Array {
  const attr = new Uint8Array(136);
  const v = new DataView(attr.buffer);
  v.setUint32(0, 1, true); // PERF_TYPE_SOFTWARE
  v.setBigUint64(8, 1n, true); // PERF_COUNT_SW_TASK_CLOCK
  v.setBigUint64(40, 1n, true); // disabled
  set(v);
  return attr;
}

test('perf_event_open: sigtrap is refused (it kills the process)', () => {
  const r = inChild(`
    const attr = new Uint8Array(136);
    const v = new DataView(attr.buffer);
    v.setUint32(0, 1, true); // software
    v.setBigUint64(8, 1n, true); // task clock
    v.setBigUint64(16, 1n, true); // sample every 1 ns
    v.setBigUint64(40, (1n << 36n) | (1n << 37n), true); // remove_on_exec, sigtrap; enabled
    const r = outcome(() => k.perf_event_open(attr, 0, -1, -1, 8));
    let x = 0; for (let i = 0; i < 1e7; i++) x += i; // let the clock run
    done({ r, x: x > 0 });
  `);
  assert.deepEqual(r, { r: 'RangeError', x: true });
});

test('perf_event_open: only the fields and flag bits tsbpf sets; addresses never come from JS', () => {
  const refused: [string, Uint8Array][] = [
    ['config1 (an address for the probe PMUs)', perfAttr((v) => v.setBigUint64(56, 0x1000n, true))],
    ['bp_addr, bp_type, bp_len', perfAttr((v) => {
      v.setUint32(0, 5, true); // PERF_TYPE_BREAKPOINT
      v.setUint32(52, 3, true);
      v.setBigUint64(56, writableAddress(), true);
      v.setBigUint64(64, 8n, true);
    })],
    ['sig_data', perfAttr((v) => v.setBigUint64(120, 1n, true))],
    ['sample_regs_user', perfAttr((v) => v.setBigUint64(80, 1n, true))],
    ['read_format', perfAttr((v) => v.setBigUint64(32, 1n, true))],
    ['pinned', perfAttr((v) => v.setBigUint64(40, 1n | (1n << 2n), true))],
    ['exclusive', perfAttr((v) => v.setBigUint64(40, 1n | (1n << 3n), true))],
    ['enable_on_exec', perfAttr((v) => v.setBigUint64(40, 1n | (1n << 12n), true))],
    ['precise_ip', perfAttr((v) => v.setBigUint64(40, 1n | (3n << 15n), true))],
    ['remove_on_exec', perfAttr((v) => v.setBigUint64(40, 1n | (1n << 36n), true))],
    ['config3', perfAttr((v) => v.setBigUint64(128, 1n, true))],
  ];
  const big = new Uint8Array(256);
  big.set(perfAttr());
  big[200] = 1;
  refused.push(['a byte past the struct', big]);
  for (const [what, attr] of refused) assert.equal(outcome(() => k.perf_event_open(attr, 0, -1, -1, 0)), 'RangeError', what);
  assert.equal(outcome(() => k.perf_event_open(perfAttr(), 0, -1, -1, 0x10)), 'RangeError', 'unknown open flag');

  // What tsbpf sets works: disabled, inherit, exclude_*, freq with a sample frequency, wakeup_events, sample_type.
  const allowed = perfAttr((v) => {
    v.setBigUint64(16, 1000n, true);
    v.setBigUint64(24, 1n, true); // PERF_SAMPLE_IP
    v.setBigUint64(40, 1n | 2n | (1n << 5n) | (1n << 6n) | (1n << 10n), true);
    v.setUint32(48, 1, true);
  });
  const fd = k.perf_event_open(allowed, 0, -1, -1, 8);
  assert.ok(fd >= 0, `allowed fields: ${fd}`);
  k.close(fd);
});

test('perf_event_open: the name of a probe PMU reaches the kernel as a private copy in config1', (t) => {
  const typeFile = '/sys/bus/event_source/devices/uprobe/type';
  if (!existsSync(typeFile)) {
    // Without a uprobe PMU the name is still checked before the kernel is asked.
    t.diagnostic('no uprobe PMU on this kernel: only the checks ran');
    const attr = perfAttr((v) => v.setUint32(0, 6, true));
    assert.equal(outcome(() => k.perf_event_open(attr, -1, 0, -1, 8, new Uint8Array([0x2f]))), 'RangeError');
    return;
  }
  t.diagnostic('uprobe PMU present: the kernel read the name');
  const type = Number(readFileSync(typeFile, 'utf8'));
  const attr = perfAttr((v) => {
    v.setUint32(0, type, true);
    v.setBigUint64(8, 0n, true);
  });
  // The kernel resolves the path it read: a missing file is ENOENT, a present one is not.
  assert.equal(k.perf_event_open(attr, -1, 0, -1, 8, sys.cString('/no/such/file')), -Errno.ENOENT);
  const r = k.perf_event_open(attr, -1, 0, -1, 8, sys.cString(process.execPath));
  assert.notEqual(r, -Errno.ENOENT, 'the kernel found the file the name names');
  assert.notEqual(r, -Errno.EFAULT);
  if (r >= 0) k.close(r);
  assert.equal(outcome(() => k.perf_event_open(perfAttr(), 0, -1, -1, 8, sys.cString('/bin/true'))), 'RangeError', 'not a probe PMU');
});

// ---- socket options -----------------------------------------------------------------

test('socket options: only the pairs tsbpf uses, each with its value size', () => {
  const AF_INET = 2, SOCK_STREAM = 1, SOCK_DGRAM = 2, IPPROTO_TCP = 6, SOL_SOCKET = 1;
  const tcp = k.socket(AF_INET, SOCK_STREAM, 0);
  const udp = k.socket(AF_INET, SOCK_DGRAM, 0);
  const prog = progFd();
  try {
    // TCP_ZEROCOPY_RECEIVE: struct tcp_zerocopy_receive carries an address the kernel maps pages at.
    const zc = new Uint8Array(64);
    new DataView(zc.buffer).setBigUint64(0, writableAddress(), true);
    assert.equal(outcome(() => k.getsockopt(tcp, IPPROTO_TCP, 35, zc)), 'RangeError');
    // SO_ATTACH_FILTER: struct sock_fprog points to the filter.
    assert.equal(outcome(() => k.setsockopt(udp, SOL_SOCKET, 26, new Uint8Array(16))), 'RangeError');
    assert.equal(outcome(() => k.setsockopt(udp, SOL_SOCKET, 8 /* SO_RCVBUF */, 1 << 16)), 'RangeError');
    assert.equal(outcome(() => k.getsockopt(udp, SOL_SOCKET, 50 /* SO_ATTACH_BPF: set only */, new Uint8Array(4))), 'RangeError');

    // The pairs tsbpf uses work.
    assert.equal(k.setsockopt(udp, SOL_SOCKET, 15, 1), 0, 'SO_REUSEPORT');
    const reuse = new Uint8Array(4);
    assert.equal(k.getsockopt(udp, SOL_SOCKET, 15, reuse), 4);
    assert.equal(new DataView(reuse.buffer).getInt32(0, true), 1);
    assert.equal(k.setsockopt(udp, SOL_SOCKET, 50, prog), 0, 'SO_ATTACH_BPF');
    assert.equal(k.setsockopt(udp, SOL_SOCKET, 27, 0), 0, 'SO_DETACH_BPF');
    assert.equal(typeof k.setsockopt(udp, SOL_SOCKET, 52, prog), 'number', 'SO_ATTACH_REUSEPORT_EBPF reaches the kernel');
    assert.equal(typeof k.setsockopt(udp, SOL_SOCKET, 68, 0), 'number', 'SO_DETACH_REUSEPORT_BPF reaches the kernel');
    const cookie = new Uint8Array(8);
    assert.equal(k.getsockopt(udp, SOL_SOCKET, 57, cookie), 8, 'SO_COOKIE');
    assert.notEqual(new DataView(cookie.buffer).getBigUint64(0, true), 0n);
    const tv = new Uint8Array(16);
    new DataView(tv.buffer).setBigInt64(0, 2n, true);
    assert.equal(k.setsockopt(udp, SOL_SOCKET, 20, tv), 0, 'SO_RCVTIMEO');
    const back = new Uint8Array(24).fill(0xee);
    assert.equal(k.getsockopt(udp, SOL_SOCKET, 20, back), 16, 'the kernel writes the option size, not the buffer length');
    assert.equal(new DataView(back.buffer).getBigInt64(0, true), 2n);
    assert.deepEqual([...back.subarray(16)], new Array(8).fill(0xee));

    // Sizes: a short buffer is refused, a number only for int options.
    assert.equal(outcome(() => k.setsockopt(udp, SOL_SOCKET, 20, new Uint8Array(8))), 'RangeError');
    assert.equal(outcome(() => k.getsockopt(udp, SOL_SOCKET, 57, new Uint8Array(4))), 'RangeError');
    assert.equal(outcome(() => k.setsockopt(udp, SOL_SOCKET, 20, 5)), 'TypeError');
    assert.equal(outcome(() => k.setsockopt(udp, SOL_SOCKET, 50, new Uint8Array(2))), 'RangeError');
  } finally {
    k.close(tcp);
    k.close(udp);
    k.close(prog);
  }
});

// ---- setrlimit ----------------------------------------------------------------------

test('setrlimit: RLIMIT_MEMLOCK only (RLIMIT_CPU 1 would kill the process)', () => {
  const r = inChild(`
    const RLIMIT_CPU = 0, RLIMIT_MEMLOCK = 8;
    const cpu = outcome(() => k.setrlimit(RLIMIT_CPU, 1, 1));
    let x = 0; for (let i = 0; i < 3e8; i++) x += i; // more than a second of CPU
    const others = [];
    for (let res = 0; res < 16; res++) if (res !== RLIMIT_MEMLOCK) others.push(outcome(() => k.setrlimit(res, 0, 0)));
    const [cur, max] = k.getrlimit(RLIMIT_MEMLOCK);
    done({ cpu, others: [...new Set(others)], memlock: k.setrlimit(RLIMIT_MEMLOCK, cur, max), x: x > 0 });
  `);
  assert.deepEqual(r, { cpu: 'RangeError', others: ['RangeError'], memlock: 0, x: true });
});

// ---- map sizes from the kernel, without /proc ---------------------------------------

test('map sizes come from the kernel: without /proc a 1 MiB value is not written into a 1-byte buffer', () => {
  const body = `
    const { Cmd, ptrWords } = sys;
    const fs = await import('node:fs');
    const procGone = !fs.existsSync('/proc/self/fd');
    const md = tsbpf.MapData.create({ type: tsbpf.MapType.Array, keySize: 4, valueSize: 1 << 20, maxEntries: 1 });
    md.update(new Uint8Array(4), new Uint8Array(1 << 20).fill(0x41));
    // A fd the addon did not create: by id.
    const byId = new Uint8Array(12);
    new DataView(byId.buffer).setUint32(0, md.id, true);
    const fd = k.bpf(Cmd.MapGetFdById, byId);
    const attr = new Uint8Array(32);
    new DataView(attr.buffer).setUint32(0, fd, true);
    const backing = new Uint8Array(64);
    const small = outcome(() => k.bpf(Cmd.MapLookupElem, attr, ptrWords(8, 16), new Uint8Array(4), backing.subarray(0, 1)));
    const big = new Uint8Array(1 << 20);
    const full = outcome(() => k.bpf(Cmd.MapLookupElem, attr, ptrWords(8, 16), new Uint8Array(4), big));
    // A fd that is not a BPF object: the call is made with NULL pointers, the kernel refuses.
    const notMap = outcome(() => k.bpf(Cmd.MapLookupElem, (() => { const a = new Uint8Array(32); new DataView(a.buffer).setUint32(0, 1, true); return a; })(), ptrWords(8, 16), new Uint8Array(4), backing.subarray(0, 1)));
    k.close(fd);
    const closed = outcome(() => k.bpf(Cmd.MapLookupElem, attr, ptrWords(8, 16), new Uint8Array(4), backing.subarray(0, 1)));
    md.close();
    done({ procGone, small, full, filled: big[0] === 0x41 && big[(1 << 20) - 1] === 0x41, untouched: backing.every((b) => b === 0), notMap, closed });
  `;
  const expected = { procGone: true, small: 'RangeError', full: 0, filled: true, untouched: true, notMap: -Errno.EINVAL, closed: -Errno.EBADF };
  assert.deepEqual(inChild(body, without(['/proc'])), expected);
  assert.deepEqual(inChild(body), { ...expected, procGone: false }, 'the same with /proc');
});

test('without /proc: nested program info and mmap of maps and perf rings still work (kinds asked of the kernel)', () => {
  const r = inChild(`
    const { Cmd, ptrWords } = sys;
    // A program's translated instructions.
    const load = new Uint8Array(144);
    new DataView(load.buffer).setUint32(0, 1, true);
    new DataView(load.buffer).setUint32(4, 2, true);
    const insns = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
    const prog = k.bpf(Cmd.ProgLoad, load, ptrWords(8, 16), insns, sys.cString('GPL'));
    const attr = new Uint8Array(16);
    new DataView(attr.buffer).setUint32(0, prog, true);
    new DataView(attr.buffer).setUint32(4, 232, true);
    const xlated = new Uint8Array(16);
    const info = outcome(() => k.bpf(Cmd.ObjGetInfoByFd, attr, ptrWords(8), new Uint8Array(232), null, xlated));
    // An mmapable array.
    const md = tsbpf.MapData.create({ type: tsbpf.MapType.Array, keySize: 4, valueSize: 8, maxEntries: 4, flags: 1 << 10 });
    const ab = k.mmap(md.fd, ${PAGE}, 3, 1, 0);
    new Uint8Array(ab)[8] = 7;
    const seen = md.lookup(new Uint8Array([1, 0, 0, 0]))[0];
    // A perf event's ring: its control page (the data pages are read-only to user space).
    const pattr = new Uint8Array(136);
    new DataView(pattr.buffer).setUint32(0, 1, true);
    new DataView(pattr.buffer).setBigUint64(40, 1n, true);
    const perf = k.perf_event_open(pattr, 0, -1, -1, 8);
    const ring = k.mmap(perf, ${PAGE}, 3, 1, 0);
    const ringOk = ring instanceof ArrayBuffer && ring.byteLength === ${PAGE};
    if (ringOk) new Uint8Array(ring)[${PAGE - 1}] = 1;
    // A program fd is neither.
    const progMap = outcome(() => k.mmap(prog, ${PAGE}, 3, 1, 0));
    k.munmap(ab); if (ringOk) k.munmap(ring);
    k.close(perf); k.close(prog); md.close();
    done({ info, xlatedOk: xlated.every((b, i) => b === insns[i]), seen, ringOk, progMap });
  `, without(['/proc']));
  assert.deepEqual(r, { info: 0, xlatedOk: true, seen: 7, ringOk: true, progMap: -Errno.ENODEV });
});

test('without /sys/devices/system/cpu: per-CPU values are refused (their size is unknown), others work', () => {
  const r = inChild(`
    const { Cmd, ptrWords } = sys;
    const mk = (type) => {
      const a = new Uint8Array(72);
      const v = new DataView(a.buffer);
      v.setUint32(0, type, true); v.setUint32(4, 4, true); v.setUint32(8, 8, true); v.setUint32(12, 1, true);
      return k.bpf(Cmd.MapCreate, a);
    };
    const look = (fd, len) => {
      const a = new Uint8Array(32);
      new DataView(a.buffer).setUint32(0, fd, true);
      return outcome(() => k.bpf(Cmd.MapLookupElem, a, ptrWords(8, 16), new Uint8Array(4), new Uint8Array(len)));
    };
    const percpu = mk(${MapType.PercpuArray}), array = mk(${MapType.Array});
    const r = { percpu: look(percpu, 4096), array: look(array, 8) };
    k.close(percpu); k.close(array);
    done(r);
  `, without(['/sys/devices/system/cpu']));
  assert.deepEqual(r, { percpu: 'RangeError', array: 0 });
});

test('element commands on a descriptor that is not a map: the kernel refuses before copying (prog, BTF, perf, socket, file)', () => {
  const prog = progFd();
  const btfAttr = new Uint8Array(32);
  new DataView(btfAttr.buffer).setUint32(16, btfBlob().length, true);
  const btf = k.bpf(Cmd.BtfLoad, btfAttr, sys.ptrWords(0), btfBlob());
  const perf = k.perf_event_open(perfAttr(), 0, -1, -1, 8);
  const sock = k.socket(2, 2, 0);
  const fds = { prog, btf, perf, sock, stdin: 0 };
  try {
    for (const [what, fd] of Object.entries(fds)) {
      assert.ok(fd >= 0, `${what}: ${fd}`);
      for (const cmd of [Cmd.MapLookupElem, Cmd.MapUpdateElem, Cmd.MapGetNextKey, Cmd.MapLookupAndDeleteElem]) {
        const backing = new Uint8Array(32).fill(0x5a);
        const attr = new Uint8Array(32);
        new DataView(attr.buffer).setUint32(0, fd, true);
        const r = outcome(() => k.bpf(cmd, attr, sys.ptrWords(8, 16), backing.subarray(0, 1), backing.subarray(8, 9)));
        assert.ok(r === 'RangeError' || (typeof r === 'number' && r < 0), `${what} cmd ${cmd}: ${r}`);
        assert.ok(backing.every((b) => b === 0x5a), `${what} cmd ${cmd}: nothing written`);
      }
    }
  } finally {
    for (const fd of Object.values(fds)) if (fd > 0) k.close(fd);
  }
});

test('a closed and reused number is learnt again, also when closed behind the addon\'s back', async () => {
  const { closeSync } = await import('node:fs');
  const attr = (fd: number) => {
    const a = new Uint8Array(32);
    new DataView(a.buffer).setUint32(0, fd, true);
    return a;
  };
  const small = sys.mapCreate({ mapType: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 1 });
  assert.equal(k.bpf(Cmd.MapLookupElem, attr(small), sys.ptrWords(8, 16), le32(0), new Uint8Array(4)), 0);
  closeSync(small); // not through the addon: its cache still says 4 bytes
  const big = sys.mapCreate({ mapType: MapType.Array, keySize: 4, valueSize: 4096, maxEntries: 1 });
  try {
    assert.equal(big, small, 'the kernel reused the number');
    assert.equal(outcome(() => k.bpf(Cmd.MapLookupElem, attr(big), sys.ptrWords(8, 16), le32(0), new Uint8Array(4))), 'RangeError');
    assert.equal(k.bpf(Cmd.MapLookupElem, attr(big), sys.ptrWords(8, 16), le32(0), new Uint8Array(4096)), 0);
  } finally {
    k.close(big);
  }
});

test('PROG_LOAD: fd_array is as long as fd_array_cnt says', () => {
  const load = new Uint8Array(152);
  const v = new DataView(load.buffer);
  v.setUint32(0, 1, true);
  v.setUint32(4, RETURN_0.length / 8, true);
  v.setUint32(148, 3, true); // fd_array_cnt
  const call = (fdArray: Uint8Array) => outcome(() => k.bpf(Cmd.ProgLoad, load, sys.ptrWords(8, 16, 120), RETURN_0, sys.cString('GPL'), fdArray));
  assert.equal(call(new Uint8Array(8)), 'RangeError', 'two entries for three');
  const r = call(new Uint8Array(12)); // three zeros: stdin is no map, or an older kernel knows no fd_array_cnt
  assert.equal(typeof r, 'number', `three entries reach the kernel: ${r}`);
  if ((r as number) >= 0) k.close(r as number);
});

test('a perf ring maps its control page only: its data pages are read-only and a write there raises SIGBUS', () => {
  const r = inChild(`
    const attr = new Uint8Array(136);
    const v = new DataView(attr.buffer);
    v.setUint32(0, 1, true); v.setBigUint64(8, 1n, true); v.setBigUint64(16, 100000n, true); v.setBigUint64(40, 1n, true);
    const fd = k.perf_event_open(attr, 0, -1, -1, 8);
    const ring = outcome(() => {
      const ab = k.mmap(fd, ${3 * PAGE}, 3, 1, 0);
      if (ab instanceof ArrayBuffer) new Uint8Array(ab)[${3 * PAGE - 1}] = 1; // a data page
      return ab;
    });
    const dataOnly = outcome(() => k.mmap(fd, ${2 * PAGE}, 3, 1, ${PAGE}));
    const control = k.mmap(fd, ${PAGE}, 3, 1, 0);
    new Uint8Array(control)[${PAGE - 1}] = 1;
    done({ ring, dataOnly, control: control.byteLength });
  `);
  assert.deepEqual(r, { ring: 'RangeError', dataOnly: 'RangeError', control: PAGE });
});

test('mmap longer than an ArrayBuffer may be: a RangeError, and the mapping is released', () => {
  const MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20, MAP_NORESERVE = 0x4000;
  const lines = () => readFileSync('/proc/self/maps', 'utf8').split('\n').length;
  const before = lines();
  // 16 GiB of address space, nothing touched: more than Node 20's 4 GiB ArrayBuffer limit.
  const r = outcome(() => k.mmap(-1, 2 ** 34, 3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, 0));
  assert.ok(r === 'RangeError' || r === 'object', `16 GiB: ${r}`); // a later Node may hold it
  assert.ok(lines() <= before + 1, 'no mapping left behind');
});

test('bpf with more arguments than it takes: the extra ones are not read', () => {
  // napi_get_cb_info reports how many arguments JS passed, which may exceed the
  // addon's argument array: reading past it took stack garbage for buffers.
  const r = inChild(`
    const { Cmd } = sys;
    const bufs = Array.from({ length: 40 }, () => new Uint8Array(64));
    const attr = new Uint8Array(256);
    const results = [];
    for (let i = 0; i < 200; i++) {
      results.push(outcome(() => k.bpf(Cmd.ObjGetInfoByFd, attr, 0xff, ...bufs)));
      results.push(outcome(() => k.bpf(Cmd.ObjGetInfoByFd, attr, 0x2, ...bufs)));
    }
    done([...new Set(results)].sort());
  `);
  assert.deepEqual(r, ['RangeError']);
});

test('no descriptor left open by the tests above', () => {
  assert.equal(fdCount(), fdsAtStart);
});
