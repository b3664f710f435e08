// The TypeScript types of BTF types, as the library's codecs give values at run time:
// one model (TsType) that `tsbpf gen` prints as declarations and that a test can check
// decoded values against. Two readers decode BTF differently, and each has its own rules
// here: btfCodec (src/codec/btf.ts: map keys and values, ring buffer records; enums as
// names, unions and bitfields decoded) and a GlobalVariable's get() (src/global-value.ts:
// enums as numbers, a struct with a union or bitfield as bytes).
import { btfCodecOf } from '../codec/btf.js';
import { btfCodec as globalCodec } from '../global-value.js';
import { BTF_INT_BOOL, BTF_INT_CHAR, type Btf, type BtfMember, type BtfType } from '../obj/btf.js';

/** A TypeScript type. `ref` names a declaration (an enum's names, a struct's interface). */
export type TsType =
  | { kind: 'number' | 'bigint' | 'boolean' | 'string' | 'bytes' | 'unknown' }
  | { kind: 'literal'; value: string }
  | { kind: 'array'; of: TsType }
  | { kind: 'object'; fields: { name: string; type: TsType }[] }
  | { kind: 'union'; of: TsType[] }
  | { kind: 'ref'; id: number };

/** A named struct, union or enum of the object's BTF, declared once and referred to by `ref`. */
export interface Declaration {
  /** BTF type id (of the struct / union / enum itself). */
  id: number;
  /** 'struct record', 'union key', 'enum color': what btfCodec takes. */
  cName: string;
  /** The TypeScript name (PascalCase, unique in the module). */
  name: string;
  type: TsType;
}

const NUMBER: TsType = { kind: 'number' };
const BIGINT: TsType = { kind: 'bigint' };
const BOOLEAN: TsType = { kind: 'boolean' };
const STRING: TsType = { kind: 'string' };
const BYTES: TsType = { kind: 'bytes' };

const isChar = (t: BtfType): boolean => t.kind === 'int' && t.size === 1 && ((t.encoding & BTF_INT_CHAR) !== 0 || t.name === 'char');

/** The named struct / union / enum a type id stands for, looking through modifiers (and naming an anonymous one by its typedef). */
function composite(btf: Btf, id: number): { t: BtfType; name: string } {
  let t = btf.type(id);
  let typedefName = '';
  for (let hops = 0; t.kind === 'typedef' || t.kind === 'const' || t.kind === 'volatile' || t.kind === 'restrict' || t.kind === 'type_tag'; hops++) {
    if (hops > btf.typeCount) return { t: btf.resolve(id), name: '' };
    if (t.kind === 'typedef' && !typedefName) typedefName = t.name;
    t = btf.type(t.type);
  }
  return { t, name: ('name' in t && t.name) || typedefName };
}

/**
 * The types of an object's BTF as btfCodec decodes them. Named structs, unions and enums
 * become declarations (interfaces, string unions) the first time they are reached.
 */
export class CodecTypes {
  readonly #btf: Btf;
  readonly #declared = new Map<number, Declaration>();
  readonly #names: Set<string>;
  readonly #visiting = new Set<number>();

  /** `reserved`: names the module declares itself. */
  constructor(btf: Btf, reserved: Iterable<string>) {
    this.#btf = btf;
    this.#names = new Set(reserved);
  }

  /** Every declaration made so far, in the order they were first reached. */
  get declarations(): Declaration[] {
    return [...this.#declared.values()];
  }

  declaration(id: number): Declaration | undefined {
    return this.#declared.get(id);
  }

  /** Whether btfCodecOf can lay out type `id` (the same checks the load makes). */
  decodable(id: number): boolean {
    try {
      btfCodecOf(this.#btf, id);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Declares every named struct, union and enum of the BTF that btfCodec can lay out
   * (the first of each name and kind, as btfCodec picks), but map definitions: the
   * types of the variables in the .maps and maps sections describe maps, not data.
   */
  declareAll(): void {
    const seen = new Set<string>();
    const definitions = new Set<number>();
    for (const t of this.#btf.types) {
      if (t.kind !== 'datasec' || (t.name !== '.maps' && t.name !== 'maps')) continue;
      for (const v of t.vars) {
        const variable = this.#btf.type(v.type);
        if (variable.kind === 'var') definitions.add(this.#btf.resolve(variable.type).id);
      }
    }
    for (const t of this.#btf.types) {
      if (t.kind !== 'struct' && t.kind !== 'union' && t.kind !== 'enum' && t.kind !== 'enum64') continue;
      if (!t.name || definitions.has(t.id)) continue;
      const key = `${t.kind === 'enum64' ? 'enum' : t.kind} ${t.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (this.decodable(t.id)) this.type(t.id);
    }
  }

  /** The type btfCodecOf(btf, id) decodes to. */
  type(id: number): TsType {
    const { t, name } = composite(this.#btf, id);
    if (name && (t.kind === 'struct' || t.kind === 'union' || t.kind === 'enum' || t.kind === 'enum64')) {
      if (!this.#declared.has(t.id) && !this.#visiting.has(t.id)) {
        const kind = t.kind === 'enum64' ? 'enum' : t.kind;
        // An anonymous one named by its typedef: btfCodec finds it by the typedef's name.
        const cName = t.name ? `${kind} ${t.name}` : name;
        const d: Declaration = { id: t.id, cName, name: this.#name(name, kind), type: { kind: 'unknown' } };
        // A C type cannot contain itself by value: visiting guards malformed BTF only.
        this.#visiting.add(t.id);
        this.#declared.set(t.id, d);
        try {
          d.type = t.kind === 'enum' || t.kind === 'enum64' ? enumNames(t) : this.#shape(t);
        } finally {
          this.#visiting.delete(t.id);
        }
      }
      const d = this.#declared.get(t.id)!;
      // An enum value the enum does not name decodes as its number.
      if (t.kind === 'enum' || t.kind === 'enum64') return enumValue(t, { kind: 'ref', id: t.id });
      return { kind: 'ref', id: d.id };
    }
    return this.#shape(this.#btf.resolve(id));
  }

  #shape(t: BtfType): TsType {
    const btf = this.#btf;
    switch (t.kind) {
      case 'int':
        return intType(t);
      case 'enum':
      case 'enum64':
        return enumValue(t, enumNames(t));
      case 'ptr':
        return BIGINT;
      case 'float':
        return t.size === 4 || t.size === 8 ? NUMBER : BYTES;
      case 'array':
        if (isChar(btf.resolve(t.type)) && t.nelems > 0) return STRING;
        return { kind: 'array', of: this.type(t.type) };
      case 'struct':
      case 'union':
        return { kind: 'object', fields: this.#fields(t.members) };
      case 'datasec': {
        const fields: { name: string; type: TsType }[] = [];
        for (const v of t.vars) {
          const variable = btf.type(v.type);
          if (variable.kind === 'var') fields.push({ name: variable.name, type: this.type(variable.type) });
        }
        return { kind: 'object', fields };
      }
      case 'var':
        return this.type(t.type);
      default:
        return { kind: 'unknown' };
    }
  }

  #fields(members: readonly BtfMember[]): { name: string; type: TsType }[] {
    const btf = this.#btf;
    const fields: { name: string; type: TsType }[] = [];
    for (const [i, m] of members.entries()) {
      const resolved = btf.resolve(m.type);
      if (m.name === '' && m.bitfieldSize !== 0) continue; // padding
      if (m.bitfieldSize !== 0 || m.bitOffset % 8 !== 0) {
        // An enum bitfield reads as the enum does (its names); an int one by its signedness.
        const type = resolved.kind === 'enum' || resolved.kind === 'enum64' ? this.type(m.type) : bitfieldType(resolved);
        fields.push({ name: m.name || `_${i}`, type });
        continue;
      }
      if (m.name === '' && (resolved.kind === 'struct' || resolved.kind === 'union')) {
        // An anonymous struct or union: its members are the parent's (as in C).
        const inner = this.#shape(resolved);
        if (inner.kind === 'object') for (const f of inner.fields) fields.push(f);
        continue;
      }
      fields.push({ name: m.name || `_${i}`, type: this.type(m.type) });
    }
    // Decoding writes each name once: a later member of the same name wins.
    const last = new Map(fields.map((f) => [f.name, f]));
    return fields.filter((f) => last.get(f.name) === f);
  }

  /** A unique PascalCase name for a C name; a kind suffix, then a number, where it is taken. */
  #name(cName: string, kind: string): string {
    const base = pascal(cName);
    const suffix = kind[0]!.toUpperCase() + kind.slice(1);
    for (const candidate of [base, `${base}${suffix}`]) {
      if (!this.#names.has(candidate)) {
        this.#names.add(candidate);
        return candidate;
      }
    }
    for (let n = 2; ; n++) {
      const candidate = `${base}${suffix}${n}`;
      if (!this.#names.has(candidate)) {
        this.#names.add(candidate);
        return candidate;
      }
    }
  }
}

/** 'comm_key' -> 'CommKey', '__sk_buff' -> 'SkBuff', 'pt_regs' -> 'PtRegs'. */
export function pascal(cName: string): string {
  const words = cName.split(/[^A-Za-z0-9]+/).filter(Boolean);
  const joined = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
  if (!joined) return 'Anon';
  return /^[0-9]/.test(joined) ? `T${joined}` : joined;
}

function intType(t: BtfType & { kind: 'int' }): TsType {
  if (t.encoding & BTF_INT_BOOL) return [1, 2, 4, 8, 16].includes(t.size) || t.bitOffset !== 0 || t.bits !== t.size * 8 ? BOOLEAN : BYTES;
  if (t.bitOffset !== 0 || t.bits !== t.size * 8) return t.size > 4 ? BIGINT : NUMBER;
  if (t.size === 1 || t.size === 2 || t.size === 4) return NUMBER;
  if (t.size === 8 || t.size === 16) return BIGINT;
  return BYTES;
}

function enumNames(t: BtfType & { kind: 'enum' | 'enum64' }): TsType {
  const names = [...new Set(t.values.map((v) => v.name))];
  return names.length === 0 ? { kind: 'union', of: [] } : { kind: 'union', of: names.map((value) => ({ kind: 'literal', value })) };
}

/** An enum member or value: one of its names, or the number of a value it does not name. */
function enumValue(t: BtfType & { kind: 'enum' | 'enum64' }, names: TsType): TsType {
  if (![1, 2, 4, 8, 16].includes(t.size)) return BYTES;
  const num = t.size > 4 ? BIGINT : NUMBER;
  return t.values.length === 0 ? num : { kind: 'union', of: [names, num] };
}

function bitfieldType(t: BtfType): TsType {
  if (t.kind === 'int') return t.encoding & BTF_INT_BOOL ? BOOLEAN : t.size > 4 ? BIGINT : NUMBER;
  if (t.kind === 'enum' || t.kind === 'enum64') {
    const num = t.size > 4 ? BIGINT : NUMBER;
    return t.values.length === 0 ? num : { kind: 'union', of: [enumNames(t), num] };
  }
  return { kind: 'unknown' };
}

// ---- globals --------------------------------------------------------------------------

/**
 * What GlobalVariable.get() gives for a variable of BTF type `typeId` and `size` bytes:
 * the decoded value where src/global-value.ts decodes the type, else its bytes.
 */
export function globalType(btf: Btf | undefined, typeId: number | undefined, size: number): TsType {
  if (!btf || typeId === undefined) return BYTES;
  const codec = globalCodec(btf, typeId);
  if (!codec || codec.size !== size) return BYTES;
  return globalShape(btf, typeId);
}

function globalShape(btf: Btf, id: number): TsType {
  const t = btf.resolve(id);
  switch (t.kind) {
    case 'array':
      return isChar(btf.resolve(t.type)) ? STRING : { kind: 'array', of: globalShape(btf, t.type) };
    case 'struct':
      return { kind: 'object', fields: t.members.map((m, i) => ({ name: m.name || `_${i}`, type: globalShape(btf, m.type) })) };
    case 'int':
      return t.encoding & BTF_INT_BOOL ? BOOLEAN : t.size === 8 ? BIGINT : NUMBER;
    case 'enum':
    case 'enum64':
      return t.size === 8 ? BIGINT : NUMBER;
    case 'ptr':
      return BIGINT;
    case 'float':
      return NUMBER;
    default:
      return BYTES;
  }
}

/**
 * What EbpfLoader.setGlobal takes for the variable (besides bytes of its size): a
 * string for a char array, an array of scalars, a number or bigint for an integer or
 * enum, a boolean for a bool, a number for a float. Undefined: bytes only.
 */
export function globalInputType(btf: Btf | undefined, typeId: number | undefined, size: number): TsType | undefined {
  const scalar = (t: BtfType): TsType | undefined => {
    switch (t.kind) {
      case 'int':
        if (![1, 2, 4, 8].includes(t.size)) return undefined;
        return t.encoding & BTF_INT_BOOL ? BOOLEAN : { kind: 'union', of: [NUMBER, BIGINT] };
      case 'enum':
      case 'enum64':
      case 'ptr':
        return 'size' in t && ![1, 2, 4, 8].includes(t.size) ? undefined : { kind: 'union', of: [NUMBER, BIGINT] };
      case 'float':
        return t.size === 4 || t.size === 8 ? NUMBER : undefined;
      default:
        return undefined;
    }
  };
  if (!btf || typeId === undefined) return [1, 2, 4, 8].includes(size) ? { kind: 'union', of: [NUMBER, BIGINT] } : undefined;
  let t: BtfType;
  try {
    t = btf.resolve(typeId);
  } catch {
    return undefined;
  }
  if (t.kind === 'array') {
    const element = btf.resolve(t.type);
    const item = scalar(element);
    const arrayFits = item !== undefined && btf.sizeof(t.type) * t.nelems === size;
    const of: TsType[] = [];
    if (element.kind === 'int' && element.size === 1) of.push(STRING);
    if (arrayFits) of.push({ kind: 'array', of: item });
    return of.length === 0 ? undefined : of.length === 1 ? of[0] : { kind: 'union', of };
  }
  const s = scalar(t);
  if (!s) return undefined;
  try {
    return btf.sizeof(typeId) === size ? s : undefined;
  } catch {
    return undefined;
  }
}

// ---- checking values against a type (tests) -------------------------------------------

/**
 * Where `value` does not have type `type` ('' when it does): what a decoded value is
 * checked with, to show the generated declarations say what the codecs return.
 * Objects must have exactly the fields (none missing, none extra).
 */
export function mismatch(value: unknown, type: TsType, declarations: ReadonlyMap<number, Declaration>, path = '$'): string {
  switch (type.kind) {
    case 'number':
    case 'bigint':
    case 'boolean':
    case 'string':
      return typeof value === type.kind ? '' : `${path}: ${type.kind} expected, got ${typeof value}`;
    case 'bytes':
      return value instanceof Uint8Array ? '' : `${path}: Uint8Array expected, got ${typeof value}`;
    case 'unknown':
      return '';
    case 'literal':
      return value === type.value ? '' : `${path}: '${type.value}' expected, got ${String(value)}`;
    case 'ref': {
      const d = declarations.get(type.id);
      return d ? mismatch(value, d.type, declarations, path) : `${path}: no declaration ${type.id}`;
    }
    case 'union': {
      const misses = type.of.map((t) => mismatch(value, t, declarations, path));
      return misses.includes('') ? '' : misses.join(' / ') || `${path}: no value fits an empty union`;
    }
    case 'array':
      if (!Array.isArray(value)) return `${path}: array expected, got ${typeof value}`;
      for (const [i, v] of value.entries()) {
        const m = mismatch(v, type.of, declarations, `${path}[${i}]`);
        if (m) return m;
      }
      return '';
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) return `${path}: object expected, got ${typeof value}`;
      const obj = value as Record<string, unknown>;
      const names = new Set(type.fields.map((f) => f.name));
      const extra = Object.keys(obj).filter((k) => !names.has(k));
      if (extra.length) return `${path}: members the type lacks: ${extra.join(', ')}`;
      for (const f of type.fields) {
        if (!(f.name in obj)) return `${path}.${f.name}: missing`;
        const m = mismatch(obj[f.name], f.type, declarations, `${path}.${f.name}`);
        if (m) return m;
      }
      return '';
    }
  }
}
