// Codecs derived from BTF: the C layout of a type as the compiler laid it out (member
// offsets, bitfields and sizes come from the BTF, never recomputed), so a value a BPF
// program wrote decodes without a hand-written struct({...}).
//
// What each kind becomes (decode gives it, encode takes it back):
//   integers of 1, 2, 4 bytes    number (signed per the BTF encoding); `char` too
//   integers of 8 and 16 bytes   bigint
//   bool (_Bool)                 boolean
//   pointers                     bigint (the 64-bit address)
//   float, double                number (other float sizes: Uint8Array)
//   enums                        the name of the value; a value the enum does not
//                                name decodes as a number (bigint for 8-byte enums);
//                                encode takes a name or a number
//   char[N]                      string (cstring(N): up to the first NUL)
//   other arrays                 arrays (char[2][8]: an array of strings)
//   struct                       an object of its members; an anonymous struct or
//                                union member's members are the parent's (as in C:
//                                `rec.id` for `union { __u64 id; ... };`)
//   union                        an object of every member, each read from the same
//                                bytes (as bpftool's dump prints them); see encode
//   bitfields                    as their type says (number, bigint, boolean, enum name)
//   DATASEC (.data, .bss, ...)   an object of its variables
// typedef, const, volatile, restrict and type tags are looked through. Unnamed bitfields
// (padding) are skipped; padding is written as zero.
import type { Btf, BtfMember, BtfType } from '../obj/btf.js';
import { BTF_INT_BOOL, BTF_INT_CHAR, BTF_INT_SIGNED } from '../obj/btf.js';
import { BtfError } from '../errors.js';
import type { Scratch } from '../sys/scratch.js';
import { array, bytes, cstring, i16, i32, i64, i8, u16, u32, u64, u8, type Codec } from './codec.js';

/** What a BTF-derived codec decodes to and encodes from. */
export type BtfValue = number | bigint | boolean | string | Uint8Array | BtfValue[] | { [member: string]: BtfValue };

/** A member of a struct, union or datasec: a named value, or an anonymous struct/union whose members are the parent's. */
type Field =
  | { name: string; offset: number; codec: Codec<unknown>; inline: false }
  | { name: string; offset: number; codec: Composite; inline: true; names: readonly string[] };

/** A struct, union or datasec codec: the member names it reads from an object. */
interface Composite extends Codec<unknown> {
  readonly names: readonly string[];
  /** Decodes into `out` (inline members of a parent). */
  decodeInto(s: Scratch, offset: number, out: Record<string, unknown>): void;
}

const pathOf = new WeakMap<Error, { path: string; message: string }>();

/** `err` (a codec's TypeError or RangeError) with `name` prefixed to the member path it names. */
function inMember(err: unknown, name: string): unknown {
  if (!(err instanceof TypeError || err instanceof RangeError)) return err;
  const known = pathOf.get(err);
  const path = known ? (known.path.startsWith('[') ? `${name}${known.path}` : `${name}.${known.path}`) : name;
  const message = known?.message ?? err.message;
  const out = err instanceof TypeError ? new TypeError(`${path}: ${message}`) : new RangeError(`${path}: ${message}`);
  pathOf.set(out, { path, message });
  return out;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value === null) return 'null';
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

const boolCodec: Codec<boolean> = Object.freeze({
  size: 1,
  align: 1,
  encode(s: Scratch, offset: number, value: boolean) {
    if (typeof value !== 'boolean') throw new TypeError(`bool value must be true or false, got ${describe(value)}`);
    s.view.setUint8(offset, value ? 1 : 0);
  },
  decode(s: Scratch, offset: number) {
    return s.view.getUint8(offset) !== 0;
  },
});

function floatCodec(size: 4 | 8): Codec<number> {
  return Object.freeze({
    size,
    align: size,
    encode(s: Scratch, offset: number, value: number) {
      if (typeof value !== 'number') throw new TypeError(`float value must be a number, got ${describe(value)}`);
      if (size === 4) s.view.setFloat32(offset, value, true);
      else s.view.setFloat64(offset, value, true);
    },
    decode(s: Scratch, offset: number) {
      return size === 4 ? s.view.getFloat32(offset, true) : s.view.getFloat64(offset, true);
    },
  });
}

/** __int128 and unsigned __int128: bigint, little-endian. */
function int128Codec(signed: boolean): Codec<bigint> {
  const min = signed ? -(1n << 127n) : 0n;
  const max = signed ? (1n << 127n) - 1n : (1n << 128n) - 1n;
  return Object.freeze({
    size: 16,
    align: 8, // as btf.alignof counts it (BPF's __int128)
    encode(s: Scratch, offset: number, value: bigint) {
      if (typeof value !== 'bigint') throw new TypeError(`${signed ? 'i' : 'u'}128 value must be a bigint, got ${describe(value)}`);
      if (value < min || value > max) throw new RangeError(`${signed ? 'i' : 'u'}128 value out of range: ${value}`);
      const u = BigInt.asUintN(128, value);
      s.view.setBigUint64(offset, u & 0xffff_ffff_ffff_ffffn, true);
      s.view.setBigUint64(offset + 8, u >> 64n, true);
    },
    decode(s: Scratch, offset: number) {
      const u = (s.view.getBigUint64(offset + 8, true) << 64n) | s.view.getBigUint64(offset, true);
      return signed ? BigInt.asIntN(128, u) : u;
    },
  });
}

/** How an integer-like type (int, enum, bool) turns into a JS value, for plain members and bitfields alike. */
interface IntType {
  size: number;
  signed: boolean;
  /** The JS value of an integer read (as a bigint or a number: `big` says which). */
  toJs(n: number | bigint): unknown;
  /** The integer of a JS value; TypeError / RangeError when it is none. */
  fromJs(v: unknown): number | bigint;
  /** bigint arithmetic (8 bytes and more). */
  big: boolean;
  what: string;
  /** An integer read as is (not an enum or bool). */
  plain?: boolean;
}

function intType(t: BtfType): IntType | undefined {
  if (t.kind === 'int') {
    const signed = (t.encoding & BTF_INT_SIGNED) !== 0;
    const big = t.size > 4;
    if (t.encoding & BTF_INT_BOOL) {
      return {
        size: t.size,
        signed: false,
        big,
        what: 'bool',
        toJs: (n) => n !== 0 && n !== 0n,
        fromJs: (v) => {
          if (typeof v !== 'boolean') throw new TypeError(`bool value must be true or false, got ${describe(v)}`);
          return big ? (v ? 1n : 0n) : v ? 1 : 0;
        },
      };
    }
    const what = `${signed ? 'i' : 'u'}${t.size * 8} (${t.name})`;
    return {
      size: t.size,
      signed,
      big,
      what,
      plain: true,
      toJs: (n) => n,
      fromJs: (v) => {
        if (big ? typeof v !== 'bigint' : typeof v !== 'number') throw new TypeError(`${what} value must be a ${big ? 'bigint' : 'number'}, got ${describe(v)}`);
        return v as number | bigint;
      },
    };
  }
  if (t.kind === 'enum' || t.kind === 'enum64') {
    const big = t.size > 4;
    const names = new Map<number | bigint, string>();
    const values = new Map<string, number | bigint>();
    for (const { name, value } of t.values) {
      const v = big ? value : Number(value);
      if (!names.has(v)) names.set(v, name);
      values.set(name, v);
    }
    const what = `enum ${t.name || '(anon)'}`;
    return {
      size: t.size,
      signed: t.signed,
      big,
      what,
      toJs: (n) => names.get(n) ?? n,
      fromJs: (v) => {
        if (typeof v === 'string') {
          const n = values.get(v);
          if (n === undefined) throw new RangeError(`${what} has no value named ${JSON.stringify(v)} (${[...values.keys()].join(', ')})`);
          return n;
        }
        if (big ? typeof v !== 'bigint' : typeof v !== 'number') throw new TypeError(`${what} value must be one of its names or a ${big ? 'bigint' : 'number'}, got ${describe(v)}`);
        return v as number | bigint;
      },
    };
  }
  return undefined;
}

/** The range an integer of `bits` bits takes. */
function checkRange(n: number | bigint, bits: number, signed: boolean, what: string): void {
  if (typeof n === 'number') {
    if (!Number.isInteger(n)) throw new RangeError(`${what} value must be an integer, got ${n}`);
    const min = signed ? -(2 ** (bits - 1)) : 0;
    const max = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
    if (n < min || n > max) throw new RangeError(`${what} value must be in [${min}, ${max}], got ${n}`);
  } else {
    const b = BigInt(bits);
    const min = signed ? -(1n << (b - 1n)) : 0n;
    const max = signed ? (1n << (b - 1n)) - 1n : (1n << b) - 1n;
    if (n < min || n > max) throw new RangeError(`${what} value must be in [${min}, ${max}], got ${n}`);
  }
}

/** A scalar integer-like codec of a whole (byte-aligned) int or enum. */
function scalarCodec(it: IntType): Codec<unknown> {
  const { size, signed } = it;
  if (![1, 2, 4, 8].includes(size)) {
    if (size === 16) {
      const c = int128Codec(signed);
      return Object.freeze({ size, align: 8, encode: (s: Scratch, o: number, v: unknown) => c.encode(s, o, it.fromJs(v) as bigint), decode: (s: Scratch, o: number) => it.toJs(c.decode(s, o)) });
    }
    return bytes(size) as Codec<unknown>; // an integer of an odd size: its bytes
  }
  const raw = (size === 1 ? (signed ? i8 : u8) : size === 2 ? (signed ? i16 : u16) : size === 4 ? (signed ? i32 : u32) : signed ? i64 : u64) as Codec<number | bigint>;
  // A plain integer is the codec module's own (its checks are the same); enums and
  // bools of other sizes map their values first.
  if (it.plain) return raw as Codec<unknown>;
  return Object.freeze({
    size,
    align: size,
    encode(s: Scratch, offset: number, value: unknown) {
      const n = it.fromJs(value);
      checkRange(n, size * 8, signed, it.what);
      raw.encode(s, offset, n);
    },
    decode(s: Scratch, offset: number) {
      return it.toJs(raw.decode(s, offset));
    },
  });
}

/**
 * A bitfield: `width` bits from bit `bitOffset` of the bytes at the parent's offset
 * (little-endian: bit 0 is the low bit of the first byte).
 */
function bitfieldCodec(it: IntType, bitOffset: number, width: number): Codec<unknown> {
  const first = Math.floor(bitOffset / 8);
  const shift = bitOffset % 8;
  const span = Math.ceil((shift + width) / 8);
  const { signed, big } = it;
  const what = `${it.what} bitfield of ${width} bits`;
  if (!big) {
    // At most 32 bits at a shift under 8: the bytes fit a double exactly.
    const low = 2 ** shift;
    const range = 2 ** width;
    const read = (bytes: Uint8Array, at: number): number => {
      let acc = 0;
      for (let i = span - 1; i >= 0; i--) acc = acc * 256 + bytes[at + i]!;
      return acc;
    };
    return Object.freeze({
      size: 0,
      align: 1,
      decode(s: Scratch, offset: number) {
        let u = Math.floor(read(s.bytes, offset + first) / low) % range;
        if (signed && u >= range / 2) u -= range;
        return it.toJs(u);
      },
      encode(s: Scratch, offset: number, value: unknown) {
        const n = it.fromJs(value) as number;
        checkRange(n, width, signed, what);
        const at = offset + first;
        let acc = read(s.bytes, at);
        const old = Math.floor(acc / low) % range;
        acc += ((n < 0 ? n + range : n) - old) * low;
        for (let i = 0; i < span; i++) {
          s.bytes[at + i] = acc % 256;
          acc = Math.floor(acc / 256);
        }
      },
    });
  }
  const wb = BigInt(width);
  const mask = (1n << wb) - 1n;
  const read = (s: Scratch, at: number): bigint => {
    let acc = 0n;
    for (let i = span - 1; i >= 0; i--) acc = (acc << 8n) | BigInt(s.bytes[at + first + i]!);
    return acc;
  };
  return Object.freeze({
    size: 0,
    align: 1,
    decode(s: Scratch, offset: number) {
      const u = (read(s, offset) >> BigInt(shift)) & mask;
      return it.toJs(signed ? BigInt.asIntN(width, u) : u);
    },
    encode(s: Scratch, offset: number, value: unknown) {
      const n = it.fromJs(value);
      checkRange(n, width, signed, what);
      const u = BigInt.asUintN(width, BigInt(n));
      let acc = read(s, offset);
      acc = (acc & ~(mask << BigInt(shift))) | (u << BigInt(shift));
      for (let i = 0; i < span; i++) {
        s.bytes[offset + first + i] = Number(acc & 0xffn);
        acc >>= 8n;
      }
    },
  });
}

/** The type of a char array's element: `char` (by its BTF_INT_CHAR encoding or name), not signed/unsigned char. */
function isChar(t: BtfType): boolean {
  return t.kind === 'int' && t.size === 1 && ((t.encoding & BTF_INT_CHAR) !== 0 || t.name === 'char');
}

/** Deep equality of decoded values (a union's members, given twice). */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b);
  if (a instanceof Uint8Array && b instanceof Uint8Array) return a.length === b.length && a.every((x, i) => x === b[i]);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}

class Builder {
  readonly #btf: Btf;
  readonly #cache: Map<number, Codec<unknown>>;
  readonly #building = new Set<number>();

  constructor(btf: Btf, cache: Map<number, Codec<unknown>>) {
    this.#btf = btf;
    this.#cache = cache;
  }

  codec(id: number): Codec<unknown> {
    const cached = this.#cache.get(id);
    if (cached) return cached;
    if (this.#building.has(id)) throw new BtfError('InvalidType', `type ${id} contains itself`);
    this.#building.add(id);
    try {
      const c = this.#make(id);
      this.#cache.set(id, c);
      return c;
    } finally {
      this.#building.delete(id);
    }
  }

  #make(id: number): Codec<unknown> {
    const btf = this.#btf;
    const t = btf.resolve(id);
    switch (t.kind) {
      case 'int':
      case 'enum':
      case 'enum64': {
        const it = intType(t)!;
        if (t.kind === 'int' && (t.bitOffset !== 0 || t.bits !== t.size * 8)) return this.#intBits(t, it);
        if (t.kind === 'int' && it.what === 'bool' && t.size === 1) return boolCodec as Codec<unknown>;
        return scalarCodec(it);
      }
      case 'ptr':
        return u64 as Codec<unknown>;
      case 'float':
        return (t.size === 4 || t.size === 8 ? floatCodec(t.size) : bytes(t.size)) as Codec<unknown>;
      case 'array': {
        const element = btf.resolve(t.type);
        if (isChar(element) && t.nelems > 0) return cstring(t.nelems) as Codec<unknown>;
        const item = this.codec(t.type);
        return array(item, t.nelems) as Codec<unknown>;
      }
      case 'struct':
      case 'union':
        return this.#composite(t.kind, t.name, t.size, btf.alignof(t.id), this.#fields(t.members, t.name || '(anon)'));
      case 'datasec': {
        const fields: Field[] = [];
        let align = 1;
        for (const v of t.vars) {
          const variable = btf.type(v.type);
          if (variable.kind !== 'var') continue; // a function's entry in a .ksyms datasec
          const codec = this.codec(variable.type);
          align = Math.max(align, codec.align);
          fields.push({ name: variable.name, offset: v.offset, codec, inline: false });
        }
        return this.#composite('struct', t.name, t.size, align, fields);
      }
      case 'var':
        return this.codec(t.type);
      default:
        throw new BtfError('InvalidType', `type ${id} is a ${t.kind}${'name' in t && t.name ? ` (${t.name})` : ''}: it has no layout to decode`);
    }
  }

  /** An int whose BTF encoding gives it fewer bits or an offset (legacy bitfields). */
  #intBits(t: BtfType & { kind: 'int' }, it: IntType): Codec<unknown> {
    const inner = bitfieldCodec(it, t.bitOffset, t.bits);
    return Object.freeze({ size: t.size, align: Math.min(8, t.size) || 1, encode: (s: Scratch, o: number, v: unknown) => (s.bytes.fill(0, o, o + t.size), inner.encode(s, o, v)), decode: inner.decode });
  }

  #fields(members: readonly BtfMember[], owner: string): Field[] {
    const btf = this.#btf;
    const fields: Field[] = [];
    for (const [i, m] of members.entries()) {
      const resolved = btf.resolve(m.type);
      if (m.name === '' && m.bitfieldSize !== 0) continue; // `int :3;` padding
      const bitfield = m.bitfieldSize !== 0 || m.bitOffset % 8 !== 0;
      if (bitfield) {
        const it = intType(resolved);
        if (!it) throw new BtfError('InvalidType', `${owner}.${m.name}: a bitfield of a ${resolved.kind}`);
        const width = m.bitfieldSize || (resolved.kind === 'int' ? resolved.bits : it.size * 8);
        fields.push({ name: m.name || `_${i}`, offset: 0, codec: bitfieldCodec(it, m.bitOffset, width), inline: false });
        continue;
      }
      const codec = this.codec(m.type);
      if (m.name === '' && (resolved.kind === 'struct' || resolved.kind === 'union')) {
        const c = codec as Composite;
        fields.push({ name: `_${i}`, offset: m.bitOffset / 8, codec: c, inline: true, names: c.names });
      } else fields.push({ name: m.name || `_${i}`, offset: m.bitOffset / 8, codec, inline: false });
    }
    return fields;
  }

  #composite(kind: 'struct' | 'union', name: string, size: number, align: number, fields: Field[]): Composite {
    const label = `${kind} ${name || '(anon)'}`;
    const names = fields.flatMap((f) => (f.inline ? f.names : [f.name]));
    const decodeInto = (s: Scratch, base: number, out: Record<string, unknown>): void => {
      for (const f of fields) {
        if (f.inline) f.codec.decodeInto(s, base + f.offset, out);
        else out[f.name] = f.codec.decode(s, base + f.offset);
      }
    };
    const decode = (s: Scratch, base: number): unknown => {
      const out: Record<string, unknown> = {};
      decodeInto(s, base, out);
      return out;
    };
    const checkObject = (value: unknown): Record<string, unknown> => {
      if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
        throw new TypeError(`${label} value must be an object of its members (${names.join(', ')}), got ${describe(value)}`);
      }
      return value as Record<string, unknown>;
    };
    const put = (s: Scratch, base: number, f: Field, obj: Record<string, unknown>): void => {
      try {
        f.codec.encode(s, base + f.offset, f.inline ? obj : obj[f.name]);
      } catch (err) {
        throw f.inline ? err : inMember(err, f.name);
      }
    };
    const given = (f: Field, obj: Record<string, unknown>): boolean => (f.inline ? f.names.some((n) => obj[n] !== undefined) : obj[f.name] !== undefined);
    const fieldSize = (f: Field): number => f.codec.size;

    let encode: (s: Scratch, base: number, value: unknown) => void;
    if (kind === 'struct') {
      encode = (s, base, value) => {
        const obj = checkObject(value);
        s.bytes.fill(0, base, base + size);
        for (const f of fields) {
          if (!f.inline && obj[f.name] === undefined) throw new TypeError(`${label} value is missing member '${f.name}'`);
          put(s, base, f, obj);
        }
      };
    } else {
      // A union written from several members (as decode gives them): the largest is
      // written (the first declared among equals), and every other one given must read
      // back as given, else the members disagree and the value is refused.
      encode = (s, base, value) => {
        const obj = checkObject(value);
        const present = fields.filter((f) => given(f, obj));
        if (present.length === 0) throw new TypeError(`${label} value must have one of its members (${names.join(', ')})`);
        let chosen = present[0]!;
        for (const f of present) if (fieldSize(f) > fieldSize(chosen)) chosen = f;
        s.bytes.fill(0, base, base + size);
        put(s, base, chosen, obj);
        for (const f of present) {
          if (f === chosen) continue;
          if (f.inline) {
            const back: Record<string, unknown> = {};
            f.codec.decodeInto(s, base + f.offset, back);
            for (const n of f.names) {
              if (obj[n] !== undefined && !same(back[n], obj[n])) throw disagree(label, chosen, n);
            }
          } else if (!same(f.codec.decode(s, base + f.offset), obj[f.name])) throw disagree(label, chosen, f.name);
        }
      };
    }
    return Object.freeze({ size, align, names, decode, decodeInto, encode });
  }
}

function disagree(label: string, chosen: Field, other: string): RangeError {
  const first = chosen.inline ? chosen.names.join('/') : chosen.name;
  return new RangeError(`${label} value: members ${first} and ${other} give different bytes (a union holds one: give only the member to write)`);
}

const caches = new WeakMap<Btf, Map<number, Codec<unknown>>>();

/**
 * The codec of BTF type `typeId` (a map's key or value type id, a variable's type):
 * see btfCodec. BtfError 'TypeNotFound' for an id the BTF lacks, 'InvalidType' for a
 * type without a layout (void, functions, forward declarations).
 */
export function btfCodecOf<T = BtfValue>(btf: Btf, typeId: number): Codec<T> {
  if (typeof btf !== 'object' || btf === null || typeof (btf as Btf).resolve !== 'function') throw new BtfError('InvalidArgument', 'btfCodecOf: a Btf (Btf.parse, loadKernelBtf) is needed');
  let cache = caches.get(btf);
  if (!cache) caches.set(btf, (cache = new Map()));
  return new Builder(btf, cache).codec(typeId) as Codec<T>;
}

/** The kinds a bare name may name, in the order they are preferred. */
const NAMED_KINDS = ['struct', 'union', 'typedef', 'enum', 'enum64', 'int', 'float', 'datasec'] as const;

/**
 * The codec of the type called `typeName` in `btf`: 'struct event', 'union key',
 * 'enum color', or a bare name ('event', '__u64', '.bss'), which prefers a struct, then
 * a union, typedef, enum, int, float, datasec of that name. Layout and values as the
 * module comment of src/codec/btf.ts lists them (char arrays as strings, enums as
 * names, 64-bit integers as bigint). BtfError 'TypeNotFound' when no type has that name.
 *
 * Encode throws TypeError / RangeError (MapError 'InvalidArgument' through a typed map)
 * naming the member: `at.x: i32 value must be an integer in [...]`. A union is written from
 * the members given: the largest one, and each other given must read back as given
 * (so a decoded union writes back unchanged, and one member alone writes that member).
 */
export function btfCodec<T = BtfValue>(btf: Btf, typeName: string): Codec<T> {
  if (typeof typeName !== 'string' || typeName === '') throw new BtfError('InvalidArgument', `btfCodec: a type name is needed, got ${describe(typeName)}`);
  const m = /^(struct|union|enum)\s+(\S+)$/.exec(typeName.trim());
  const name = m ? m[2]! : typeName.trim();
  const kinds: readonly string[] = m ? (m[1] === 'enum' ? ['enum', 'enum64'] : [m[1]!]) : NAMED_KINDS;
  const candidates = btf.byName(name);
  for (const kind of kinds) {
    const found = candidates.find((t) => t.kind === kind);
    if (found) return btfCodecOf<T>(btf, found.id);
  }
  throw new BtfError('TypeNotFound', `the BTF has no ${m ? `${m[1]} ` : 'type '}named ${name}`);
}
