// Logging from BPF against the real kernel: bpf/log_example.c logs through
// bpf/include/tsbpf_log.h from a socket filter and an XDP program (run with
// BPF_PROG_TEST_RUN) and a tracepoint (triggered by this process's own openat), and
// attachLogger formats the records into a pino-like object, console and a function;
// bpf/log_printk.c's bpf_printk line is read back from trace_pipe with tracePipe().
// The header's compile-time checks are compiled with clang where it is installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  attachLogger, BpfLogger, Ebpf, EbpfLoader, MapError, ObjectSpec, parseTracePipeLine, ProgramError, SocketFilter, Syscall, tracePipe, TracePoint, Xdp,
  type BpfLogRecord,
} from '../src/index.js';
import { decodeLogRecord } from '../src/log/format.js';
import { collectGarbage, fdCount, thrown, watchesClosed } from './helpers.js';

const BPF = fileURLToPath(new URL('../../bpf/', import.meta.url));
const OBJECT = join(BPF, 'log_example.o');
const SOURCE = readFileSync(join(BPF, 'log_example.c'), 'utf8').split('\n');
const PRINTK = join(BPF, 'log_printk.o');

/** The source line of the log call whose text holds `needle` (the record's `line`). */
const lineOf = (needle: string) => SOURCE.findIndex((l) => l.includes(needle)) + 1;

/** What log_everything(kind) logs, formatted, with the levels. */
function everything(kind: string): [string, string][] {
  return [
    ['error', `${kind}: d=42 i=-7 min=-2147483648`],
    ['warn', 'u=4294967295 x=beef X=BEEF neg=ffffffff'],
    ['info', 'ld=-1 lu=18446744073709551615 lld=-9223372036854775808 llu=18446744073709551615 lx=ffffffffffffffff'],
    ['debug', 's=literal arr=stack c=ok'],
    ['trace', 'p=0xdeadbeef 100% 0xff 010 10'],
    ['info', '[   42] [42   ] [00042] [+5] [ 5] [     abc] [abc     ] [abc] [   7] [7   ]'],
    ['info', 'enum=2 bool=1 short=-3 uchar=200'],
    // a 99-character string cut at TSBPF_LOG_STR_MAX (64) - 1
    ['info', `long=${'abcdefghijklmnopqrstuvwxyz'.repeat(3).slice(0, 63)}`],
    ['info', 'twelve 1 2 3 4 5 6 7 8 9 10 11 12'],
    ['info', 'no arguments'],
  ];
}

/** A packet for the socket filter and XDP test runs: 64 bytes, ethertype 0x86dd. */
function packet(): Uint8Array {
  const p = new Uint8Array(64);
  p[12] = 0x86;
  p[13] = 0xdd;
  return p;
}

/** A logger with pino's methods that records its calls. */
function fakePino() {
  const calls: { level: string; args: unknown[] }[] = [];
  const method = (level: string) => (...args: unknown[]) => void calls.push({ level, args });
  return { calls, error: method('error'), warn: method('warn'), info: method('info'), debug: method('debug'), trace: method('trace'), fatal: method('fatal') };
}

/** Lines of /proc/self/maps that map BPF maps. */
const bpfMappings = () => readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('bpf-map')).length;

/** Runs `body` with the example object loaded, then checks every descriptor and mapping is gone. */
async function withObject(body: (ebpf: Ebpf) => unknown): Promise<void> {
  const fds = fdCount();
  const mappings = bpfMappings();
  const ebpf = new EbpfLoader().setGlobal('target_tgid', process.pid).load(OBJECT);
  try {
    await body(ebpf);
  } finally {
    ebpf.close();
  }
  // libuv closes a watch's descriptor in a later turn of the loop.
  await watchesClosed();
  assert.equal(fdCount(), fds, 'every descriptor closed');
  assert.equal(bpfMappings(), mappings, 'every mapping unmapped');
}

/** Waits (through the event loop, no flush) until `done()` or fails after `ms`. */
async function until(done: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) assert.fail('timed out');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

test('attachLogger: a socket filter logs every conversion, formatted into a pino-like logger with fields', async () => {
  await withObject(async (ebpf) => {
    const pino = fakePino();
    using logger = attachLogger(ebpf, pino, { fields: true });
    assert.ok(logger instanceof BpfLogger);
    ebpf.program('log_socket', SocketFilter).testRun({ data: packet() });
    // The records come through the event loop (the ring's wakeup), without flush().
    const expected = [...everything('socket'), ['info', 'socket len=50']]; // skb->len: the frame without its Ethernet header
    await until(() => pino.calls.length === expected.length);
    assert.deepEqual(pino.calls.map((c) => [c.level, c.args[1]]), expected);
    assert.ok(pino.calls.every((c) => c.args.length === 2));
    // The merging object: the format, JSON-safe arguments, the source line.
    assert.deepEqual(pino.calls[2]!.args[0], {
      format: 'ld=%ld lu=%lu lld=%lld llu=%llu lx=%lx',
      args: [-1, '18446744073709551615', '-9223372036854775808', '18446744073709551615', -1],
      line: lineOf('-9223372036854775807LL - 1'), // __LINE__ of a call over two lines: clang gives its last
    });
    assert.deepEqual(pino.calls[3]!.args[0], { format: 's=%s arr=%s c=%c%c', args: ['literal', 'stack', 111, 107], line: lineOf('log_debug(') });
    assert.deepEqual(pino.calls.at(-1)!.args[0], { format: 'socket len=%u', args: [50], line: lineOf('log_info("socket len=%u"') });
    assert.equal(logger.records, expected.length);
    assert.equal(logger.malformed, 0);
  });
});

test('attachLogger: an XDP program, records as objects to a function (numbers, bigints, strings)', async () => {
  await withObject((ebpf) => {
    const got: BpfLogRecord[] = [];
    const logger = attachLogger(ebpf, (r) => got.push(r));
    try {
      ebpf.program('log_xdp', Xdp).testRun({ data: packet() });
      assert.equal(logger.flush(), 11);
      assert.equal(logger.flush(), 0);
    } finally {
      logger.close();
    }
    assert.deepEqual(got.map((r) => [r.level, r.message]), [...everything('xdp'), ['info', 'xdp len=64 proto=dd86']]);
    // The arguments as the program sent them: 32-bit as numbers, 64-bit and pointers as bigints.
    assert.deepEqual(got[0]!.args, ['xdp', 42, -7, -2147483648]);
    assert.deepEqual(got[2]!.args, [-1n, 18446744073709551615n, -9223372036854775808n, 18446744073709551615n, -1n]);
    assert.deepEqual(got[4]!.args, [0xdeadbeefn, 255, 8, 8]);
    assert.equal(got[4]!.format, 'p=%p 100%% %#x %#o %o');
    assert.equal(got[9]!.line, lineOf('"no arguments"'));
  });
});

test('attachLogger: a tracepoint logs a user-space string (log_user_str), the comm and the tgid of its own openat', async () => {
  await withObject(async (ebpf) => {
    const pino = fakePino();
    using logger = attachLogger(ebpf, pino);
    using link = ebpf.program('log_openat', TracePoint).attach();
    const path = `/tmp/tsbpf-log-${process.pid}-${Date.now()}`;
    assert.throws(() => openSync(path, 'r'), { code: 'ENOENT' });
    const comm = readFileSync('/proc/self/comm', 'utf8').trim();
    const expected = [...everything('tracepoint'), ['info', `openat ${path} by ${comm} (tgid ${process.pid})`]];
    await until(() => pino.calls.length >= expected.length);
    link.close();
    logger.flush();
    // Without fields: logger[level](message), one argument.
    assert.deepEqual(pino.calls.map((c) => [c.level, ...c.args]), expected);
  });
});

test('attachLogger: console by default, trace records to console.debug (console.trace prints a stack)', async () => {
  await withObject((ebpf) => {
    const printed: [string, unknown[]][] = [];
    const saved = { error: console.error, warn: console.warn, info: console.info, debug: console.debug, trace: console.trace };
    for (const level of Object.keys(saved) as (keyof typeof saved)[]) console[level] = (...args: unknown[]) => void printed.push([level, args]);
    try {
      using logger = attachLogger(ebpf);
      ebpf.program('log_socket', SocketFilter).testRun({ data: packet() });
      logger.flush();
    } finally {
      Object.assign(console, saved);
    }
    const expected = [...everything('socket'), ['info', 'socket len=50']].map(([level, message]) => [level === 'trace' ? 'debug' : level, [message]]);
    assert.deepEqual(printed, expected);
  });
});

test('attachLogger: level keeps the more severe records; close hands over what is left and stops reading', async () => {
  await withObject(async (ebpf) => {
    const pino = fakePino();
    const logger = attachLogger(ebpf, pino, { level: 'warn' });
    ebpf.program('log_xdp', Xdp).testRun({ data: packet() });
    // No flush and no turn of the loop: close() drains the ring first.
    logger.close();
    assert.deepEqual(pino.calls.map((c) => c.args[0]), ['xdp: d=42 i=-7 min=-2147483648', 'u=4294967295 x=beef X=BEEF neg=ffffffff']);
    assert.equal(logger.closed, true);
    assert.equal(logger.records, 2);
    logger.close(); // idempotent
    assert.equal(logger.flush(), 0);
    // Closed: what is logged now stays in the ring, for a new logger.
    ebpf.program('log_xdp', Xdp).testRun({ data: packet() });
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(pino.calls.length, 2);
    using again = attachLogger(ebpf, () => {});
    again.flush();
    assert.equal(again.records, 11);
  });
});

test('attachLogger: aborting the signal closes the logger; a throwing logger goes to onError and reading goes on', async () => {
  await withObject(async (ebpf) => {
    const ac = new AbortController();
    const errors: unknown[] = [];
    let n = 0;
    const logger = attachLogger(ebpf, () => {
      if (n++ === 0) throw new Error('disk full');
    }, { signal: ac.signal, onError: (err) => errors.push(err) });
    ebpf.program('log_xdp', Xdp).testRun({ data: packet() });
    await until(() => n === 11);
    assert.equal(errors.length, 1);
    assert.equal((errors[0] as Error).message, 'disk full');
    ac.abort();
    assert.equal(logger.closed, true);
    const aborted = AbortSignal.abort(new Error('stop'));
    assert.throws(() => attachLogger(ebpf, () => {}, { signal: aborted }), /stop/);
  });
});

test('attachLogger: refused with a message that says what to do', async () => {
  const fds = fdCount();
  using other = new EbpfLoader().load(PRINTK);
  const noMap = thrown(() => attachLogger(other));
  assert.ok(noMap instanceof MapError);
  assert.equal(noMap.kind, 'InvalidArgument');
  assert.match(noMap.message, /no tsbpf_log ring buffer \(include tsbpf_log\.h/);
  await withObject((ebpf) => {
    for (const [args, message] of [
      [[{ info() {} }], /no error\(\) method/],
      [[42], /takes a logger .* got 42/],
      [[console, { level: 'verbose' }], /level must be one of error, warn, info, debug, trace/],
      [[console, null], /options must be an object/],
      [[console, { signal: 'x' }], /signal must be an AbortSignal/],
    ] as [unknown[], RegExp][]) {
      const err = thrown(() => (attachLogger as any)(ebpf, ...args));
      assert.ok(err instanceof MapError, String(err));
      assert.equal(err.kind, 'InvalidArgument');
      assert.match(err.message, message);
    }
  });
  other.close();
  assert.equal(fdCount(), fds);
});

/** A record as tsbpf_log.h writes it, built by hand: [type, value] arguments. */
function record(level: number, format: string, args: [number, bigint | string | number][], version = 1): Uint8Array {
  const fmt = new TextEncoder().encode(format);
  const fmtSize = (fmt.length + 1 + 7) & ~7;
  const slots = args.map(([type, v]) => (type === 5 ? 8 + 16 : 16));
  const bytes = new Uint8Array(16 + fmtSize + slots.reduce((a, b) => a + b, 0));
  const view = new DataView(bytes.buffer);
  view.setUint8(0, version);
  view.setUint8(1, level);
  view.setUint8(2, args.length);
  view.setUint16(4, fmt.length, true);
  view.setUint16(6, fmtSize, true);
  view.setUint32(8, 7, true);
  bytes.set(fmt, 16);
  let at = 16 + fmtSize;
  for (const [type, v] of args) {
    view.setUint8(at, type);
    if (type === 5) {
      view.setUint16(at + 2, 16, true);
      if (typeof v === 'number') view.setInt32(at + 4, v, true);
      else {
        const s = new TextEncoder().encode(String(v));
        view.setInt32(at + 4, s.length + 1, true);
        bytes.set(s, at + 8);
      }
      at += 24;
    } else {
      view.setUint16(at + 2, 8, true);
      view.setBigUint64(at + 8, BigInt.asUintN(64, BigInt(v)), true);
      at += 16;
    }
  }
  return bytes;
}

test('log records: conversions without arguments, faulted strings, %s of a number, malformed records', () => {
  const message = (r: Uint8Array) => decodeLogRecord(r, 0, r.length)?.message;
  assert.equal(message(record(3, 'a=%d b=%s c=%u', [[1, -1n]])), 'a=-1 b=%s c=%u');
  assert.equal(message(record(3, 'name=%s', [[5, -14]])), 'name=(efault)');
  assert.equal(message(record(3, 'name=%-6s|', [[5, -22]])), 'name=(error -22)|');
  assert.equal(message(record(3, '%s %d %x', [[3, -5n], [5, 'str'], [6, 0xffn]])), '-5 str ff');
  assert.equal(message(record(3, '%5.3d|%-+5d|%#X|%#o|%.0d|%c', [[1, 7n], [1, 3n], [2, 0xabn], [2, 0n], [1, 0n], [1, 0x41n]])), '  007|+3   |0XAB|0||A');
  assert.equal(message(record(3, '%08.3f %y %', [])), '%08.3f %y %');
  assert.equal(decodeLogRecord(record(3, 'x', [], 2), 0, 24), undefined, 'another layout version');
  assert.equal(decodeLogRecord(record(9, 'x', []), 0, 24), undefined, 'no such level');
  const cut = record(3, '%d', [[1, 1n]]);
  assert.equal(decodeLogRecord(cut, 0, cut.length - 8), undefined, 'cut short');
  assert.deepEqual(decodeLogRecord(record(1, 'x', []), 0, 24), { level: 'error', format: 'x', message: 'x', args: [], line: 7 });
});

test('tracePipe: the bpf_printk line of our own program, parsed; other lines tolerated; the file closed after', async () => {
  const fds = fdCount();
  using ebpf = new EbpfLoader().load(PRINTK);
  const marker = (Math.random() * 0xffffffff) >>> 0;
  const args = new Uint8Array(8);
  new DataView(args.buffer).setUint32(0, marker, true);
  new DataView(args.buffer).setInt32(4, -5, true);
  const pipe = tracePipe({ tracingOn: true, event: 'bpf_trace_printk' });
  const wasOn = pipe.tracingOn;
  assert.equal(wasOn, true);
  const timer = setTimeout(() => pipe.close(), 5000);
  ebpf.program('printk', Syscall).run(args);
  let found;
  for await (const line of pipe) {
    assert.equal(line.event, 'bpf_trace_printk');
    if (line.message.includes(`marker=${marker} `)) {
      found = line;
      break;
    }
  }
  clearTimeout(timer);
  assert.ok(found, 'the line came');
  assert.equal(found.message, `tsbpf-printk marker=${marker} value=-5 name=printk`);
  assert.equal(found.pid, process.pid, 'the main thread ran it');
  assert.ok(found.cpu >= 0 && found.timestamp > 0, JSON.stringify(found));
  assert.equal(pipe.closed, true, 'break closed the file');
  ebpf.close();
  await watchesClosed();
  assert.equal(fdCount(), fds);
});

test('tracePipe: aborting rejects the pending next() with the reason and closes the file; tracing_on is put back', async () => {
  const fds = fdCount();
  const root = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'].find((r) => {
    try {
      readFileSync(`${r}/tracing_on`);
      return true;
    } catch {
      return false;
    }
  })!;
  const before = readFileSync(`${root}/tracing_on`, 'utf8').trim();
  const ac = new AbortController();
  // An event nobody prints: next() waits.
  const pipe = tracePipe({ signal: ac.signal, event: 'tsbpf_no_such_event', tracingOn: true });
  const pending = pipe.next();
  setTimeout(() => ac.abort(new Error('enough')), 20);
  await assert.rejects(pending, /enough/);
  assert.equal(pipe.closed, true);
  assert.equal(readFileSync(`${root}/tracing_on`, 'utf8').trim(), before);
  assert.deepEqual(await pipe.next(), { done: true, value: undefined });
  // close() without iterating; dropped without close(): collected, its descriptors closed.
  tracePipe().close();
  (() => void tracePipe())();
  await collectGarbage();
  assert.throws(() => tracePipe({ signal: 'x' as any }), (e: unknown) => e instanceof ProgramError && e.kind === 'InvalidArgument');
  assert.throws(() => tracePipe({ signal: AbortSignal.abort(new Error('early')) }), /early/);
  await watchesClosed();
  assert.equal(fdCount(), fds);
});

test('parseTracePipeLine: task names with spaces and dashes, the tgid column, no irq-info flags, other lines', () => {
  assert.deepEqual(parseTracePipeLine('            node-12345   [003] d..31 51641.080996: bpf_trace_printk: hello: world'), {
    task: 'node', pid: 12345, cpu: 3, flags: 'd..31', timestamp: 51641.080996, event: 'bpf_trace_printk', message: 'hello: world',
    line: '            node-12345   [003] d..31 51641.080996: bpf_trace_printk: hello: world',
  });
  assert.deepEqual(parseTracePipeLine(' kworker/u8:2-my-task-77 (   70) [000] ....  12.5: bpf_trace_printk: x'), {
    task: 'kworker/u8:2-my-task', pid: 77, cpu: 0, flags: '....', timestamp: 12.5, event: 'bpf_trace_printk', message: 'x',
    line: ' kworker/u8:2-my-task-77 (   70) [000] ....  12.5: bpf_trace_printk: x',
  });
  const noFlags = parseTracePipeLine('   Web Content-9 [001] 100.000001: sched_switch: prev_comm=a');
  assert.equal(noFlags?.task, 'Web Content');
  assert.equal(noFlags?.flags, '');
  assert.equal(noFlags?.message, 'prev_comm=a');
  assert.equal(parseTracePipeLine('CPU:1 [LOST 3 EVENTS]'), undefined);
  assert.equal(parseTracePipeLine(''), undefined);
});

// The header's compile-time checks: a mistake in a log call is a compile error.
const clang = spawnSync('clang-19', ['--version']).status === 0;

function compile(body: string): Promise<{ ok: boolean; stderr: string; object?: Uint8Array }> {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-log-'));
  const file = join(dir, 'x.c');
  writeFileSync(file, `#include "tsbpf_types.h"\n#include <bpf/bpf_helpers.h>\n${body.includes('#define') ? '' : '#include "tsbpf_log.h"\n'}${body}\n`);
  return new Promise((resolve) => {
    execFile('clang-19', ['-O2', '-g', '-target', 'bpf', '-I', join(BPF, 'include'), '-Wall', '-Werror', '-c', file, '-o', join(dir, 'x.o')], (err, _stdout, stderr) => {
      const object = err ? undefined : readFileSync(join(dir, 'x.o'));
      rmSync(dir, { recursive: true, force: true });
      resolve({ ok: !err, stderr, object });
    });
  });
}

test('tsbpf_log.h: wrong arguments, too many, a long format and a bad string size fail to compile; levels compile out', { skip: !clang && 'clang-19 is not installed' }, async () => {
  const prog = (call: string) => `struct s { int a; };\nSEC("xdp") int p(struct xdp_md *ctx) { struct s v = {1}; long l = 1; (void)v; (void)l; ${call}; return 2; }`;
  // Each mistake is reported in one compile (clang lists every error of the file).
  const [good, bad, strMax, levelOut] = await Promise.all([
    compile(prog('log_info("%ld %s %p %d", l, "x", ctx, 1)')),
    compile(prog([
      'log_info("%d", l)',
      'log_info("%d %d", 1)',
      'log_info("%d", v)',
      `log_info("${'%d '.repeat(13)}", ${Array(13).fill(1).join(', ')})`,
      `log_info("${'x'.repeat(600)}")`,
    ].join('; '))),
    compile(`#define TSBPF_LOG_STR_MAX 12\n#include "tsbpf_log.h"\n${prog('log_info("x")')}`),
    // Above TSBPF_LOG_LEVEL nothing is reserved: an object without a ring buffer call.
    compile(`#define TSBPF_LOG_LEVEL TSBPF_LOG_LEVEL_WARN\n#include "tsbpf_log.h"\n${prog('log_info("%d", 1); log_debug("x")')}`),
  ]);
  assert.ok(good.ok, good.stderr);
  assert.equal(bad.ok, false);
  assert.match(bad.stderr, /format specifies type 'int' but the argument has type 'long'/);
  assert.match(bad.stderr, /more '%' conversions than data arguments/);
  assert.match(bad.stderr, /passing 'struct s' to parameter of incompatible type/);
  assert.match(bad.stderr, /at most TSBPF_LOG_MAX_ARGS \(12\) arguments/);
  assert.match(bad.stderr, /the format is longer than TSBPF_LOG_FMT_MAX bytes/);
  assert.match(strMax.stderr, /TSBPF_LOG_STR_MAX must be a multiple of 8/);
  assert.ok(levelOut.ok, levelOut.stderr);
  // The warn-level build keeps no log call: `r0 = 2; exit`, against a reserve, stores and a submit.
  const size = (o: Uint8Array) => ObjectSpec.parse(o).programs.get('p')!.instructions.length;
  assert.equal(size(levelOut.object!), 16);
  assert.ok(size(good.object!) > 100);
  // The format is immediates: no copy of it in a .rodata section (only the "x" argument's string).
  assert.deepEqual([...ObjectSpec.parse(good.object!).maps.keys()].sort(), ['.rodata.str1.1', 'tsbpf_log']);
});

test('tsbpf_log.h: a full ring drops records and the call says so (-1); the rest arrive in order', async () => {
  const fds = fdCount();
  // One page of ring: 4096 bytes hold 4096 / 56 records of "flood %u" (8 ring header + 16
  // header + 16 format with its NUL, padded to 8 + 16 argument), nothing consuming meanwhile.
  const ebpf = new EbpfLoader().setMaxEntries('tsbpf_log', 4096).load(OBJECT);
  try {
    const got: string[] = [];
    using logger = attachLogger(ebpf, (r) => got.push(r.message));
    const args = new Uint8Array(8);
    new DataView(args.buffer).setUint32(0, 200, true);
    ebpf.program('log_flood', Syscall).run(args);
    const dropped = new DataView(args.buffer).getUint32(4, true);
    logger.flush();
    assert.equal(got.length, Math.floor(4096 / 56));
    assert.equal(dropped, 200 - got.length);
    assert.deepEqual(got, Array.from({ length: got.length }, (_, i) => `flood ${i}`));
  } finally {
    ebpf.close();
  }
  await watchesClosed();
  assert.equal(fdCount(), fds);
});
