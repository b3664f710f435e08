// uprobes (PMU and tracefs), uretprobes, uprobe_multi, kprobes and perf_event sampling,
// against the real kernel, on a small C program built here. Where a kernel lacks a
// mechanism (kprobes, kprobe_multi, uprobe_multi links, a hardware PMU) the tests assert
// the typed NotSupported instead, and say which branch ran.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArrayMap, Ebpf, HardwareEvent, isLinkTypeSupported, KProbe, KProbeMulti, PerfEvent, PerfEventLinks, ProgramError, SoftwareEvent, UProbe, UProbeMulti, u64 } from '../src/index.js';
import * as sys from '../src/sys/index.js';
import { clearFeatureCache, probeMechanisms, replaceKernel } from '../src/testing.js';
import { FdLink, Link, LinkType } from '../src/links/link.js';
import { ElfFile } from '../src/obj/elf.js';
import { findFunction, functionSymbols } from '../src/obj/elf-symbols.js';
import { parseLdSoCache, resolveUprobeFile } from '../src/programs/uprobe-target.js';
import { bpffsDir, fdCount, thrown } from './helpers.js';
import { branch, linkInfoHas } from './kernel-features.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const OBJ = resolve(root, 'bpf/attach_probe.o');

// counters slots (bpf/attach_probe.c)
const CALLS = 0, ARG_SUM = 1, COOKIE = 2, TGID = 3, RET_SUM = 4, RET_CALLS = 5, LIB_CALLS = 6;
const MULTI_CALLS = 7, MULTI_COOKIES = 8, SAMPLES = 9, PERIOD = 10, KPROBE = 11;
const BPF_PERF_EVENT_UPROBE = 1, BPF_PERF_EVENT_URETPROBE = 2, BPF_PERF_EVENT_EVENT = 6;
/** The perf event type a link's info reports: the kernel fills it in from 6.6 (bpf_link_info.perf_event), 0 before. */
const perfDetails = (type: number) => (linkInfoHas('perf_event') ? type : 0);

const TARGET_C = String.raw`
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
/* noipa: neither inlined nor specialised, so every call enters the symbol with x in rdi. */
__attribute__((noipa)) int tsbpf_target(int x) { return 2 * x + 1; }
__attribute__((noipa)) int tsbpf_other(int x) { return x - 1; }
int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 10;
  char go;
  write(1, "ready\n", 6);             /* libc is mapped: the test may attach now */
  if (read(0, &go, 1) != 1) return 1;  /* and starts the calls by writing a byte */
  long sum = 0;
  for (int i = 1; i <= n; i++) sum += tsbpf_target(i);
  for (int i = 0; i < 3; i++) sum += tsbpf_other(i) + getpid() * 0;
  printf("%ld\n", sum);
  return 0;
}
`;

let dir: string;
let pie: string;
let nopie: string;
const fdsAtStart = fdCount();

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsbpf-probe-'));
  writeFileSync(join(dir, 'target.c'), TARGET_C);
  pie = join(dir, 'target');
  nopie = join(dir, 'target-nopie');
  execFileSync('gcc', ['-O2', '-o', pie, join(dir, 'target.c')]);
  execFileSync('gcc', ['-O2', '-no-pie', '-o', nopie, join(dir, 'target.c')]);
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Starts the target with `n` calls; it waits (libc mapped) until go() lets it run. */
async function start(binary: string, n: number): Promise<{ child: ChildProcess; pid: number; go: () => Promise<string> }> {
  const child = spawn(binary, [String(n)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8');
  await new Promise<void>((res, rej) => {
    child.stdout!.on('data', (d: string) => {
      out += d;
      if (out.includes('ready\n')) res();
    });
    child.on('error', rej);
  });
  // 'close', not 'exit': the output may still be in the pipe when the process has exited.
  const exited = new Promise<string>((res) => child.on('close', () => res(out.slice(out.indexOf('ready\n') + 6).trim())));
  return {
    child,
    pid: child.pid!,
    go: () => {
      child.stdin!.end('g');
      return exited;
    },
  };
}

/** Runs the target to the end with `n` calls; its output (the sum of return values and more). */
async function run(binary: string, n: number): Promise<string> {
  return (await start(binary, n)).go();
}

function load(): { ebpf: Ebpf; counters: ArrayMap<bigint> } {
  const ebpf = Ebpf.load(OBJ);
  return { ebpf, counters: ArrayMap.tryFrom(ebpf.map('counters'), u64) };
}

/** tsbpf_target(1..n) returns 2i + 1. */
const retSum = (n: number) => BigInt(n * (n + 1) + n);
const argSum = (n: number) => BigInt((n * (n + 1)) / 2);

function ensureTracefs(): void {
  if (!existsSync('/sys/kernel/tracing/uprobe_events')) execFileSync('mount', ['-t', 'tracefs', 'tracefs', '/sys/kernel/tracing']);
}

// ---- symbol resolution (no kernel) ------------------------------------------------

/** readelf's defined functions of `table` with file offsets computed from its PT_LOAD rows. */
function readelfOffsets(path: string, table: '.symtab' | '.dynsym'): Map<string, Set<number>> {
  const loads = execFileSync('readelf', ['-lW', path], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => /^\s*LOAD\s/.test(l))
    .map((l) => l.trim().split(/\s+/))
    .map((f) => ({ offset: parseInt(f[1]!, 16), vaddr: parseInt(f[2]!, 16), filesz: parseInt(f[4]!, 16) }));
  const out = new Map<string, Set<number>>();
  let current = '';
  for (const line of execFileSync('readelf', ['-W', '--syms', path], { encoding: 'utf8' }).split('\n')) {
    const header = /^Symbol table '([^']+)'/.exec(line);
    if (header) current = header[1]!;
    // "  1744: 0000000000098930   791 FUNC    GLOBAL DEFAULT   16 malloc@@GLIBC_2.2.5"
    const f = line.trim().split(/\s+/);
    if (current !== table || f.length < 8 || !/^(FUNC|IFUNC)$/.test(f[3]!) || f[6] === 'UND') continue;
    const vaddr = parseInt(f[1]!, 16);
    const seg = loads.find((s) => vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz);
    if (!seg) continue;
    const set = out.get(f[7]!) ?? new Set();
    set.add(vaddr - seg.vaddr + seg.offset);
    out.set(f[7]!, set);
  }
  return out;
}

function ourOffsets(path: string, table: '.symtab' | '.dynsym'): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  for (const s of functionSymbols(ElfFile.parse(readFileSync(path), { native: true }))) {
    if (s.table !== table) continue;
    const set = out.get(s.versionedName) ?? new Set();
    set.add(s.offset);
    out.set(s.versionedName, set);
  }
  return out;
}

test('symbol → file offset: every function of the test binaries and of libc as readelf gives it', () => {
  for (const bin of [pie, nopie]) {
    const expected = readelfOffsets(bin, '.symtab');
    assert.deepEqual(ourOffsets(bin, '.symtab'), expected, bin);
    assert.ok(expected.has('tsbpf_target'));
  }
  // Non-PIE: the symbol's address is 0x40xxxx, its file offset is not.
  const elf = ElfFile.parse(readFileSync(nopie), { native: true });
  const [target] = findFunction(functionSymbols(elf), 'tsbpf_target');
  assert.ok(target!.address >= 0x400000 && target!.offset < 0x100000, `address 0x${target!.address.toString(16)} offset 0x${target!.offset.toString(16)}`);

  const libc = resolveUprobeFile('t', 'libc.so.6').path;
  const dyn = readelfOffsets(libc, '.dynsym');
  assert.deepEqual(ourOffsets(libc, '.dynsym'), dyn, 'libc .dynsym with versions');
  const syms = functionSymbols(ElfFile.parse(readFileSync(libc), { native: true }));
  // nm -D prints the same versioned names at the same addresses.
  const nm = execFileSync('nm', ['-D', '--with-symbol-versions', libc], { encoding: 'utf8' });
  for (const name of ['memcpy@@GLIBC_2.14', 'memcpy@GLIBC_2.2.5', 'getpid@@GLIBC_2.2.5']) {
    const ours = syms.find((s) => s.versionedName === name)!;
    assert.match(nm, new RegExp(`^0*${ours.address.toString(16)} [TWi] ${name}$`, 'm'), name);
  }
  const one = (name: string) => {
    const found = findFunction(syms, name);
    assert.equal(found.length, 1, name);
    return found[0]!.offset;
  };
  const only = (name: string) => [...dyn.get(name)!][0];
  assert.equal(one('malloc'), only('malloc@@GLIBC_2.2.5'));
  assert.equal(one('malloc@@GLIBC_2.2.5'), only('malloc@@GLIBC_2.2.5'));
  assert.equal(one('getpid'), only('getpid@@GLIBC_2.2.5'), 'a weak symbol');
  // memcpy: an old version (hidden) and the default one (an IFUNC) at different offsets.
  assert.equal(one('memcpy@GLIBC_2.2.5'), only('memcpy@GLIBC_2.2.5'));
  assert.equal(one('memcpy'), only('memcpy@@GLIBC_2.14'), 'unversioned: the default version');
  assert.deepEqual(findFunction(syms, 'memcpy@@GLIBC_2.2.5'), [], 'not the default version');
  assert.deepEqual(findFunction(syms, 'no_such_function_tsbpf'), []);
});

test('library names resolve through /etc/ld.so.cache as ldconfig -p lists it, and through a process\'s maps', async () => {
  const cache = parseLdSoCache(readFileSync('/etc/ld.so.cache'));
  const listed = new Map<string, string[]>();
  for (const line of execFileSync('ldconfig', ['-p'], { encoding: 'utf8' }).split('\n').slice(1)) {
    const m = /^\s*(\S+) \(.*\) => (\S+)$/.exec(line);
    if (m) listed.set(m[1]!, [...(listed.get(m[1]!) ?? []), m[2]!]);
  }
  assert.ok(listed.size > 10);
  assert.deepEqual(cache, listed);
  const x64 = listed.get('libc.so.6')!.find((p) => !p.includes('32'));
  assert.deepEqual(resolveUprobeFile('t', 'libc.so.6'), { path: x64, pid: -1 });
  const t = await start(pie, 0);
  try {
    const fromMaps = resolveUprobeFile('t', 'libc.so.6', t.pid);
    assert.equal(fromMaps.pid, t.pid);
    assert.match(readFileSync(`/proc/${t.pid}/maps`, 'utf8'), new RegExp(` ${fromMaps.path.replace(/[.]/g, '\\.')}\n`));
    assert.deepEqual(resolveUprobeFile('t', t.pid), { path: pie, pid: t.pid }, 'a pid: its executable, that process only');
  } finally {
    await t.go();
  }
});

// ---- uprobes ---------------------------------------------------------------------

test('uprobe (PMU): counts the calls, sums the argument, reads the cookie and the caller; perf_event link', async () => {
  const { ebpf, counters } = load();
  try {
    const prog = ebpf.program('on_target');
    assert.ok(prog instanceof UProbe);
    const fds = fdCount();
    using link = prog.attach({ target: pie, symbol: 'tsbpf_target', cookie: 0xdead_beef_0000_0001n, mechanism: 'pmu' });
    assert.ok(link instanceof FdLink);
    const info = link.info();
    assert.equal(info.type, LinkType.PerfEvent);
    assert.equal(info.perfEventType, perfDetails(BPF_PERF_EVENT_UPROBE));
    const t = await start(pie, 25);
    assert.equal(await t.go(), String(retSum(25)), 'the probe does not change what the program computes');
    assert.equal(counters.get(CALLS), 25n);
    assert.equal(counters.get(ARG_SUM), argSum(25));
    assert.equal(counters.get(COOKIE), 0xdead_beef_0000_0001n);
    assert.equal(counters.get(TGID), BigInt(t.pid));
    link.detach();
    link.detach(); // harmless
    assert.equal(link.attached, false);
    assert.equal(fdCount(), fds, 'the link and perf event fds are closed');
    await run(pie, 5);
    assert.equal(counters.get(CALLS), 25n, 'detached: no more counts');
  } finally {
    ebpf.close();
  }
});

test('uprobe on a non-PIE binary, at symbol + offset, and at a raw file offset', async () => {
  const { ebpf, counters } = load();
  try {
    const prog = ebpf.program('on_target') as UProbe;
    const sym = findFunction(functionSymbols(ElfFile.parse(readFileSync(nopie), { native: true })), 'tsbpf_target')[0]!;
    {
      using _ = prog.attach({ target: nopie, symbol: 'tsbpf_target' });
      await run(nopie, 7);
      assert.equal(counters.get(CALLS), 7n);
      assert.equal(counters.get(ARG_SUM), argSum(7));
    }
    {
      // The raw offset of the same function: the same probe.
      using _ = prog.attach({ target: nopie, offset: sym.offset });
      await run(nopie, 3);
      assert.equal(counters.get(CALLS), 10n);
    }
  } finally {
    ebpf.close();
  }
});

test('uprobe through tracefs uprobe_events: same counts, the probe definition removed on detach', async () => {
  ensureTracefs();
  const { ebpf, counters } = load();
  try {
    const fds = fdCount();
    const link = (ebpf.program('on_target') as UProbe).attach({ target: pie, symbol: 'tsbpf_target', cookie: 5n, mechanism: 'tracefs' });
    const name = /tracefs tsbpf\/(\S+)\)/.exec(link.description)![1]!;
    assert.match(readFileSync('/sys/kernel/tracing/uprobe_events', 'utf8'), new RegExp(`^p:tsbpf/${name} ${pie.replace(/[.]/g, '\\.')}:0x[0-9a-f]+$`, 'm'));
    assert.equal(link.info().perfEventType, perfDetails(BPF_PERF_EVENT_UPROBE));
    await run(pie, 12);
    assert.equal(counters.get(CALLS), 12n);
    assert.equal(counters.get(ARG_SUM), argSum(12));
    assert.equal(counters.get(COOKIE), 5n);
    link.close();
    assert.doesNotMatch(readFileSync('/sys/kernel/tracing/uprobe_events', 'utf8'), new RegExp(name));
    assert.equal(existsSync(`/sys/kernel/tracing/events/tsbpf/${name}`), false);
    assert.equal(fdCount(), fds);
  } finally {
    ebpf.close();
  }
});

test('uretprobe: the return values (the section says retprobe), PMU and tracefs', async () => {
  ensureTracefs();
  const { ebpf, counters } = load();
  try {
    const prog = ebpf.program('on_return') as UProbe;
    for (const mechanism of ['pmu', 'tracefs'] as const) {
      using link = prog.attach({ target: pie, symbol: 'tsbpf_target', mechanism });
      assert.equal(link.info().perfEventType, perfDetails(BPF_PERF_EVENT_URETPROBE));
      await run(pie, 9);
    }
    assert.equal(counters.get(RET_CALLS), 18n);
    assert.equal(counters.get(RET_SUM), 2n * retSum(9));
  } finally {
    ebpf.close();
  }
});

test('pid filtering: of two processes running the binary, only the one attached to is counted', async () => {
  const { ebpf, counters } = load();
  try {
    const prog = ebpf.program('on_target') as UProbe;
    const a = await start(pie, 10);
    const b = await start(pie, 20);
    {
      using _ = prog.attach({ target: a.pid, symbol: 'tsbpf_target' }); // a pid: its executable, that process
      await Promise.all([a.go(), b.go()]);
    }
    assert.equal(counters.get(CALLS), 10n);
    assert.equal(counters.get(TGID), BigInt(a.pid));
    const c = await start(pie, 4);
    const d = await start(pie, 6);
    {
      using _ = prog.attach({ target: pie, symbol: 'tsbpf_target', pid: d.pid, mechanism: 'tracefs' });
      await Promise.all([c.go(), d.go()]);
    }
    assert.equal(counters.get(CALLS), 16n);
    assert.equal(counters.get(TGID), BigInt(d.pid));
  } finally {
    ebpf.close();
  }
});

test('uprobe on a shared library: libc getpid by library name from the section, in the child only', async () => {
  const { ebpf, counters } = load();
  try {
    const prog = ebpf.program('on_getpid') as UProbe;
    assert.equal(prog.section, 'uprobe/libc.so.6:getpid');
    const t = await start(pie, 1);
    {
      using link = prog.attach({ pid: t.pid }); // target and symbol from the section
      assert.match(link.description, /libc\.so\.6:getpid pid \d+$/);
      await t.go();
    }
    assert.equal(counters.get(LIB_CALLS), 3n, 'the child calls getpid() three times');
  } finally {
    ebpf.close();
  }
});

test('a pinned uprobe link outlives its object; Link.fromPin takes it back and detaches it', async () => {
  const pins = bpffsDir('probe');
  const { ebpf, counters } = load();
  try {
    const link = (ebpf.program('on_target') as UProbe).attach({ target: pie, symbol: 'tsbpf_target' });
    link.pin(`${pins}/uprobe`);
    link.close(); // pinned: stays attached
    await run(pie, 4);
    assert.equal(counters.get(CALLS), 4n);
    const back = Link.fromPin(`${pins}/uprobe`);
    assert.equal(back.info().perfEventType, perfDetails(BPF_PERF_EVENT_UPROBE));
    back.detach();
    assert.equal(existsSync(`${pins}/uprobe`), false);
    await run(pie, 4);
    assert.equal(counters.get(CALLS), 4n);
  } finally {
    ebpf.close();
    rmSync(pins, { recursive: true, force: true });
  }
});

test('uprobe_multi: two functions through one link, each with its cookie; by glob too (where the kernel has uprobe_multi links)', async (t) => {
  const { ebpf, counters } = load();
  try {
    const prog = ebpf.program('on_multi');
    assert.ok(prog instanceof UProbeMulti);
    await branch(t, 'uprobe_multi links', isLinkTypeSupported(LinkType.UprobeMulti), () => uprobeMulti(prog, counters), () => {
      const err = thrown(() => prog.attach({ target: pie, symbols: ['tsbpf_target'] }));
      assert.equal(err.kind, 'NotSupported');
      assert.equal(err.feature, 'uprobe_multi');
    });
  } finally {
    ebpf.close();
  }
});

async function uprobeMulti(prog: UProbeMulti, counters: ArrayMap<bigint>): Promise<void> {
  {
    const t = await start(pie, 10);
    {
      using link = prog.attach({ target: pie, symbols: ['tsbpf_target', 'tsbpf_other'], cookies: [1n, 100n], pid: t.pid });
      const info = link.info();
      assert.equal(info.type, LinkType.UprobeMulti);
      assert.equal(info.count, 2);
      assert.equal(info.pid, t.pid);
      await t.go();
    }
    assert.equal(counters.get(MULTI_CALLS), 13n);
    assert.equal(counters.get(MULTI_COOKIES), 10n * 1n + 3n * 100n);
    {
      using link = prog.attach({ target: pie, pattern: 'tsbpf_*' });
      assert.equal(link.info().count, 2);
      await run(pie, 2);
    }
    assert.equal(counters.get(MULTI_CALLS), 18n);
  }
}

test('without perf_event links (as before 5.15): PERF_EVENT_IOC_SET_BPF, closing the event detaches; a cookie is NotSupported', async () => {
  const { ebpf, counters } = load();
  // The kernel as the feature probe sees it without BPF_LINK_CREATE for perf events.
  const real = sys.kernel;
  clearFeatureCache();
  const restore = replaceKernel({ bpf: (cmd, attr, mask, ...b) => (cmd === sys.Cmd.LinkCreate ? -sys.Errno.EINVAL : real.bpf(cmd, attr, mask, ...b)) });
  try {
    assert.equal(isLinkTypeSupported(LinkType.PerfEvent), false);
    const prog = ebpf.program('on_target') as UProbe;
    const fds = fdCount();
    const err = thrown(() => prog.attach({ target: pie, symbol: 'tsbpf_target', cookie: 1n }));
    assert.equal(err.kind, 'NotSupported');
    assert.equal(err.feature, 'BPF_LINK_TYPE_PERF_EVENT');
    assert.equal(fdCount(), fds, 'the perf event is closed');
    const link = prog.attach({ target: pie, symbol: 'tsbpf_target' });
    assert.equal(link instanceof FdLink, false);
    assert.equal(thrown(() => link.pin('/sys/fs/bpf/x')).kind, 'NotSupported');
    await run(pie, 6);
    assert.equal(counters.get(CALLS), 6n);
    link.detach();
    link.detach();
    assert.equal(fdCount(), fds);
    await run(pie, 6);
    assert.equal(counters.get(CALLS), 6n);
  } finally {
    restore();
    clearFeatureCache();
    ebpf.close();
  }
});

test('uprobe errors: unknown symbol and file named, missing file, library or process; not loaded', () => {
  const { ebpf } = load();
  try {
    const prog = ebpf.program('on_target') as UProbe;
    const fds = fdCount();
    let err = thrown(() => prog.attach({ target: pie, symbol: 'no_such_fn' }));
    assert.ok(err instanceof ProgramError && err.kind === 'UnknownSymbol', String(err));
    assert.match(err.message, /no_such_fn/);
    assert.ok(err.message.includes(pie));
    err = thrown(() => prog.attach({ target: join(dir, 'missing'), symbol: 'f' }));
    assert.equal(err.kind, 'UnknownTarget');
    err = thrown(() => prog.attach({ target: 'libtsbpf-none.so.9', symbol: 'f' }));
    assert.equal(err.kind, 'UnknownTarget');
    err = thrown(() => prog.attach({ target: 0x7ffffff0, symbol: 'f' }));
    assert.equal(err.kind, 'UnknownTarget');
    err = thrown(() => prog.attach({ target: join(dir, 'target.c'), symbol: 'f' }));
    assert.equal(err.kind, 'UnknownTarget', 'not ELF');
    err = thrown(() => (ebpf.program('on_multi') as UProbeMulti).attach({ target: pie, pattern: 'zz*' }));
    assert.equal(err.kind, isLinkTypeSupported(LinkType.UprobeMulti) ? 'UnknownSymbol' : 'NotSupported');
    // An offset past the end of the file: the kernel refuses (the errno is named).
    err = thrown(() => prog.attach({ target: pie, offset: 1 << 30 }));
    assert.equal(err.kind, 'AttachError');
    assert.equal(err.call, 'perf_event_open');
    assert.equal(err.code, 'EINVAL');
    assert.throws(() => prog.attach({ target: pie, offset: -1 }), (e: unknown) => e instanceof ProgramError && e.kind === 'InvalidArgument');
    assert.equal(fdCount(), fds);
    prog.unload();
    assert.equal(thrown(() => prog.attach({ target: pie, symbol: 'tsbpf_target' })).kind, 'NotLoaded');
  } finally {
    ebpf.close();
  }
});

// ---- kprobes ----------------------------------------------------------------------

/** nanosleep(2) in a child: do_nanosleep runs in the kernel. */
function sleepALittle(): void {
  execFileSync('sleep', ['0.01']);
}

test('kprobes: where the kernel has them (kprobe PMU or tracefs kprobe_events), kprobe and kretprobe on do_nanosleep see a sleep; else typed NotSupported (feature kprobes)', async (t) => {
  ensureTracefs();
  const mechanisms = probeMechanisms('kprobe');
  const { ebpf, counters } = load();
  try {
    const fds = fdCount();
    const kp = ebpf.program('on_kprobe');
    assert.ok(kp instanceof KProbe);
    const ret = ebpf.program('on_kretprobe') as KProbe;
    await branch(t, `kprobes (${mechanisms.join(', ') || 'neither PMU nor tracefs'})`, mechanisms.length > 0, () => {
      for (const mechanism of mechanisms) {
        for (const prog of [kp, ret]) {
          const before = counters.get(KPROBE);
          const link = prog.attach('do_nanosleep', { mechanism });
          try {
            sleepALittle();
          } finally {
            link.detach();
          }
          const seen = counters.get(KPROBE);
          assert.ok(seen > before, `${prog.name} by ${mechanism}: ran`);
          sleepALittle();
          assert.equal(counters.get(KPROBE), seen, `${prog.name} by ${mechanism}: detached`);
        }
      }
    }, () => {
      for (const attach of [() => kp.attach(), () => kp.attach('do_nanosleep', { mechanism: 'pmu' }), () => kp.attach('do_nanosleep', { mechanism: 'tracefs' }), () => ret.attach()]) {
        const err = thrown(attach);
        assert.ok(err instanceof ProgramError, String(err));
        assert.equal(err.kind, 'NotSupported');
        assert.equal(err.feature, 'kprobes');
      }
    });
    const multi = ebpf.program('on_kprobe_multi');
    assert.ok(multi instanceof KProbeMulti);
    await branch(t, 'kprobe_multi links', isLinkTypeSupported(LinkType.KprobeMulti), () => {
      const before = counters.get(KPROBE);
      const link = multi.attach();
      try {
        assert.equal(link.info().type, LinkType.KprobeMulti);
        sleepALittle();
      } finally {
        link.detach();
      }
      assert.ok(counters.get(KPROBE) > before, 'ran');
    }, () => {
      const err = thrown(() => multi.attach());
      assert.equal(err.kind, 'NotSupported');
      assert.equal(err.feature, mechanisms.length > 0 ? 'kprobe_multi' : 'kprobes');
    });
    assert.equal(fdCount(), fds);
  } finally {
    ebpf.close();
  }
});

// ---- perf events -------------------------------------------------------------------

function spin(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end);
}

/** Time this thread has run on a CPU, in ns (/proc/thread-self/schedstat, first field). */
function threadCpuNs(): number {
  return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
}

test('perf_event: software cpu-clock sampling of this thread every 1 ms: samples while it runs, never more than one per ms it ran', (t) => {
  const { ebpf, counters } = load();
  try {
    const prog = ebpf.program('on_sample');
    assert.ok(prog instanceof PerfEvent);
    const fds = fdCount();
    const cpuBefore = threadCpuNs();
    const link = prog.attach({ type: 'software', config: SoftwareEvent.CpuClock, samplePeriod: 1_000_000, scope: { pid: process.pid } });
    spin(200);
    link.detach();
    // cpu-clock of a task advances while the task runs: on a busy machine, less than wall time.
    const ms = (threadCpuNs() - cpuBefore) / 1e6;
    const samples = Number(counters.get(SAMPLES));
    // The period bounds the rate from above; how close a machine comes to it (timer
    // precision, an emulator losing ticks) is no fact to assert.
    t.diagnostic(`${samples} samples in ${ms.toFixed(1)} ms on the CPU`);
    assert.ok(samples >= 1 && samples <= ms * 1.2 + 3, `${samples} samples in ${ms.toFixed(1)} ms on the CPU`);
    assert.equal(counters.get(PERIOD), 1_000_000n);
    assert.equal(fdCount(), fds);
    spin(20);
    assert.equal(Number(counters.get(SAMPLES)), samples, 'detached');
  } finally {
    ebpf.close();
  }
});

test('perf_event: every online CPU at 1000 Hz, one Link owning a link per CPU', (t) => {
  const { ebpf, counters } = load();
  try {
    const prog = ebpf.program('on_sample') as PerfEvent;
    const fds = fdCount();
    const online = Number(execFileSync('nproc', { encoding: 'utf8' }));
    const link = prog.attach({ type: 'software', config: SoftwareEvent.CpuClock, sampleFrequency: 1000, scope: 'allCpus' });
    // One link per online CPU, in a PerfEventLinks where there are several.
    assert.equal(link instanceof PerfEventLinks, online > 1);
    const links = link instanceof PerfEventLinks ? link.links : [link as FdLink];
    assert.equal(links.length, online);
    for (const l of links) assert.equal(l.info().perfEventType, perfDetails(BPF_PERF_EVENT_EVENT));
    spin(200);
    link.close();
    const samples = Number(counters.get(SAMPLES));
    // Frequency mode converges on 1000/s from a short first period: how many samples a
    // 200 ms spin gives depends on the machine (an emulator gives hundreds at once).
    t.diagnostic(`${samples} samples on ${links.length} CPU(s)`);
    assert.ok(samples > 0, 'the program ran for samples');
    assert.equal(fdCount(), fds);
  } finally {
    ebpf.close();
  }
});

test('perf_event: hardware events where the machine has them (a raw perf_event_open tells), else typed NotSupported (feature hardware perf events)', async (t) => {
  const { ebpf } = load();
  try {
    const prog = ebpf.program('on_sample') as PerfEvent;
    const fds = fdCount();
    for (const [type, config] of [['hardware', HardwareEvent.CpuCycles], ['hwCache', 0], ['raw', 0x3c]] as const) {
      const perfType = { hardware: sys.PerfType.Hardware, hwCache: sys.PerfType.HwCache, raw: sys.PerfType.Raw }[type];
      let present = true;
      try {
        sys.kernel.close(sys.perfEventOpen({ type: perfType, config, sample: 100_000, disabled: true }, { pid: process.pid, cpu: -1 }));
      } catch {
        present = false;
      }
      await branch(t, `perf event ${type}:${config}`, present, () => {
        const link = prog.attach({ type, config, samplePeriod: 100_000, scope: { pid: process.pid } });
        link.detach();
      }, () => {
        const err = thrown(() => prog.attach({ type, config, samplePeriod: 100_000, scope: { pid: process.pid } }));
        assert.ok(err instanceof ProgramError, String(err));
        assert.equal(err.kind, 'NotSupported');
        assert.ok(err.feature === 'hardware perf events' || err.feature === `perf event ${type}:${config}`, err.feature);
        assert.equal(err.call, 'perf_event_open');
      });
    }
    // A software event that does not exist is NotSupported on any kernel, naming the event.
    const err = thrown(() => prog.attach({ type: 'software', config: 999, samplePeriod: 1, scope: 'allCpus' }));
    assert.equal(err.kind, 'NotSupported');
    assert.equal(err.feature, 'perf event software:999');
    assert.throws(() => prog.attach({ type: 'software', config: 0, scope: 'allCpus' } as never), (e: unknown) => e instanceof ProgramError && e.kind === 'InvalidArgument');
    assert.equal(fdCount(), fds);
  } finally {
    ebpf.close();
  }
});

test('no descriptor leaked by this file', () => {
  assert.equal(fdCount(), fdsAtStart);
});
