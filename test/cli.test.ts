// The tsbpf command line, run as a user runs it: the built bin entry spawned in a child
// process, its output and exit code checked against what the library sees in this one
// (maps created here, a program loaded and attached here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  AttachType,
  Btf,
  CgroupSkb,
  FdLink,
  isHelperSupported,
  isLinkTypeSupported,
  isMapTypeSupported,
  isProgramTypeSupported,
  LinkType,
  loadedLinks,
  MapData,
  MapType,
  possibleCpus,
  programFromPin,
  ProgramType,
  queryCgroup,
  RawTracePoint,
} from '../src/index.js';
import { toJson } from '../src/cli/output.js';
import { bpffsDir, cgroup2Root, fdCount, loadOnly, repoRoot } from './helpers.js';

const CLI = `${repoRoot}/dist/src/cli/main.js`;
const ESC = '\u001b[';
const fdsAtStart = fdCount();

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with `args` (stdout and stderr piped: not a terminal). */
function tsbpf(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000, maxBuffer: 1 << 30 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** As tsbpf(), without blocking: for runs that may go in parallel. */
function tsbpfAsync(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) => {
      const code = (err as { code?: unknown } | null)?.code;
      resolve({ status: err ? (typeof code === 'number' ? code : null) : 0, stdout, stderr });
    });
  });
}

/** Runs the CLI expecting exit 0 and JSON on stdout. */
function tsbpfJson(args: string[]): any {
  const r = tsbpf([...args, '--json']);
  assert.equal(r.status, 0, `tsbpf ${args.join(' ')} --json: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const le32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
const le64 = (n: bigint) => new Uint8Array(new BigUint64Array([n]).buffer);
const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');

test('package.json names the built entry as the tsbpf bin, with a shebang', () => {
  const pkg = JSON.parse(readFileSync(`${repoRoot}/package.json`, 'utf8'));
  // The bundle of dist/src/cli/main.js (tools/bundle.ts): the same command, fewer files to load.
  assert.equal(pkg.bin.tsbpf, './dist/bundle/cli.js');
  assert.ok(pkg.files.some((f: string) => pkg.bin.tsbpf.replace('./', '').startsWith(f)), 'the bin ships in the package');
  assert.match(readFileSync(CLI, 'utf8'), /^#!\/usr\/bin\/env node\n/);
  assert.match(readFileSync(join(repoRoot, pkg.bin.tsbpf), 'utf8'), /^#!\/usr\/bin\/env node\n/);
  for (const dep of ['commander', 'cli-table3', 'picocolors']) assert.ok(pkg.dependencies[dep], `${dep} is a dependency`);
});

test('JSON keeps u64 exact: bigint as a plain number with every digit', () => {
  const text = toJson({ max: 2n ** 64n - 1n, neg: -5n, list: [1n], s: 'bigint:1', n: 3 });
  assert.equal(text, '{\n  "max": 18446744073709551615,\n  "neg": -5,\n  "list": [\n    1\n  ],\n  "s": "bigint:1",\n  "n": 3\n}');
});

test('--help exits 0 on every command; usage errors exit 2', async () => {
  const top = tsbpf(['--help']);
  assert.equal(top.status, 0);
  for (const cmd of ['prog', 'map', 'link', 'feature', 'btf', 'gen', 'load', 'export']) assert.match(top.stdout, new RegExp(`^  ${cmd}\\b`, 'm'));
  const commands = [
    ['prog', 'list'], ['prog', 'show'], ['map', 'list'], ['map', 'show'], ['map', 'dump'], ['map', 'lookup'], ['map', 'update'], ['map', 'delete'],
    ['link', 'list'], ['link', 'show'], ['link', 'detach'], ['prog', 'pin'], ['map', 'pin'], ['link', 'pin'], ['prog', 'detach'], ['feature'], ['btf', 'dump'], ['prog'], ['map'], ['link'], ['btf'],
  ];
  // Side-effect-free runs, in parallel (one node start each).
  const helps = await Promise.all(commands.map((c) => tsbpfAsync([...c, '--help'])));
  for (const [i, c] of commands.entries()) {
    const r = helps[i]!;
    assert.equal(r.status, 0, `${c.join(' ')} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^Usage: tsbpf ${c.join(' ')}`), c.join(' '));
    if (['list', 'show', 'dump', 'lookup', 'feature'].includes(c.at(-1)!) || c[0] === 'btf' && c[1]) assert.match(r.stdout, /--json/, `${c.join(' ')} has --json`);
  }
  const version = tsbpf(['--version']);
  assert.equal(version.status, 0);
  assert.equal(version.stdout.trim(), JSON.parse(readFileSync(`${repoRoot}/package.json`, 'utf8')).version);

  const usage: [string[], RegExp][] = [
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['map', 'lst'], /unknown command 'lst'\n\(Did you mean one of list, ls\?\)/],
    [['map', 'show'], /missing required argument 'id'/],
    [['map', 'show', 'abc'], /expected an id/],
    [['map', 'show', '0'], /expected an id/],
    [['prog', 'list', '--bogus'], /unknown option '--bogus'/],
    [['btf', 'dump', 'x', '--format', 'yaml'], /Allowed choices are raw, c/],
    [[], /Usage: tsbpf/],
  ];
  const usageRuns = await Promise.all(usage.map(([args]) => tsbpfAsync(args)));
  for (const [i, [args, message]] of usage.entries()) {
    const r = usageRuns[i]!;
    assert.equal(r.status, 2, `tsbpf ${args.join(' ')}: exit ${r.status}, ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stdout, '');
  }
});

test('map show / list / dump describe a map created in this process', (t) => {
  using map = MapData.create({ type: MapType.Hash, keySize: 4, valueSize: 8, maxEntries: 16, name: 'cli_hash', flags: 1 });
  const { id } = map.info();
  map.update(le32(7), le64(0x1122334455667788n));
  map.update(le32(9), le64(1n));

  const shown = tsbpfJson(['map', 'show', String(id)]);
  assert.deepEqual(
    { id: shown.id, name: shown.name, type: shown.type, typeName: shown.typeName, keySize: shown.keySize, valueSize: shown.valueSize, maxEntries: shown.maxEntries, flags: shown.flags },
    { id, name: 'cli_hash', type: MapType.Hash, typeName: 'BPF_MAP_TYPE_HASH', keySize: 4, valueSize: 8, maxEntries: 16, flags: 1 },
  );
  assert.equal(shown.flagNames, 'BPF_F_NO_PREALLOC');

  const text = tsbpf(['map', 'show', String(id)]);
  assert.equal(text.status, 0);
  assert.match(text.stdout, /^name: +cli_hash$/m);
  assert.match(text.stdout, /^type: +BPF_MAP_TYPE_HASH \(1\)$/m);
  assert.match(text.stdout, /^max entries: +16$/m);

  const listed = tsbpfJson(['map', 'list']).find((m: { id: number }) => m.id === id);
  assert.deepEqual(listed, shown);
  const table = tsbpf(['map', 'list']);
  const [head, ...rows] = table.stdout.trimEnd().split('\n');
  assert.match(head!, /^ID +TYPE +NAME +KEY +VALUE +MAX +FLAGS +BTF$/);
  const row = rows.find((r) => r.startsWith(`${id} `));
  assert.ok(row, 'the map has a row');
  assert.deepEqual(row.split(/ +/), [String(id), 'BPF_MAP_TYPE_HASH', 'cli_hash', '4', '8', '16', '0x1', '-']);
  assert.equal(row.indexOf('cli_hash'), head!.indexOf('NAME'), 'columns are aligned');

  const dump = tsbpfJson(['map', 'dump', String(id)]);
  const expected = [...map.keys()].map((k) => ({ key: hex(k), value: hex(map.lookup(k)!) }));
  assert.deepEqual(dump, expected);
  assert.deepEqual(new Set(dump.map((e: { key: string }) => e.key)), new Set(['07 00 00 00', '09 00 00 00']));
  assert.ok(dump.some((e: { value: string }) => e.value === '88 77 66 55 44 33 22 11'));
  const dumpText = tsbpf(['map', 'dump', String(id)]);
  assert.match(dumpText.stdout, /^key: 07 00 00 00  value: 88 77 66 55 44 33 22 11$/m);
  assert.match(dumpText.stdout, /^2 elements$/m);
  t.diagnostic(dumpText.stdout.trim());
});

test('map lookup / update / delete change the map this process sees', () => {
  using map = MapData.create({ type: MapType.Hash, keySize: 4, valueSize: 8, maxEntries: 4, name: 'cli_rw' });
  const id = String(map.info().id);
  assert.equal(tsbpf(['map', 'update', id, '05 00 00 00', '0x2a00000000000000']).status, 0);
  assert.deepEqual(map.lookup(le32(5)), le64(42n));
  assert.deepEqual(tsbpfJson(['map', 'lookup', id, '05000000']), { key: '05 00 00 00', value: '2a 00 00 00 00 00 00 00' });

  const miss = tsbpf(['map', 'lookup', id, '06 00 00 00']);
  assert.equal(miss.status, 1);
  assert.match(miss.stderr, /has no key 06 00 00 00/);
  const short = tsbpf(['map', 'lookup', id, '06 00']);
  assert.equal(short.status, 2);
  assert.match(short.stderr, /the key must be 4 bytes/);
  const notHex = tsbpf(['map', 'update', id, '05 00 00 00', 'zz']);
  assert.equal(notHex.status, 2);
  assert.match(notHex.stderr, /the value must be hex bytes/);

  assert.equal(tsbpf(['map', 'delete', id, '05 00 00 00']).status, 0);
  assert.equal(map.lookup(le32(5)), undefined);
  assert.equal(tsbpf(['map', 'delete', id, '05 00 00 00']).status, 1, 'deleting an absent key fails');
});

test('map dump splits per-CPU values by CPU', () => {
  using map = MapData.create({ type: MapType.PercpuArray, keySize: 4, valueSize: 4, maxEntries: 2, name: 'cli_percpu' });
  const cpus = possibleCpus();
  const value = new Uint8Array(map.valueBytes);
  for (let cpu = 0; cpu < cpus; cpu++) value[cpu * 8] = cpu + 1;
  map.update(le32(1), value);
  const dump = tsbpfJson(['map', 'dump', String(map.info().id)]);
  assert.equal(dump.length, 2);
  assert.equal(dump[1].key, '01 00 00 00');
  assert.deepEqual(dump[1].values, Array.from({ length: cpus }, (_, cpu) => ({ cpu, value: hex(Uint8Array.of(cpu + 1, 0, 0, 0)) })));
  assert.deepEqual(dump[0].values.map((v: { value: string }) => v.value), Array(cpus).fill('00 00 00 00'));
});

test('map dump of maps without a key walk or readable values: exit 1 saying so', () => {
  using queue = MapData.create({ type: MapType.Queue, keySize: 0, valueSize: 4, maxEntries: 4 });
  const q = tsbpf(['map', 'dump', String(queue.info().id)]);
  assert.equal(q.status, 1);
  assert.match(q.stderr, new RegExp(`BPF_MAP_TYPE_QUEUE map ${queue.info().id} has no keys`));
  using perf = MapData.create({ type: MapType.PerfEventArray, keySize: 4, valueSize: 4, maxEntries: 2 });
  const p = tsbpf(['map', 'dump', String(perf.info().id)]);
  assert.equal(p.status, 1);
  assert.match(p.stderr, new RegExp(`BPF_MAP_TYPE_PERF_EVENT_ARRAY map ${perf.info().id} cannot be dumped: the kernel does not let user space walk or read its elements \\(E(NOTSUPP|OPNOTSUPP)\\)`));
});

test('an id that does not exist: exit 1 with what to do', () => {
  using map = MapData.create({ type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 1 });
  // Ids are handed out in increasing order: this one is not taken yet.
  const unused = String(map.info().id + 1_000_000);
  for (const noun of ['map', 'prog', 'link']) {
    const r = tsbpf([noun, 'show', unused]);
    assert.equal(r.status, 1, `${noun} show: ${r.stderr}`);
    assert.match(r.stderr, /ENOENT/);
    assert.match(r.stderr, /hint: no such object: list what exists with `tsbpf prog list`/);
  }
});

test('prog list / show and link list / show / detach see a program and link of this process', () => {
  using ebpf = loadOnly(`${repoRoot}/bpf/attach_introspect.o`, 'sock_count', 'raw_args');
  const sock = ebpf.program('sock_count').info();
  const raw = ebpf.program('raw_args');
  assert.ok(raw instanceof RawTracePoint);
  using link = raw.attach();
  const linkInfo = link.info();

  const progs = tsbpfJson(['prog', 'list']);
  const listed = progs.find((p: { id: number }) => p.id === sock.id);
  assert.ok(listed, 'the loaded program is listed');
  assert.deepEqual(
    { name: listed.name, type: listed.type, typeName: listed.typeName, tag: listed.tag, mapIds: listed.mapIds, xlatedLength: listed.xlatedLength, loadTime: listed.loadTime },
    { name: 'sock_count', type: ProgramType.SocketFilter, typeName: sock.typeName, tag: sock.tag, mapIds: sock.mapIds, xlatedLength: sock.xlatedLength, loadTime: Number(sock.loadTime) },
  );
  assert.ok(Math.abs(Date.parse(listed.loadedAt) - Date.now()) < 60_000, `loaded just now: ${listed.loadedAt}`);
  assert.deepEqual(tsbpfJson(['prog', 'show', String(sock.id)]).mapIds, sock.mapIds);
  assert.match(tsbpf(['prog', 'show', String(sock.id), '--json']).stdout, new RegExp(`"loadTime": ${sock.loadTime},`), 'u64 written with every digit');
  const table = tsbpf(['prog', 'list']).stdout;
  assert.match(table, new RegExp(`^${sock.id} +${sock.typeName} +sock_count +${sock.tag} `, 'm'));
  const shown = tsbpf(['prog', 'show', String(sock.id)]).stdout;
  assert.match(shown, new RegExp(`^map ids: +${sock.mapIds.join(', ')}$`, 'm'));
  assert.match(shown, new RegExp(`^tag: +${sock.tag}$`, 'm'));

  const links = tsbpfJson(['link', 'list']);
  const l = links.find((x: { id: number }) => x.id === linkInfo.id);
  assert.ok(l, 'the link is listed');
  assert.deepEqual(l, JSON.parse(JSON.stringify(linkInfo)));
  assert.equal(l.programId, raw.info().id);
  assert.deepEqual(tsbpfJson(['link', 'show', String(linkInfo.id)]), l);
  assert.match(tsbpf(['link', 'list']).stdout, new RegExp(`^${linkInfo.id} +${linkInfo.typeName} +${l.programId} `, 'm'));

  // Raw tracepoint links have no BPF_LINK_DETACH: they end with their last fd, here this process's.
  const refused = tsbpf(['link', 'detach', String(linkInfo.id)]);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, new RegExp(`RawTracepoint link ${linkInfo.id} cannot be detached by id \\(E(OPNOTSUPP|NOTSUP)\\): it ends when the process holding it closes it`));
  assert.ok([...loadedLinks()].some((x) => x.id === linkInfo.id), 'still attached');
});

test('link detach ends a cgroup link another process holds', (t) => {
  using ebpf = loadOnly(`${repoRoot}/bpf/attach_introspect.o`, 'cg_ingress');
  const dir = join(cgroup2Root(), `tsbpf-test-cli-${process.pid}`);
  mkdirSync(dir);
  t.after(() => rmdirSync(dir));
  const prog = ebpf.program('cg_ingress') as CgroupSkb;
  using link = prog.attach(dir);
  const { id } = link.info();
  assert.deepEqual(queryCgroup(dir, AttachType.CgroupInetIngress).progIds, [prog.info().id]);
  const r = tsbpf(['link', 'detach', String(id)]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '');
  assert.deepEqual(queryCgroup(dir, AttachType.CgroupInetIngress).progIds, [], 'detached from the cgroup');
});

test('prog detach takes a program off a cgroup it was attached to without a link', (t) => {
  using ebpf = loadOnly(`${repoRoot}/bpf/attach_introspect.o`, 'cg_ingress');
  const cg = join(cgroup2Root(), `tsbpf-test-cli-detach-${process.pid}`);
  mkdirSync(cg);
  t.after(() => rmdirSync(cg));
  const prog = ebpf.program('cg_ingress') as CgroupSkb;
  using attached = prog.attach(cg, { mode: 'override' });
  assert.ok(!(attached instanceof FdLink), 'PROG_ATTACH, not a link');
  const id = String(prog.info().id);
  assert.deepEqual(queryCgroup(cg, AttachType.CgroupInetIngress).progIds, [prog.info().id]);
  const wrongType = tsbpf(['prog', 'detach', id, 'cgroup_inet_egress', cg]);
  assert.equal(wrongType.status, 1);
  assert.match(wrongType.stderr, new RegExp(`program ${id} is not attached to ${cg} as BPF_CGROUP_INET_EGRESS`));
  assert.doesNotMatch(wrongType.stderr, /hint:/, 'the message says it all: no "no such object" hint');
  const bad = tsbpf(['prog', 'detach', id, 'no_such_hook', cg]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown attach type no_such_hook: one of cgroup_inet_ingress, cgroup_inet_egress/);
  const r = tsbpf(['prog', 'detach', id, 'BPF_CGROUP_INET_INGRESS', cg]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(queryCgroup(cg, AttachType.CgroupInetIngress).progIds, [], 'detached');
});

test('prog / map / link pin put the object on bpffs for this process to open', (t) => {
  const dir = bpffsDir('cli');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  using map = MapData.create({ type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 1, name: 'cli_pin' });
  using ebpf = loadOnly(`${repoRoot}/bpf/attach_introspect.o`, 'sock_count', 'cg_ingress');
  const prog = ebpf.program('sock_count');
  const r1 = tsbpf(['map', 'pin', String(map.info().id), `${dir}/map`]);
  assert.equal(r1.status, 0, r1.stderr);
  const r2 = tsbpf(['prog', 'pin', String(prog.info().id), `${dir}/prog`]);
  assert.equal(r2.status, 0, r2.stderr);
  {
    using pinnedMap = MapData.fromPin(`${dir}/map`);
    assert.equal(pinnedMap.info().id, map.info().id);
    using pinnedProg = programFromPin(`${dir}/prog`);
    assert.equal(pinnedProg.info().id, prog.info().id);
  }

  const cg = join(cgroup2Root(), `tsbpf-test-cli-pin-${process.pid}`);
  mkdirSync(cg);
  t.after(() => rmdirSync(cg));
  const cgProg = ebpf.program('cg_ingress') as CgroupSkb;
  const held = cgProg.attach(cg);
  assert.ok(held instanceof FdLink, 'a BPF link (not a PROG_ATTACH)');
  const heldId = held.info().id;
  const r3 = tsbpf(['link', 'pin', String(heldId), `${dir}/link`]);
  assert.equal(r3.status, 0, r3.stderr);
  held.close();
  assert.deepEqual(queryCgroup(cg, AttachType.CgroupInetIngress).progIds, [cgProg.info().id], 'the pin keeps the link');
  const again = FdLink.fromPin(`${dir}/link`);
  assert.equal(again.info().id, heldId);
  again.detach();
  assert.deepEqual(queryCgroup(cg, AttachType.CgroupInetIngress).progIds, []);

  const off = tsbpf(['map', 'pin', String(map.info().id), '/tmp/not-bpffs-pin']);
  assert.equal(off.status, 1);
  assert.match(off.stderr, /is not on a bpf filesystem \(mount -t bpf bpf \/sys\/fs\/bpf\)/);
});

test('feature reports what the library\'s probes report', () => {
  const f = tsbpfJson(['feature', '--no-helpers']);
  const check = (rows: { value: number; supported: boolean | null }[], all: object, probe: (v: number) => boolean) => {
    assert.deepEqual(rows.map((r) => r.value), (Object.values(all) as number[]).filter((v) => v !== 0).sort((a, b) => a - b));
    for (const r of rows) assert.equal(r.supported, probe(r.value), `type ${r.value}`);
  };
  check(f.programTypes, ProgramType, (t) => isProgramTypeSupported(t));
  check(f.mapTypes, MapType, isMapTypeSupported);
  check(f.linkTypes, LinkType, isLinkTypeSupported);
  assert.equal(f.helpers, undefined, '--no-helpers');
  assert.ok(f.mapTypes.find((r: { name: string }) => r.name === 'BPF_MAP_TYPE_HASH').supported);

  const h = tsbpfJson(['feature', '--helpers', 'socket_filter']);
  const helpers: string[] = h.helpers.BPF_PROG_TYPE_SOCKET_FILTER;
  assert.ok(helpers.includes('bpf_map_lookup_elem'));
  // 1 = map_lookup_elem, 6 = trace_printk, 35 = get_current_task (tracing only).
  assert.equal(helpers.includes('bpf_get_current_task'), isHelperSupported(ProgramType.SocketFilter, 35));
  assert.equal(helpers.includes('bpf_trace_printk'), isHelperSupported(ProgramType.SocketFilter, 6));
  // By default: the helpers of every program type the kernel loads.
  const all = tsbpf(['feature', '--json']);
  assert.equal(all.status, 0, all.stderr);
  const every = JSON.parse(all.stdout);
  const loadable = f.programTypes.filter((r: { supported: boolean }) => r.supported).map((r: { name: string }) => r.name);
  assert.deepEqual(Object.keys(every.helpers), loadable);
  assert.deepEqual(every.helpers.BPF_PROG_TYPE_SOCKET_FILTER, helpers);
  const text = tsbpf(['feature']).stdout;
  assert.match(text, /^BPF_MAP_TYPE_HASH +yes$/m);
  assert.match(text, new RegExp(`^Helpers for BPF_PROG_TYPE_SOCKET_FILTER \\(${helpers.length}\\):\n  bpf_map_lookup_elem$`, 'm'));
  const bad = tsbpf(['feature', '--helpers', 'nosuch']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown program type nosuch: one of socket_filter, kprobe/);
});

// A few objects with every kind of type clang emits for them between them (unions, enums, func protos,
// forward declarations, datasecs); vmlinux has the rest (enum64, float, type and decl tags).
const allObjects = readdirSync(`${repoRoot}/bpf`).filter((f) => f.endsWith('.o'));
const objects = ['attach_introspect.o', 'core.o', 'globals.o', 'many.o', 'special_maps.o', 'struct_ops.o'].filter((f) => allObjects.includes(f));
const hasBpftool = spawnSync('bpftool', ['version']).status === 0;

test('btf dump of object files prints bpftool\'s raw format', (t) => {
  assert.ok(objects.length >= 5, objects.join());
  for (const name of objects) {
    const path = `${repoRoot}/bpf/${name}`;
    const r = tsbpf(['btf', 'dump', path]);
    assert.equal(r.status, 0, `${name}: ${r.stderr}`);
    if (hasBpftool) {
      assert.equal(r.stdout, execFileSync('bpftool', ['btf', 'dump', 'file', path], { encoding: 'utf8' }), name);
    } else {
      // Without bpftool: one "[id] KIND" line per type.
      assert.ok(/^\[1\] [A-Z_]+ /.test(r.stdout), name);
    }
  }
  if (hasBpftool && existsSync('/sys/kernel/btf/vmlinux')) {
    const ours = tsbpf(['btf', 'dump', '/sys/kernel/btf/vmlinux']);
    assert.equal(ours.status, 0);
    // bpftool 7.x does not print the kflag of attribute type tags (kernel 6.14+); we do (and newer bpftool may).
    const noKflag = (text: string) => text.replace(/^(\[\d+\] TYPE_TAG .*) kflag=1$/gm, '$1');
    const theirs = noKflag(execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux'], { encoding: 'utf8', maxBuffer: 1 << 30 }));
    const kinds = new Set(theirs.match(/^\[\d+\] [A-Z_0-9]+/gm)!.map((l) => l.split(' ')[1]));
    t.diagnostic(`vmlinux: ${kinds.size} kinds (${[...kinds].sort().join(' ')})`);
    assert.equal(noKflag(ours.stdout), theirs);
  }
  if (!hasBpftool) t.diagnostic('bpftool not installed: compared the format only');
  const json = tsbpfJson(['btf', 'dump', `${repoRoot}/bpf/attach_introspect.o`, '--type', 'counts']);
  assert.deepEqual(json.map((x: { kind: string }) => x.kind), ['var']);
});

test('btf dump of a kernel BTF object by id, and as C', () => {
  using ebpf = loadOnly(`${repoRoot}/bpf/attach_introspect.o`, 'sock_count');
  const btfId = ebpf.map('counts').info().btfId;
  assert.ok(btfId > 0, 'the loader gave the map BTF');
  const raw = tsbpf(['btf', 'dump', String(btfId)]);
  assert.equal(raw.status, 0, raw.stderr);
  if (hasBpftool) assert.equal(raw.stdout, execFileSync('bpftool', ['btf', 'dump', 'id', String(btfId)], { encoding: 'utf8' }));
  assert.match(raw.stdout, /^\[\d+\] VAR 'counts' type_id=\d+, linkage=global$/m);
  assert.match(raw.stdout, /^\[\d+\] FUNC 'sock_count' type_id=\d+ linkage=global$/m);

  const c = tsbpf(['btf', 'dump', String(btfId), '--format', 'c']);
  assert.equal(c.status, 0, c.stderr);
  assert.match(c.stdout, /^struct \{\n\tint \(\*type\)\[2\];\n\t__u32 \*key;\n\t__u64 \*value;\n\tint \(\*max_entries\)\[4\];\n\} counts;$/m);
  assert.match(c.stdout, /^int sock_count\(struct __sk_buff \*skb\);$/m);

  if (existsSync('/sys/kernel/btf/vmlinux')) {
    const task = tsbpf(['btf', 'dump', '/sys/kernel/btf/vmlinux', '--format', 'c', '--type', 'list_head']);
    assert.equal(task.stdout, 'struct list_head {\n\tstruct list_head *next;\n\tstruct list_head *prev;\n};\n');
    const vmlinux = Btf.parse(readFileSync('/sys/kernel/btf/vmlinux'));
    const ids = tsbpfJson(['btf', 'dump', '/sys/kernel/btf/vmlinux', '--type', 'task_struct']).map((x: { id: number }) => x.id);
    assert.deepEqual(ids, vmlinux.byName('task_struct').map((x) => x.id));
  }
  const missing = tsbpf(['btf', 'dump', '/nonexistent/file']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /neither a file nor a BTF object id/);
});

test('colour only on a terminal, never with NO_COLOR or --no-color', (t) => {
  using map = MapData.create({ type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 1, name: 'cli_color' });
  const piped = tsbpf(['map', 'list']);
  assert.equal(piped.status, 0);
  assert.ok(!piped.stdout.includes(ESC) && !piped.stderr.includes(ESC), 'no escape codes into a pipe');
  assert.ok(!tsbpf(['map', 'show', '4294967295']).stderr.includes(ESC), 'nor in errors');

  // script(1) gives the command a pseudo-terminal.
  const script = spawnSync('script', ['--version']);
  if (script.status !== 0) {
    t.diagnostic('script(1) not installed: the terminal case is not run');
    return;
  }
  const onTty = (env: NodeJS.ProcessEnv, ...extra: string[]) =>
    spawnSync('script', ['-qec', [process.execPath, CLI, 'map', 'list', ...extra].join(' '), '/dev/null'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '', ...env } });
  const tty = onTty({});
  assert.equal(tty.status, 0);
  assert.ok(tty.stdout.includes(`${ESC}1mID`), 'bold headers on a terminal');
  assert.match(tty.stdout, new RegExp(`\\b${map.info().id} .*cli_color`));
  const noColor = onTty({ NO_COLOR: '1' });
  assert.ok(noColor.stdout.includes('cli_color') && !noColor.stdout.includes(ESC), 'NO_COLOR: none');
  const flag = onTty({}, '--no-color');
  assert.ok(flag.stdout.includes('cli_color') && !flag.stdout.includes(ESC), '--no-color: none');
});

test('without CAP_BPF/CAP_SYS_ADMIN: exit 1 and the hint to run as root', (t) => {
  const setpriv = spawnSync('setpriv', ['--version']);
  if (setpriv.status !== 0) {
    t.diagnostic('setpriv(1) not installed: not run');
    return;
  }
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', process.execPath, CLI, 'prog', 'list'], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /EPERM/);
  assert.match(r.stderr, /hint: needs CAP_BPF\/CAP_SYS_ADMIN \(run as root, or with sudo\)/);
});

test('cli: no fd leaked by the tests', () => {
  assert.equal(fdCount(), fdsAtStart);
});
