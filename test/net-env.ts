// A veth pair for network attach tests: one end ("outer") in this process's network
// namespace, the other ("inner") in a namespace made for the test, with IPv4 addresses,
// static neighbours (so ARP never crosses the programs under test) and a UDP echo
// server in the namespace. `exchange(n)` sends n datagrams from the outer address to
// the echo server and counts the replies: requests leave through the outer end's
// egress, replies arrive at its ingress (XDP, tc ingress).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';

/** The port bpf/attach_net.c matches (NET_PORT). */
export const NET_PORT = 47631;

export interface NetEnv {
  ns: string;
  outer: string;
  inner: string;
  outerIp: string;
  innerIp: string;
  /** Sends `n` datagrams and returns how many echoes came back (waiting up to 2 s for all, or 150 ms when none are expected). */
  exchange(n: number, expectReplies: boolean): Promise<number>;
  /** `ip -d link show` of the outer end. */
  linkShow(): string;
  /** `tc filter show` of the outer end's hook. */
  tcFilters(direction: 'ingress' | 'egress'): string;
  tcQdiscs(): string;
  close(): Promise<void>;
}

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A python UDP echo server: argv[1] address, argv[2] port; prints 'ready' once bound. */
export const ECHO = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print('ready', flush=True)
while True:
    data, addr = s.recvfrom(2048)
    s.sendto(data, addr)
`;

/** Creates the namespace, the pair, the addresses and the echo server; `tag` keeps names apart between files. */
export async function createNetEnv(tag: string): Promise<NetEnv> {
  const pid = process.pid;
  const ns = `tsbpf-${tag}-${pid}`;
  const outer = `t${tag}${pid}a`.slice(0, 15);
  const inner = `t${tag}${pid}b`.slice(0, 15);
  // A /30 of the benchmarking range 198.18.0.0/15 chosen by pid and tag, so parallel runs differ,
  // and so do two pairs of one process (the same /30 on both would route replies to one of them).
  const slot = (pid + [...tag].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 32768, 0)) % 32768;
  const base = (198 << 24) + (18 << 16) + slot * 4;
  const ip = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  const outerIp = ip(base + 1);
  const innerIp = ip(base + 2);
  const mac = (last: number) => `02:7e:${((pid >>> 16) & 255).toString(16).padStart(2, '0')}:${((pid >>> 8) & 255).toString(16).padStart(2, '0')}:${(pid & 255).toString(16).padStart(2, '0')}:0${last}`;

  let server: ChildProcess | undefined;
  let serverClosed = false;
  let sock: Socket | undefined;
  const teardown = async () => {
    sock?.close();
    if (server && !serverClosed) {
      // 'close' waits for the stdout pipe too: 'exit' can come while its descriptor is still open.
      const closed = once(server, 'close').catch(() => undefined);
      if (server.exitCode === null) server.kill();
      await closed;
    }
    try {
      run('ip', ['link', 'del', outer]);
    } catch {
      // never made, or gone with the namespace
    }
    try {
      run('ip', ['netns', 'del', ns]);
    } catch {
      // never made
    }
  };

  try {
    run('ip', ['netns', 'add', ns]);
    run('ip', ['link', 'add', outer, 'address', mac(1), 'type', 'veth', 'peer', 'name', inner, 'address', mac(2), 'netns', ns]);
    run('ip', ['addr', 'add', `${outerIp}/30`, 'dev', outer]);
    run('ip', ['link', 'set', outer, 'up']);
    run('ip', ['-n', ns, 'addr', 'add', `${innerIp}/30`, 'dev', inner]);
    run('ip', ['-n', ns, 'link', 'set', inner, 'up']);
    run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    run('ip', ['neigh', 'replace', innerIp, 'lladdr', mac(2), 'dev', outer, 'nud', 'permanent']);
    run('ip', ['-n', ns, 'neigh', 'replace', outerIp, 'lladdr', mac(1), 'dev', inner, 'nud', 'permanent']);

    server = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', ECHO, innerIp, String(NET_PORT)], { stdio: ['ignore', 'pipe', 'inherit'] });
    server.once('close', () => {
      serverClosed = true;
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.once('exit', (code) => reject(new Error(`echo server exited with ${code}`)));
      server!.stdout!.once('data', () => resolve());
    });
    server.removeAllListeners('exit');

    sock = createSocket('udp4');
    sock.bind(0, outerIp);
    await once(sock, 'listening');
  } catch (err) {
    await teardown();
    throw err;
  }

  const s = sock;
  let received = 0;
  let wake: (() => void) | undefined;
  s.on('message', () => {
    received++;
    wake?.();
  });

  let round = 0;
  return {
    ns,
    outer,
    inner,
    outerIp,
    innerIp,
    async exchange(n, expectReplies) {
      // Let echoes of an earlier round drain first.
      await new Promise((r) => setTimeout(r, 20));
      received = 0;
      round++;
      for (let i = 0; i < n; i++) s.send(`round ${round} packet ${i}`, NET_PORT, innerIp);
      const deadline = Date.now() + (expectReplies ? 2000 : 150);
      while (received < n && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, Math.max(1, deadline - Date.now()));
        });
      }
      wake = undefined;
      return received;
    },
    linkShow: () => run('ip', ['-d', 'link', 'show', outer]),
    tcFilters: (direction) => run('tc', ['filter', 'show', 'dev', outer, direction]),
    tcQdiscs: () => run('tc', ['qdisc', 'show', 'dev', outer]),
    close: teardown,
  };
}
