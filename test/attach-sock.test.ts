// Socket, cgroup and namespace attachments against the real kernel: a socket filter on
// UDP over loopback; cgroup programs on a cgroup v2 directory the test creates, with a
// child process moved into it making the traffic and system calls; sk_msg / sk_skb on
// socket maps with TCP over loopback; sk_lookup and the flow dissector on a network
// namespace the test creates. bpf/attach_sock.c documents the counter slots.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdirSync, rmdirSync, rmSync, statSync, writeFileSync, mkdtempSync, openSync, closeSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { once } from 'node:events';
import {
  ArrayMap,
  AttachType,
  CgroupDevice,
  CgroupSkb,
  CgroupSockAddr,
  CgroupSockopt,
  CgroupSysctl,
  Ebpf,
  FlowDissector,
  isLinkTypeSupported,
  MapError,
  ProgramError,
  SkLookup,
  SkMsg,
  SkSkb,
  SockHash,
  SockMap,
  SockOps,
  SocketFilter,
  queryCgroup,
  u32,
  u64,
} from '../src/index.js';
import * as sys from '../src/sys/index.js';
import { cgroup2Root, fdCount, repoRoot, socketCookie, thrown } from './helpers.js';
import { branch } from './kernel-features.js';
import { distIndex } from './child.js';

const OBJ = join(repoRoot, 'bpf/attach_sock.o');
const LinkTypeCgroup = 3;
const LinkTypeNetns = 5;
const LinkTypeSockmap = 14;

function load(t: TestContext) {
  const ebpf = Ebpf.load(OBJ);
  t.after(() => ebpf.close());
  const counts = ArrayMap.tryFrom(ebpf.map('counts'), u64);
  const cfg = ArrayMap.tryFrom(ebpf.map('cfg'), u32);
  return { ebpf, count: (i: number) => Number(counts.get(i)), cfg };
}

/** A fresh cgroup (and optional sub-cgroup "child"), removed after the test. */
function makeCgroup(t: TestContext, withChild = false): string {
  const dir = join(cgroup2Root(), `tsbpf-test-sock-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir);
  if (withChild) mkdirSync(join(dir, 'child'));
  t.after(() => {
    if (withChild) rmdirSync(join(dir, 'child'));
    rmdirSync(dir);
  });
  return dir;
}

/** Runs python code in a process that first moves itself into `cgroup`; returns the last stdout line as JSON. */
function runInCgroup(cgroup: string, code: string, args: string[] = []): any {
  const r = spawnSync('sh', ['-c', `echo $$ > "$1/cgroup.procs" && shift && exec python3 -c "$@"`, 'sh', cgroup, code, ...args], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, `child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

async function udpServer(t: TestContext): Promise<{ socket: dgram.Socket; port: number; got: string[] }> {
  const socket = dgram.createSocket('udp4');
  const got: string[] = [];
  socket.on('message', (m) => got.push(m.toString()));
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  t.after(() => socket.close());
  return { socket, port: socket.address().port, got };
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A connected TCP pair over loopback: [client, server side]. */
async function tcpPair(t: TestContext): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  const [side] = (await accepted) as [net.Socket];
  server.close();
  t.after(() => {
    client.destroy();
    side.destroy();
  });
  return [client, side];
}

// ---- socket filter ------------------------------------------------------------------

test('SocketFilter on a UDP socket over loopback: datagrams starting with x dropped, counted, detach restores', async (t) => {
  {
    const { ebpf, count } = load(t);
    const prog = ebpf.program('drop_x');
    assert.ok(prog instanceof SocketFilter);
    const server = await udpServer(t);
    const client = dgram.createSocket('udp4');
    t.after(() => client.close());
    client.send('warm', server.port, '127.0.0.1'); // the client binds on its first send
    await until(() => server.got.length === 1);
    server.got.length = 0;
    const before = fdCount();

    const link = prog.attach(server.socket);
    for (const m of ['a1', 'x2', 'b3', 'x4']) client.send(m, server.port, '127.0.0.1');
    await until(() => count(0) + count(1) === 4 && server.got.length === 2);
    assert.deepEqual(server.got, ['a1', 'b3']);
    assert.equal(count(0), 2);
    assert.equal(count(1), 2);

    link.detach();
    link.detach(); // harmless
    assert.equal(link.attached, false);
    assert.equal(fdCount(), before, 'a socket filter holds no fd of its own');
    client.send('x5', server.port, '127.0.0.1');
    await until(() => server.got.length === 3);
    assert.equal(server.got[2], 'x5');
    assert.equal(count(1), 2, 'detached: not run');

    // A raw fd works too; a closed socket's link detaches harmlessly.
    const other = dgram.createSocket('udp4');
    other.bind(0, '127.0.0.1');
    await once(other, 'listening');
    const fd = (other as any)._handle.fd as number;
    const raw = prog.attach(fd);
    assert.match(raw.description, /socket fd/);
    const viaSocket = prog.attach(other);
    other.close();
    viaSocket.close();
    raw.close();

    // An unbound dgram socket has no fd yet.
    const unbound = dgram.createSocket('udp4');
    assert.throws(() => prog.attach(unbound), /no file descriptor yet|closed/);
    unbound.close();
    assert.throws(() => prog.attach(-1), (e: unknown) => e instanceof ProgramError && e.kind === 'InvalidArgument');

    // Not a socket: the kernel's ENOTSOCK, named.
    const file = openSync('/dev/null', 'r');
    const err = thrown(() => prog.attach(file));
    closeSync(file);
    assert.ok(err instanceof ProgramError);
    assert.equal(err.kind, 'AttachError');
    assert.equal(err.code, 'ENOTSOCK');
    assert.equal(err.call, 'setsockopt(SO_ATTACH_BPF)');

    prog.unload();
    assert.equal(thrown(() => prog.attach(server.socket)).kind, 'NotLoaded');
  }
});

// ---- cgroup programs ----------------------------------------------------------------

test('cgroup_skb egress (link): packets of a process in the cgroup counted, UDP to one port dropped with EPERM', async (t) => {
  const keep = await udpServer(t);
  const drop = await udpServer(t);
  keep.socket.send('warm', keep.port, '127.0.0.1'); // the sending side binds lazily: before the fd count
  await until(() => keep.got.length === 1);
  keep.got.length = 0;
  const before = fdCount();
  const { ebpf, count, cfg } = load(t);
  const cg = makeCgroup(t);
  cfg.set(0, drop.port);
  const prog = ebpf.program('cg_egress') as CgroupSkb;
  const link = prog.attach(cg);
  try {
    const info = link.info();
    assert.equal(info.type, LinkTypeCgroup);
    assert.equal(info.attachType, AttachType.CgroupInetEgress);
    assert.equal(info.cgroupId, BigInt(statSync(cg).ino));
    const q = queryCgroup(cg, AttachType.CgroupInetEgress);
    assert.equal(q.progIds.length, 1);
    assert.equal(q.attachFlags, 2, 'a link has BPF_F_ALLOW_MULTI semantics');

    const r = runInCgroup(cg, `
import socket, sys, json, errno
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
res = []
for port in [int(sys.argv[1])] * 3 + [int(sys.argv[2])] * 2:
    try:
        s.sendto(b'hi', ('127.0.0.1', port)); res.append(0)
    except OSError as e:
        res.append(errno.errorcode[e.errno])
print(json.dumps(res))`, [String(keep.port), String(drop.port)]);
    assert.deepEqual(r, [0, 0, 0, 'EPERM', 'EPERM']);
    await until(() => keep.got.length === 3);
    assert.equal(drop.got.length, 0);
    assert.equal(count(2), 5);
    assert.equal(count(3), 2);
  } finally {
    link.detach();
  }
  assert.deepEqual(queryCgroup(cg, AttachType.CgroupInetEgress).progIds, []);
  // Traffic of this process (not in the cgroup) was never counted.
  const n = count(2);
  keep.socket.send('x', keep.port, '127.0.0.1');
  await until(() => keep.got.length === 4);
  assert.equal(count(2), n);
  ebpf.close();
  assert.equal(fdCount(), before);
});

test('cgroup/connect4: a connect refused with EPERM, another rewritten to the listening port', async (t) => {
  const { ebpf, count, cfg } = load(t);
  const cg = makeCgroup(t);
  const server = net.createServer((s) => s.destroy());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const refused = port === 40001 ? 40002 : 40001;
  const rewritten = port === 40003 ? 40004 : 40003;
  cfg.set(1, refused);
  cfg.set(2, rewritten);
  cfg.set(3, port);
  const prog = ebpf.program('cg_connect4') as CgroupSockAddr;
  using link = prog.attach(cg, { mode: 'override' });
  assert.equal(queryCgroup(cg, AttachType.CgroupInet4Connect).attachFlags, 1, 'BPF_F_ALLOW_OVERRIDE');
  const r = runInCgroup(cg, `
import socket, sys, json, errno
out = {}
for name, port in (('refused', int(sys.argv[1])), ('rewritten', int(sys.argv[2]))):
    s = socket.socket()
    try:
        s.connect(('127.0.0.1', port)); out[name] = s.getpeername()[1]
    except OSError as e:
        out[name] = errno.errorcode[e.errno]
    s.close()
print(json.dumps(out))`, [String(refused), String(rewritten)]);
  assert.equal(r.refused, 'EPERM');
  assert.equal(r.rewritten, port, 'connected to the listener (no getpeername hook rewrites it back)');
  assert.equal(count(5), 2);
  assert.equal(count(6), 1);
  assert.equal(count(7), 1);
  link.close();
  assert.deepEqual(queryCgroup(cg, AttachType.CgroupInet4Connect).progIds, []);
});

test('cgroup sysctl (single), device (override), sock_ops (multi, PROG_ATTACH) and getsockopt (link) all observe one child', async (t) => {
  const server = net.createServer((s) => s.destroy());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const before = fdCount();
  const { ebpf, count } = load(t);
  const cg = makeCgroup(t);
  const port = (server.address() as net.AddressInfo).port;

  const links = [
    (ebpf.program('cg_sysctl') as CgroupSysctl).attach(cg, { mode: 'single' }),
    (ebpf.program('cg_dev') as CgroupDevice).attach(cg, { mode: 'override' }),
    (ebpf.program('sock_ops_count') as SockOps).attach(cg, { link: false }),
    (ebpf.program('cg_getsockopt') as CgroupSockopt).attach(cg),
  ];
  try {
    assert.deepEqual(links.map((l) => l.constructor.name), ['ProgAttachLink', 'ProgAttachLink', 'ProgAttachLink', 'FdLink']);
    assert.equal(queryCgroup(cg, AttachType.CgroupSockOps).attachFlags, 2);
    const r = runInCgroup(cg, `
import socket, sys, json, errno
out = {}
def attempt(name, f):
    try:
        out[name] = f()
    except OSError as e:
        out[name] = errno.errorcode[e.errno]
ttl = open('/proc/sys/net/ipv4/ip_default_ttl').read()
out['ttl'] = ttl.strip()
import os
def write():
    fd = os.open('/proc/sys/net/ipv4/ip_default_ttl', os.O_WRONLY)
    try:
        os.write(fd, ttl.encode())
    finally:
        os.close(fd)
    return 'written'
attempt('write', write)
attempt('zero', lambda: open('/dev/zero', 'rb').close() or 'opened')
attempt('null', lambda: open('/dev/null', 'rb').close() or 'opened')
s = socket.socket()
s.connect(('127.0.0.1', int(sys.argv[1])))
out['rcvbuf'] = s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) > 0
s.close()
print(json.dumps(out))`, [String(port)]);
    assert.match(r.ttl, /^\d+$/);
    assert.equal(r.write, 'EPERM', 'sysctl write refused');
    assert.equal(r.zero, 'EPERM', '/dev/zero refused');
    assert.equal(r.null, 'opened');
    assert.equal(r.rcvbuf, true);
    assert.ok(count(8) >= 1, 'sysctl reads');
    assert.equal(count(9), 1, 'sysctl writes');
    assert.ok(count(10) >= 2, 'device accesses');
    assert.equal(count(11), 1, '/dev/zero refused once');
    assert.equal(count(20 + 3), 1, 'BPF_SOCK_OPS_TCP_CONNECT_CB');
    assert.equal(count(20 + 4), 1, 'BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB');
    assert.ok(count(16) >= 1, 'getsockopt');
  } finally {
    for (const l of links) l.detach();
  }
  for (const type of [AttachType.CgroupSysctl, AttachType.CgroupDevice, AttachType.CgroupSockOps, AttachType.CgroupGetsockopt]) {
    assert.deepEqual(queryCgroup(cg, type).progIds, [], `nothing left at ${type}`);
  }
  ebpf.close();
  assert.equal(fdCount(), before);
});

const SEND_ONE = `
import socket, sys, json
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'm', ('127.0.0.1', int(sys.argv[1])))
print(json.dumps('sent'))`;

test('cgroup modes: single refuses a second program here and below, override lets a child cgroup override, multi runs both', async (t) => {
  const sink = await udpServer(t);
  const before = fdCount();
  const { ebpf, count } = load(t);
  const cg = makeCgroup(t, true);
  const child = join(cg, 'child');
  const a = ebpf.program('cg_egress') as CgroupSkb; // counts[2]
  const b = ebpf.program('cg_egress_b') as CgroupSkb; // counts[4]
  const egress = AttachType.CgroupInetEgress;
  const runs = () => [count(2), count(4)];
  const sendFromChild = async (expected: number[]) => {
    const n = sink.got.length;
    runInCgroup(child, SEND_ONE, [String(sink.port)]);
    await until(() => sink.got.length === n + 1);
    assert.deepEqual(runs(), expected);
  };

  // single
  const single = a.attach(cg, { mode: 'single' });
  let err = thrown(() => b.attach(cg, { mode: 'single' }));
  assert.ok(err instanceof ProgramError);
  assert.equal(err.kind, 'AlreadyAttached');
  err = thrown(() => b.attach(child, { mode: 'single' }));
  assert.equal(err.kind, 'AttachError');
  assert.equal(err.code, 'EPERM');
  assert.equal(err.call, 'bpf_prog_attach');
  err = thrown(() => b.attach(cg));
  assert.equal(err.kind, 'AttachError', 'a link on a single-mode hook');
  assert.equal(err.code, 'EPERM');
  assert.equal(err.call, 'bpf_link_create');
  await sendFromChild([1, 0]);
  // replace: true takes the kernel's semantics (swap the program in place).
  const swapped = b.attach(cg, { mode: 'single', replace: true });
  assert.deepEqual(queryCgroup(cg, egress).progIds.length, 1);
  await sendFromChild([1, 1]);
  single.detach(); // already replaced: ENOENT is harmless
  swapped.detach();
  assert.deepEqual(queryCgroup(cg, egress).progIds, []);

  // override
  const parent = a.attach(cg, { mode: 'override' });
  await sendFromChild([2, 1]);
  const over = b.attach(child, { mode: 'override' });
  await sendFromChild([2, 2]);
  assert.equal(queryCgroup(child, egress, { effective: true }).progIds.length, 1, 'the child cgroup runs only its own');
  over.detach();
  parent.detach();

  // multi: links on both levels, both run for the child's process
  const l1 = a.attach(cg);
  const l2 = b.attach(child);
  const l3 = b.attach(cg, { link: false }); // PROG_ATTACH with BPF_F_ALLOW_MULTI alongside links
  const eff = queryCgroup(child, egress, { effective: true });
  assert.equal(eff.progIds.length, 3);
  await sendFromChild([3, 4]);
  for (const l of [l1, l2, l3]) l.detach();
  assert.deepEqual(queryCgroup(child, egress, { effective: true }).progIds, []);

  // Errors before any attach.
  assert.equal(thrown(() => a.attach('/nonexistent/cgroup')).kind, 'UnknownTarget');
  assert.equal(thrown(() => a.attach(tmpdir())).kind, 'UnknownTarget', 'not on cgroup2');
  assert.equal(thrown(() => a.attach(cg, { mode: 'single', link: true })).kind, 'NotSupported');
  assert.throws(() => a.attach(cg, { mode: 'bogus' as any }), (e: unknown) => e instanceof ProgramError && e.kind === 'InvalidArgument');
  ebpf.close();
  assert.equal(fdCount(), before);
});

// ---- socket maps ---------------------------------------------------------------------


test('SockMap and SockHash: insert TCP and UDP sockets, read back cookies, remove', async (t) => {
  const [client, side] = await tcpPair(t);
  const udp = await udpServer(t);
  const fd = (client as any)._handle.fd as number;
  const before = fdCount();
  {
    using m = SockMap.create({ maxEntries: 4 });
    m.set(0, client);
    m.set(1, udp.socket);
    m.set(2, (side as any)._handle.fd);
    assert.equal(m.get(0), socketCookie(fd));
    assert.equal(m.get(1), socketCookie((udp.socket as any)._handle.fd));
    assert.equal(thrown(() => m.get(3)).kind, 'KeyNotFound');
    m.remove(0);
    assert.equal(thrown(() => m.remove(0)).kind, 'KeyNotFound');
    assert.equal(thrown(() => m.set(4, client)).kind, 'OutOfBounds');
    const file = openSync('/dev/null', 'r');
    const err = thrown(() => m.set(3, file));
    closeSync(file);
    assert.ok(err instanceof MapError);
    assert.equal(err.kind, 'SyscallError');
    assert.equal(err.code, 'ENOTSOCK', 'sockmap refuses what is not a socket');

    using h = SockHash.create(u32, { maxEntries: 4 });
    h.insert(7, client);
    assert.equal(h.get(7), socketCookie(fd));
    assert.deepEqual([...h.keys()], [7]);
    h.remove(7);
    assert.deepEqual([...h.keys()], []);

    // 4-byte values: the kernel has no room for a cookie; refused before the syscall.
    using small = SockMap.create({ maxEntries: 1, valueSize: 4 });
    small.set(0, client);
    assert.equal(thrown(() => small.get(0)).kind, 'NotSupported');
  }
  assert.equal(fdCount(), before);
});

test('SkMsg on a SockMap (link) and a SockHash (PROG_ATTACH): every sendmsg counted with its size', async (t) => {
  const before = fdCount();
  const { ebpf, count } = load(t);
  const prog = ebpf.program('msg_count') as SkMsg;
  const map = SockMap.tryFrom(ebpf.map('sock_map'));
  const [client, side] = await tcpPair(t);
  let received = '';
  side.on('data', (d) => (received += d.toString()));

  // A sockmap link where the kernel has them (6.10+), PROG_ATTACH to the map where not.
  const links = isLinkTypeSupported(LinkTypeSockmap);
  const link = prog.attach(map);
  await branch(t, 'sockmap links', links, () => {
    const info = link.info();
    assert.equal(info.type, LinkTypeSockmap);
    assert.equal(info.mapId, map.map.id);
    assert.equal(info.attachType, AttachType.SkMsgVerdict);
    assert.equal(thrown(() => prog.attach(map)).kind, 'AlreadyAttached', 'one sk_msg link per map');
  }, () => {
    assert.equal(link.constructor.name, 'ProgAttachLink');
    const err = thrown(() => prog.attach(map, { link: true }));
    assert.equal(err.kind, 'NotSupported');
    assert.equal(err.feature, 'BPF_LINK_TYPE_SOCKMAP');
  });
  map.set(0, client);
  client.write('hello world');
  await until(() => received === 'hello world');
  assert.equal(count(12), 1);
  assert.equal(count(13), 11);
  link.detach();
  map.remove(0);

  const hash = SockHash.tryFrom(ebpf.map('sock_hash'), u32);
  const legacy = prog.attach(hash, { link: false });
  assert.equal(legacy.constructor.name, 'ProgAttachLink');
  hash.insert(1, client);
  client.write('abc');
  await until(() => received === 'hello worldabc');
  assert.equal(count(13), 14);
  legacy.detach();
  legacy.detach();
  hash.remove(1);
  client.write('d');
  await until(() => received.endsWith('d'));
  assert.equal(count(13), 14, 'detached');

  assert.equal(thrown(() => prog.attach(ebpf.map('counts'))).kind, 'UnknownTarget');
  client.destroy();
  side.destroy();
  ebpf.close();
  await new Promise((r) => setImmediate(r));
  assert.ok(fdCount() <= before, 'no fd leak');
});

test('SkSkb stream parser and verdict: bytes received by one socket are redirected out of another', async (t) => {
  const { ebpf, count } = load(t);
  const map = SockMap.tryFrom(ebpf.map('sock_map'));
  const verdict = ebpf.program('skb_redirect') as SkSkb;
  const parser = ebpf.program('skb_parser') as SkSkb;
  const [a, b] = await tcpPair(t); // a → b, redirected ...
  const [c, d] = await tcpPair(t); // ... out of c, to d
  let atB = '';
  let atD = '';
  b.on('data', (x) => (atB += x.toString()));
  d.on('data', (x) => (atD += x.toString()));

  using p = parser.attach(map);
  using v = verdict.attach(map, 'stream_verdict');
  await branch(t, 'sockmap links (link info)', isLinkTypeSupported(LinkTypeSockmap), () => {
    assert.equal(p.info().attachType, AttachType.SkSkbStreamParser);
    assert.equal(v.info().attachType, AttachType.SkSkbStreamVerdict);
  }, () => {
    assert.deepEqual([p.constructor.name, v.constructor.name], ['ProgAttachLink', 'ProgAttachLink']);
  });
  map.set(0, b);
  map.set(1, c);
  a.write('ping');
  await until(() => atD === 'ping');
  assert.equal(atB, '');
  assert.ok(count(14) >= 1);
  assert.throws(() => verdict.attach(map, 'bogus' as any), (e: unknown) => e instanceof ProgramError && e.kind === 'InvalidArgument');
  map.remove(0);
  map.remove(1);
});

// ---- network namespaces --------------------------------------------------------------

function makeNetns(t: TestContext): string {
  const name = `tsbpf-sock-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
  const ip = (...args: string[]) => {
    const r = spawnSync('ip', args, { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  };
  ip('netns', 'add', name);
  t.after(() => ip('netns', 'del', name));
  ip('-n', name, 'link', 'set', 'lo', 'up');
  return name;
}

test('SkLookup on a network namespace: a connection to a port nobody listens on is steered to a listener in a SOCKMAP', async (t) => {
  const before = fdCount();
  const { ebpf, count, cfg } = load(t);
  const ns = makeNetns(t);
  const STEERED = 7777;
  cfg.set(4, STEERED);
  const prog = ebpf.program('steer') as SkLookup;
  const link = prog.attach(`/run/netns/${ns}`);
  try {
    const info = link.info();
    assert.equal(info.type, LinkTypeNetns);
    assert.equal(info.attachType, AttachType.SkLookup);
    assert.equal(info.netnsIno, statSync(`/run/netns/${ns}`).ino);

    // The listener must live in the namespace: a child there inserts it into the map
    // it inherits as fd 3, then connects to the port with no listener.
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-sklookup-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const script = join(dir, 'child.mjs');
    writeFileSync(script, `
import net from 'node:net';
const tsbpf = await import(${JSON.stringify(pathToFileURL(distIndex).href)});
const map = tsbpf.SockMap.tryFrom(tsbpf.MapData.fromFd(3));
const server = net.createServer();
server.listen(0, '127.0.0.1', () => {
  map.set(0, server._handle.fd);
  server.on('connection', (s) => {
    console.log(JSON.stringify({ accepted: true, listener: server.address().port, localPort: s.localPort }));
    s.destroy(); server.close();
  });
  const c = net.connect(${STEERED}, '127.0.0.1');
  c.on('error', (e) => { console.log(JSON.stringify({ accepted: false, error: e.code })); process.exit(0); });
});
setTimeout(() => { console.log(JSON.stringify({ accepted: false, error: 'timeout' })); process.exit(0); }, 5000).unref();
`);
    const mapFd = ebpf.map('lookup_map').fd;
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe', mapFd], timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.equal(out.accepted, true, JSON.stringify(out));
    assert.equal(out.localPort, STEERED, 'the accepted socket keeps the address the client asked for');
    assert.notEqual(out.listener, STEERED);
    assert.equal(count(15), 1);
  } finally {
    link.detach();
  }
  assert.equal(thrown(() => prog.attach('/run/netns/does-not-exist')).kind, 'UnknownTarget');
  ebpf.close();
  assert.equal(fdCount(), before);
});

test('FlowDissector on a network namespace: link (info, query) and PROG_ATTACH; test run fills the flow keys', async (t) => {
  const before = fdCount();
  const { ebpf } = load(t);
  const ns = makeNetns(t);
  const path = `/run/netns/${ns}`;
  const prog = ebpf.program('dissect') as FlowDissector;
  const query = () => {
    const fd = openSync(path, 'r');
    try {
      return sys.progQuery(fd, AttachType.FlowDissector).progIds;
    } finally {
      closeSync(fd);
    }
  };

  const link = prog.attach(path);
  const info = link.info();
  assert.equal(info.type, LinkTypeNetns);
  assert.equal(info.attachType, AttachType.FlowDissector);
  assert.equal(info.netnsIno, statSync(path).ino);
  assert.deepEqual(query(), [info.programId]);
  const second = thrown(() => prog.attach(path));
  assert.ok(second instanceof ProgramError);
  assert.equal(second.kind, 'AlreadyAttached', second.message);
  link.detach();
  assert.deepEqual(query(), []);

  // PROG_ATTACH reaches only the caller's own namespace: refused for another one, and
  // done by a child process inside the namespace.
  const other = thrown(() => prog.attach(path, { link: false }));
  assert.equal(other.kind, 'NotSupported');
  assert.equal(other.feature, 'BPF_LINK_TYPE_NETNS');
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-flow-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, 'child.mjs');
  writeFileSync(script, `
const tsbpf = await import(${JSON.stringify(pathToFileURL(distIndex).href)});
const sys = await import(${JSON.stringify(pathToFileURL(join(distIndex, '../sys/index.js')).href)});
const ebpf = tsbpf.Ebpf.load(${JSON.stringify(OBJ)});
const prog = ebpf.program('dissect');
const q = () => { const fd = (await_fs).openSync('/proc/self/ns/net', 'r'); try { return sys.progQuery(fd, ${AttachType.FlowDissector}).progIds.length; } finally { (await_fs).closeSync(fd); } };
const link = prog.attach('/proc/self/ns/net', { link: false });
const during = q();
link.detach();
link.detach();
console.log(JSON.stringify({ kind: link.constructor.name, during, after: q() }));
ebpf.close();
`.replaceAll('(await_fs)', 'fs').replace('const tsbpf', "import fs from 'node:fs';\nconst tsbpf"));
  const child = spawnSync('ip', ['netns', 'exec', ns, process.execPath, script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(child.status, 0, child.stderr);
  assert.deepEqual(JSON.parse(child.stdout.trim().split('\n').pop()!), { kind: 'ProgAttachLink', during: 1, after: 0 });
  assert.deepEqual(query(), []);

  // Ethernet + IPv4 + UDP: the program's keys come back in dataOut (struct bpf_flow_keys).
  const pkt = new Uint8Array(14 + 20 + 8);
  pkt.set([0x08, 0x00], 12);
  pkt.set([0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1], 14);
  const r = prog.testRun({ data: pkt, dataOut: new Uint8Array(56) });
  assert.equal(r.returnValue, 0, 'BPF_OK');
  const keys = new DataView(r.dataOut!.buffer, r.dataOut!.byteOffset);
  assert.equal(keys.getUint8(9), 17, 'ip_proto');
  assert.equal(keys.getUint16(12, false), 1234, 'sport');
  assert.equal(keys.getUint16(14, false), 5678, 'dport');
  ebpf.close();
  assert.equal(fdCount(), before);
});
