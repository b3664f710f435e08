import { type LinkInfo, Link, undoAll } from './link.js';

/**
 * A probe defined through tracefs: the perf event link, plus the definition to remove
 * once the link is gone. A pinned link keeps its definition when closed.
 */
export class TracefsProbeLink extends Link {
  readonly description: string;
  readonly #inner: Link;
  readonly #remove: () => void;
  #pinned = false;

  constructor(inner: Link, remove: () => void, description: string) {
    super();
    this.#inner = inner;
    this.#remove = remove;
    this.description = description;
  }

  override pin(path: string): void {
    this.#inner.pin(path);
    this.#pinned = true;
  }

  override info(): LinkInfo {
    return this.#inner.info();
  }

  // The definition goes even when ending the link fails: the link's fd is closed either way.
  protected detachNow(): void {
    undoAll([() => this.#inner.detach(), this.#remove]);
  }

  protected override release(): void {
    undoAll([() => this.#inner.close(), () => this.#pinned || this.#remove()]);
  }
}
