// Initial values of an object's globals (EbpfLoader.setGlobal) as bytes, checked against
// the variable's BTF type when the object has one: booleans for bool, numbers for
// integers (bigint too, and needed past 2^53), strings for char arrays, arrays for
// arrays, bytes for anything of the variable's exact size.
import { MapError } from './errors.js';
import { BTF_INT_BOOL, BTF_INT_CHAR, BTF_INT_SIGNED, type Btf, type BtfType } from './obj/btf.js';
import type { VariableSpec } from './obj/spec.js';

/** What setGlobal takes. */
export type GlobalValue = Uint8Array | ArrayBufferView | number | bigint | boolean | string | readonly (number | bigint | boolean)[];

const encoder = new TextEncoder();

function describe(value: unknown): string {
  if (typeof value === 'string') return `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)})`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (ArrayBuffer.isView(value)) return `${value.constructor.name} of ${value.byteLength} bytes`;
  if (value === null) return 'null';
  return `${typeof value} ${String(value)}`;
}

/** How a scalar is stored: integers (bool is a 1-byte unsigned one), floats, or bytes only. */
type Scalar = { kind: 'int'; size: number; signed: boolean; bool: boolean } | { kind: 'float'; size: number } | undefined;

function scalarOf(t: BtfType): Scalar {
  switch (t.kind) {
    case 'int':
      return [1, 2, 4, 8].includes(t.size) ? { kind: 'int', size: t.size, signed: (t.encoding & BTF_INT_SIGNED) !== 0, bool: (t.encoding & BTF_INT_BOOL) !== 0 } : undefined;
    case 'enum':
    case 'enum64':
      return [1, 2, 4, 8].includes(t.size) ? { kind: 'int', size: t.size, signed: t.signed, bool: false } : undefined;
    case 'ptr':
      return { kind: 'int', size: 8, signed: false, bool: false };
    case 'float':
      return t.size === 4 || t.size === 8 ? { kind: 'float', size: t.size } : undefined;
    default:
      return undefined;
  }
}

/**
 * The bytes of `value` for global `v` (its BTF type, when known, decides what is
 * accepted). MapError 'InvalidValueSize' for bytes or an array of the wrong size,
 * 'InvalidArgument' for a value of the wrong type or out of range.
 */
export function encodeGlobal(v: VariableSpec, value: GlobalValue, btf: Btf | undefined): Uint8Array {
  const name = v.name;
  const bad = (why: string): never => {
    throw new MapError('InvalidArgument', `setGlobal(${name}): ${why}`);
  };
  const wrongSize = (got: number, what: string): never => {
    throw new MapError('InvalidValueSize', `setGlobal(${name}): ${what} for a variable of ${v.size} bytes`, { size: got, expected: v.size });
  };
  if (value instanceof Uint8Array || ArrayBuffer.isView(value)) {
    const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    if (bytes.length !== v.size) wrongSize(bytes.length, value instanceof Uint8Array ? `${bytes.length} bytes` : `${value.constructor.name} of ${bytes.length} bytes`);
    return bytes;
  }
  let type: BtfType | undefined;
  if (btf && v.typeId !== undefined) {
    try {
      type = btf.resolve(v.typeId);
    } catch {
      type = undefined; // a type the BTF cannot resolve: judged by size alone
    }
  }
  const out = new Uint8Array(v.size);
  if (type?.kind === 'array') {
    const element = btf!.resolve(type.type);
    const scalar = scalarOf(element);
    if (typeof value === 'string') {
      if (element.kind !== 'int' || element.size !== 1) bad(`${describe(value)} for an array of ${element.kind} (a string fills char arrays)`);
      const bytes = encoder.encode(value);
      // Room for the NUL a C string ends with.
      if (bytes.length >= v.size) bad(`${describe(value)} is ${bytes.length} bytes in UTF-8: it needs ${bytes.length + 1} with its NUL, and the variable has ${v.size}`);
      out.set(bytes);
      return out;
    }
    if (Array.isArray(value)) {
      if (!scalar || scalar.size * type.nelems !== v.size) bad(`an array fills arrays of integers, bools or floats; pass bytes for this one`);
      if (value.length !== type.nelems) bad(`${describe(value)} for an array of ${type.nelems}`);
      value.forEach((x, i) => writeScalar(out, i * scalar!.size, x, scalar!, `${name}[${i}]`));
      return out;
    }
    return bad(`${describe(value)} for an array of ${type.nelems} (pass ${element.kind === 'int' && element.size === 1 ? 'a string, ' : ''}an array or bytes)`);
  }
  if (type) {
    const scalar = scalarOf(type);
    if (!scalar) return bad(`${describe(value)} for a ${type.kind}: pass its ${v.size} bytes`);
    if (scalar.size !== v.size) return bad(`the variable's type has ${scalar.size} bytes, its symbol ${v.size}: pass bytes`);
    writeScalar(out, 0, value, scalar, name);
    return out;
  }
  // No BTF: an integer of the variable's size, whatever its signedness.
  if (![1, 2, 4, 8].includes(v.size)) return bad(`${describe(value)} cannot fill a ${v.size}-byte variable; pass bytes`);
  writeScalar(out, 0, value, { kind: 'int', size: v.size, signed: true, bool: false }, name, true);
  return out;
}

function writeScalar(out: Uint8Array, at: number, value: unknown, scalar: NonNullable<Scalar>, what: string, eitherSign = false): void {
  const bad = (why: string): never => {
    throw new MapError('InvalidArgument', `setGlobal(${what}): ${why}`);
  };
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (scalar.kind === 'float') {
    if (typeof value !== 'number') bad(`${describe(value)} for a ${scalar.size * 8}-bit float (pass a number)`);
    if (scalar.size === 4) view.setFloat32(at, value as number, true);
    else view.setFloat64(at, value as number, true);
    return;
  }
  let n: bigint;
  if (typeof value === 'boolean') n = value ? 1n : 0n;
  else if (typeof value === 'bigint') n = value;
  else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) bad(`${describe(value)} is not a safe integer${Number.isInteger(value) ? ' (pass a bigint past 2^53)' : ''}`);
    n = BigInt(value);
  } else return bad(`${describe(value)} for ${scalar.bool ? 'a bool (pass true or false)' : `a ${scalar.size * 8}-bit integer (pass a number${scalar.size === 8 ? ' or a bigint' : ''})`}`);
  if (scalar.bool && n !== 0n && n !== 1n) bad(`${describe(value)} for a bool (pass true or false)`);
  const bits = BigInt(scalar.size * 8);
  const min = scalar.signed || eitherSign ? -(1n << (bits - 1n)) : 0n;
  const max = scalar.signed && !eitherSign ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  if (n < min || n > max) bad(`${describe(value)} does not fit ${scalar.signed ? 'a signed' : eitherSign ? 'a' : 'an unsigned'} ${scalar.size * 8}-bit integer (${min}..${max})`);
  const u = BigInt.asUintN(scalar.size * 8, n);
  for (let i = 0; i < scalar.size; i++) out[at + i] = Number((u >> BigInt(8 * i)) & 0xffn);
}

// ---- values of globals after load, typed from BTF ------------------------------------

/** What a global's BTF type reads as: numbers (bigint for 64 bits), booleans, strings for char arrays, arrays and objects. */
export type GlobalData = number | bigint | boolean | string | GlobalData[] | { [member: string]: GlobalData };

/** Encodes and decodes a value of one BTF type in place (a Codec without the codec module's checks). */
export interface BtfCodec {
  readonly size: number;
  /** Arrays of scalars and structs: a value may fail part way through encoding. */
  readonly composite?: boolean;
  encode(s: { view: DataView; bytes: Uint8Array }, offset: number, value: unknown): void;
  decode(s: { view: DataView; bytes: Uint8Array }, offset: number): GlobalData;
}

const decoder = new TextDecoder();

/** writeScalar for a codec: its refusal as the RangeError / TypeError codecs throw. */
function putScalar(out: Uint8Array, at: number, value: unknown, scalar: NonNullable<Scalar>): void {
  try {
    writeScalar(out, at, value, scalar, 'value');
  } catch (err) {
    if (!(err instanceof MapError)) throw err;
    const message = err.message.replace(/^setGlobal\(value\): /, '');
    throw typeof value === 'number' || typeof value === 'bigint' ? new RangeError(message) : new TypeError(message);
  }
}

function scalarCodec(scalar: NonNullable<Scalar>): BtfCodec {
  const size = scalar.size;
  if (scalar.kind === 'float') {
    return {
      size,
      decode: (s, o) => (size === 4 ? s.view.getFloat32(o, true) : s.view.getFloat64(o, true)),
      encode: (s, o, v) => putScalar(s.bytes, o, v, scalar),
    };
  }
  const { signed, bool } = scalar;
  const decode =
    bool ? (s: { view: DataView }, o: number) => s.view.getUint8(o) !== 0
    : size === 1 ? (signed ? (s: { view: DataView }, o: number) => s.view.getInt8(o) : (s: { view: DataView }, o: number) => s.view.getUint8(o))
    : size === 2 ? (signed ? (s: { view: DataView }, o: number) => s.view.getInt16(o, true) : (s: { view: DataView }, o: number) => s.view.getUint16(o, true))
    : size === 4 ? (signed ? (s: { view: DataView }, o: number) => s.view.getInt32(o, true) : (s: { view: DataView }, o: number) => s.view.getUint32(o, true))
    : signed ? (s: { view: DataView }, o: number) => s.view.getBigInt64(o, true) : (s: { view: DataView }, o: number) => s.view.getBigUint64(o, true);
  // The common cases written straight in; the rest (bigint for small integers, numbers
  // for 64 bits, anything out of range) through the checks setGlobal makes.
  type Put = (s: { view: DataView; bytes: Uint8Array }, o: number, v: unknown) => void;
  let encode: Put;
  if (bool) {
    encode = (s, o, v) => (typeof v === 'boolean' ? s.view.setUint8(o, v ? 1 : 0) : putScalar(s.bytes, o, v, scalar));
  } else if (size === 8) {
    const min = signed ? -(1n << 63n) : 0n;
    const max = signed ? (1n << 63n) - 1n : (1n << 64n) - 1n;
    encode = (s, o, v) => (typeof v === 'bigint' && v >= min && v <= max ? s.view.setBigUint64(o, BigInt.asUintN(64, v), true) : putScalar(s.bytes, o, v, scalar));
  } else {
    const bits = size * 8;
    const min = signed ? -(2 ** (bits - 1)) : 0;
    const max = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
    const set = size === 1 ? (d: DataView, o: number, v: number) => d.setUint8(o, v & 0xff) : size === 2 ? (d: DataView, o: number, v: number) => d.setUint16(o, v & 0xffff, true) : (d: DataView, o: number, v: number) => d.setUint32(o, v >>> 0, true);
    encode = (s, o, v) => (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? set(s.view, o, v) : putScalar(s.bytes, o, v, scalar));
  }
  return { size, decode, encode };
}

/**
 * The codec of BTF type `typeId`: integers, enums, bools, floats and pointers (u64),
 * arrays of them (char arrays as strings, NUL-terminated), structs of them by member
 * name. Undefined for anything else (unions, bitfields): such a global is bytes only.
 */
export function btfCodec(btf: Btf, typeId: number): BtfCodec | undefined {
  let t: BtfType;
  try {
    t = btf.resolve(typeId);
  } catch {
    return undefined;
  }
  if (t.kind === 'array') {
    const element = btf.resolve(t.type);
    const n = t.nelems;
    if (element.kind === 'int' && element.size === 1 && (element.encoding & BTF_INT_CHAR || element.name === 'char')) {
      return {
        size: n,
        decode: (s, o) => {
          const bytes = s.bytes.subarray(o, o + n);
          const end = bytes.indexOf(0);
          return decoder.decode(end < 0 ? bytes : bytes.subarray(0, end));
        },
        encode: (s, o, v) => {
          if (typeof v !== 'string') throw new TypeError(`${describe(v)} for a char array (pass a string)`);
          const bytes = encoder.encode(v);
          if (bytes.length >= n) throw new RangeError(`${describe(v)} is ${bytes.length} bytes in UTF-8: with its NUL it needs ${bytes.length + 1}, the array has ${n}`);
          s.bytes.fill(0, o, o + n);
          s.bytes.set(bytes, o);
        },
      };
    }
    const item = btfCodec(btf, t.type);
    if (!item) return undefined;
    const stride = item.size;
    return {
      size: stride * n,
      composite: true,
      decode: (s, o) => {
        const out: GlobalData[] = new Array(n);
        for (let i = 0; i < n; i++) out[i] = item.decode(s, o + i * stride);
        return out;
      },
      encode: (s, o, v) => {
        if (!Array.isArray(v) || v.length !== n) throw new TypeError(`${describe(v)} for an array of ${n}`);
        for (let i = 0; i < n; i++) item.encode(s, o + i * stride, v[i]);
      },
    };
  }
  if (t.kind === 'struct') {
    const fields: { name: string; offset: number; codec: BtfCodec }[] = [];
    for (const [i, m] of t.members.entries()) {
      if (m.bitfieldSize !== 0 || m.bitOffset % 8 !== 0) return undefined;
      const codec = btfCodec(btf, m.type);
      if (!codec) return undefined;
      fields.push({ name: m.name || `_${i}`, offset: m.bitOffset / 8, codec });
    }
    return {
      size: t.size,
      composite: true,
      decode: (s, o) => {
        const out: { [member: string]: GlobalData } = {};
        for (const f of fields) out[f.name] = f.codec.decode(s, o + f.offset);
        return out;
      },
      encode: (s, o, v) => {
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TypeError(`${describe(v)} for a struct (pass an object of its members)`);
        const obj = v as Record<string, unknown>;
        for (const f of fields) if (!(f.name in obj)) throw new TypeError(`the object has no member ${f.name}`);
        for (const f of fields) f.codec.encode(s, o + f.offset, obj[f.name]);
      },
    };
  }
  const scalar = scalarOf(t);
  return scalar ? scalarCodec(scalar) : undefined;
}
