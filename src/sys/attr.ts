// Encoding helpers for union bpf_attr and friends. Each command keeps one attr buffer
// of its own: calls are synchronous, so reuse is safe, and the hot path allocates nothing.

/** A zeroed attr buffer of `size` bytes with a little-endian DataView over it. */
export class Attr {
  readonly bytes: Uint8Array;
  readonly view: DataView;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  /** Zeroes the attribute bytes. */
  reset(): this {
    this.bytes.fill(0);
    return this;
  }

  /** Writes a u32 at `offset`. */
  u32(offset: number, value: number): this {
    this.view.setUint32(offset, value, true);
    return this;
  }

  /** Writes a u64 given as a safe integer number or a bigint. */
  u64(offset: number, value: number | bigint): this {
    if (typeof value === 'bigint') {
      this.view.setBigUint64(offset, value, true);
    } else {
      this.view.setUint32(offset, value >>> 0, true);
      this.view.setUint32(offset + 4, Math.floor(value / 0x1_0000_0000), true);
    }
    return this;
  }

  /** Reads the u32 at `offset`. */
  getU32(offset: number): number {
    return this.view.getUint32(offset, true);
  }

  /** Reads the u64 at `offset`. */
  getU64(offset: number): bigint {
    return this.view.getBigUint64(offset, true);
  }

  /** Writes a NUL-padded name of at most `size - 1` bytes. */
  name(offset: number, size: number, value: string): this {
    const bytes = this.bytes;
    bytes.fill(0, offset, offset + size);
    // Object names are ASCII: copy the characters; encode only what is not.
    const n = Math.min(value.length, size - 1);
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) {
        bytes.fill(0, offset, offset + size);
        bytes.set(encoder.encode(value).subarray(0, size - 1), offset);
        return this;
      }
      bytes[offset + i] = c;
    }
    return this;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Reads a NUL-terminated string of at most `size` bytes. */
export function readCString(bytes: Uint8Array, offset: number, size: number): string {
  let end = offset;
  while (end < offset + size && bytes[end] !== 0) end++;
  return decoder.decode(bytes.subarray(offset, end));
}

/** A NUL-terminated copy of `s`, for pathname pointers. */
export function cString(s: string): Uint8Array {
  const encoded = encoder.encode(s);
  const out = new Uint8Array(encoded.length + 1);
  out.set(encoded);
  return out;
}

/** Bitmask naming the 8-byte words of attr that hold pointers (see native/bpf.c). */
export function ptrWords(...offsets: number[]): number {
  let mask = 0;
  for (const off of offsets) mask |= 1 << (off / 8);
  return mask;
}

/** Checks a flags argument: a non-negative safe integer or a u64 bigint. */
export function checkFlags(flags: number | bigint, what = 'flags'): void {
  if (typeof flags === 'number') {
    if (Number.isSafeInteger(flags) && flags >= 0) return;
  } else if (typeof flags === 'bigint') {
    if (flags >= 0n && flags < 1n << 64n) return;
  }
  throw new RangeError(`${what} must be a non-negative integer (u64), got ${String(flags)}`);
}
