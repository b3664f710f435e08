// Readiness of event sources (ring buffers, perf rings): one epoll set per reader, waited
// on synchronously (poll with a timeout, as libbpf's ring_buffer__poll) or through the
// event loop (libuv polls the epoll descriptor: no timer, no spinning thread).
import { MapError } from '../errors.js';
import { FdOwner } from '../sys/fd.js';
import { kernel, type Watch } from '../sys/native.js';
import { SyscallError } from '../sys/errors.js';

const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLLIN = 1;

/** The data values of up to 64 sources found ready by one wait. */
const READY_MAX = 64;

export class Readiness extends FdOwner {
  readonly #ready = new Uint32Array(READY_MAX);
  #watch: Watch | undefined;
  #waiters: (() => void)[] = [];
  #idleCheck: NodeJS.Immediate | undefined;

  constructor() {
    const fd = kernel.epollCreate();
    if (fd < 0) throw MapError.fromSyscall(new SyscallError('epoll_create1', -fd));
    super(fd);
  }

  protected closedError(): Error {
    return new MapError('Closed', 'the event reader is closed');
  }

  /** Adds a descriptor; `data` comes back from wait() when it is ready for `events` (readable by default). */
  add(fd: number, data: number, events: number = EPOLLIN): void {
    const r = kernel.epollCtl(this.fd, EPOLL_CTL_ADD, fd, events, data);
    if (r < 0) throw MapError.fromSyscall(new SyscallError('epoll_ctl', -r));
  }

  remove(fd: number): void {
    kernel.epollCtl(this.fd, EPOLL_CTL_DEL, fd, 0, 0);
  }

  /**
   * Waits up to timeoutMs (0: not at all, -1: forever) for a source to be readable.
   * The data of the ready ones, a view valid until the next wait.
   */
  wait(timeoutMs: number): Uint32Array {
    const n = kernel.epollWait(this.fd, this.#ready, timeoutMs);
    if (n === -4 /* EINTR */) return this.#ready.subarray(0, 0);
    if (n < 0) throw MapError.fromSyscall(new SyscallError('epoll_wait', -n));
    return this.#ready.subarray(0, n);
  }

  /**
   * Resolves when a source is readable (at once if one is), or rejects with the signal's
   * reason when it aborts. The loop is held only while someone waits.
   */
  readable(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.#drop(wake);
        reject(signal!.reason);
      };
      const wake = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(wake);
      if (!this.#watch) {
        const w = kernel.watch(this.fd, () => this.#wakeAll());
        if (typeof w === 'number') {
          this.#drop(wake);
          signal?.removeEventListener('abort', onAbort);
          reject(MapError.fromSyscall(new SyscallError('uv_poll_start', -w)));
          return;
        }
        this.#watch = w;
      }
    });
  }

  #wakeAll(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
    // A reader that drains and waits again does so before the check phase: its watch
    // stays (no new descriptor per wakeup); one that stopped waiting has it removed.
    this.#idleCheck ??= setImmediate(() => {
      this.#idleCheck = undefined;
      if (this.#waiters.length === 0) this.#unwatch();
    });
  }

  #drop(waiter: () => void): void {
    const i = this.#waiters.indexOf(waiter);
    if (i >= 0) this.#waiters.splice(i, 1);
    if (this.#waiters.length === 0) this.#unwatch();
  }

  #unwatch(): void {
    if (this.#watch) kernel.unwatch(this.#watch);
    this.#watch = undefined;
  }

  override close(): void {
    this.#unwatch();
    if (this.#idleCheck) clearImmediate(this.#idleCheck);
    this.#idleCheck = undefined;
    // Waiters see the reader closed when they look again.
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
    super.close();
  }
}
