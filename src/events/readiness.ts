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

/** What a Readiness is told about its sources. */
export interface ReadinessOptions {
  /**
   * The sources report readiness once per wakeup: a perf event's poll hands over its
   * flag and clears it (perf_poll: atomic_xchg(&rb->poll, 0)), so a poll that reports
   * nothing eats the wakeup. libuv's registration of a new watch is such a poll:
   * EPOLL_CTL_ADD of this set polls its sources, then epoll_wait polls them again and
   * reports nothing. A sample written between a reader's last look at its rings and that
   * registration (libuv registers at the start of its next poll phase) would then never
   * wake it. With `oneShot`, waiters are also woken once after each new watch is
   * surely registered, to look again.
   */
  oneShot?: boolean;
}

export class Readiness extends FdOwner {
  readonly #ready = new Uint32Array(READY_MAX);
  readonly #oneShot: boolean;
  #watch: Watch | undefined;
  /** Counts watches made: a recheck scheduled for an earlier one does nothing. */
  #watches = 0;
  #waiters: (() => void)[] = [];
  #idleCheck: NodeJS.Immediate | undefined;

  constructor(options: ReadinessOptions = {}) {
    const fd = kernel.epollCreate();
    if (fd < 0) throw MapError.fromSyscall(new SyscallError('epoll_create1', -fd));
    super(fd);
    this.#oneShot = options.oneShot === true;
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
        if (this.#oneShot) this.#recheckWhenRegistered();
      }
    });
  }

  /**
   * Wakes the waiters once libuv has surely registered the new watch. libuv adds watches
   * to its epoll set at the start of its poll phase; immediates run in the check phase
   * that follows it. A watch made in the poll phase itself is registered in the next
   * turn's, so the second immediate (run in the next turn's check phase) is the first
   * one sure to come after it.
   */
  #recheckWhenRegistered(): void {
    const generation = ++this.#watches;
    setImmediate(() => {
      setImmediate(() => {
        if (generation === this.#watches && this.#watch !== undefined && this.#waiters.length > 0) this.#wakeAll();
      });
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
