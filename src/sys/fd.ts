// One owner per file descriptor. Subclasses (maps, programs, links) hold their fd
// through FdOwner: close() is idempotent, use after close throws the subclass's typed
// error (never touching a number the process may have reused), and an owner that is
// garbage-collected without close() has its fd closed by the FinalizationRegistry.
import { kernel } from './native.js';

const registry = new FinalizationRegistry<number>((fd) => {
  kernel.close(fd);
});

export abstract class FdOwner {
  #fd: number;

  protected constructor(fd: number) {
    if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) throw new RangeError(`invalid file descriptor ${fd}`);
    this.#fd = fd;
    registry.register(this, fd, this);
  }

  /** The error thrown when a closed object is used. */
  protected abstract closedError(): Error;

  /** The file descriptor. Throws once closed. */
  get fd(): number {
    if (this.#fd < 0) throw this.closedError();
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Releases the descriptor. Calling it again does nothing. */
  close(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    registry.unregister(this);
    kernel.close(fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
