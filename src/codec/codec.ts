// Codecs turn JS values into the bytes of a key or value and back, with C layout.
// They work in place on a caller-owned buffer, so the hot path allocates nothing
// beyond the decoded value.
import type { Scratch } from '../sys/scratch.js';

/**
 * How a value of type `T` is written into and read from the bytes of a key or value, with C layout
 * (little-endian).
 */
export interface Codec<T> {
  /** Bytes the value occupies (sizeof). */
  readonly size: number;
  /** Natural alignment (alignof). */
  readonly align: number;
  /** Writes `value` at `offset`. Throws TypeError/RangeError for a value that does not fit. */
  encode(s: Scratch, offset: number, value: T): void;
  /** Reads the value at `offset`. */
  decode(s: Scratch, offset: number): T;
}

/** The JS type a codec decodes to: `Decoded<typeof u64>` is `bigint`. */
export type Decoded<C> = C extends Codec<infer T> ? T : never;

function checkInt(value: unknown, min: number, max: number, what: string): asserts value is number {
  if (typeof value !== 'number') throw new TypeError(`${what} value must be a number, got ${typeof value}`);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${what} value must be an integer in [${min}, ${max}], got ${value}`);
  }
}

function intCodec(
  what: string,
  size: number,
  min: number,
  max: number,
  set: (v: DataView, o: number, x: number) => void,
  get: (v: DataView, o: number) => number,
): Codec<number> {
  return Object.freeze({
    size,
    align: size,
    encode(s: Scratch, offset: number, value: number) {
      checkInt(value, min, max, what);
      set(s.view, offset, value);
    },
    decode(s: Scratch, offset: number) {
      return get(s.view, offset);
    },
  });
}

function bigCodec(what: string, signed: boolean): Codec<bigint> {
  const min = signed ? -(1n << 63n) : 0n;
  const max = signed ? (1n << 63n) - 1n : (1n << 64n) - 1n;
  return Object.freeze({
    size: 8,
    align: 8,
    encode(s: Scratch, offset: number, value: bigint) {
      if (typeof value !== 'bigint') throw new TypeError(`${what} value must be a bigint, got ${typeof value}`);
      if (value < min || value > max) throw new RangeError(`${what} value out of range: ${value}`);
      if (signed) s.view.setBigInt64(offset, value, true);
      else s.view.setBigUint64(offset, value, true);
    },
    decode(s: Scratch, offset: number) {
      return signed ? s.view.getBigInt64(offset, true) : s.view.getBigUint64(offset, true);
    },
  });
}

/** C `__u8` as a `number` (little-endian); values out of range are refused. */
export const u8 = intCodec('u8', 1, 0, 0xff, (v, o, x) => v.setUint8(o, x), (v, o) => v.getUint8(o));
/** C `__s8` as a `number` (little-endian); values out of range are refused. */
export const i8 = intCodec('i8', 1, -0x80, 0x7f, (v, o, x) => v.setInt8(o, x), (v, o) => v.getInt8(o));
/** C `__u16` as a `number` (little-endian); values out of range are refused. */
export const u16 = intCodec('u16', 2, 0, 0xffff, (v, o, x) => v.setUint16(o, x, true), (v, o) => v.getUint16(o, true));
/** C `__s16` as a `number` (little-endian); values out of range are refused. */
export const i16 = intCodec('i16', 2, -0x8000, 0x7fff, (v, o, x) => v.setInt16(o, x, true), (v, o) => v.getInt16(o, true));
/** C `__u32` as a `number` (little-endian); values out of range are refused. */
export const u32 = intCodec('u32', 4, 0, 0xffff_ffff, (v, o, x) => v.setUint32(o, x, true), (v, o) => v.getUint32(o, true));
/** C `__s32` as a `number` (little-endian); values out of range are refused. */
export const i32 = intCodec('i32', 4, -0x8000_0000, 0x7fff_ffff, (v, o, x) => v.setInt32(o, x, true), (v, o) => v.getInt32(o, true));
/** C `__u64` as a `bigint` (little-endian); values out of range are refused. */
export const u64 = bigCodec('u64', false);
/** C `__s64` as a `bigint` (little-endian); values out of range are refused. */
export const i64 = bigCodec('i64', true);

/** `n` raw bytes; decodes to a fresh Uint8Array, encodes any Uint8Array of exactly `n` bytes. */
export function bytes(n: number): Codec<Uint8Array> {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`bytes(n): n must be a non-negative integer, got ${n}`);
  return Object.freeze({
    size: n,
    align: 1,
    encode(s: Scratch, offset: number, value: Uint8Array) {
      if (!(value instanceof Uint8Array)) throw new TypeError(`bytes(${n}) value must be a Uint8Array or Buffer`);
      if (value.length !== n) throw new RangeError(`bytes(${n}) value has ${value.length} bytes`);
      s.bytes.set(value, offset);
    },
    decode(s: Scratch, offset: number) {
      return s.bytes.slice(offset, offset + n);
    },
  });
}

const utf8Encoder = new TextEncoder();
// Invalid UTF-8 decodes to U+FFFD, as TextDecoder does by default: a C string is
// usually ASCII, and a comm or file name must not make a whole dump fail.
const utf8Decoder = new TextDecoder('utf-8');

/**
 * A C string in `char[n]` (a task's `char comm[16]`): decodes the bytes up to the
 * first NUL (all `n` when there is none) as UTF-8, invalid sequences as U+FFFD (use
 * bytes(n) for the exact bytes); encodes the UTF-8 of a string of at most n-1 bytes
 * followed by NUL padding, as the kernel's strings always end in a NUL
 * (bpf_get_current_comm, bpf_probe_read_str): a longer string is a RangeError, not
 * truncated, so that a key looked up is the key written. A string with a NUL inside
 * is a RangeError too (it would read back shorter).
 */
export function cstring(n: number): Codec<string> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`cstring(n): n must be a positive integer (the array's length, NUL included), got ${n}`);
  return Object.freeze({
    size: n,
    align: 1,
    encode(s: Scratch, offset: number, value: string) {
      if (typeof value !== 'string') throw new TypeError(`cstring(${n}) value must be a string, got ${typeof value}`);
      // encodeInto writes at most the room given: n bytes tell a string that fits (n-1 or fewer) from one that does not.
      const room = s.bytes.subarray(offset, offset + n);
      const { read, written } = utf8Encoder.encodeInto(value, room);
      if (read < value.length || written > n - 1) {
        const need = utf8Encoder.encode(value).length;
        room.fill(0);
        throw new RangeError(`cstring(${n}) value is ${need} bytes in UTF-8: with its NUL it needs ${need + 1}, the array has ${n}`);
      }
      if (value.includes('\0')) {
        room.fill(0);
        throw new RangeError(`cstring(${n}) value has a NUL at index ${value.indexOf('\0')}: a C string would end there`);
      }
      room.fill(0, written);
    },
    decode(s: Scratch, offset: number) {
      const room = s.bytes.subarray(offset, offset + n);
      const end = room.indexOf(0);
      return utf8Decoder.decode(end < 0 ? room : room.subarray(0, end));
    },
  });
}

/** A fixed-length array of one codec: `array(u32, 4)` is `__u32[4]`. */
export function array<T>(item: Codec<T>, length: number): Codec<T[]> {
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`array length must be a non-negative integer`);
  return Object.freeze({
    size: item.size * length,
    align: item.align,
    encode(s: Scratch, offset: number, value: T[]) {
      if (!Array.isArray(value)) throw new TypeError(`array value must be an array of ${length} items`);
      if (value.length !== length) throw new RangeError(`array value must have ${length} items, got ${value.length}`);
      for (let i = 0; i < length; i++) item.encode(s, offset + i * item.size, value[i]);
    },
    decode(s: Scratch, offset: number) {
      const out = new Array<T>(length);
      for (let i = 0; i < length; i++) out[i] = item.decode(s, offset + i * item.size);
      return out;
    },
  });
}

/** The object a {@link struct} codec of these fields reads and writes. */
export type StructValue<F extends Record<string, Codec<unknown>>> = { [K in keyof F]: Decoded<F[K]> };

/**
 * A C struct: fields in declaration order, each at its natural alignment, the size
 * rounded up to the largest alignment. Padding is written as zero (the kernel hashes
 * keys byte by byte, so stale padding would make equal keys differ).
 */
export function struct<F extends Record<string, Codec<any>>>(fields: F): Codec<StructValue<F>> & { readonly offsets: { readonly [K in keyof F]: number } } {
  const names = Object.keys(fields) as (keyof F & string)[];
  const offsets = {} as { [K in keyof F]: number };
  let offset = 0;
  let align = 1;
  for (const name of names) {
    const c = fields[name];
    offset = Math.ceil(offset / c.align) * c.align;
    offsets[name] = offset;
    offset += c.size;
    align = Math.max(align, c.align);
  }
  const size = Math.ceil(offset / align) * align;
  const codecs = names.map((n) => fields[n]);
  const offs = names.map((n) => offsets[n]);
  return Object.freeze({
    size,
    align,
    offsets: Object.freeze(offsets),
    encode(s: Scratch, base: number, value: StructValue<F>) {
      if (typeof value !== 'object' || value === null) throw new TypeError('struct value must be an object');
      s.bytes.fill(0, base, base + size);
      for (let i = 0; i < names.length; i++) {
        const v = value[names[i]];
        if (v === undefined) throw new TypeError(`struct value is missing field '${names[i]}'`);
        codecs[i].encode(s, base + offs[i], v);
      }
    },
    decode(s: Scratch, base: number) {
      const out = {} as StructValue<F>;
      for (let i = 0; i < names.length; i++) out[names[i]] = codecs[i].decode(s, base + offs[i]) as StructValue<F>[keyof F];
      return out;
    },
  });
}
