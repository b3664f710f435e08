import { read, readSync } from 'node:fs';
import { Readable } from 'node:stream';
import { iterCreate } from '../sys/link.js';
import { kernel } from '../sys/native.js';
import { FdLink } from './link.js';

const CHUNK = 64 * 1024;

/**
 * An iterator link: each read of its output (stream() or readAll()) runs the iterator anew.
 * Kernel 5.8+ (BPF_LINK_TYPE_ITER).
 */
export class IterLink extends FdLink {
  /** A new iterator instance (BPF_ITER_CREATE): an fd whose reads run the program. */
  #open(): number {
    return iterCreate(this.fd);
  }

  /** Runs the iterator to the end and returns its whole output (a string with an encoding). */
  readAll(): Buffer;
  readAll(encoding: BufferEncoding): string;
  readAll(encoding?: BufferEncoding): Buffer | string {
    const fd = this.#open();
    const chunks: Buffer[] = [];
    try {
      for (;;) {
        const buf = Buffer.allocUnsafe(CHUNK);
        const n = readSync(fd, buf, 0, CHUNK, null);
        if (n === 0) break;
        chunks.push(buf.subarray(0, n));
      }
    } finally {
      kernel.close(fd);
    }
    const all = Buffer.concat(chunks);
    return encoding ? all.toString(encoding) : all;
  }

  /** The iterator's output as a Node Readable (one new iterator instance, closed at end or destroy). */
  stream(): Readable {
    const fd = this.#open();
    let closed = false;
    let reading = false;
    let destroyCb: ((err: Error | null) => void) | undefined;
    let destroyErr: Error | null = null;
    const close = () => {
      if (!closed) kernel.close(fd);
      closed = true;
    };
    return new Readable({
      highWaterMark: CHUNK,
      read(size) {
        const buf = Buffer.allocUnsafe(Math.max(size, 4096));
        reading = true;
        read(fd, buf, 0, buf.length, null, (err, n) => {
          reading = false;
          if (destroyCb) {
            // destroy() came while the read was in flight: close only now.
            close();
            destroyCb(destroyErr);
            return;
          }
          if (err) return this.destroy(err);
          if (n === 0) {
            close();
            this.push(null);
            return;
          }
          this.push(buf.subarray(0, n));
        });
      },
      destroy(err, cb) {
        if (reading) {
          destroyErr = err;
          destroyCb = cb;
          return;
        }
        close();
        cb(err);
      },
    });
  }
}
