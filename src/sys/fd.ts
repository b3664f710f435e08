// One owner per file descriptor. Subclasses (maps, programs, links) hold their fd
// through FdOwner: close() is idempotent, use after close throws the subclass's typed
// error (never touching a number the process may have reused), and an owner that is
// garbage-collected without close() has its fd closed by the FinalizationRegistry.
//
// Descriptor numbers are process-wide, so who owns which number is recorded in a table
// every thread shares: slot `fd` holds the token of the live owner of `fd`, 0 when no
// tsbpf object owns it. Taking over a caller's number (MapData.fromFd) claims a free slot
// or is refused; a number the kernel has just returned is new, so its owner claims the
// slot unconditionally, and an older owner still recorded there (its number was closed
// behind its back, then reused) finds its token gone and acts as closed instead of
// operating on the new owner's object.
import { getEnvironmentData, setEnvironmentData } from 'node:worker_threads';
import { kernel } from './native.js';

// fs.nr_open's default (1 << 20) bounds every descriptor number unless root raised it;
// numbers above are recorded per thread.
const SLOTS = 1 << 20;
const TOKEN_COUNTER = SLOTS;
const TABLE_KEY = 'tsbpf:fd-owners:1';

/**
 * The table of this process: the one a parent thread handed down through the worker
 * environment, else a new one handed down to the workers this thread starts. Its pages
 * are only touched for the numbers in use (4 bytes each).
 */
function ownerTable(): Int32Array {
  const inherited = getEnvironmentData(TABLE_KEY);
  if (inherited instanceof SharedArrayBuffer && inherited.byteLength === (SLOTS + 1) * 4) return new Int32Array(inherited);
  const buffer = new SharedArrayBuffer((SLOTS + 1) * 4);
  setEnvironmentData(TABLE_KEY, buffer);
  return new Int32Array(buffer);
}

const table = ownerTable();
const highSlots = new Map<number, number>();

function ownerOf(fd: number): number {
  return fd < SLOTS ? table[fd]! : highSlots.get(fd) ?? 0;
}

/** A token no live owner holds: counted process-wide, never 0. */
function newToken(): number {
  return (Atomics.add(table, TOKEN_COUNTER, 1) & 0x7fffffff) + 1;
}

/** Claims `fd` for `token`; with `onlyIfFree`, fails (false) when a live owner holds it. */
function claim(fd: number, token: number, onlyIfFree: boolean): boolean {
  if (fd >= SLOTS) {
    if (onlyIfFree && highSlots.has(fd)) return false;
    highSlots.set(fd, token);
    return true;
  }
  if (!onlyIfFree) {
    Atomics.store(table, fd, token);
    return true;
  }
  return Atomics.compareExchange(table, fd, 0, token) === 0;
}

/** Closes `fd` and frees its slot, unless a newer owner holds it (then the number is theirs). */
function release(fd: number, token: number): void {
  if (ownerOf(fd) !== token) return;
  kernel.close(fd);
  if (fd >= SLOTS) {
    if (highSlots.get(fd) === token) highSlots.delete(fd);
  } else {
    Atomics.compareExchange(table, fd, token, 0);
  }
}

/** True while a live tsbpf object (of any thread of this process) owns descriptor `fd`. */
export function isOwnedFd(fd: number): boolean {
  return Number.isInteger(fd) && fd >= 0 && fd <= 0x7fffffff && ownerOf(fd) !== 0;
}

// The registry holds a cell per owner; close() empties the cell instead of
// unregistering (an unregister token costs a hash-table entry per owner, measured at
// about 200 ns per open/close pair), so a collected owner whose cell is empty does nothing.
interface FdCell {
  fd: number;
  readonly token: number;
}

const registry = new FinalizationRegistry<FdCell>((cell) => {
  if (cell.fd >= 0) release(cell.fd, cell.token);
  cell.fd = -1;
});

// Registering costs about 0.7 µs per owner (measured, GC of the weak cell included):
// most of what JS adds to a short-lived owner such as a map-of-maps get() result closed
// at once. New owners are registered in batches instead, when the current job ends or
// PENDING_MAX are waiting, and those closed by then never are. The safety net loses
// nothing: finalizers cannot run before the job ends either.
const PENDING_MAX = 1024;
const pendingOwners: FdOwner[] = [];
const pendingCells: FdCell[] = [];

function registerPending(): void {
  for (let i = 0; i < pendingOwners.length; i++) {
    const cell = pendingCells[i]!;
    if (cell.fd >= 0) registry.register(pendingOwners[i]!, cell);
  }
  pendingOwners.length = 0;
  pendingCells.length = 0;
}

function registerLater(owner: FdOwner, cell: FdCell): void {
  if (pendingOwners.length === 0) queueMicrotask(registerPending);
  else if (pendingOwners.length >= PENDING_MAX) registerPending();
  pendingOwners.push(owner);
  pendingCells.push(cell);
}

/**
 * The one owner of a file descriptor: `close()` (or `using`) closes it once; a FinalizationRegistry closes
 * one that was never closed.
 */
export abstract class FdOwner {
  readonly #cell: FdCell;

  /**
   * Owns `fd` from now on. `refuse` marks a number handed in by a caller rather than
   * just returned by the kernel: when a live owner holds it already, nothing is taken
   * and the error `refuse` makes is thrown.
   */
  protected constructor(fd: number, refuse?: (fd: number) => Error) {
    if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) throw new RangeError(`invalid file descriptor ${fd}`);
    const token = newToken();
    if (!claim(fd, token, refuse !== undefined)) throw refuse!(fd);
    this.#cell = { fd, token };
    registerLater(this, this.#cell);
  }

  /** The error thrown when a closed object is used. */
  protected abstract closedError(): Error;

  /** The file descriptor. Throws once closed. */
  get fd(): number {
    const cell = this.#cell;
    const fd = cell.fd;
    if (fd < 0 || ownerOf(fd) !== cell.token) {
      cell.fd = -1;
      throw this.closedError();
    }
    return fd;
  }

  get closed(): boolean {
    const cell = this.#cell;
    return cell.fd < 0 || ownerOf(cell.fd) !== cell.token;
  }

  /** Releases the descriptor. Calling it again does nothing. */
  close(): void {
    const cell = this.#cell;
    const fd = cell.fd;
    if (fd < 0) return;
    cell.fd = -1;
    release(fd, cell.token);
  }

  /** Same as `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
