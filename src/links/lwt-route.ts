import { Errno } from '../sys/errors.js';
import { refusedWith } from '../sys/netlink.js';
import { detachError, Link } from './link.js';

/**
 * A route carrying the program; detach deletes the route with that destination,
 * device and table (a route already gone, ESRCH, is fine). A route replaced since by
 * another `replace: true` attach has the same key: detaching the older link deletes it.
 * Kernel 4.10+ (LWT_BPF routes).
 */
export class LwtRouteLink extends Link {
  readonly description: string;
  readonly #delete: () => void;

  /** @internal */
  constructor(description: string, remove: () => void) {
    super();
    this.description = description;
    this.#delete = remove;
  }

  protected detachNow(): void {
    try {
      this.#delete();
    } catch (err) {
      if (refusedWith(err, Errno.ESRCH)) return;
      throw detachError(this.description, err);
    }
  }
}
