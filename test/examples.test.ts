// The tools in examples/ run as a user runs them (the built JS in a child process),
// against traffic these tests make: a veth pair into a namespace (XDP counter, tc
// egress filter), connects from a process in a cgroup (connect4 policy), and a small C
// program compiled here (uprobe, double buffer). Each asserts the numbers the tool
// prints, and that it cleaned up. The examples run concurrently: each has its own
// interface, cgroup or process. Where the kernel lacks what an example needs, the
// example must exit with code 2 and the typed NotSupported error.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AttachType, isLinkTypeSupported, isMapTypeSupported, isProgramTypeSupported, LinkType, MapType, ProgramType, queryCgroup } from '../src/index.js';
import { cgroup2Root } from './helpers.js';
import { createNetEnv, ECHO, NET_PORT } from './net-env.js';

const execFileAsync = promisify(execFile);
const example = (name: string) => fileURLToPath(new URL(`../examples/${name}.js`, import.meta.url));

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Running {
  child: ChildProcess;
  /** Resolves once the tool printed its first line (it is attached), or rejects with its output if it exits first. */
  ready: Promise<void>;
  /** Resolves when the tool has exited. */
  finished: Promise<Finished>;
  /** SIGINT (Ctrl-C), then its output and exit code. */
  stop(): Promise<Finished>;
}

/** Tools still running when the file ends (a failed assertion left them): killed in after(). */
const started = new Set<ChildProcess>();

/** Starts `node dist/examples/<name>.js args...`. */
function start(name: string, args: string[]): Running {
  const child = spawn(process.execPath, [example(name), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child);
  child.once('exit', () => started.delete(child));
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  // 'close', not 'exit': the output may still be in the pipes when the process has exited.
  const finished = new Promise<Finished>((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
  const ready = new Promise<void>((resolve, reject) => {
    const onData = () => stdout.includes('\n') && resolve();
    child.stdout!.on('data', onData);
    void finished.then((r) => reject(new Error(`${name} exited (${r.code}) before it was ready:\n${r.stdout}${r.stderr}`)));
  });
  ready.catch(() => undefined);
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  void finished.then(() => clearTimeout(timer));
  return {
    child,
    ready,
    finished,
    stop() {
      if (child.exitCode === null) child.kill('SIGINT');
      return finished;
    },
  };
}

/** The example, run where the kernel lacks what it needs: exit code 2 and a typed NotSupported error. */
async function assertNotSupported(name: string, args: string[], message?: RegExp): Promise<void> {
  const r = await start(name, args).finished;
  assert.equal(r.code, 2, `${name}: exit code 2 (${r.stdout}${r.stderr})`);
  assert.match(r.stderr, new RegExp(`^${name}: not supported on this kernel: \\w+Error \\(NotSupported\\): `));
  if (message) assert.match(r.stderr, message);
}

/** A UDP echo server (net-env's ECHO) in namespace `ns` on ip:port; resolves once it listens. */
async function udpEcho(ns: string, ip: string, port: number): Promise<ChildProcess> {
  const server = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', ECHO, ip, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(server.stdout!, 'data');
  return server;
}

/** Sends `n` datagrams from `from` to to:port; the number of echoes back within `waitMs`. */
async function udpExchange(from: string, to: string, port: number, n: number, waitMs: number): Promise<number> {
  const sock = createSocket('udp4');
  sock.bind(0, from);
  await once(sock, 'listening');
  let got = 0;
  let done: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (done = resolve));
  sock.on('message', () => ++got === n && done());
  for (let i = 0; i < n; i++) sock.send(`packet ${i}`, port, to);
  await Promise.race([all, new Promise((resolve) => setTimeout(resolve, waitMs))]);
  sock.close();
  return got;
}

// A target process: says "ready", waits for a byte on stdin, then calls tsbpf_work(i)
// n times (each makes one getppid system call), pausing `pause` ms halfway.
const TARGET_C = `
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((noipa)) long tsbpf_work(long i)
{
  return getppid() + i;
}

int main(int argc, char **argv)
{
  int n = atoi(argv[1]), pause = argc > 2 ? atoi(argv[2]) : 0;
  long sum = 0;
  char go;

  write(1, "ready\\n", 6);
  if (read(0, &go, 1) != 1)
    return 1;
  for (int i = 0; i < n; i++) {
    if (pause && i == n / 2)
      usleep(pause * 1000);
    sum += tsbpf_work(i);
  }
  printf("%ld\\n", sum);
  return 0;
}
`;

let dir: string;
let target: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsbpf-examples-'));
  writeFileSync(join(dir, 'target.c'), TARGET_C);
  target = join(dir, 'target');
  execFileSync('gcc', ['-O2', '-o', target, join(dir, 'target.c')]);
});

after(() => {
  for (const child of started) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Starts the target with `n` calls; `go()` lets it run and resolves when it has exited. */
async function startTarget(n: number, pauseMs = 0): Promise<{ pid: number; go: () => Promise<number | null> }> {
  const child = spawn(target, [String(n), String(pauseMs)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const closed = once(child, 'close').then(([code]) => code as number | null);
  await once(child.stdout!, 'data');
  child.stdout!.resume();
  return {
    pid: child.pid!,
    go: () => {
      if (child.stdin!.writable) child.stdin!.end('g');
      return closed;
    },
  };
}

describe('examples', { concurrency: true }, () => {
  test('xdp-counter: counts the UDP replies a veth end receives, per protocol', async () => {
    const env = await createNetEnv('exx');
    try {
      if (!isProgramTypeSupported(ProgramType.Xdp)) return await assertNotSupported('xdp-counter', [env.outer, '--duration', '0']);
      // Offloaded XDP, a mode veth lacks: the kernel refuses, the tool says NotSupported naming the mode.
      await assertNotSupported('xdp-counter', [env.outer, '--mode', 'hw', '--duration', '0'], /\bhw\b/);
      const tool = start('xdp-counter', [env.outer]);
      await tool.ready;
      assert.match(env.linkShow(), /xdp/, 'attached while it runs');
      const n = 20;
      assert.equal(await env.exchange(n, true), n);
      const r = await tool.stop();
      assert.equal(r.code, 0, r.stderr);
      const row = /^IPv4\/UDP\s+(\d+)\s+(\d+)$/m.exec(r.stdout);
      assert.ok(row, r.stdout);
      // The replies arrive at the outer end's ingress; nothing else sends UDP on this pair.
      assert.equal(Number(row[1]), n, r.stdout);
      const perPacket = 14 + 20 + 8 + 'round 1 packet 0'.length; // Ethernet + IPv4 + UDP + payload
      assert.ok(Number(row[2]) >= n * perPacket, r.stdout);
      assert.doesNotMatch(env.linkShow(), /prog\/xdp/, 'detached when it stopped');
    } finally {
      await env.close();
    }
  });

  test('tc-egress-filter: datagrams to a blocked port are dropped on egress (and counted), another port still answers', async () => {
    const env = await createNetEnv('ext');
    const otherPort = NET_PORT + 1;
    const other = await udpEcho(env.ns, env.innerIp, otherPort);
    try {
      if (!isProgramTypeSupported(ProgramType.SchedCls)) return await assertNotSupported('tc-egress-filter', [env.outer, '--port', String(NET_PORT), '--duration', '0']);
      assert.equal(await env.exchange(3, true), 3, 'the echo answers before the filter');
      const tool = start('tc-egress-filter', [env.outer, '--port', String(NET_PORT), '--port', '9']);
      await tool.ready;
      const [blocked, allowed] = await Promise.all([env.exchange(10, false), udpExchange(env.outerIp, env.innerIp, otherPort, 10, 2000)]);
      assert.equal(blocked, 0, 'the blocked port is unreachable');
      assert.equal(allowed, 10, 'the other port answers');
      const r = await tool.stop();
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, isLinkTypeSupported(LinkType.Tcx) ? /\(TCX link\)/ : /\(cls_bpf filter, priority \d+\)/);
      assert.match(r.stdout, new RegExp(`^port ${NET_PORT}: 10 packets dropped$`, 'm'));
      assert.match(r.stdout, /^port 9: 0 packets dropped$/m);
      assert.equal(await env.exchange(3, true), 3, 'the echo answers again once it stopped');
      assert.doesNotMatch(env.tcFilters('egress'), /drop_ports/);
    } finally {
      other.kill();
      await once(other, 'close');
      await env.close();
    }
  });

  test('cgroup-connect4: connect() from the cgroup to a blocked address:port or address fails with EPERM, others connect', async () => {
    const cg = join(cgroup2Root(), `tsbpf-example-connect4-${process.pid}`);
    mkdirSync(cg);
    const servers = [net.createServer((s) => s.destroy()), net.createServer((s) => s.destroy())];
    try {
      for (const s of servers) s.listen(0, '127.0.0.1');
      await Promise.all(servers.map((s) => once(s, 'listening')));
      const [blockedPort, openPort] = servers.map((s) => (s.address() as net.AddressInfo).port) as [number, number];
      const args = [cg, '--block', `127.0.0.1:${blockedPort}`, '--block', '127.0.0.2'];
      if (!isProgramTypeSupported(ProgramType.CgroupSockAddr, AttachType.CgroupInet4Connect)) return await assertNotSupported('cgroup-connect4', [...args, '--duration', '0']);
      const tool = start('cgroup-connect4', args);
      await tool.ready;
      // A process that moves itself into the cgroup, then tries three connects.
      const code = `
import socket, sys, json, errno
out = []
for host, port in (('127.0.0.1', int(sys.argv[1])), ('127.0.0.1', int(sys.argv[2])), ('127.0.0.2', int(sys.argv[2]))):
    s = socket.socket()
    try:
        s.connect((host, port)); out.append('connected')
    except OSError as e:
        out.append(errno.errorcode[e.errno])
    s.close()
print(json.dumps(out))`;
      const { stdout } = await execFileAsync('sh', ['-c', 'echo $$ > "$1/cgroup.procs" && shift && exec python3 -c "$@"', 'sh', cg, code, String(blockedPort), String(openPort)]);
      assert.deepEqual(JSON.parse(stdout), ['EPERM', 'connected', 'EPERM']);
      // This process is not in the cgroup: the same blocked port connects.
      const sock = net.connect(blockedPort, '127.0.0.1');
      await once(sock, 'connect');
      sock.destroy();
      const r = await tool.stop();
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^127\\.0\\.0\\.1:${blockedPort}: 1 connects refused$`, 'm'));
      assert.match(r.stdout, /^127\.0\.0\.2:\*: 1 connects refused$/m);
      assert.deepEqual(queryCgroup(cg, AttachType.CgroupInet4Connect).progIds, [], 'detached when it stopped');
    } finally {
      for (const s of servers) s.close();
      rmdirSync(cg);
    }
  });

  test('uprobe: counts the calls of a function of a running process, and of a libc function it calls', async () => {
    const n = 37;
    const uprobes = existsSync('/sys/bus/event_source/devices/uprobe/type') || existsSync('/sys/kernel/tracing/uprobe_events') || existsSync('/sys/kernel/debug/tracing/uprobe_events');
    const [own, lib] = await Promise.all([startTarget(n), startTarget(n)]);
    try {
      if (!uprobes) return await assertNotSupported('uprobe', ['--pid', String(own.pid), '--func', 'tsbpf_work']);
      const tools = [start('uprobe', ['--pid', String(own.pid), '--func', 'tsbpf_work']), start('uprobe', ['--pid', String(lib.pid), '--func', 'getppid', '--lib', 'libc.so.6'])];
      await Promise.all(tools.map((t) => t.ready));
      assert.deepEqual(await Promise.all([own.go(), lib.go()]), [0, 0]);
      // Each tool stops by itself once its process has exited.
      const [a, b] = await Promise.all(tools.map((t) => t.finished));
      assert.equal(a!.code, 0, a!.stderr);
      assert.equal(b!.code, 0, b!.stderr);
      assert.match(a!.stdout, new RegExp(`^\\s+${own.pid}\\s+${n}$`, 'm'), 'one thread made every call');
      assert.match(a!.stdout, new RegExp(`^tsbpf_work: ${n} calls$`, 'm'));
      assert.match(b!.stdout, new RegExp(`^getppid: ${n} calls$`, 'm'));
    } finally {
      await Promise.all([own.go(), lib.go()]);
    }
  });

  test('double-buffer: per-interval syscall counts from two swapped hash maps add up to the calls a process made', async () => {
    const n = 500;
    const tp = existsSync('/sys/kernel/tracing/events/syscalls/sys_enter_getppid') || existsSync('/sys/kernel/debug/tracing/events/syscalls/sys_enter_getppid');
    const supported = isMapTypeSupported(MapType.ArrayOfMaps) && isProgramTypeSupported(ProgramType.Tracepoint);
    if (!supported) return await assertNotSupported('double-buffer', ['--syscall', 'getppid', '--duration', '0']);
    // A system call without a tracepoint (or a kernel without CONFIG_FTRACE_SYSCALLS): exit 1, naming it.
    const unknown = (syscall: string) => start('double-buffer', ['--syscall', syscall]).finished.then((r) => {
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, new RegExp(`^double-buffer: ProgramError \\(UnknownTarget\\): no tracepoint syscalls/sys_enter_${syscall} `));
    });
    if (!tp) return await unknown('getppid');
    const missing = unknown('tsbpf_nosuch');
    const proc = await startTarget(n, 400);
    const tool = start('double-buffer', ['--syscall', 'getppid', '--interval', '0.15', '--top', '100000']);
    await tool.ready;
    assert.equal(await proc.go(), 0);
    const r = await tool.stop();
    assert.equal(r.code, 0, r.stderr);
    const rows = [...r.stdout.matchAll(new RegExp(`^\\s+${proc.pid} (\\S+)\\s+(\\d+)$`, 'gm'))];
    assert.ok(rows.length >= 2, `the calls fell in two intervals at least (a 400 ms pause between halves):\n${r.stdout}`);
    assert.equal(rows[0]![1], 'target', 'comm from bpf_get_current_comm, through cstring(16)');
    assert.equal(rows.reduce((sum, m) => sum + Number(m[2]), 0), n, r.stdout);
    await missing;
  });
});
