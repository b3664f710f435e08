// The native fuzzer in CI: regression seeds first, then at least 100,000 calls of
// random argument shapes over every addon entry point, each batch in an isolated
// child (see test/native-fuzz.ts). And the fuzzer's own detectors, each shown to
// catch its kind of defect in a deliberately broken addon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { fuzzNative, type NativeFuzzReport } from './native-fuzz.js';
import { seeds } from './native-fuzz-regressions.js';
import { fdCount } from './helpers.js';

const CALLS = 100_000;
const SEED = 0x5eed;

function summary(r: NativeFuzzReport): string {
  const refused = Object.entries(r.outcomes).filter(([k]) => / (TypeError|RangeError)$/.test(k)).reduce((s, [, n]) => s + n, 0);
  const ok = Object.entries(r.outcomes).filter(([k]) => / (ok|ArrayBuffer|array|string|undefined|object)$/.test(k)).reduce((s, [, n]) => s + n, 0);
  return `${r.calls} calls in ${r.batches} children, ${(r.ms / 1000).toFixed(1)} s (${Math.round(r.calls / (r.ms / 1000))} calls/s): ` +
    `${ok} results, ${r.calls - ok - refused} errnos, ${refused} refused (TypeError/RangeError); ${r.isolation}`;
}

function failures(r: NativeFuzzReport): string {
  return r.failures.map((f) => `seed ${f.seed} call ${f.index ?? '?'}: ${f.problem}\n  ${f.call ?? ''}`).join('\n');
}

test('native fuzz: the regression seeds', async (t) => {
  t.diagnostic(`${seeds.length} seeds`);
  for (const s of seeds) {
    const r = await fuzzNative({ count: s.calls, seed: s.seed, batch: s.calls, extended: false });
    assert.equal(r.calls, s.calls, `seed ${s.seed} (${s.found}) ran every call`);
    assert.deepEqual(r.failures, [], `seed ${s.seed} (${s.found}):\n${failures(r)}`);
  }
});

test(`native fuzz: ${CALLS} calls over every entry point, no crash and nothing written outside the buffers`, async (t) => {
  const before = fdCount();
  const r = await fuzzNative({ count: CALLS, seed: SEED, batch: 10_000 });
  assert.equal(fdCount(), before, 'the children ran in their own processes: nothing left open here');
  t.diagnostic(summary(r));
  assert.deepEqual(r.failures, [], failures(r));
  assert.equal(r.calls, CALLS);
  // Every entry point was called, and each both succeeded and was refused somewhere.
  const fns = new Set(Object.keys(r.outcomes).map((k) => k.split(' ')[0]!.replace(/\(.*\)/, '')));
  assert.deepEqual([...fns].sort(), ['bind', 'bpf', 'bpfElem', 'bpfElemFast', 'bpfIo', 'close', 'closeFast', 'elemBuffer', 'epollCreate', 'epollCtl', 'epollWait', 'getrlimit', 'getsockopt',
    'ifIndexToName', 'ifNameToIndex', 'ioctl', 'mmap', 'mmapRing', 'munmap', 'perf_event_open', 'pidfdOpen', 'recv', 'send', 'setnsNet', 'setrlimit', 'setsockopt', 'socket', 'unwatch', 'watch', 'xskUmemReg']);
  for (const outcome of ['bpf(1) ok', 'bpfIo(1) ok', 'bpf(0) ok', 'bpf(15) ok', 'mmap ArrayBuffer', 'perf_event_open ok', 'perf_event_open RangeError', 'bpf(5) RangeError',
    'bpfElem(1) ok', 'bpfElem(1) RangeError', 'bpfElemFast(1) ok', 'bpfElemFast(2) ok', 'bpfElemFast(1) -2147483648', 'closeFast ok', 'elemBuffer object', 'epollCreate ok', 'epollCtl ok', 'epollWait ok', 'watch object', 'unwatch ok',
    'mmapRing ArrayBuffer', 'mmapRing RangeError', 'xskUmemReg ok', 'xskUmemReg TypeError']) {
    assert.ok((r.outcomes[outcome] ?? 0) > 0, `some call ended in ${outcome}`);
  }
  // The element path and close were also called from optimised code, as V8 fast calls.
  assert.ok(r.fastCalls > 0, 'some bpfElemFast calls took the fast path');
});

test('native fuzz: its detectors catch an overflow, a crash and a plain Error (a deliberately broken addon)', async () => {
  const broken = fileURLToPath(new URL('./native-fuzz-broken-addon.cjs', import.meta.url));
  const run = async (mode: string) => {
    process.env.TSBPF_BROKEN = mode;
    try {
      return await fuzzNative({ count: 3000, seed: 11, batch: 3000, addon: broken, extended: false });
    } finally {
      delete process.env.TSBPF_BROKEN;
    }
  };
  const overflow = await run('overflow');
  assert.ok(overflow.failures.some((f) => f.problem.includes('guard bytes') && f.call?.startsWith('bpf(1,')), failures(overflow));
  const crash = await run('crash');
  assert.equal(crash.failures.length, 1, failures(crash));
  assert.match(crash.failures[0]!.problem, /killed by SIGSEGV/);
  assert.match(crash.failures[0]!.call ?? '', /^close\(/, 'the traced rerun names the call');
  assert.equal(crash.failures[0]!.seed, 11);
  const throws = await run('throws');
  assert.ok(throws.failures.some((f) => f.problem === 'threw Error: plain' && f.call?.startsWith('getrlimit(')), failures(throws));
});
