// All-ASCII byte strings as one JS string whose character offsets equal byte offsets:
// string tables (ELF, BTF) are read by indexOf + slice instead of a decoder call per name.
import { isAscii } from 'node:buffer';

/** `bytes` as a string when every byte is ASCII, else undefined. */
export function asciiText(bytes: Uint8Array): string | undefined {
  if (bytes.length === 0) return '';
  if (!isAscii(bytes)) return undefined;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}
