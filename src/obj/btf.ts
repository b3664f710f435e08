// BTF (BPF Type Format) parser and writer, pure over bytes (the running kernel's BTF is
// read by kernel-btf.ts). Format: the kernel's Documentation/bpf/btf.rst and
// include/uapi/linux/btf.h.
//
// Every offset, length, string offset and type id read from the input is checked;
// malformed BTF throws BtfError, never RangeError, and the walks that follow type
// references (resolve, sizeof, alignof) detect cycles instead of looping.
import { BtfError, ProgramError } from '../errors.js';
import { asciiText } from './ascii.js';

export const BTF_MAGIC = 0xeb9f;
export const BTF_VERSION = 1;
const HEADER_LEN = 24;
const HEADER_LEN_LAYOUT = 32;

/** BTF_INT_* encoding bits. */
export const BTF_INT_SIGNED = 1;
export const BTF_INT_CHAR = 2;
export const BTF_INT_BOOL = 4;

/** Linkage of FUNC (btf_func_linkage) and VAR (btf_var linkage). */
export const BTF_FUNC_STATIC = 0;
export const BTF_FUNC_GLOBAL = 1;
export const BTF_FUNC_EXTERN = 2;
export const BTF_VAR_STATIC = 0;
export const BTF_VAR_GLOBAL_ALLOCATED = 1;
export const BTF_VAR_GLOBAL_EXTERN = 2;

/** A member of a BTF struct or union: name, type, offset in bits, bitfield size. */
export interface BtfMember {
  name: string;
  type: number;
  /** Offset from the start of the struct, in bits. */
  bitOffset: number;
  /** Bitfield width; 0 for a member that is not a bitfield. */
  bitfieldSize: number;
}

/** A parameter of a BTF function prototype. */
export interface BtfParam {
  /** '' for an unnamed parameter (and for the `...` entry of a variadic function, type 0). */
  name: string;
  type: number;
}

/** A value of a BTF enum or enum64. */
export interface BtfEnumValue {
  name: string;
  value: bigint;
}

/** A variable of a BTF datasec: its type, offset and size in the section. */
export interface BtfVarSecinfo {
  type: number;
  offset: number;
  size: number;
}

/** A BTF type, by kind (int, ptr, array, struct, union, enum, fwd, typedef, func, var, datasec, ...). */
export type BtfType =
  | { id: number; kind: 'int'; name: string; size: number; encoding: number; bitOffset: number; bits: number }
  | { id: number; kind: 'ptr'; type: number }
  | { id: number; kind: 'array'; type: number; indexType: number; nelems: number }
  | { id: number; kind: 'struct' | 'union'; name: string; size: number; members: BtfMember[] }
  | { id: number; kind: 'enum' | 'enum64'; name: string; size: number; signed: boolean; values: BtfEnumValue[] }
  | { id: number; kind: 'fwd'; name: string; union: boolean }
  | { id: number; kind: 'typedef' | 'volatile' | 'const' | 'restrict'; name: string; type: number }
  /** `attr`: kind_flag set, the tag is a full `__attribute__((...))` (kernel 6.14+). */
  | { id: number; kind: 'type_tag'; name: string; type: number; attr: boolean }
  | { id: number; kind: 'func'; name: string; type: number; linkage: number }
  | { id: number; kind: 'func_proto'; returnType: number; params: BtfParam[] }
  | { id: number; kind: 'var'; name: string; type: number; linkage: number }
  | { id: number; kind: 'datasec'; name: string; size: number; vars: BtfVarSecinfo[] }
  | { id: number; kind: 'float'; name: string; size: number }
  /** componentIdx: -1 for the declaration itself, else the member / parameter index. */
  | { id: number; kind: 'decl_tag'; name: string; type: number; componentIdx: number; attr: boolean }
  | { id: 0; kind: 'void' };

/** The name of a BTF kind: `BtfType["kind"]`. */
export type BtfKindName = BtfType['kind'];

/** The variant of BtfType for one kind: `BtfTypeOf<'struct'>` has `members`. */
export type BtfTypeOf<K extends BtfKindName> = BtfType & { kind: K };

const KIND_NAMES: readonly BtfKindName[] = [
  'void', 'int', 'ptr', 'array', 'struct', 'union', 'enum', 'fwd', 'typedef', 'volatile', 'const',
  'restrict', 'func', 'func_proto', 'var', 'datasec', 'float', 'decl_tag', 'type_tag', 'enum64',
];
const KIND_NUMBERS: Record<BtfKindName, number> = Object.fromEntries(KIND_NAMES.map((k, i) => [k, i])) as Record<BtfKindName, number>;

/** The kinds `resolve` skips. */
const MODIFIERS = new Set<BtfKindName>(['typedef', 'volatile', 'const', 'restrict', 'type_tag']);

const VOID: BtfType = Object.freeze({ id: 0, kind: 'void' }) as BtfType;

const utf8 = new TextDecoder('utf-8');

/**
 * A BTF string section. Offsets below `baseLen` belong to the base BTF (split BTF).
 * An all-ASCII section (the usual case) is decoded once into one JS string whose
 * character offsets equal byte offsets, so a name is one indexOf + slice; not for
 * lazily parsed BTF, of which few names are read (each decoded on its own).
 */
class Strings {
  readonly bytes: Uint8Array;
  readonly base: Strings | undefined;
  readonly baseLen: number;
  readonly #ascii: string | undefined;
  #cache?: Map<number, string>;

  constructor(bytes: Uint8Array, base: Strings | undefined, text = true) {
    this.bytes = bytes;
    this.base = base;
    this.baseLen = base ? base.totalLen : 0;
    this.#ascii = text ? asciiText(bytes) : undefined;
  }

  get totalLen(): number {
    return this.baseLen + this.bytes.length;
  }

  // Strings read through noteAt, by offset, and indexed by string when first looked up
  // (at upload). One string object per offset: the lookups then compare pointers, not text.
  #byOff?: Map<number, string>;
  #noted?: Map<string, number>;

  /** get(off), remembered for noted(). */
  noteAt(off: number): string {
    const byOff = (this.#byOff ??= new Map());
    let s = byOff.get(off);
    if (s === undefined) {
      s = this.get(off);
      byOff.set(off, s);
      this.#noted = undefined;
    }
    return s;
  }

  /** Where `s` was read (noteAt), if it was. */
  noted(s: string): number | undefined {
    if (!this.#noted) {
      this.#noted = new Map();
      for (const [off, str] of this.#byOff ?? []) if (!this.#noted.has(str)) this.#noted.set(str, off);
    }
    return this.#noted.get(s);
  }

  /** An offset (of this section, the base's not searched) where `s` is, undefined when it is not or the section is not ASCII. */
  find(s: string): number | undefined {
    if (s === '') return 0;
    const at = this.#ascii?.indexOf(s + '\0');
    return at === undefined || at < 0 ? undefined : this.baseLen + at;
  }

  /**
   * The first 4 bytes of the string at `off` as a little-endian u32 (bytes past the
   * section's end as 0), after a byte order mark, which get() drops: what records are
   * sorted out by before their names are compared (see nameFilter).
   */
  prefixAt(off: number): number {
    if (off < this.baseLen) return this.base!.prefixAt(off);
    const b = this.bytes;
    let i = off - this.baseLen;
    if (b[i] === 0xef && b[i + 1] === 0xbb && b[i + 2] === 0xbf) i += 3;
    return ((b[i] ?? 0) | ((b[i + 1] ?? 0) << 8) | ((b[i + 2] ?? 0) << 16) | ((b[i + 3] ?? 0) << 24)) >>> 0;
  }

  get(off: number): string {
    if (off < this.baseLen) return this.base!.get(off);
    const local = off - this.baseLen;
    if (local >= this.bytes.length) {
      if (off === 0) return '';
      throw new BtfError('Malformed', `string offset ${off} is outside the string section (${this.totalLen} bytes)`);
    }
    if (this.#ascii !== undefined) {
      const end = this.#ascii.indexOf('\0', local);
      if (end < 0) throw new BtfError('Malformed', `string at offset ${off} is not NUL-terminated`);
      return this.#ascii.slice(local, end);
    }
    let cache = this.#cache;
    if (!cache) cache = this.#cache = new Map();
    let s = cache.get(local);
    if (s === undefined) {
      const end = this.bytes.indexOf(0, local);
      if (end < 0) throw new BtfError('Malformed', `string at offset ${off} is not NUL-terminated`);
      s = utf8.decode(this.bytes.subarray(local, end));
      cache.set(local, s);
    }
    return s;
  }
}

/** Bytes of the record after the 12-byte btf_type, or -1 for an unknown kind. */
function extraSize(kind: number, vlen: number): number {
  switch (kind) {
    case 1: // INT
    case 14: // VAR
    case 17: // DECL_TAG
      return 4;
    case 2: case 7: case 8: case 9: case 10: case 11: case 12: case 16: case 18:
      return 0;
    case 3: // ARRAY
      return 12;
    case 4: case 5: // STRUCT, UNION: btf_member
    case 15: // DATASEC: btf_var_secinfo
    case 19: // ENUM64: btf_enum64
      return vlen * 12;
    case 6: // ENUM: btf_enum
    case 13: // FUNC_PROTO: btf_param
      return vlen * 8;
    default:
      return -1;
  }
}

/** Where a parsed type section's records are: decoded into objects on first use. */
interface Records {
  /** The type section. */
  view: DataView;
  /** Byte offset in `view` of the record of type firstId + i. */
  offsets: Uint32Array;
  /** For lazily parsed BTF: the records by name. */
  names?: NameIndex;
}

/** Where a lazily parsed BTF's names are, to find types by name without decoding them. */
interface NameIndex {
  /** Name offset of type firstId + i; NO_NAME for the kinds without a name (ptr, array, func_proto). */
  nameOffs: Uint32Array;
  /** The first 4 bytes of type firstId + i's name (Strings.prefixAt), 0 without a name. */
  prefixes: Uint32Array;
  /**
   * The named records by prefix: buckets[prefixHash(prefix, bucketBits)] is the last
   * such record i, chain[i] the one before it (-1: none).
   */
  buckets: Int32Array;
  bucketBits: number;
  chain: Int32Array;
}

function prefixHash(prefix: number, bits: number): number {
  return Math.imul(prefix, 0x9e3779b1) >>> (32 - bits);
}

/**
 * Tests on Records.prefixes, `(prefix & mask) === want`, that every record whose name
 * starts with one of `heads` passes (and few others): the heads' first bytes, up to 4.
 * Everything passes for a head that decoding could produce from other bytes (a
 * replacement character, a leading byte order mark).
 */
function nameFilter(heads: string[]): { want: number; mask: number }[] {
  return heads.map((head) => {
    if (head.includes('\uFFFD') || head.startsWith('\uFEFF')) return { want: 0, mask: 0 };
    const b = Buffer.from(head, 'utf8');
    const n = Math.min(4, b.length);
    let want = 0;
    for (let i = 0; i < n; i++) want |= b[i]! << (8 * i);
    const mask = n === 4 ? -1 : (1 << (8 * n)) - 1;
    return { want: want & mask, mask };
  });
}

/** A name offset no string section reaches (they are below the 4 GiB a u32 length allows, and files are far smaller). */
const NO_NAME = 0xffffffff;

/**
 * BTF type information: parsed from an object or `/sys/kernel/btf`, looked up by id or name, loaded into
 * the kernel (BPF_BTF_LOAD, 4.18+).
 */
export class Btf {
  /** The base of split BTF (kernel module BTF over vmlinux). */
  readonly base: Btf | undefined;
  /** The first type id this BTF defines: 1, or the base's type count for split BTF. */
  readonly firstId: number;
  readonly #strings: Strings;
  /**
   * Index = type id. Complete (#complete) once `types` was read (parse reads it); before,
   * sparse: the types decoded so far, never the base's.
   */
  #types: (BtfType | undefined)[];
  #complete: boolean;
  readonly #count: number;
  /** The records the types are decoded from (parseLazy; parse's until it decoded them all). */
  #records: Records | undefined;
  #decoded = 0;
  #byName?: Map<string, BtfType[]>;
  /** byName answers of lazy BTF, by name (this BTF's own types and its base's). */
  #named?: Map<string, BtfType[]>;
  #datasecs?: BtfType[];
  #alignCache?: Map<number, number>;
  /**
   * The bytes `types` came from, when they are laid out as marshal() lays them out
   * (header, types, strings): uploading them is the same BTF to the kernel, without
   * re-encoding every type. Set by parse and withPatches only (never for split BTF).
   */
  #wire?: Uint8Array | (() => Uint8Array);

  private constructor(
    types: (BtfType | undefined)[],
    count: number,
    strings: Strings,
    base: Btf | undefined,
    records?: Records,
    wire?: Uint8Array | (() => Uint8Array),
  ) {
    this.#types = types;
    this.#count = count;
    this.#complete = records === undefined;
    this.#records = records;
    this.#strings = strings;
    this.base = base;
    this.firstId = base ? base.#count : 1;
    this.#wire = wire;
  }

  /**
   * Index = type id; [0] is void. For split BTF the base's types come first. Reading it
   * decodes every type of BTF parsed lazily (the running kernel's): for one type or the
   * count, type() and typeCount do not.
   */
  get types(): BtfType[] {
    if (!this.#complete) {
      // A new array: the one of the types decoded so far is sparse.
      const all = this.base ? this.base.types.slice(0, this.firstId) : [VOID];
      const { view, offsets } = this.#records!;
      const known = this.#types;
      const count = this.#count;
      const first = this.firstId;
      const strings = this.#strings;
      for (let id = first; id < count; id++) {
        let t = id < known.length ? known[id] : undefined; // (no reads past the end: slow)
        if (t === undefined) {
          t = decodeRecord(view, offsets[id - first]!, id, count, strings);
          this.#decoded++;
        }
        all.push(t);
      }
      this.#types = all;
      this.#complete = true;
    }
    return this.#types as BtfType[];
  }

  /** The number of type ids, void (and for split BTF the base's types) included: `types.length` without decoding any type. */
  get typeCount(): number {
    return this.#count;
  }

  /** How many types were decoded from their records (all of them but for lazily parsed BTF). @internal */
  get decodedCount(): number {
    return this.#decoded;
  }

  /**
   * Parses a BTF blob (the .BTF section of an object, /sys/kernel/btf/vmlinux, or a
   * module's split BTF with `base` = vmlinux).
   */
  static parse(bytes: Uint8Array, base?: Btf): Btf {
    const btf = Btf.#parse(bytes, base, false);
    void btf.types; // decodes and checks every type now
    btf.#records = undefined;
    return btf;
  }

  /**
   * parse(), except that a type is decoded (and its references and names checked) when
   * first asked for, by type(), byName() or `types`: the running kernel's BTF (about
   * 6 MB, 130,000 types) of which a load reads a few hundred. The walk over the records
   * at parse checks that each fits and that each type's name is in the string section.
   * @internal
   */
  static parseLazy(bytes: Uint8Array, base?: Btf): Btf {
    return Btf.#parse(bytes, base, true);
  }

  static #parse(bytes: Uint8Array, base: Btf | undefined, lazy: boolean): Btf {
    if (!(bytes instanceof Uint8Array)) throw new BtfError('InvalidArgument', 'BTF input must be a Uint8Array');
    if (base !== undefined && !(base instanceof Btf)) throw new BtfError('InvalidArgument', 'base must be a Btf');
    if (bytes.length < 8) throw new BtfError('Malformed', `BTF too short for a header (${bytes.length} bytes)`);
    const hv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const magic = hv.getUint16(0, true);
    if (magic !== BTF_MAGIC) {
      if (magic === 0x9feb) throw new BtfError('UnsupportedFormat', 'big-endian BTF is not supported');
      throw new BtfError('Malformed', `bad BTF magic 0x${magic.toString(16)} (expected 0x${BTF_MAGIC.toString(16)})`);
    }
    if (bytes[2] !== BTF_VERSION) throw new BtfError('UnsupportedFormat', `unsupported BTF version ${bytes[2]}`);
    const hdrLen = hv.getUint32(4, true);
    if (hdrLen < HEADER_LEN) throw new BtfError('Malformed', `BTF header length ${hdrLen} is less than ${HEADER_LEN}`);
    if (hdrLen > bytes.length) throw new BtfError('Malformed', `BTF header length ${hdrLen} exceeds the data (${bytes.length} bytes)`);
    // hdr_len 32 adds layout_off / layout_len: the kind layout section (struct
    // btf_layout { u8 info_sz; u8 elem_sz; u16 flags; } per kind), which newer pahole
    // emits so that readers can size records of kinds they do not know.
    const known = hdrLen >= HEADER_LEN_LAYOUT ? HEADER_LEN_LAYOUT : HEADER_LEN;
    for (let i = known; i < hdrLen; i++) {
      if (bytes[i] !== 0) throw new BtfError('UnsupportedFormat', `BTF header has unknown non-zero fields (header length ${hdrLen})`);
    }
    const typeOff = hv.getUint32(8, true);
    const typeLen = hv.getUint32(12, true);
    const strOff = hv.getUint32(16, true);
    const strLen = hv.getUint32(20, true);
    const avail = bytes.length - hdrLen;
    if (typeOff > avail || typeLen > avail - typeOff) {
      throw new BtfError('Malformed', `BTF type section (${typeLen} bytes at ${typeOff}) exceeds the data (${avail} bytes after the header)`);
    }
    if (strOff > avail || strLen > avail - strOff) {
      throw new BtfError('Malformed', `BTF string section (${strLen} bytes at ${strOff}) exceeds the data (${avail} bytes after the header)`);
    }
    if (typeOff % 4 !== 0) throw new BtfError('Malformed', `BTF type section offset ${typeOff} is not 4-byte aligned`);
    if (typeLen % 4 !== 0) throw new BtfError('Malformed', `BTF type section length ${typeLen} is not a multiple of 4`);
    if (typeLen > 0 && strLen > 0 && typeOff < strOff + strLen && strOff < typeOff + typeLen) {
      throw new BtfError('Malformed', 'BTF type and string sections overlap');
    }
    if (known === HEADER_LEN_LAYOUT) {
      checkLayout(bytes.subarray(hdrLen), hv.getUint32(24, true), hv.getUint32(28, true), [[typeOff, typeLen], [strOff, strLen]]);
    }
    const strBytes = bytes.subarray(hdrLen + strOff, hdrLen + strOff + strLen);
    if (!base && strLen === 0) throw new BtfError('Malformed', 'BTF string section is empty');
    if (!base && strBytes[0] !== 0) throw new BtfError('Malformed', 'BTF string section does not start with the empty string');
    if (strLen > 0 && strBytes[strLen - 1] !== 0) throw new BtfError('Malformed', 'BTF string section is not NUL-terminated');
    const strings = new Strings(strBytes, (base ? base.#strings : undefined), !lazy);
    const tv = new DataView(bytes.buffer, bytes.byteOffset + hdrLen + typeOff, typeLen);
    const firstId = base ? base.#count : 1;
    const records = scanRecords(tv, firstId, lazy ? strings : undefined);
    const count = firstId + records.offsets.length;
    const canonical = !base && hdrLen === HEADER_LEN && typeOff === 0 && strOff === typeLen && bytes.length === HEADER_LEN + typeLen + strLen;
    return new Btf(base ? [] : [VOID], count, strings, base, records, canonical ? bytes : undefined);
  }

  /** Decodes the record of type `id` (of this BTF, not the base's), kept for the next type(id). */
  #decode(id: number): BtfType {
    const r = this.#records!;
    const t = decodeRecord(r.view, r.offsets[id - this.firstId]!, id, this.#count, this.#strings);
    this.#decoded++;
    this.#types[id] = t;
    return t;
  }

  /**
   * Builds BTF from type objects (e.g. a sanitised copy of another Btf's types), for
   * marshal(). types[i].id must be i, types[0] void (or the base's types first).
   */
  static fromTypes(types: BtfType[], base?: Btf): Btf {
    if (!Array.isArray(types)) throw new BtfError('InvalidArgument', 'fromTypes: types must be an array of BTF types');
    if (base !== undefined && !(base instanceof Btf)) throw new BtfError('InvalidArgument', 'fromTypes: base must be a Btf');
    for (let i = 0; i < types.length; i++) {
      const t = types[i] as unknown;
      if (typeof t !== 'object' || t === null || typeof (t as BtfType).kind !== 'string') throw new BtfError('InvalidArgument', `fromTypes: types[${i}] is not a BTF type`);
    }
    const first = base ? base.#count : 1;
    if (types.length < first) throw new BtfError('InvalidArgument', `fromTypes: ${types.length} types, fewer than the base's ${first}`);
    if (base) {
      for (let i = 0; i < first; i++) if (types[i] !== base.types[i]) throw new BtfError('InvalidArgument', `fromTypes: type ${i} is not the base's`);
    } else if (types[0]?.kind !== 'void') throw new BtfError('InvalidArgument', 'fromTypes: type 0 must be void');
    for (let i = first; i < types.length; i++) {
      const t = types[i]!;
      if (t.id !== i) throw new BtfError('InvalidArgument', `fromTypes: types[${i}] has id ${t.id}`);
      if (t.kind === 'void') throw new BtfError('InvalidArgument', `fromTypes: type ${i} is void`);
      forEachRef(t, (ref) => {
        if (!Number.isInteger(ref) || ref < 0 || ref >= types.length) throw new BtfError('InvalidArgument', `type ${i} (${t.kind}) refers to type ${ref}, which does not exist`);
      });
    }
    return new Btf(types.slice(), types.length, new Strings(new Uint8Array(1), (base ? base.#strings : undefined)), base);
  }

  /** The string at `off` of the string section (the base's below its length). */
  string(off: number): string {
    if (!Number.isInteger(off) || off < 0) throw new BtfError('InvalidArgument', `bad string offset ${off}`);
    return this.#strings.get(off);
  }

  /** Total length of the string section(s) visible from this BTF (base included). */
  get stringsLength(): number {
    return this.#strings.totalLen;
  }

  /** The type with this id; throws BtfError for an id out of range. */
  type(id: number): BtfType {
    if (!(Number.isInteger(id) && id >= 0 && id < this.#count)) throw new BtfError('TypeNotFound', `no BTF type with id ${id} (${this.#count} types)`);
    return this.#types[id] ?? (id < this.firstId ? this.base!.type(id) : this.#decode(id));
  }

  /** Types called `name`, optionally of one kind. */
  byName<K extends BtfKindName>(name: string, kind: K): BtfTypeOf<K>[];
  byName(name: string): BtfType[];
  byName(name: string, kind?: BtfKindName): BtfType[] {
    if (!this.#complete) {
      const list = this.#lazyByName(name);
      return kind ? list.filter((t) => t.kind === kind) : list.slice();
    }
    if (!this.#byName && kind === 'datasec' && name !== '') {
      // An object's parse asks only for datasecs, a few among all types: no name index for them.
      this.#datasecs ??= this.types.filter((t) => t.kind === 'datasec');
      return this.#datasecs.filter((t) => (t as BtfTypeOf<'datasec'>).name === name);
    }
    if (!this.#byName) {
      const index = new Map<string, BtfType[]>();
      for (const t of this.types) {
        if (!('name' in t) || t.name === '') continue;
        const list = index.get(t.name);
        if (list) list.push(t);
        else index.set(t.name, [t]);
      }
      this.#byName = index;
    }
    const list = this.#byName.get(name);
    if (!list) return [];
    return kind ? list.filter((t) => t.kind === kind) : list.slice();
  }

  /**
   * byName without a name index over every type (lazily parsed BTF): the records whose
   * name starts with the name's first bytes have their name read, and only those with
   * the name are decoded.
   */
  #lazyByName(name: string): BtfType[] {
    let list = this.#named?.get(name);
    if (!list) {
      list = name === '' ? [] : (this.base ? this.base.byName(name) : []).concat(this.#ownNamed([name + '\0'], (n) => n === name));
      (this.#named ??= new Map()).set(name, list);
    }
    return list;
  }

  /**
   * Types (by id, the base's first) named `name` or `name___` followed by anything: what
   * CO-RE's candidate search (flavours, `task_struct___v2`) filters. Lazily parsed BTF
   * decodes only these. None for '' (CO-RE does not relocate anonymous types).
   * @internal
   */
  namedWithFlavours(name: string): BtfType[] {
    if (name === '') return [];
    const flavour = name + '___';
    const below = this.base ? this.base.namedWithFlavours(name) : [];
    return below.concat(this.#ownNamed([name + '\0', flavour], (n) => n === name || n.startsWith(flavour)));
  }

  /** This BTF's own types (not the base's), by id, whose name starts with one of `heads` (at most two) and is `accepted`. */
  #ownNamed(heads: string[], accept: (name: string) => boolean): BtfType[] {
    const out: BtfType[] = [];
    const records = this.#records;
    if (!records) {
      // Decoded (parse) or built from types: no records to sort out by name.
      for (let id = this.firstId; id < this.#count; id++) {
        const t = this.#types[id]!;
        if ('name' in t && accept(t.name)) out.push(t);
      }
      return out;
    }
    const { nameOffs, prefixes, buckets, bucketBits, chain } = records.names!;
    const keys = nameFilter(heads);
    const first = this.firstId;
    const take = (i: number): void => {
      const off = nameOffs[i]!;
      if (off !== NO_NAME && accept(this.#strings.get(off))) out.push(this.#types[first + i] ?? this.#decode(first + i));
    };
    if (keys.every((k) => k.mask === -1)) {
      // Whole 4-byte prefixes: the records with them, from their buckets.
      const found: number[] = [];
      for (const want of new Set(keys.map((k) => k.want >>> 0))) {
        for (let i = buckets[prefixHash(want, bucketBits)]!; i >= 0; i = chain[i]!) if (prefixes[i] === want) found.push(i);
      }
      for (const i of found.sort((x, y) => x - y)) take(i);
      return out;
    }
    // A name of fewer than 3 bytes: every record's prefix tested.
    const [a, b = a] = keys;
    const wantA = a!.want, maskA = a!.mask, wantB = b.want, maskB = b.mask;
    for (let i = 0; i < prefixes.length; i++) {
      const prefix = prefixes[i]!;
      if ((prefix & maskA) === wantA || (prefix & maskB) === wantB) take(i);
    }
    return out;
  }

  /** The type behind typedef / const / volatile / restrict / type_tag. */
  resolve(id: number): BtfType {
    let t = this.type(id);
    for (let hops = 0; MODIFIERS.has(t.kind); hops++) {
      if (hops > this.#count) throw new BtfError('InvalidType', `type ${id}: reference cycle`);
      t = this.type((t as { type: number }).type);
    }
    return t;
  }

  /** Size in bytes of a type (pointers are 8). BtfError for void, functions, fwd. */
  sizeof(id: number): number {
    let t = this.type(id);
    let mult = 1;
    for (let hops = 0; ; hops++) {
      if (hops > this.#count) throw new BtfError('InvalidType', `type ${id}: reference cycle`);
      let size: number;
      switch (t.kind) {
        case 'int': case 'struct': case 'union': case 'enum': case 'enum64': case 'datasec': case 'float':
          size = t.size;
          break;
        case 'ptr':
          size = 8;
          break;
        case 'typedef': case 'volatile': case 'const': case 'restrict': case 'type_tag': case 'var': case 'decl_tag':
          t = this.type(t.type);
          continue;
        case 'array':
          mult *= t.nelems;
          if (mult > 0xffffffff) throw new BtfError('InvalidType', `type ${id}: size overflows`);
          t = this.type(t.type);
          continue;
        default:
          throw new BtfError('InvalidType', `type ${id}: ${t.kind} has no size`);
      }
      const total = size * mult;
      if (total > 0xffffffff) throw new BtfError('InvalidType', `type ${id}: size overflows`);
      return total;
    }
  }

  /** Alignment in bytes, as libbpf's btf__align_of (1 for a packed struct). */
  alignof(id: number): number {
    if (!this.#alignCache) this.#alignCache = new Map();
    return this.#alignof(id, 0, new Set());
  }

  #alignof(id: number, depth: number, visiting: Set<number>): number {
    if (depth > 256) throw new BtfError('InvalidType', `type ${id}: types nest too deeply`);
    let t = this.type(id);
    for (let hops = 0; ; hops++) {
      if (hops > this.#count) throw new BtfError('InvalidType', `type ${id}: reference cycle`);
      switch (t.kind) {
        case 'int': case 'enum': case 'enum64': case 'float':
          return Math.max(1, Math.min(8, t.size));
        case 'ptr':
          return 8;
        case 'typedef': case 'volatile': case 'const': case 'restrict': case 'type_tag': case 'var': case 'array':
          t = this.type(t.type);
          continue;
        case 'struct': case 'union': {
          const cached = this.#alignCache!.get(t.id);
          if (cached !== undefined) return cached;
          if (visiting.has(t.id)) throw new BtfError('InvalidType', `type ${t.id}: ${t.kind} ${t.name || '(anon)'} contains itself`);
          visiting.add(t.id);
          let align = 1;
          for (const m of t.members) {
            const a = this.#alignof(m.type, depth + 1, visiting);
            if (m.bitfieldSize === 0 && m.bitOffset % (8 * a) !== 0) {
              align = 1; // packed
              break;
            }
            if (a > align) align = a;
          }
          if (t.size % align !== 0) align = 1; // packed: __attribute__((packed)) shrinks the size too
          visiting.delete(t.id);
          this.#alignCache!.set(t.id, align);
          return align;
        }
        default:
          throw new BtfError('InvalidType', `type ${id}: ${t.kind} has no alignment`);
      }
    }
  }

  /**
   * A copy with some types replaced (`types`: this BTF's types, some of them replaced by
   * new objects of the same id). When every replaced type keeps its kind, name and
   * entry count, as the loader's sanitising does (linkage, datasec sizes and offsets),
   * the copy's wire bytes are this BTF's patched in place; otherwise, or when this BTF
   * has no wire bytes, the copy is built with fromTypes (and marshalled for upload).
   * @internal
   */
  withPatches(types: BtfType[]): Btf {
    // Patches apply to parsed bytes only (a patched BTF's bytes live in a shared buffer).
    const wire = this.#wire instanceof Uint8Array ? this.#wire : undefined;
    if (!wire || types.length !== this.#count) return Btf.fromTypes(types);
    const view = new DataView(wire.buffer, wire.byteOffset, wire.byteLength);
    const patches: [number, BtfType][] = [];
    let p = HEADER_LEN;
    for (let id = 1; id < types.length; id++) {
      const info = view.getUint32(p + 4, true);
      const t = types[id]!;
      if (t !== this.types[id]) {
        if (!patchable(t, this.types[id]!, info)) return Btf.fromTypes(types);
        patches.push([p, t]);
      }
      p += 12 + extraSize((info >>> 24) & 0x1f, info & 0xffff);
    }
    // The patched copy is written when uploaded (into a buffer reused upload after
    // upload: the kernel copies it): a parse alone does not need it.
    return new Btf(types, types.length, this.#strings, undefined, undefined, () => {
      // Past 1 MiB, a buffer of its own (not kept for the process's lifetime).
      if (wireScratch.length < wire.length && wire.length <= 1 << 20) wireScratch = new Uint8Array(Math.max(wire.length, Math.min(wireScratch.length * 2, 1 << 20)));
      const out = wire.length <= wireScratch.length ? new Uint8Array(wireScratch.buffer, 0, wire.length) : new Uint8Array(wire.length);
      out.set(wire);
      const v = new DataView(out.buffer);
      for (const [at, t] of patches) patchRecord(v, at, t);
      return out;
    });
  }

  /**
   * The bytes to upload (BPF_BTF_LOAD) when this BTF has wire bytes (see withPatches),
   * and where a string of its string section is in them (line info names source files
   * and lines by string offset). Undefined otherwise: marshalWithStrings then. The bytes
   * of a patched BTF are only valid until the next wire() call: upload them at once.
   * @internal
   */
  wire(): { bytes: Uint8Array; offsetOf: (s: string) => number } | undefined {
    const wire = this.#wireBytes();
    if (!wire) return undefined;
    const strings = this.#strings;
    // Strings not of this BTF (none, when they come from its .BTF.ext) name the empty string.
    return { bytes: wire, offsetOf: (s) => strings.noted(s) ?? strings.find(s) ?? 0 };
  }

  #wireBytes(): Uint8Array | undefined {
    return typeof this.#wire === 'function' ? this.#wire() : this.#wire;
  }

  /** string(off), remembering where the string is for wire().offsetOf. @internal */
  noteString(off: number): string {
    if (!Number.isInteger(off) || off < 0) throw new BtfError('InvalidArgument', `bad string offset ${off}`);
    return this.#strings.noteAt(off);
  }

  /**
   * Serialises the types (this BTF's own, not the base's) and their names to BTF bytes:
   * a fresh, deduplicated string section. For split BTF the result is split BTF over the
   * same base (names are all put in the new string section, after the base's).
   */
  marshal(): Uint8Array {
    return marshalTypes(this.types, this.firstId, this.base ? this.base.#strings.totalLen : 0).bytes;
  }

  /**
   * marshal(), with `extra` strings added to the string section (line info names source
   * files and lines by string offset); `offsetOf` gives where each string went.
   */
  marshalWithStrings(extra: Iterable<string>): {
    /** The BTF blob. */
    bytes: Uint8Array;
    /** Where string `s` is in the string section. */
    offsetOf: (s: string) => number;
  } {
    const { bytes, strOffsets } = marshalTypes(this.types, this.firstId, this.base ? this.base.#strings.totalLen : 0, extra);
    return { bytes, offsetOf: (s) => strOffsets.get(s) ?? 0 };
  }
}

/**
 * Checks the kind layout section: in range, and for every kind this parser knows the
 * same record sizes (a disagreement means the records would be misread).
 */
function checkLayout(data: Uint8Array, off: number, len: number, others: [number, number][]): void {
  if (len === 0) return;
  if (off > data.length || len > data.length - off) {
    throw new BtfError('Malformed', `BTF kind layout section (${len} bytes at ${off}) exceeds the data (${data.length} bytes after the header)`);
  }
  if (off % 4 !== 0 || len % 4 !== 0) throw new BtfError('Malformed', `BTF kind layout section (${len} bytes at ${off}) is not 4-byte aligned`);
  for (const [o, l] of others) {
    if (l > 0 && off < o + l && o < off + len) throw new BtfError('Malformed', 'BTF kind layout section overlaps another section');
  }
  for (let kind = 1; kind < Math.min(len / 4, KIND_NAMES.length); kind++) {
    const infoSz = data[off + kind * 4]!;
    const elemSz = data[off + kind * 4 + 1]!;
    // extraSize(kind, vlen) = info + vlen * elem for every known kind.
    const info = extraSize(kind, 0);
    const elem = extraSize(kind, 1) - info;
    if (infoSz !== info || elemSz !== elem) {
      throw new BtfError('UnsupportedFormat', `BTF kind layout says ${KIND_NAMES[kind]} records have ${infoSz} + vlen * ${elemSz} bytes, expected ${info} + vlen * ${elem}`);
    }
  }
}

/** Where wire() writes patched BTF (see withPatches). */
let wireScratch = new Uint8Array(16384);

/**
 * Whether `t` can replace `old` (its record's info word `info`) in place: only fields
 * without names change (VAR linkage and type, FUNC linkage and type, DATASEC size and
 * entries), and the record keeps its length.
 */
function patchable(t: BtfType, old: BtfType, info: number): boolean {
  if (t.kind !== old.kind || t.id !== old.id) return false;
  switch (t.kind) {
    case 'var':
      return t.name === (old as typeof t).name;
    case 'func':
      return t.name === (old as typeof t).name && t.linkage <= 0xffff;
    case 'datasec':
      return t.name === (old as typeof t).name && t.vars.length === (info & 0xffff);
    default:
      return false;
  }
}

/** Rewrites the record at `p` to say `t` (patchable). */
function patchRecord(view: DataView, p: number, t: BtfType): void {
  switch (t.kind) {
    case 'var':
      view.setUint32(p + 8, u32Field(t.type, 'type', t.id), true);
      view.setUint32(p + 12, u32Field(t.linkage, 'linkage', t.id), true);
      break;
    case 'func':
      view.setUint32(p + 4, (view.getUint32(p + 4, true) & 0xffff0000) | t.linkage, true);
      view.setUint32(p + 8, u32Field(t.type, 'type', t.id), true);
      break;
    case 'datasec': {
      view.setUint32(p + 8, u32Field(t.size, 'size', t.id), true);
      let q = p + 12;
      for (const v of t.vars) {
        view.setUint32(q, u32Field(v.type, 'var type', t.id), true);
        view.setUint32(q + 4, u32Field(v.offset, 'var offset', t.id), true);
        view.setUint32(q + 8, u32Field(v.size, 'var size', t.id), true);
        q += 12;
      }
      break;
    }
    default:
      break;
  }
}

/** Calls `fn` for each type id `t` refers to. */
function forEachRef(t: BtfType, fn: (id: number) => void): void {
  switch (t.kind) {
    case 'ptr': case 'typedef': case 'volatile': case 'const': case 'restrict': case 'type_tag':
    case 'func': case 'var': case 'decl_tag':
      fn(t.type);
      break;
    case 'array':
      fn(t.type);
      fn(t.indexType);
      break;
    case 'struct': case 'union':
      for (const m of t.members) fn(m.type);
      break;
    case 'func_proto':
      fn(t.returnType);
      for (const p of t.params) fn(p.type);
      break;
    case 'datasec':
      for (const v of t.vars) fn(v.type);
      break;
    default:
      break;
  }
}

/**
 * Walks the records of a type section: where each is, checking that each fits. With
 * `strings` (lazy parse), also their names: each name's offset, checked to be inside the
 * string section, and first bytes, hashed into buckets (NameIndex).
 */
function scanRecords(tv: DataView, firstId: number, strings?: Strings): Records {
  const w = typeWords(tv);
  const n = w.length;
  // A record has at least 12 bytes: sized for that many, trimmed when counted.
  const max = Math.floor(n / 3);
  const offsets = new Uint32Array(max);
  const strTotal = strings?.totalLen ?? 0;
  const own = strings?.bytes ?? new Uint8Array(0);
  const baseLen = strings?.baseLen ?? 0;
  // About a bucket per record, at most 65,536.
  const bucketBits = Math.max(4, Math.min(16, Math.ceil(Math.log2(max + 1))));
  const names = strings && {
    nameOffs: new Uint32Array(max),
    prefixes: new Uint32Array(max),
    buckets: new Int32Array(1 << bucketBits).fill(-1),
    bucketBits,
    chain: new Int32Array(max),
  };
  let count = 0;
  // One loop for both (a call per record costs in the interpreter, where a first parse runs).
  for (let q = 0; q < n; count++) {
    if (n - q < 3) throw new BtfError('Malformed', `type ${firstId + count}: truncated btf_type (${(n - q) * 4} bytes left)`);
    const info = w[q + 1]!;
    const kind = (info >>> 24) & 0x1f;
    const infoSize = INFO_SIZE[kind]!;
    if (infoSize < 0) throw new BtfError('UnsupportedFormat', `type ${firstId + count}: unknown BTF kind ${kind}`);
    const extra = infoSize + ELEM_SIZE[kind]! * (info & 0xffff);
    if (extra > (n - q - 3) * 4) throw new BtfError('Malformed', `type ${firstId + count}: ${KIND_NAMES[kind]} record runs past the end of the type section`);
    offsets[count] = q * 4;
    if (!names) {
      // (The decoder checks names.)
    } else if (NAMELESS[kind] === 1) names.nameOffs[count] = NO_NAME;
    else {
      const off = w[q]!;
      if (off !== 0 && off >= strTotal) nameOutside(firstId + count, off, strTotal);
      names.nameOffs[count] = off;
      // Strings.prefixAt, inline for a name of this section without a byte order mark.
      const i = off - baseLen;
      const prefix = i >= 0 && own[i] !== 0xef ? own[i]! | (own[i + 1]! << 8) | (own[i + 2]! << 16) | (own[i + 3]! << 24) : strings!.prefixAt(off);
      names.prefixes[count] = prefix;
      const h = prefixHash(prefix, bucketBits);
      names.chain[count] = names.buckets[h]!;
      names.buckets[h] = count;
    }
    q += 3 + extra / 4;
  }
  if (names) {
    names.nameOffs = names.nameOffs.subarray(0, count);
    names.prefixes = names.prefixes.subarray(0, count);
  }
  return { view: tv, offsets: offsets.subarray(0, count), names };
}

/** extraSize as tables (INFO_SIZE[kind] + vlen * ELEM_SIZE[kind]; INFO_SIZE -1 for an unknown kind), for the walk over every record. */
const INFO_SIZE = Int8Array.from({ length: 32 }, (_, k) => extraSize(k, 0));
const ELEM_SIZE = Uint8Array.from({ length: 32 }, (_, k) => (extraSize(k, 0) < 0 ? 0 : extraSize(k, 1) - extraSize(k, 0)));
/** The kinds without a name: ptr, array, func_proto. */
const NAMELESS = Uint8Array.from({ length: 32 }, (_, k) => (k === 2 || k === 3 || k === 13 ? 1 : 0));

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The type section (a multiple of 4 bytes) as its little-endian u32 words: a view on a little-endian host when aligned, else a copy. */
function typeWords(tv: DataView): Uint32Array {
  if (HOST_LITTLE_ENDIAN && tv.byteOffset % 4 === 0) return new Uint32Array(tv.buffer, tv.byteOffset, tv.byteLength >>> 2);
  const w = new Uint32Array(tv.byteLength >>> 2);
  for (let i = 0; i < w.length; i++) w[i] = tv.getUint32(i * 4, true);
  return w;
}

function nameOutside(id: number, off: number, strTotal: number): never {
  throw new BtfError('Malformed', `type ${id}: string offset ${off} is outside the string section (${strTotal} bytes)`);
}

/**
 * Decodes the record of type `id` at byte `p` of the type section (scanRecords checked
 * that it fits), checking its references (below `total`) and names.
 */
function decodeRecord(tv: DataView, p: number, id: number, total: number, strings: Strings): BtfType {
  const nameOff = tv.getUint32(p, true);
  const info = tv.getUint32(p + 4, true);
  const sizeType = tv.getUint32(p + 8, true);
  const kind = (info >>> 24) & 0x1f;
  const vlen = info & 0xffff;
  const kflag = info >>> 31 === 1;
  p += 12;
  let t: BtfType;
  switch (kind) {
    case 1: {
      const v = tv.getUint32(p, true);
      p += 4;
      t = { id, kind: 'int', name: nameAt(strings, id, nameOff), size: sizeType, encoding: (v >>> 24) & 0x0f, bitOffset: (v >>> 16) & 0xff, bits: v & 0xff };
      break;
    }
    case 2:
      t = { id, kind: 'ptr', type: typeRef(id, total, sizeType) };
      break;
    case 3: {
      t = { id, kind: 'array', type: typeRef(id, total, tv.getUint32(p, true)), indexType: typeRef(id, total, tv.getUint32(p + 4, true)), nelems: tv.getUint32(p + 8, true) };
      p += 12;
      break;
    }
    case 4:
    case 5: {
      const members: BtfMember[] = new Array(vlen);
      for (let i = 0; i < vlen; i++, p += 12) {
        const off = tv.getUint32(p + 8, true);
        members[i] = {
          name: nameAt(strings, id, tv.getUint32(p, true)),
          type: typeRef(id, total, tv.getUint32(p + 4, true)),
          bitOffset: kflag ? off & 0xffffff : off,
          bitfieldSize: kflag ? off >>> 24 : 0,
        };
      }
      t = { id, kind: kind === 4 ? 'struct' : 'union', name: nameAt(strings, id, nameOff), size: sizeType, members };
      break;
    }
    case 6: {
      const values: BtfEnumValue[] = new Array(vlen);
      for (let i = 0; i < vlen; i++, p += 8) {
        values[i] = { name: nameAt(strings, id, tv.getUint32(p, true)), value: BigInt(kflag ? tv.getInt32(p + 4, true) : tv.getUint32(p + 4, true)) };
      }
      t = { id, kind: 'enum', name: nameAt(strings, id, nameOff), size: sizeType, signed: kflag, values };
      break;
    }
    case 19: {
      const values: BtfEnumValue[] = new Array(vlen);
      for (let i = 0; i < vlen; i++, p += 12) {
        const lo = tv.getUint32(p + 4, true);
        const hi = tv.getUint32(p + 8, true);
        const u = (BigInt(hi) << 32n) | BigInt(lo);
        values[i] = { name: nameAt(strings, id, tv.getUint32(p, true)), value: kflag ? BigInt.asIntN(64, u) : u };
      }
      t = { id, kind: 'enum64', name: nameAt(strings, id, nameOff), size: sizeType, signed: kflag, values };
      break;
    }
    case 7:
      t = { id, kind: 'fwd', name: nameAt(strings, id, nameOff), union: kflag };
      break;
    case 8: case 9: case 10: case 11: {
      const modifier = KIND_NAMES[kind] as 'typedef' | 'volatile' | 'const' | 'restrict';
      t = { id, kind: modifier, name: nameAt(strings, id, nameOff), type: typeRef(id, total, sizeType) };
      break;
    }
    case 18:
      t = { id, kind: 'type_tag', name: nameAt(strings, id, nameOff), type: typeRef(id, total, sizeType), attr: kflag };
      break;
    case 12:
      t = { id, kind: 'func', name: nameAt(strings, id, nameOff), type: typeRef(id, total, sizeType), linkage: vlen };
      break;
    case 13: {
      const params: BtfParam[] = new Array(vlen);
      for (let i = 0; i < vlen; i++, p += 8) params[i] = { name: nameAt(strings, id, tv.getUint32(p, true)), type: typeRef(id, total, tv.getUint32(p + 4, true)) };
      t = { id, kind: 'func_proto', returnType: typeRef(id, total, sizeType), params };
      break;
    }
    case 14:
      t = { id, kind: 'var', name: nameAt(strings, id, nameOff), type: typeRef(id, total, sizeType), linkage: tv.getUint32(p, true) };
      p += 4;
      break;
    case 15: {
      const vars: BtfVarSecinfo[] = new Array(vlen);
      for (let i = 0; i < vlen; i++, p += 12) {
        vars[i] = { type: typeRef(id, total, tv.getUint32(p, true)), offset: tv.getUint32(p + 4, true), size: tv.getUint32(p + 8, true) };
      }
      t = { id, kind: 'datasec', name: nameAt(strings, id, nameOff), size: sizeType, vars };
      break;
    }
    case 16:
      t = { id, kind: 'float', name: nameAt(strings, id, nameOff), size: sizeType };
      break;
    case 17:
      t = { id, kind: 'decl_tag', name: nameAt(strings, id, nameOff), type: typeRef(id, total, sizeType), componentIdx: tv.getInt32(p, true), attr: kflag };
      p += 4;
      break;
    default:
      throw new BtfError('UnsupportedFormat', `type ${id}: unknown BTF kind ${kind}`); // unreachable: scanRecords checked
  }
  return t;
}

/** The string at `off` for type `id`'s record (errors name the type). */
function nameAt(strings: Strings, id: number, off: number): string {
  if (off !== 0 && off >= strings.totalLen) nameOutside(id, off, strings.totalLen);
  return strings.get(off);
}

/** A type id type `id`'s record refers to, below `total` (errors name the type). */
function typeRef(id: number, total: number, t: number): number {
  if (t >= total) throw new BtfError('Malformed', `type ${id}: refers to type ${t}, which does not exist (${total} types)`);
  return t;
}

/** A growing byte buffer for marshal. */
class Writer {
  buf: Uint8Array;
  view: DataView;
  len = 0;
  constructor(initial: number) {
    this.buf = new Uint8Array(Math.max(16, initial));
    this.view = new DataView(this.buf.buffer);
  }
  reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.len, v >>> 0, true);
    this.len += 4;
  }
}

const encoder = new TextEncoder();

function u32Field(v: number, what: string, id: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new BtfError('InvalidType', `marshal: type ${id}: ${what} ${v} does not fit in 32 bits`);
  return v;
}

function marshalTypes(types: BtfType[], firstId: number, strBase: number, extra: Iterable<string> = []): { bytes: Uint8Array; strOffsets: Map<string, number> } {
  // String section: '\0' first, each distinct name once.
  const strOffsets = new Map<string, number>([['', 0]]);
  const strs = new Writer(4096);
  strs.reserve(1);
  strs.buf[0] = 0;
  strs.len = 1;
  const name = (s: string): number => {
    if (s === '') return 0;
    let off = strOffsets.get(s);
    if (off === undefined) {
      off = strBase + strs.len;
      strs.reserve(s.length * 3 + 1);
      const { written } = encoder.encodeInto(s, strs.buf.subarray(strs.len));
      strs.buf[strs.len + written] = 0;
      strs.len += written + 1;
      strOffsets.set(s, off);
    }
    return off;
  };

  const w = new Writer(HEADER_LEN + (types.length - firstId) * 32);
  w.len = HEADER_LEN;
  const head = (id: number, nameOff: number, kind: number, vlen: number, kflag: boolean, sizeType: number): void => {
    if (vlen > 0xffff) throw new BtfError('InvalidType', `marshal: type ${id} has ${vlen} entries, more than BTF allows (65535)`);
    w.u32(nameOff);
    w.u32(((kflag ? 1 : 0) << 31) | (kind << 24) | vlen);
    w.u32(u32Field(sizeType, 'size/type', id));
  };

  for (let id = firstId; id < types.length; id++) {
    const t = types[id]!;
    switch (t.kind) {
      case 'int':
        head(id, name(t.name), 1, 0, false, t.size);
        w.u32(((t.encoding & 0x0f) << 24) | ((t.bitOffset & 0xff) << 16) | (t.bits & 0xff));
        break;
      case 'ptr':
        head(id, 0, 2, 0, false, t.type);
        break;
      case 'array':
        head(id, 0, 3, 0, false, 0);
        w.u32(u32Field(t.type, 'type', id));
        w.u32(u32Field(t.indexType, 'index type', id));
        w.u32(u32Field(t.nelems, 'nelems', id));
        break;
      case 'struct':
      case 'union': {
        const kflag = t.members.some((m) => m.bitfieldSize !== 0);
        head(id, name(t.name), t.kind === 'struct' ? 4 : 5, t.members.length, kflag, t.size);
        for (const m of t.members) {
          w.u32(name(m.name));
          w.u32(u32Field(m.type, 'member type', id));
          if (kflag) {
            if (m.bitOffset > 0xffffff || m.bitfieldSize > 0xff) throw new BtfError('InvalidType', `marshal: type ${id}: member ${m.name} offset/bitfield too large`);
            w.u32((m.bitfieldSize << 24) | m.bitOffset);
          } else w.u32(u32Field(m.bitOffset, 'member offset', id));
        }
        break;
      }
      case 'enum':
        head(id, name(t.name), 6, t.values.length, t.signed, t.size);
        for (const v of t.values) {
          w.u32(name(v.name));
          w.u32(Number(BigInt.asUintN(32, v.value)));
        }
        break;
      case 'enum64':
        head(id, name(t.name), 19, t.values.length, t.signed, t.size);
        for (const v of t.values) {
          const u = BigInt.asUintN(64, v.value);
          w.u32(name(v.name));
          w.u32(Number(u & 0xffffffffn));
          w.u32(Number(u >> 32n));
        }
        break;
      case 'fwd':
        head(id, name(t.name), 7, 0, t.union, 0);
        break;
      case 'typedef':
      case 'volatile':
      case 'const':
      case 'restrict':
        head(id, name(t.name), KIND_NUMBERS[t.kind], 0, false, t.type);
        break;
      case 'type_tag':
        head(id, name(t.name), 18, 0, t.attr, t.type);
        break;
      case 'func':
        head(id, name(t.name), 12, t.linkage, false, t.type);
        break;
      case 'func_proto':
        head(id, 0, 13, t.params.length, false, t.returnType);
        for (const p of t.params) {
          w.u32(name(p.name));
          w.u32(u32Field(p.type, 'param type', id));
        }
        break;
      case 'var':
        head(id, name(t.name), 14, 0, false, t.type);
        w.u32(u32Field(t.linkage, 'linkage', id));
        break;
      case 'datasec':
        head(id, name(t.name), 15, t.vars.length, false, t.size);
        for (const v of t.vars) {
          w.u32(u32Field(v.type, 'var type', id));
          w.u32(u32Field(v.offset, 'var offset', id));
          w.u32(u32Field(v.size, 'var size', id));
        }
        break;
      case 'float':
        head(id, name(t.name), 16, 0, false, t.size);
        break;
      case 'decl_tag':
        head(id, name(t.name), 17, 0, t.attr, t.type);
        w.u32(t.componentIdx);
        break;
      case 'void':
        throw new BtfError('InvalidType', `marshal: type ${id} is void`);
    }
  }
  for (const x of extra) name(x);
  const typeLen = w.len - HEADER_LEN;
  w.reserve(strs.len);
  w.buf.set(strs.buf.subarray(0, strs.len), w.len);
  w.len += strs.len;
  const v = w.view;
  v.setUint16(0, BTF_MAGIC, true);
  v.setUint8(2, BTF_VERSION);
  v.setUint8(3, 0);
  v.setUint32(4, HEADER_LEN, true);
  v.setUint32(8, 0, true);
  v.setUint32(12, typeLen, true);
  v.setUint32(16, typeLen, true);
  v.setUint32(20, strs.len, true);
  return { bytes: w.buf.slice(0, w.len), strOffsets };
}

/**
 * The vmlinux BTF id of what a BTF tracing program attaches to: a FUNC
 * ('bpf_fentry_test1', 'bpf_lsm_file_open') or, for tp_btf, the TYPEDEF
 * 'btf_trace_<name>'. ProgramError 'UnknownKernelFunction' naming it when absent.
 */
export function kernelBtfTarget(btf: { byName(name: string, kind: 'func' | 'typedef'): { id: number }[] }, btfName: string, btfKind: 'func' | 'typedef', program?: string): number {
  const found = btf.byName(btfName, btfKind)[0];
  if (!found) {
    const what = btfKind === 'typedef' ? `tracepoint type ${btfName}` : `function ${btfName}`;
    throw new ProgramError('UnknownKernelFunction', `${program ? `program ${program}: ` : ''}the kernel's BTF has no ${what} to attach to`, { program });
  }
  return found.id;
}
