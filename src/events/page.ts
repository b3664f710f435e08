// The system page size (AT_PAGESZ from the auxiliary vector): ring buffers are laid out
// in pages (the consumer page, the producer page, then the data).
import { readFileSync } from 'node:fs';

const AT_PAGESZ = 6n;
let page: number | undefined;

export function pageSize(): number {
  if (page === undefined) {
    page = 4096;
    try {
      const auxv = readFileSync('/proc/self/auxv');
      const v = new DataView(auxv.buffer, auxv.byteOffset, auxv.byteLength);
      for (let o = 0; o + 16 <= auxv.length; o += 16) {
        if (v.getBigUint64(o, true) === AT_PAGESZ) {
          page = Number(v.getBigUint64(o + 8, true));
          break;
        }
      }
    } catch {
      // No procfs: keep the common 4 KiB.
    }
  }
  return page;
}
