// The Prometheus exporter on the real kernel: exportMetrics on a prom-client Registry and
// `tsbpf export` serving examples/metrics.yaml, scraped over HTTP with fetch. This
// process renames itself (its comm) and makes writes and getppid calls of known sizes
// and counts; the metrics must move by at least that much under its name.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { exportMetrics, ExporterConfigError, parseExporterConfig, type ExporterConfig } from '../src/index.js';
import { fdCount, repoRoot } from './helpers.js';

const CLI = `${repoRoot}/dist/src/cli/main.js`;
const OBJECT = `${repoRoot}/bpf/exporter_example.o`;
const EXAMPLE = `${repoRoot}/examples/metrics.yaml`;

// The BPF programs key by comm: a name no other process has (15 characters at most).
const COMM = `tsbpf-exp-${process.pid % 100000}`;
process.title = COMM;

// The CLI starts (load, attach: a second or two) while the library tests run.
const cli = spawn(process.execPath, [CLI, 'export', '--config', EXAMPLE, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
let cliOut = '';
let cliErr = '';
cli.stdout.setEncoding('utf8').on('data', (d: string) => (cliOut += d));
cli.stderr.setEncoding('utf8').on('data', (d: string) => (cliErr += d));
const cliExit = new Promise<number | null>((resolve) => cli.on('exit', (code) => resolve(code)));
const cliUrl = new Promise<string>((resolve, reject) => {
  const poll = setInterval(() => {
    const m = /serving (http:\/\/\S+\/metrics)/.exec(cliOut);
    if (m) {
      clearInterval(poll);
      resolve(m[1]!);
    }
  }, 20);
  void cliExit.then((code) => {
    clearInterval(poll);
    reject(new Error(`tsbpf export exited (${code}) before serving: ${cliErr}`));
  });
});
cliUrl.catch(() => {}); // awaited by its test
// A failed test must not leave the server running (nor this file waiting on it).
after(() => {
  if (cli.exitCode === null) cli.kill('SIGKILL');
});

interface Series {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a text exposition (the lines that are not comments). */
function parse(text: string): Series[] {
  const out: Series[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of m[2]?.matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g) ?? []) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the series `name` with these labels (0 when there is none yet). */
function valueOf(series: Series[], name: string, labels: Record<string, string>): number {
  const hit = series.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v) && Object.keys(s.labels).length === Object.keys(labels).length);
  return hit?.value ?? 0;
}

const WRITES = 25;
const SIZE = 3000; // log2 bucket le=4096, linear (1 KiB) bucket le=3072
const GETPPIDS = 7;

/** The activity the metrics must see: WRITES writes of SIZE bytes to /dev/null and GETPPIDS getppid calls, from this thread (comm COMM). */
function activity(): void {
  const fd = openSync('/dev/null', 'w');
  try {
    const buf = Buffer.alloc(SIZE, 0x61);
    for (let i = 0; i < WRITES; i++) assert.equal(writeSync(fd, buf), SIZE);
  } finally {
    closeSync(fd);
  }
  for (let i = 0; i < GETPPIDS; i++) assert.ok(process.ppid > 0); // process.ppid calls getppid() each time
}

/** Checks the series of examples/metrics.yaml moved by (at least) activity() between two scrapes. */
function checkMoved(before: Series[], after: Series[], scrapedOverHttp: boolean): void {
  const names = { calls: 'tsbpf_example_syscalls_total', last: 'tsbpf_example_last_write_bytes', log2: 'tsbpf_example_write_size_bytes', linear: 'tsbpf_example_write_size_linear_bytes' };
  const delta = (name: string, labels: Record<string, string>) => valueOf(after, name, labels) - valueOf(before, name, labels);
  const me = { comm: COMM };
  assert.ok(delta(names.calls, { ...me, syscall: 'write' }) >= WRITES, `write calls of ${COMM}: +${delta(names.calls, { ...me, syscall: 'write' })}`);
  assert.ok(delta(names.calls, { ...me, syscall: 'getppid' }) >= GETPPIDS, `getppid calls: +${delta(names.calls, { ...me, syscall: 'getppid' })}`);
  // The last write: ours, unless the HTTP request that scraped was written since.
  if (scrapedOverHttp) assert.ok(valueOf(after, names.last, me) > 0);
  else assert.equal(valueOf(after, names.last, me), SIZE);
  // (2048, 4096] got every write; counts are cumulative, so le=4096 minus le=2048.
  const log2 = (le: string) => delta(`${names.log2}_bucket`, { ...me, le });
  assert.ok(log2('4096') - log2('2048') >= WRITES, `log2 bucket (2048, 4096]: +${log2('4096') - log2('2048')}`);
  assert.ok(log2('+Inf') >= WRITES);
  assert.equal(valueOf(after, `${names.log2}_count`, me), valueOf(after, `${names.log2}_bucket`, { ...me, le: '+Inf' }));
  assert.ok(delta(`${names.log2}_sum`, me) >= WRITES * SIZE, `log2 sum: +${delta(`${names.log2}_sum`, me)}`);
  const linear = (le: string) => delta(`${names.linear}_bucket`, { ...me, le });
  assert.ok(linear('3072') - linear('2048') >= WRITES, `linear bucket (2048, 3072]: +${linear('3072') - linear('2048')}`);
  // The linear map counts whole KiB (3000 bytes: 3), scaled back by the multiplier.
  assert.ok(delta(`${names.linear}_sum`, me) >= WRITES * 3072, `linear sum: +${delta(`${names.linear}_sum`, me)}`);
  // Buckets are cumulative: never decreasing with le.
  const les = after.filter((s) => s.name === `${names.log2}_bucket` && s.labels.comm === COMM);
  assert.equal(les.length, 26 - 0 + 1 + 1, 'buckets 0..26 and +Inf');
  for (let i = 1; i < les.length; i++) assert.ok(les[i]!.value >= les[i - 1]!.value);
}

const config = (): ExporterConfig => parseExporterConfig(readFileSync(EXAMPLE, 'utf8'), EXAMPLE);

test('exportMetrics: counters, a gauge and log2/linear histograms move with the writes and getppid calls this process makes', async () => {
  const fds = fdCount();
  const registry = new Registry();
  const c = config();
  // Without the timers (their labels go through /proc/kallsyms: the CLI test reads them),
  // and the same map once more without a values table: the enum's own names.
  c.programs = ['count_write', 'count_getppid'];
  c.metrics = c.metrics.filter((m) => m.map !== 'timers');
  c.metrics.push({ name: 'calls_by_op_total', type: 'counter', map: 'calls', labels: [{ name: 'comm' }, { name: 'op' }] });
  {
    using exporter = exportMetrics(registry, c);
    assert.deepEqual([...exporter.links.keys()], ['count_write', 'count_getppid']);
    assert.deepEqual(exporter.metricNames, ['tsbpf_example_syscalls_total', 'tsbpf_example_last_write_bytes', 'tsbpf_example_write_size_bytes', 'tsbpf_example_write_size_linear_bytes', 'calls_by_op_total']);
    const before = parse(await registry.metrics());
    activity();
    const text = await registry.metrics();
    assert.match(text, /^# TYPE tsbpf_example_syscalls_total counter$/m);
    assert.match(text, /^# TYPE tsbpf_example_last_write_bytes gauge$/m);
    assert.match(text, /^# TYPE tsbpf_example_write_size_bytes histogram$/m);
    assert.match(text, /^# HELP tsbpf_example_write_size_bytes write\(\) sizes by process name \(log2 buckets\)$/m);
    const after = parse(text);
    checkMoved(before, after, false);
    assert.ok(valueOf(after, 'calls_by_op_total', { comm: COMM, op: 'OP_WRITE' }) >= WRITES, 'enum names as labels');
    assert.ok(valueOf(after, 'calls_by_op_total', { comm: COMM, op: 'OP_GETPPID' }) >= GETPPIDS);
    // Every label value is text: no NULs of the char[16] padding.
    assert.ok(after.every((s) => Object.values(s.labels).every((v) => !v.includes('\u0000'))));
  }
  // Closed: the metrics are gone from the registry, the links and maps closed.
  assert.equal(registry.getSingleMetric('tsbpf_example_syscalls_total'), undefined);
  assert.equal(await registry.metrics(), '\n');
  assert.equal(fdCount(), fds);
});

test('exportMetrics: close() is idempotent, the registry may be given the same names again; without programs, attachAll', async () => {
  const fds = fdCount();
  const registry = new Registry();
  const c: ExporterConfig = {
    object: OBJECT,
    programs: ['count_getppid'],
    metrics: [{ name: 'getppid_total', type: 'counter', map: 'calls', labels: [{ name: 'comm' }, { name: 'op', values: { OP_GETPPID: 'getppid' } }] }],
  };
  const first = exportMetrics(registry, c);
  const withFirst = fdCount();
  // A name the registry has: prom-client's error, and nothing of the second left behind.
  assert.throws(() => exportMetrics(registry, c), /already been registered/);
  assert.equal(fdCount(), withFirst);
  assert.equal(registry.getSingleMetric('getppid_total') as unknown, registry.getMetricsAsArray()[0]);
  first.close();
  first.close();
  assert.equal(first.closed, true);
  assert.equal(fdCount(), fds);
  // Without programs: every program whose section names a target attaches (attachAll).
  using second = exportMetrics(registry, { ...c, programs: undefined });
  assert.deepEqual([...second.links.keys()].sort(), ['count_getppid', 'count_timer', 'count_write']);
  activity();
  const after = parse(await registry.metrics());
  assert.ok(valueOf(after, 'getppid_total', { comm: COMM, op: 'getppid' }) >= GETPPIDS);
  second.close();
  assert.equal(fdCount(), fds);
});

test('exportMetrics: an array map (its index as a label, through a values table), struct value members, decode: hex, a bucket range', async () => {
  const fds = fdCount();
  const registry = new Registry();
  const ops = { '1': 'write', '2': 'getppid' };
  using exporter = exportMetrics(registry, {
    object: OBJECT,
    programs: ['count_write', 'count_getppid'],
    metrics: [
      { name: 'op_calls_total', type: 'counter', map: 'op_stats', value: 'calls', labels: [{ name: 'op', values: ops }] },
      { name: 'op_bytes_total', type: 'counter', map: 'op_stats', value: 'bytes', labels: [{ name: 'op', values: ops }] },
      { name: 'op_index', type: 'gauge', map: 'op_stats', value: 'calls', labels: [{ name: 'index', decode: 'hex' }] },
      { name: 'last', type: 'gauge', map: 'last_write', labels: [{ name: 'who', field: 'comm', values: { [COMM]: 'me' } }] },
      { name: 'writes_le_4k', type: 'histogram', map: 'write_bytes_log2', bucket: { field: 'slot', type: 'log2', min: 11, max: 12 }, labels: [{ name: 'comm' }] },
    ],
  });
  const before = parse(await registry.metrics());
  activity();
  const after = parse(await registry.metrics());
  const delta = (name: string, labels: Record<string, string>) => valueOf(after, name, labels) - valueOf(before, name, labels);
  // Every index of the array is a series (index 0 too: no op has it).
  assert.deepEqual(after.filter((s) => s.name === 'op_calls_total').map((s) => s.labels.op), ['0', 'write', 'getppid']);
  assert.deepEqual(after.filter((s) => s.name === 'op_index').map((s) => s.labels.index), ['0x0', '0x1', '0x2']);
  assert.ok(delta('op_calls_total', { op: 'write' }) >= WRITES);
  assert.ok(delta('op_calls_total', { op: 'getppid' }) >= GETPPIDS);
  assert.ok(delta('op_bytes_total', { op: 'write' }) >= WRITES * SIZE);
  assert.equal(valueOf(after, 'op_bytes_total', { op: 'getppid' }), 0);
  assert.equal(valueOf(after, 'last', { who: 'me' }), SIZE);
  // min 11: the first bucket reported is le=2048; 3000 bytes counts in le=4096.
  assert.ok(delta('writes_le_4k_bucket', { comm: COMM, le: '4096' }) - delta('writes_le_4k_bucket', { comm: COMM, le: '2048' }) >= WRITES);
  assert.deepEqual(after.filter((s) => s.name === 'writes_le_4k_bucket' && s.labels.comm === COMM).map((s) => s.labels.le), ['2048', '4096', '+Inf']);
  exporter.close();
  assert.equal(fdCount(), fds);
});

test('exportMetrics: a configuration that does not fit says where and what to fix, and leaves nothing open', () => {
  const fds = fdCount();
  const base = (metric: Record<string, unknown>, top: Record<string, unknown> = {}): unknown => ({
    object: OBJECT,
    programs: ['count_write'],
    metrics: [{ name: 'm', type: 'counter', map: 'calls', ...metric }],
    ...top,
  });
  const cases: [unknown, string, string, RegExp][] = [
    [{ metrics: [] }, 'InvalidConfig', 'object', /missing: the path of the BPF object/],
    [base({}, { metrics: [] }), 'InvalidConfig', 'metrics', /is empty/],
    [base({}, { metric: [] }), 'InvalidConfig', 'metric', /unknown key \(did you mean metrics\?\)/],
    [base({ type: 'summary' }), 'InvalidConfig', 'metrics[0].type', /must be counter, gauge or histogram, got "summary"/],
    [base({ name: 'bad-name' }), 'InvalidConfig', 'metrics[0].name', /"bad-name" is not a metric name/],
    [base({ labels: [{ name: 'comm' }, { name: 'comm' }] }), 'InvalidConfig', 'metrics[0].labels[1].name', /used by an earlier label/],
    [base({ labels: [{ name: 'op', values: ['write'] }] }), 'InvalidConfig', 'metrics[0].labels[0].values', /must be a mapping from the field's text to the label's/],
    [base({ labels: [{ name: 'x', decode: 'sym' }] }), 'InvalidConfig', 'metrics[0].labels[0].decode', /must be auto, ksym or hex/],
    [base({ bucket: { type: 'log2', max: 3 } }), 'InvalidConfig', 'metrics[0].bucket', /only histograms have buckets/],
    [base({ type: 'histogram', map: 'write_bytes_log2' }), 'InvalidConfig', 'metrics[0].bucket', /missing: a histogram needs bucket/],
    [base({ type: 'histogram', map: 'write_bytes_log2', bucket: { type: 'exp2', max: 3 } }), 'InvalidConfig', 'metrics[0].bucket.type', /must be log2 or linear, got "exp2"/],
    [base({ type: 'histogram', map: 'write_bytes_log2', bucket: { type: 'log2', min: 5, max: 3 } }), 'InvalidConfig', 'metrics[0].bucket.max', /must be at least min \(5\)/],
    [base({ type: 'histogram', map: 'write_bytes_log2', bucket: { type: 'log2', max: 3, field: 'slot' }, labels: [{ name: 'slot' }] }), 'InvalidConfig', 'metrics[0].labels', /cannot also be a label/],
    [base({ map: 'nope' }), 'ObjectMismatch', 'metrics[0].map', /no map nope \(maps: calls, last_write, op_stats, timers, write_bytes_linear, write_bytes_log2\)/],
    [base({}, { programs: ['count_read'] }), 'ObjectMismatch', 'programs[0]', /no program count_read \(programs: count_write, count_getppid, count_timer\)/],
    [base({ labels: [{ name: 'pid' }] }), 'ObjectMismatch', 'metrics[0].labels[0].field', /key of map calls has no member pid: it is struct call_key with members comm, op \(the field defaults to the label's name; set field:\)/],
    [base({ value: 'count' }), 'ObjectMismatch', 'metrics[0].value', /value of map calls has no member count/],
    [base({ labels: [{ name: 'comm', decode: 'ksym' }] }), 'ObjectMismatch', 'metrics[0].labels[0].decode', /ksym decodes numbers and addresses; comm is a char array/],
    [base({ type: 'histogram', map: 'write_bytes_log2', bucket: { type: 'log2', max: 3 } }), 'ObjectMismatch', 'metrics[0].bucket.field', /is a struct: name its member holding the bucket index \(members: comm, slot\)/],
    [base({ type: 'histogram', map: 'write_bytes_log2', bucket: { type: 'log2', max: 3, field: 'comm' } }), 'ObjectMismatch', 'metrics[0].bucket.field', /comm is not an integer/],
    [base({}, { object: '/nonexistent/x.o' }), 'ObjectMismatch', 'object', /cannot read \/nonexistent\/x.o: ENOENT/],
    [base({ map: 'rb' }, { object: `${repoRoot}/bpf/ringbuf.o`, programs: [] }), 'ObjectMismatch', 'metrics[0].map', /a metric reads a hash or array map through its BTF: map rb is a BPF_MAP_TYPE_RINGBUF/],
  ];
  for (const [cfg, kind, path, message] of cases) {
    assert.throws(() => exportMetrics(new Registry(), cfg as ExporterConfig), (err: unknown) => {
      assert.ok(err instanceof ExporterConfigError, `${path}: ${String(err)}`);
      assert.equal(err.kind, kind, err.message);
      assert.equal(err.path, path, err.message);
      assert.match(err.message, message);
      return true;
    });
  }
  // From a file: its name leads the message; YAML syntax errors are InvalidConfig too.
  const file = join(tmpdir(), `tsbpf-exporter-${process.pid}.yaml`);
  writeFileSync(file, 'object: x.o\nmetrics: [\n');
  assert.throws(() => exportMetrics(new Registry(), file), (err: unknown) => err instanceof ExporterConfigError && err.kind === 'InvalidConfig' && err.message.startsWith(`${file}: not valid YAML`));
  writeFileSync(file, `object: ${OBJECT}\nmetrics:\n  - name: m\n    type: gauge\n    map: calls\n    labels: [{ name: comm, field: comm.x }]\n`);
  assert.throws(() => exportMetrics(new Registry(), file), (err: unknown) => err instanceof ExporterConfigError && err.file === file && /metrics\[0\]\.labels\[0\]\.field: the key of map calls has no member x/.test(err.message));
  assert.equal(fdCount(), fds, 'failed exports close what they opened');
});

test('tsbpf export --config examples/metrics.yaml: /metrics over HTTP moves with this process\'s writes; kernel symbols as labels; SIGTERM cleans up', async () => {
  const url = await cliUrl;
  const scrape = async (): Promise<{ text: string; type: string | null }> => {
    const res = await fetch(url);
    assert.equal(res.status, 200);
    return { text: await res.text(), type: res.headers.get('content-type') };
  };
  const first = await scrape();
  assert.match(first.type ?? '', /^text\/plain; version=0\.0\.4/);
  for (const name of ['tsbpf_example_syscalls_total', 'tsbpf_example_last_write_bytes', 'tsbpf_example_write_size_bytes', 'tsbpf_example_write_size_linear_bytes', 'tsbpf_example_timer_starts_total']) {
    assert.match(first.text, new RegExp(`^# HELP ${name} `, 'm'));
  }
  activity();
  const after = parse((await scrape()).text);
  checkMoved(parse(first.text), after, true);
  // Timers start all the time (this test's own TCP connections arm some): their
  // callbacks' addresses come out as the names /proc/kallsyms gives them.
  const timers = after.filter((s) => s.name === 'tsbpf_example_timer_starts_total');
  assert.ok(timers.length > 0, 'some timer started');
  const kallsyms = readFileSync('/proc/kallsyms', 'latin1');
  const named = timers.filter((s) => !s.labels.function!.startsWith('0x'));
  if (/^0+ /.test(kallsyms)) {
    // Addresses hidden (kptr_restrict, no CAP_SYSLOG): nothing resolves, every label is hex.
    assert.equal(named.length, 0);
  } else {
    assert.ok(named.length > 0, `named: ${timers.map((s) => s.labels.function).join(', ')}`);
    for (const s of named) assert.ok(new RegExp(` [tTwW] ${s.labels.function!.replace(/[.$]/g, '\\$&')}(\\s|$)`, 'm').test(kallsyms), `${s.labels.function} is a kernel function`);
  }
  assert.equal((await fetch(new URL('/nope', url))).status, 404);
  assert.match(await (await fetch(new URL('/', url))).text(), /href="\/metrics"/);
  cli.kill('SIGTERM');
  assert.equal(await cliExit, 0, cliErr);
  assert.match(cliErr, /SIGTERM: stopped, programs detached/);
});

test('tsbpf export: a bad config exits 1 naming the file and the place to fix; a bad --listen is a usage error (2); --help', async () => {
  const file = join(tmpdir(), `tsbpf-exporter-cli-${process.pid}.yaml`);
  writeFileSync(file, `object: ${OBJECT}\nmetrics:\n  - name: m\n    type: counter\n    map: callz\n`);
  const run = (args: string[]) => new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, [CLI, 'export', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  const [bad, listen, help] = await Promise.all([run(['--config', file]), run(['--config', file, '--listen', 'nowhere']), run(['--help'])]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /-c, --config <file>[\s\S]*-l, --listen <address>[\s\S]*\(default: :9435\)/);
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stderr, new RegExp(`error: ${file.replace(/[.]/g, '\\.')}: metrics\\[0\\]\\.map: the object has no map callz \\(maps: calls, `));
  assert.equal(listen.code, 2, listen.stderr);
  assert.match(listen.stderr, /argument 'nowhere' is invalid\. expected \[host\]:port/);
});
