// One owner per file descriptor. Subclasses (maps, programs, links) hold their fd
// through FdOwner: close() is idempotent, use after close throws the subclass's typed
// error (never touching a number the process may have reused), and an owner that is
// garbage-collected without close() has its fd closed by the FinalizationRegistry.
import { kernel } from './native.js';

// The registry holds a cell per owner; close() empties the cell instead of
// unregistering (an unregister token costs a hash-table entry per owner, measured at
// about 200 ns per open/close pair), so a collected owner whose cell is empty does nothing.
interface FdCell {
  fd: number;
}

const registry = new FinalizationRegistry<FdCell>((cell) => {
  if (cell.fd >= 0) kernel.close(cell.fd);
  cell.fd = -1;
});

export abstract class FdOwner {
  readonly #cell: FdCell;

  protected constructor(fd: number) {
    if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) throw new RangeError(`invalid file descriptor ${fd}`);
    this.#cell = { fd };
    registry.register(this, this.#cell);
  }

  /** The error thrown when a closed object is used. */
  protected abstract closedError(): Error;

  /** The file descriptor. Throws once closed. */
  get fd(): number {
    const fd = this.#cell.fd;
    if (fd < 0) throw this.closedError();
    return fd;
  }

  get closed(): boolean {
    return this.#cell.fd < 0;
  }

  /** Releases the descriptor. Calling it again does nothing. */
  close(): void {
    const fd = this.#cell.fd;
    if (fd < 0) return;
    this.#cell.fd = -1;
    kernel.close(fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
