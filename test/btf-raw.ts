// BTF blobs built by hand (header, type-section words, string section), for the tests
// of what the parsers check.

/** A BTF blob from type-section words and a string section; `patch` may then alter the header. */
export function rawBtf(words: number[], strings: string | Uint8Array = '\0int\0s\0a\0', patch?: (v: DataView) => void): Uint8Array {
  const str = typeof strings === 'string' ? new TextEncoder().encode(strings) : strings;
  const b = new Uint8Array(24 + words.length * 4 + str.length);
  const v = new DataView(b.buffer);
  v.setUint16(0, 0xeb9f, true);
  v.setUint8(2, 1);
  v.setUint32(4, 24, true);
  v.setUint32(12, words.length * 4, true);
  v.setUint32(16, words.length * 4, true);
  v.setUint32(20, str.length, true);
  words.forEach((w, i) => v.setUint32(24 + i * 4, w >>> 0, true));
  b.set(str, 24 + words.length * 4);
  patch?.(v);
  return b;
}
