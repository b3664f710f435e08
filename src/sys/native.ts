// The one door to the kernel. Every system call tsbpf makes goes through `kernel`,
// so tests can replace a call (replaceKernel) to inject faults the kernel cannot be
// made to produce. Calls return -errno on failure instead of throwing: the wrappers
// in this folder decide what a failure means.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Cmd } from './abi/enums.js';
import { packageRoot } from './package-root.js';

/** The raw native surface (native/*.c). Arguments are validated there too. */
export interface Kernel {
  /** bpf(2). Bit i of ptrMask marks the 8-byte word i of attr as a pointer to the next buffer argument. */
  bpf(cmd: number, attr: Uint8Array, ptrMask?: number, ...buffers: (Uint8Array | Uint32Array | null | undefined)[]): number;
  /**
   * bpf(2) with attr and buffers in one `io` block: attr is its first attrLen bytes, and
   * the words named by ptrMask hold offsets into io (0 for NULL). The hot-path form.
   */
  bpfIo(cmd: number, io: Uint8Array, attrLen: number, ptrMask: number): number;
  /**
   * bpfIo over a buffer made by elemBuffer, named by its handle: four numbers and no
   * buffer argument, so optimised code calls the addon directly (a V8 fast call).
   * Element commands (lookup, update, delete, next key, lookup and delete) and commands
   * without pointers (ids, fds by id), attr at most 32 bytes; for the latter the kernel's
   * writes to attr are copied back. Replacing bpfIo or bpf but not bpfElem
   * (replaceKernel) routes these calls to them: element commands to bpfIo, the others to bpf.
   */
  bpfElem(cmd: number, handle: number, attrLen: number, ptrMask: number): number;
  /** close(2). */
  close(fd: number): number;
  /** The perf event requests tsbpf makes only (RangeError otherwise), each with its argument kind. */
  ioctl(fd: number, request: number, arg?: number | Uint8Array): number;
  /**
   * Read-write mappings of BPF maps, anonymous memory, the first page of a perf event
   * (its data pages are read-only to user space), or an AF_XDP socket's rings (at their
   * XDP_PGOFF_* offsets, MAP_SHARED); RangeError for anything else.
   */
  mmap(fd: number, length: number, prot: number, flags: number, offset: number): ArrayBuffer | number;
  /** munmap(2) of a buffer made by mmap or mmapRing; detaches it. */
  munmap(buffer: ArrayBuffer): number;
  /**
   * The read-only part of an event ring, where the kernel writes records: a ring
   * buffer's producer page and data (offset one page), a user ring buffer's consumer
   * page (offset 0, one page), a perf event's ring (offset 0, 1 + 2^n pages). JS must
   * only read the buffer: a write faults (V8 has no read-only ArrayBuffer). munmap
   * releases it. RangeError for any other fd or range.
   */
  mmapRing(fd: number, length: number, offset: number): ArrayBuffer | number;
  /**
   * Only the perf_event_attr fields tsbpf sets may be nonzero (RangeError otherwise: sigtrap,
   * config1, bp_addr, ...). name: for a dynamic PMU (kprobe, uprobe), the function or path
   * whose address (of a private copy) the kernel reads from config1.
   */
  perf_event_open(attr: Uint8Array, pid: number, cpu: number, groupFd: number, flags: number, name?: Uint8Array): number;
  /** Sockets (always SOCK_CLOEXEC): netlink for XDP/tc, socket options for socket filters. */
  socket(domain: number, type: number, protocol: number): number;
  /** bind(2). */
  bind(fd: number, sockaddr: Uint8Array): number;
  /** send(2). */
  send(fd: number, buffer: Uint8Array, flags: number): number;
  /** recv(2). */
  recv(fd: number, buffer: Uint8Array, flags: number): number;
  /** The options tsbpf uses only (native/net.c), each with its value size: a number for int options. */
  setsockopt(fd: number, level: number, name: number, value: number | Uint8Array): number;
  /** The same options; returns the length written into buffer. */
  getsockopt(fd: number, level: number, name: number, buffer: Uint8Array): number;
  /**
   * setsockopt(fd, SOL_XDP, XDP_UMEM_REG) over the whole of `umem`, an anonymous mapping
   * made by mmap and not unmapped (TypeError / RangeError otherwise); flags 0..3.
   */
  xskUmemReg(fd: number, umem: ArrayBuffer, chunkSize: number, headroom: number, flags: number): number;
  /** 0 when there is no such interface. */
  ifNameToIndex(name: string): number;
  /** if_indextoname(3); undefined for no such interface. */
  ifIndexToName(index: number): string | undefined;
  /** epoll_create1(EPOLL_CLOEXEC). */
  epollCreate(): number;
  /** epoll_ctl(epfd, op, fd, event) with event.events = events and event.data.u32 = data. */
  epollCtl(epfd: number, op: number, fd: number, events: number, data: number): number;
  /** epoll_wait: the data of up to min(out.length, 64) ready descriptors go into out; their count. */
  epollWait(epfd: number, out: Uint32Array, timeoutMs: number): number;
  /**
   * Calls `callback` on the event loop whenever fd is readable (libuv, on a duplicate of
   * fd), keeping the loop alive until unwatch. A Watch, or -errno.
   */
  watch(fd: number, callback: () => void): Watch | number;
  /** Stops a watch (idempotent). */
  unwatch(watch: Watch): number;
  /** pidfd_open(2) (5.3): a descriptor of process `pid`, always close-on-exec. */
  pidfdOpen(pid: number, flags: number): number;
  /** setns(fd, CLONE_NEWNET) of the calling thread; only a network namespace file (nsfs) is taken. 0 or -errno. */
  setnsNet(fd: number): number;
  /** RLIMIT_MEMLOCK only. */
  setrlimit(resource: number, cur: number, max: number): number;
  /** getrlimit(2) of RLIMIT_MEMLOCK only: [soft, hard], or -errno. */
  getrlimit(resource: number): [number, number] | number;
}

/** A readiness watch made by Kernel.watch (opaque). */
export interface Watch {
  readonly __watch: unique symbol;
}

const require = createRequire(import.meta.url);

/** The element commands (with key and value pointers) bpfElem takes; the others it takes have no pointers. */
const ELEM_CMDS = new Set<number>([Cmd.MapLookupElem, Cmd.MapUpdateElem, Cmd.MapDeleteElem, Cmd.MapGetNextKey, Cmd.MapLookupAndDeleteElem]);

function loadAddon(): Kernel {
  // node-gyp-build takes build/Release first (compiled from native/ at install, always so in a
  // git checkout), then the prebuilt binary in prebuilds/ for this platform, architecture and libc.
  // The two usual files are required directly: loading node-gyp-build and letting it list the
  // directories is some 3 ms of every start, the require itself 2 ms. (require, not
  // process.dlopen: every copy of this module and a test's require share one instance.)
  const root = packageRoot(import.meta.url);
  for (const file of [join(root, 'build/Release/tsbpf.node'), join(root, `prebuilds/${process.platform}-${process.arch}/tsbpf.abi${process.versions.modules}.glibc.node`)]) {
    if (!existsSync(file)) continue;
    try {
      return require(file) as Kernel;
    } catch {
      break; // node-gyp-build decides (a musl system, an addon built for another Node)
    }
  }
  try {
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
    return nodeGypBuild(root) as Kernel;
  } catch (err) {
    throw new Error(
      'tsbpf: no native addon loads here: neither a build in build/Release nor a prebuilt binary for ' +
        `${process.platform}-${process.arch} (reinstall with a C++ compiler, make and python3 on PATH: npm rebuild tsbpf): ${String(err)}`,
    );
  }
}

/** What bpfElemFast and closeFast answer where bpfElem and close throw (native/fast.cc). */
const REFUSED = -2147483648;

interface FastEntries {
  bpfElemFast(cmd: number, handle: number, attrLen: number, ptrMask: number): number;
  closeFast(fd: number): number;
}

const raw = loadAddon() as Kernel & FastEntries;

// bpfElem and close as optimised code calls them: the addon's fast functions, which never
// throw (in V8 11.3 an exception from a fast call's fallback skips the caller's own
// try/catch), and for what they refuse, the checked twins, which throw. Both are small
// enough for V8 to inline into the caller.
const addon: Kernel = {
  ...raw,
  bpfElem: (cmd, handle, attrLen, ptrMask) => {
    const r = raw.bpfElemFast(cmd, handle, attrLen, ptrMask);
    return r !== REFUSED ? r : raw.bpfElem(cmd, handle, attrLen, ptrMask);
  },
  close: (fd) => {
    const r = raw.closeFast(fd);
    return r !== REFUSED ? r : raw.close(fd);
  },
};

/**
 * Possible CPUs as the addon counts them when it sizes per-CPU values (0 when unknown).
 * Not a system call: outside the seam, so that both sides always agree.
 */
export function addonPossibleCpus(): number {
  return (addon as unknown as { possibleCpus(): number }).possibleCpus();
}

interface ElemBuffers {
  elemBuffer(length: number): ElemBuffer;
  elemBufferOf(handle: number): ArrayBuffer | undefined;
}

/** A buffer the addon allocated and holds for bpfElem: JS writes into `buffer`, then passes `handle`. */
export interface ElemBuffer {
  readonly handle: number;
  readonly buffer: ArrayBuffer;
}

/**
 * A zeroed buffer of `length` bytes for bpfElem. Not a system call: outside the seam
 * (allocation is not a kernel call, and a failure to allocate throws).
 */
export function elemBuffer(length: number): ElemBuffer {
  return (addon as unknown as ElemBuffers).elemBuffer(length);
}

/** The calls in force. Wrappers read this binding on every call, so a replacement takes effect at once. */
export let kernel: Kernel = addon;

/**
 * Replaces some kernel calls (fault injection in tests). Returns a function that restores
 * the previous ones. Example: `const restore = replaceKernel({ bpf: () => -EPERM });`
 */
export function replaceKernel(overrides: Partial<Kernel>): () => void {
  const previous = kernel;
  const next: Kernel = { ...previous, ...overrides };
  // bpfElem is bpfIo over a registered buffer (bpf for commands without pointers): a
  // replacement of either sees those calls too.
  if ((overrides.bpfIo || overrides.bpf) && !overrides.bpfElem) {
    next.bpfElem = (cmd, handle, attrLen, ptrMask) => {
      const buffer = (addon as unknown as ElemBuffers).elemBufferOf(handle) ?? new ArrayBuffer(0);
      if (ELEM_CMDS.has(cmd)) return next.bpfIo(cmd, new Uint8Array(buffer), attrLen, ptrMask);
      return next.bpf(cmd, new Uint8Array(buffer, 0, Math.min(attrLen, buffer.byteLength)), ptrMask);
    };
  }
  kernel = next;
  return () => {
    kernel = previous;
  };
}
