// The records of bpf/include/tsbpf_log.h, decoded and formatted printf-style.
//
// A record (native byte order):
//   0  u8 version (1), u8 level (1 error .. 5 trace), u8 nargs, u8 flags
//   4  u16 fmt_len, u16 fmt_size (a multiple of 8)
//   8  u32 line, u32 reserved
//  16  the format: fmt_len bytes, a NUL, padding to fmt_size
//   then nargs arguments: u8 type, u8 reserved, u16 size, s32 len, then `size` bytes:
//   a 64-bit value for numbers (I32 sign-extended), the bytes read for strings (len of
//   them with the NUL, or the helper's -errno).
// The program formats nothing: the format and the tagged arguments are formatted here.

/** The levels of tsbpf_log.h's macros (log_error ... log_trace), most severe first; pino's names. */
export type BpfLogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** The levels by their number in a record (TSBPF_LOG_LEVEL_ERROR = 1 ...). */
export const LOG_LEVELS: readonly BpfLogLevel[] = ['error', 'warn', 'info', 'debug', 'trace'];

const RECORD_VERSION = 1;
const HEADER_SIZE = 16;
const ARG_HEADER_SIZE = 8;
const EFAULT = 14;

const enum ArgType {
  I32 = 1,
  U32 = 2,
  I64 = 3,
  U64 = 4,
  Str = 5,
  Ptr = 6,
}

/** One argument as the program sent it: 32-bit integers as numbers, 64-bit ones and pointers as bigints. */
export type BpfLogArg = number | bigint | string;

/** A record of tsbpf_log.h, decoded and formatted. */
export interface BpfLogRecord {
  /** The macro's level: 'error' for log_error, ... */
  level: BpfLogLevel;
  /** The formatted message. */
  message: string;
  /** The format string as written in the program. */
  format: string;
  /** The arguments: 32-bit integers as numbers, 64-bit integers and pointers as bigints, strings as strings. */
  args: BpfLogArg[];
  /** The source line of the call (__LINE__). */
  line: number;
}

/** An argument with what formatting needs: its width and signedness. */
interface Arg {
  type: ArgType;
  /** Numbers: I32 and U32 as numbers, I64, U64 and pointers as bigints. */
  value: number | bigint;
  /** Strings: the text, or "(efault)" when the read faulted. */
  text: string;
}

/**
 * A Buffer and a DataView over the memory records are in, made once per ArrayBuffer
 * rather than per record. Records come from two: the mapped ring, and the reader's
 * copies of small records; both are kept.
 */
interface Memory {
  buffer: ArrayBufferLike;
  bytes: Buffer;
  view: DataView;
}
let memory: Memory | undefined;
let other: Memory | undefined;

function over(bytes: Uint8Array): Memory {
  const ab = bytes.buffer;
  if (memory?.buffer === ab && memory.view.byteLength !== 0) return memory;
  if (other?.buffer === ab && other.view.byteLength !== 0) {
    [memory, other] = [other, memory];
    return memory;
  }
  other = memory;
  memory = { buffer: ab, bytes: Buffer.from(ab), view: new DataView(ab) };
  return memory;
}

/** A format seen before: its bytes (to compare), its text and its parsed pieces. */
interface KnownFormat {
  bytes: Uint8Array;
  format: string;
  pieces: Piece[];
}

/**
 * Formats by call site (line and length), each checked byte for byte: a program logs
 * the same few formats over and over, and comparing bytes is cheaper than decoding and
 * parsing them again.
 */
const formats = new Map<number, KnownFormat[]>();
const FORMATS_MAX = 4096;
let formatCount = 0;

function formatAt(bytes: Buffer, at: number, length: number, line: number): KnownFormat {
  const key = line * 0x10000 + length;
  let known = formats.get(key);
  if (known) {
    search: for (const f of known) {
      const b = f.bytes;
      for (let i = 0; i < length; i++) if (b[i] !== bytes[at + i]) continue search;
      return f;
    }
  } else {
    if (formatCount >= FORMATS_MAX) {
      formats.clear();
      formatCount = 0;
    }
    known = [];
    formats.set(key, known);
  }
  const format = bytes.toString('utf8', at, at + length);
  const f = { bytes: bytes.slice(at, at + length), format, pieces: parse(format) };
  known.push(f);
  formatCount++;
  return f;
}

/** Decodes `length` bytes at `offset` of `bytes` (a ring buffer record); undefined for a malformed one. */
export function decodeLogRecord(bytes: Uint8Array, offset: number, length: number): BpfLogRecord | undefined {
  if (length < HEADER_SIZE) return undefined;
  const mem = over(bytes);
  const view = mem.view;
  const base = bytes.byteOffset + offset;
  const end = base + length;
  const version = view.getUint8(base);
  const level = LOG_LEVELS[view.getUint8(base + 1) - 1];
  const nargs = view.getUint8(base + 2);
  const fmtLen = view.getUint16(base + 4, true);
  const fmtSize = view.getUint16(base + 6, true);
  const line = view.getUint32(base + 8, true);
  if (version !== RECORD_VERSION || level === undefined || fmtLen >= fmtSize || HEADER_SIZE + fmtSize > length) return undefined;
  const { format, pieces } = formatAt(mem.bytes, base + HEADER_SIZE, fmtLen, line);
  const args: Arg[] = [];
  let at = base + HEADER_SIZE + fmtSize;
  for (let i = 0; i < nargs; i++) {
    if (at + ARG_HEADER_SIZE > end) return undefined;
    const type = view.getUint8(at) as ArgType;
    const size = view.getUint16(at + 2, true);
    const len = view.getInt32(at + 4, true);
    const value = at + ARG_HEADER_SIZE;
    if (value + size > end) return undefined;
    if (type === ArgType.Str) {
      const text = len < 0 ? (len === -EFAULT ? '(efault)' : `(error ${len})`) : mem.bytes.toString('utf8', value, value + Math.max(0, Math.min(len, size) - 1));
      args.push({ type, value: 0, text });
    } else if (size < 8) {
      return undefined;
    } else if (type === ArgType.I32) {
      args.push({ type, value: view.getInt32(value, true), text: '' });
    } else if (type === ArgType.U32) {
      args.push({ type, value: view.getUint32(value, true), text: '' });
    } else if (type === ArgType.I64) {
      args.push({ type, value: view.getBigInt64(value, true), text: '' });
    } else if (type === ArgType.U64 || type === ArgType.Ptr) {
      args.push({ type, value: view.getBigUint64(value, true), text: '' });
    } else {
      return undefined;
    }
    at = value + size;
  }
  return { level, format, message: formatPieces(pieces, args), args: args.map(publicArg), line };
}

function publicArg(a: Arg): BpfLogArg {
  return a.type === ArgType.Str ? a.text : a.value;
}

/** A piece of a parsed format: literal text, or a conversion. */
type Piece = string | Conversion;

interface Conversion {
  /** The spec as written, printed as is when its argument is missing. */
  spec: string;
  conv: string;
  left: boolean;
  zero: boolean;
  plus: boolean;
  space: boolean;
  alt: boolean;
  /** -1: none; -2: from an argument (*). */
  width: number;
  precision: number;
}

const SPEC = /%([-0+ #]*)(\*|\d+)?(?:\.(\*|\d*))?(hh|h|ll|l|j|z|t|L)?([diouxXcsp%])/g;
function parse(format: string): Piece[] {
  const pieces: Piece[] = [];
  let last = 0;
  for (const m of format.matchAll(SPEC)) {
    if (m.index! > last) pieces.push(format.slice(last, m.index));
    last = m.index! + m[0].length;
    const conv = m[5]!;
    if (conv === '%') {
      pieces.push('%');
      continue;
    }
    const flags = m[1]!;
    const precision = m[3] === undefined ? -1 : m[3] === '*' ? -2 : Number(m[3] || '0');
    pieces.push({
      spec: m[0],
      conv,
      left: flags.includes('-'),
      zero: flags.includes('0'),
      plus: flags.includes('+'),
      space: flags.includes(' '),
      alt: flags.includes('#'),
      width: m[2] === undefined ? -1 : m[2] === '*' ? -2 : Number(m[2]),
      precision,
    });
  }
  if (last < format.length) pieces.push(format.slice(last));
  return pieces;
}

/** The value read as signed at its own width (a U32 of 0xffffffff is -1). */
function signed(a: Arg): number | bigint {
  switch (a.type) {
    case ArgType.U32:
      return (a.value as number) | 0;
    case ArgType.U64:
    case ArgType.Ptr:
      return BigInt.asIntN(64, a.value as bigint);
    default:
      return a.value;
  }
}

/** The value read as unsigned at its own width (an I32 of -1 is 0xffffffff). */
function unsigned(a: Arg): number | bigint {
  switch (a.type) {
    case ArgType.I32:
      return (a.value as number) >>> 0;
    case ArgType.I64:
      return BigInt.asUintN(64, a.value as bigint);
    default:
      return a.value;
  }
}

function pad(s: string, width: number, left: boolean): string {
  return width <= s.length ? s : left ? s.padEnd(width) : s.padStart(width);
}

function formatInteger(c: Conversion, a: Arg, width: number, left: boolean, precision: number): string {
  let value: number | bigint;
  let sign = '';
  let prefix = '';
  let base = 10;
  switch (c.conv) {
    case 'd':
    case 'i':
      value = signed(a);
      if (value < 0) {
        sign = '-';
        value = -value;
      } else if (c.plus) sign = '+';
      else if (c.space) sign = ' ';
      break;
    case 'o':
      value = unsigned(a);
      base = 8;
      break;
    case 'x':
    case 'X':
      value = unsigned(a);
      base = 16;
      if (c.alt && value != 0) prefix = c.conv === 'x' ? '0x' : '0X';
      break;
    default: // u
      value = unsigned(a);
  }
  let digits = precision === 0 && value == 0 ? '' : value.toString(base);
  if (c.conv === 'X') digits = digits.toUpperCase();
  if (precision > digits.length) digits = digits.padStart(precision, '0');
  if (c.conv === 'o' && c.alt && !digits.startsWith('0')) digits = '0' + digits;
  const head = sign + prefix;
  // '0' pads between the sign or 0x and the digits; ignored with '-' or a precision.
  if (c.zero && !left && precision < 0 && head.length + digits.length < width) digits = digits.padStart(width - head.length, '0');
  return pad(head + digits, width, left);
}

function formatOne(c: Conversion, a: Arg, width: number, left: boolean, precision: number): string {
  switch (c.conv) {
    case 's': {
      const text = a.type === ArgType.Str ? a.text : a.type === ArgType.Ptr ? `0x${a.value.toString(16)}` : signed(a).toString();
      return pad(precision >= 0 ? text.slice(0, precision) : text, width, left);
    }
    case 'c':
      return pad(a.type === ArgType.Str ? a.text.slice(0, 1) : String.fromCharCode(Number(BigInt.asUintN(8, BigInt(a.value)))), width, left);
    case 'p':
      return pad(a.type === ArgType.Str ? a.text : `0x${unsigned(a).toString(16)}`, width, left);
    default:
      if (a.type === ArgType.Str) return pad(a.text, width, left);
      return formatInteger(c, a, width, left, precision);
  }
}

function starArg(a: Arg | undefined): number {
  return a === undefined || a.type === ArgType.Str ? 0 : Number(signed(a));
}

/** A parsed format with printf's conversions replaced by `args`; a conversion without its argument stays as written. */
function formatPieces(pieces: readonly Piece[], args: readonly Arg[]): string {
  let out = '';
  let next = 0;
  for (const p of pieces) {
    if (typeof p === 'string') {
      out += p;
      continue;
    }
    let { width, precision, left } = p;
    if (width === -2) {
      width = starArg(args[next++]);
      if (width < 0) {
        left = true;
        width = -width;
      }
    }
    if (precision === -2) {
      precision = starArg(args[next++]);
      if (precision < 0) precision = -1;
    }
    const a = args[next++];
    out += a === undefined ? p.spec : formatOne(p, a, width, left, precision);
  }
  return out;
}
