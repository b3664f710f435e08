// ELF64 little-endian reader for BPF relocatable objects (what clang -target bpf emits),
// and, with { native: true }, for the executables and shared libraries uprobes attach to
// (any machine, program headers and .dynsym too, relocations not read).
// Pure: it works over the bytes it is given, makes no system calls and never copies
// section contents (each section's `data` is a subarray of the input).
//
// Everything read from the file is bounds-checked; malformed input throws ParseError
// naming the section or table at fault, never RangeError.
import { ParseError } from '../errors.js';
import { asciiText } from './ascii.js';

// e_ident
export const ELFMAG = '\x7fELF';
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const EV_CURRENT = 1;
// e_type / e_machine
export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const EM_BPF = 247;

// Section header types.
export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_HASH = 5;
export const SHT_DYNAMIC = 6;
export const SHT_NOTE = 7;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
export const SHT_DYNSYM = 11;
export const SHT_GROUP = 17;
export const SHT_SYMTAB_SHNDX = 18;
export const SHT_GNU_VERDEF = 0x6ffffffd;
export const SHT_GNU_VERSYM = 0x6fffffff;
/** `.llvm_addrsig` (SHT_LOOS + 0xfff4c03). */
export const SHT_LLVM_ADDRSIG = 0x6fff4c03;

// Section header flags (sh_flags is a bigint).
export const SHF_WRITE = 0x1n;
export const SHF_ALLOC = 0x2n;
export const SHF_EXECINSTR = 0x4n;
export const SHF_MERGE = 0x10n;
export const SHF_STRINGS = 0x20n;
export const SHF_INFO_LINK = 0x40n;
export const SHF_LINK_ORDER = 0x80n;
export const SHF_GROUP = 0x200n;
export const SHF_TLS = 0x400n;
export const SHF_COMPRESSED = 0x800n;
export const SHF_EXCLUDE = 0x80000000n;

// Special section indices.
export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
export const SHN_XINDEX = 0xffff;

// Symbol binding (st_info >> 4).
export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;

// Symbol type (st_info & 0xf).
export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;
export const STT_COMMON = 5;
export const STT_TLS = 6;
export const STT_GNU_IFUNC = 10;

// p_type / p_flags
export const PT_LOAD = 1;
export const PF_X = 1;

// Symbol visibility (st_other & 3).
export const STV_DEFAULT = 0;
export const STV_INTERNAL = 1;
export const STV_HIDDEN = 2;
export const STV_PROTECTED = 3;

// BPF relocation types.
export const R_BPF_NONE = 0;
export const R_BPF_64_64 = 1;
export const R_BPF_64_ABS64 = 2;
export const R_BPF_64_ABS32 = 3;
export const R_BPF_64_NODYLD32 = 4;
export const R_BPF_64_32 = 10;

const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;
const REL_SIZE = 16;
const PHDR_SIZE = 56;

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: bigint;
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
  /** A subarray of the file; empty for SHT_NOBITS. */
  data: Uint8Array;
  /** Whether flags has SHF_EXECINSTR. */
  readonly executable: boolean;
}

export interface ElfSymbol {
  index: number;
  name: string;
  value: number;
  size: number;
  /** STB_* */
  bind: number;
  /** STT_* */
  type: number;
  /** STV_* */
  visibility: number;
  /** st_shndx (an SHN_XINDEX entry resolved through SHT_SYMTAB_SHNDX). */
  section: number;
}

/** A program header (native files). */
export interface ElfSegment {
  /** PT_* */
  type: number;
  /** PF_* */
  flags: number;
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
}

export interface ElfRelocation {
  /** r_offset: byte offset in the target section. */
  offset: number;
  /** Index into `ElfFile.symbols`. */
  symbol: number;
  /** R_BPF_* */
  type: number;
}

const utf8 = new TextDecoder('utf-8');

/**
 * An ElfSection whose `flags` (a bigint) and `data` (a subarray) are made when first
 * read: a parse reads them for a few sections only, and each costs an allocation.
 */
class Section implements ElfSection {
  name = '';
  readonly #file: Uint8Array;
  readonly #hasData: boolean;
  readonly #flagsLo: number;
  readonly #flagsHi: number;
  #data?: Uint8Array;

  constructor(
    file: Uint8Array,
    hasData: boolean,
    readonly index: number,
    readonly type: number,
    flagsLo: number,
    flagsHi: number,
    readonly offset: number,
    readonly size: number,
    readonly link: number,
    readonly info: number,
    readonly addralign: number,
    readonly entsize: number,
  ) {
    this.#file = file;
    this.#hasData = hasData;
    this.#flagsLo = flagsLo;
    this.#flagsHi = flagsHi;
  }

  get flags(): bigint {
    return this.#flagsHi === 0 ? BigInt(this.#flagsLo) : (BigInt(this.#flagsHi) << 32n) | BigInt(this.#flagsLo);
  }

  /** Whether sh_flags has SHF_EXECINSTR (without a bigint). */
  get executable(): boolean {
    return (this.#flagsLo & Number(SHF_EXECINSTR)) !== 0;
  }

  get data(): Uint8Array {
    return (this.#data ??= this.#hasData ? this.#file.subarray(this.offset, this.offset + this.size) : this.#file.subarray(0, 0));
  }
}

/**
 * A string table: an all-ASCII table (the usual case) is decoded once into one JS string
 * whose character offsets are byte offsets, so a name is one indexOf + slice instead of
 * a TextDecoder call.
 */
class StringTable {
  readonly #bytes: Uint8Array;
  readonly #ascii: string | undefined;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#ascii = asciiText(bytes);
  }

  /** The NUL-terminated string at `off`. */
  get(off: number, at: string, index = -1): string {
    const where = (): string => place(at, index);
    const table = this.#bytes;
    if (off >= table.length) {
      if (off === 0) return ''; // an empty string table only has the empty string
      throw new ParseError('Malformed', `string offset ${off} outside the string table (${table.length} bytes)`, where());
    }
    if (this.#ascii !== undefined) {
      const end = this.#ascii.indexOf('\0', off);
      if (end < 0) throw new ParseError('Malformed', `string at offset ${off} is not NUL-terminated`, where());
      return this.#ascii.slice(off, end);
    }
    const end = table.indexOf(0, off);
    if (end < 0) throw new ParseError('Malformed', `string at offset ${off} is not NUL-terminated`, where());
    return utf8.decode(table.subarray(off, end));
  }
}

const TWO_32 = 0x1_0000_0000;

/** An error location: `where`, or `where index` (built only when an error needs it). */
function place(where: string, index: number): string {
  return index < 0 ? where : `${where} ${index}`;
}

/** A u64 field as a safe integer number (two u32 reads: no BigInt on the parse path). */
function u64(view: DataView, pos: number, what: string, where?: string, index = -1): number {
  const hi = view.getUint32(pos + 4, true);
  if (hi > 0x1fffff) throw new ParseError('Malformed', `${what} ${view.getBigUint64(pos, true)} is too large`, where === undefined ? undefined : place(where, index));
  const lo = view.getUint32(pos, true);
  // hi 0 (always, in practice) keeps the value a small integer, not a double.
  return hi === 0 ? lo : hi * TWO_32 + lo;
}

export class ElfFile {
  readonly sections: ElfSection[];
  /** From `.symtab`, index 0 (the null symbol) included. Empty if there is no symbol table. */
  readonly symbols: ElfSymbol[];
  /** The section header string table's index (e_shstrndx). */
  readonly shstrndx: number;
  /** Native files: the program headers. Empty for BPF objects. */
  readonly segments: ElfSegment[] = [];
  /** Native files: `.dynsym`, index 0 included. Empty for BPF objects. */
  readonly dynamicSymbols: ElfSymbol[] = [];
  /** e_type (ET_REL, ET_EXEC, ET_DYN). */
  readonly fileType: number = ET_REL;
  /** e_machine. */
  readonly machine: number = EM_BPF;
  #byName?: Map<string, ElfSection>;
  /** SHT_REL sections by the section they apply to, checked by parse. */
  readonly #relSections: Map<number, ElfSection[]>;
  readonly #lists = new Map<number, ElfRelocation[]>();
  readonly #view: DataView;

  private constructor(
    sections: ElfSection[],
    symbols: ElfSymbol[],
    shstrndx: number,
    relocations: Map<number, ElfSection[]>,
    view: DataView,
    native?: Pick<ElfFile, 'segments' | 'dynamicSymbols' | 'fileType' | 'machine'>,
  ) {
    this.sections = sections;
    this.symbols = symbols;
    this.shstrndx = shstrndx;
    this.#relSections = relocations;
    this.#view = view;
    if (native) Object.assign(this, native);
  }

  /**
   * Parses a BPF relocatable object, or with `native` an ELF64 little-endian file of
   * any machine and type (an executable or shared library: segments and .dynsym read).
   */
  static parse(bytes: Uint8Array, options: { native?: boolean } = {}): ElfFile {
    const native = options.native === true;
    if (!(bytes instanceof Uint8Array)) throw new ParseError('InvalidArgument', 'ELF input must be a Uint8Array');
    // A plain Uint8Array view (not a Buffer), so that section.data.slice() copies.
    bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const len = bytes.length;

    // --- ELF header ---
    if (len < 4 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
      throw new ParseError('Malformed', 'not an ELF file (bad magic)', 'ELF header');
    }
    if (len < EHDR_SIZE) throw new ParseError('UnsupportedFormat', `truncated ELF header (${len} of ${EHDR_SIZE} bytes)`, 'ELF header');
    if (bytes[4] !== ELFCLASS64) {
      throw new ParseError('UnsupportedFormat', `unsupported ELF class ${bytes[4]} (only ELFCLASS64 BPF objects are supported)`, 'ELF header');
    }
    if (bytes[5] !== ELFDATA2LSB) {
      throw new ParseError('UnsupportedFormat', 
        bytes[5] === 2
          ? 'big-endian ELF (bpfeb) is not supported; compile for bpfel'
          : `unsupported ELF data encoding ${bytes[5]}`,
        'ELF header',
      );
    }
    if (bytes[6] !== EV_CURRENT) throw new ParseError('UnsupportedFormat', `unsupported ELF version ${bytes[6]}`, 'ELF header');
    const eType = view.getUint16(16, true);
    const eMachine = view.getUint16(18, true);
    if (!native && eMachine !== EM_BPF) throw new ParseError('UnsupportedFormat', `e_machine is ${eMachine}, not EM_BPF (${EM_BPF})`, 'ELF header');
    if (!native && eType !== ET_REL) throw new ParseError('UnsupportedFormat', `e_type is ${eType}, not ET_REL (a relocatable object is needed)`, 'ELF header');
    const shoff = u64(view, 40, 'e_shoff', 'ELF header');
    const ehsize = view.getUint16(52, true);
    const shentsize = view.getUint16(58, true);
    let shnum = view.getUint16(60, true);
    let shstrndx = view.getUint16(62, true);
    if (ehsize < EHDR_SIZE) throw new ParseError('Malformed', `e_ehsize ${ehsize} is smaller than ${EHDR_SIZE}`, 'ELF header');
    const segments = native ? readSegments(view) : [];
    const nativeParts = (dynamicSymbols: ElfSymbol[]) => (native ? { segments, dynamicSymbols, fileType: eType, machine: eMachine } : undefined);

    if (shoff === 0) {
      if (shnum !== 0) throw new ParseError('Malformed', `e_shnum is ${shnum} but there is no section header table`, 'ELF header');
      return new ElfFile([], [], 0, new Map(), view, nativeParts([]));
    }
    if (shentsize !== SHDR_SIZE) throw new ParseError('Malformed', `e_shentsize is ${shentsize}, expected ${SHDR_SIZE}`, 'ELF header');
    if (shoff > len - SHDR_SIZE || shoff < 0) {
      throw new ParseError('Malformed', `section header table at ${shoff} is outside the file (${len} bytes)`, 'ELF header');
    }
    // Extended numbering: section 0 holds the real count / string table index.
    if (shnum === 0) {
      shnum = u64(view, shoff + 32, 'section count (sh_size of section 0)', 'ELF header');
    }
    if (shstrndx === SHN_XINDEX) shstrndx = view.getUint32(shoff + 40, true);
    if (shnum > (len - shoff) / SHDR_SIZE) {
      throw new ParseError('Malformed', `section header table (${shnum} entries at ${shoff}) runs past the end of the file (${len} bytes)`, 'ELF header');
    }
    if (shstrndx !== SHN_UNDEF && shstrndx >= shnum) {
      throw new ParseError('Malformed', `e_shstrndx ${shstrndx} is not a section (${shnum} sections)`, 'ELF header');
    }

    // --- Section headers ---
    const sections: ElfSection[] = [];
    const nameOffs: number[] = [];
    for (let i = 0; i < shnum; i++) {
      const p = shoff + i * SHDR_SIZE;
      const type = view.getUint32(p + 4, true);
      const offset = u64(view, p + 24, 'sh_offset', 'section', i);
      const size = u64(view, p + 32, 'sh_size', 'section', i);
      const hasData = type !== SHT_NOBITS && type !== SHT_NULL;
      if (hasData && (offset > len || size > len - offset)) {
        throw new ParseError('Malformed', `contents (${size} bytes at ${offset}) run past the end of the file (${len} bytes)`, place('section', i));
      }
      nameOffs.push(view.getUint32(p, true));
      sections.push(
        new Section(
          bytes,
          hasData,
          i,
          type,
          view.getUint32(p + 8, true),
          view.getUint32(p + 12, true),
          offset,
          size,
          view.getUint32(p + 40, true),
          view.getUint32(p + 44, true),
          u64(view, p + 48, 'sh_addralign', 'section', i),
          u64(view, p + 56, 'sh_entsize', 'section', i),
        ),
      );
    }

    // --- Section names ---
    let shstrTable: StringTable | undefined;
    if (shstrndx !== SHN_UNDEF) {
      const shstr = sections[shstrndx]!;
      if (shstr.type !== SHT_STRTAB) {
        throw new ParseError('Malformed', `e_shstrndx ${shstrndx} is not a string table (type ${shstr.type})`, 'ELF header');
      }
      const names = (shstrTable = new StringTable(shstr.data));
      for (const s of sections) s.name = names.get(nameOffs[s.index]!, 'name of section', s.index);
    }

    // --- Symbols ---
    const symtabs = sections.filter((s) => s.type === SHT_SYMTAB);
    if (symtabs.length > 1) throw new ParseError('Malformed', `${symtabs.length} symbol tables (SHT_SYMTAB); expected one`);
    const symtab = symtabs[0];
    // clang puts section and symbol names in one table (.strtab): decode it once.
    const symbols: ElfSymbol[] = symtab ? readSymbols(symtab, sections, view, symtab.link === shstrndx ? shstrTable : undefined) : [];
    if (native) {
      // Relocations of linked files refer to .dynsym and are not needed by anything here.
      const dynsym = sections.find((s) => s.type === SHT_DYNSYM);
      return new ElfFile(sections, symbols, shstrndx, new Map(), view, nativeParts(dynsym ? readSymbols(dynsym, sections, view) : []));
    }

    // --- Relocations ---
    // Checked here; the records are made when asked for (a parse needs the code's only,
    // not .BTF's and .BTF.ext's, often the most).
    const relocations = new Map<number, ElfSection[]>();
    for (const s of sections) {
      if (s.type !== SHT_REL) continue;
      const where = s.name || `section ${s.index}`;
      if (s.entsize !== REL_SIZE) throw new ParseError('Malformed', `sh_entsize is ${s.entsize}, expected ${REL_SIZE}`, where);
      if (s.size % REL_SIZE !== 0) throw new ParseError('Malformed', `size ${s.size} is not a multiple of ${REL_SIZE}`, where);
      if (!symtab || s.link !== symtab.index) {
        throw new ParseError('Malformed', `sh_link ${s.link} is not the symbol table${symtab ? ` (section ${symtab.index})` : ' (there is none)'}`, where);
      }
      const target = sections[s.info];
      if (s.info === 0 || !target) throw new ParseError('Malformed', `sh_info ${s.info} is not a section`, where);
      let list = relocations.get(s.info);
      if (!list) relocations.set(s.info, (list = []));
      list.push(s);
      for (let p = 0; p < s.size; p += REL_SIZE) {
        // The file's view at the section's offset: no DataView per section.
        const offset = u64(view, s.offset + p, 'r_offset', where);
        const symbol = view.getUint32(s.offset + p + 12, true);
        if (symbol >= symbols.length) {
          throw new ParseError('Malformed', `relocation ${p / REL_SIZE} refers to symbol ${symbol} (${symbols.length} symbols)`, where);
        }
        if (offset >= target.size) {
          throw new ParseError('Malformed', `relocation ${p / REL_SIZE} at offset ${offset} is outside ${target.name || `section ${target.index}`} (${target.size} bytes)`, where);
        }
      }
    }

    return new ElfFile(sections, symbols, shstrndx, relocations, view);
  }

  /** The first section called `name`. */
  section(name: string): ElfSection | undefined {
    // A parse asks for a few names: comparing them beats hashing every section's name.
    if (this.sections.length <= 64) {
      for (const s of this.sections) if (s.name === name) return s;
      return undefined;
    }
    if (!this.#byName) {
      this.#byName = new Map();
      for (const s of this.sections) if (!this.#byName.has(s.name)) this.#byName.set(s.name, s);
    }
    return this.#byName.get(name);
  }

  /** SHT_REL sections grouped by the section they apply to (sh_info), in file order. */
  relocations(): Map<number, ElfRelocation[]> {
    const copy = new Map<number, ElfRelocation[]>();
    for (const k of this.#relSections.keys()) copy.set(k, this.relocationsOf(k).slice());
    return copy;
  }

  /** Indices of the sections that have relocations, in file order of their first SHT_REL section. */
  relocationTargets(): IterableIterator<number> {
    return this.#relSections.keys();
  }

  /** The relocations of section `target` (shared: do not change them). @internal */
  relocationsOf(target: number): readonly ElfRelocation[] {
    let list = this.#lists.get(target);
    if (!list) {
      list = [];
      const view = this.#view;
      for (const s of this.#relSections.get(target) ?? []) {
        // parse checked every field: offsets are safe integers here.
        for (let p = s.offset; p < s.offset + s.size; p += REL_SIZE) {
          const hi = view.getUint32(p + 4, true);
          const offset = hi === 0 ? view.getUint32(p, true) : hi * TWO_32 + view.getUint32(p, true);
          list.push({ offset, symbol: view.getUint32(p + 12, true), type: view.getUint32(p + 8, true) });
        }
      }
      this.#lists.set(target, list);
    }
    return list;
  }
}

/** The program header table (e_phoff, e_phentsize, e_phnum). */
function readSegments(view: DataView): ElfSegment[] {
  const phoff = u64(view, 32, 'e_phoff', 'ELF header');
  const phentsize = view.getUint16(54, true);
  const phnum = view.getUint16(56, true);
  if (phoff === 0 || phnum === 0) return [];
  if (phentsize !== PHDR_SIZE) throw new ParseError('Malformed', `e_phentsize is ${phentsize}, expected ${PHDR_SIZE}`, 'ELF header');
  if (phoff > view.byteLength || phnum * PHDR_SIZE > view.byteLength - phoff) {
    throw new ParseError('Malformed', `program header table (${phnum} entries at ${phoff}) runs past the end of the file (${view.byteLength} bytes)`, 'ELF header');
  }
  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * PHDR_SIZE;
    const where = `program header ${i}`;
    segments.push({
      type: view.getUint32(p, true),
      flags: view.getUint32(p + 4, true),
      offset: u64(view, p + 8, 'p_offset', where),
      vaddr: u64(view, p + 16, 'p_vaddr', where),
      filesz: u64(view, p + 32, 'p_filesz', where),
      memsz: u64(view, p + 40, 'p_memsz', where),
    });
  }
  return segments;
}

/** `file`: a view of the whole file (symtab.offset is where the table starts in it). */
function readSymbols(symtab: ElfSection, sections: ElfSection[], file: DataView, table?: StringTable): ElfSymbol[] {
  const where = symtab.name || `section ${symtab.index}`;
  const symWhere = `${where} symbol`;
  if (symtab.entsize !== SYM_SIZE) throw new ParseError('Malformed', `sh_entsize is ${symtab.entsize}, expected ${SYM_SIZE}`, where);
  if (symtab.size % SYM_SIZE !== 0) throw new ParseError('Malformed', `size ${symtab.size} is not a multiple of ${SYM_SIZE}`, where);
  const strtab = sections[symtab.link];
  if (!strtab || symtab.link === 0 || strtab.type !== SHT_STRTAB) {
    throw new ParseError('Malformed', `sh_link ${symtab.link} is not a string table`, where);
  }
  const count = symtab.size / SYM_SIZE;
  // Extended section indices, if any.
  let shndx: DataView | undefined;
  const xs = sections.find((s) => s.type === SHT_SYMTAB_SHNDX && s.link === symtab.index);
  if (xs) {
    if (xs.size < count * 4) throw new ParseError('Malformed', `has ${xs.size / 4} entries for ${count} symbols`, xs.name || `section ${xs.index}`);
    shndx = new DataView(xs.data.buffer, xs.data.byteOffset, xs.data.byteLength);
  }
  const view = file;
  const names = table ?? new StringTable(strtab.data);
  const symbols: ElfSymbol[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const p = symtab.offset + i * SYM_SIZE;
    const info = view.getUint8(p + 4);
    let section = view.getUint16(p + 6, true);
    if (section === SHN_XINDEX) {
      if (!shndx) throw new ParseError('Malformed', 'st_shndx is SHN_XINDEX but there is no SHT_SYMTAB_SHNDX section', `${where} symbol ${i}`);
      section = shndx.getUint32(i * 4, true);
      if (section >= sections.length) throw new ParseError('Malformed', `extended section index ${section} is not a section (${sections.length} sections)`, `${where} symbol ${i}`);
    } else if (section < SHN_LORESERVE && section >= sections.length) {
      throw new ParseError('Malformed', `st_shndx ${section} is not a section (${sections.length} sections)`, `${where} symbol ${i}`);
    }
    symbols[i] = {
      index: i,
      name: names.get(view.getUint32(p, true), symWhere, i),
      value: u64(view, p + 8, 'st_value', symWhere, i),
      size: u64(view, p + 16, 'st_size', symWhere, i),
      bind: info >> 4,
      type: info & 0xf,
      visibility: view.getUint8(p + 5) & 3,
      section,
    };
  }
  return symbols;
}
