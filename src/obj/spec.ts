// ObjectSpec: everything a clang-built BPF object holds, as data. Pure: no system
// calls, no privileges. One ELF gives one spec; the loader turns a spec into live maps
// and programs, adapting copies to the running kernel (like cilium's CollectionSpec).
import { MapType } from '../sys/abi/enums.js';
import { ParseError, type ParseErrorKind } from '../errors.js';
import { describeValue } from '../describe.js';
import { sectionMatch, type AttachTarget } from './sections.js';
import { Btf, type BtfType } from './btf.js';
import { kconfigLayout, ksymDeclarations, type KsymDeclaration } from './externs.js';
import { parseBtfExt, type BtfExt, type CoreRelo, type FuncInfo, type LineInfo } from './btf-ext.js';
import { ElfFile, SHN_LORESERVE, SHN_UNDEF, SHT_NOBITS, SHT_NULL, STT_FUNC, STT_SECTION, type ElfSection, type ElfSymbol } from './elf.js';
import { CALL, INSN_SIZE, Insns, LD_IMM64, PseudoCall, PseudoSrc } from './insn.js';

/** Libbpf's pinning values in BTF map definitions. */
export const Pinning = { None: 0, ByName: 1 } as const;

/** map_flags the object's own maps are declared with. */
export const BPF_F_RDONLY_PROG = 1 << 7;
export const BPF_F_MMAPABLE = 1 << 10;
export const BPF_F_LINK = 1 << 13;

/** A map as the object declares it. */
export interface MapDefinition {
  name: string;
  /** The ELF section it came from: '.maps', 'maps', '.data', '.rodata.str1.1', ... */
  section: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  numaNode: number;
  mapExtra: bigint;
  pinning: number;
  /** BTF type ids of key and value, when the object has BTF. */
  btfKeyTypeId?: number;
  btfValueTypeId?: number;
  /** Map in map: the template of the inner maps. */
  inner?: MapDefinition;
  /** Static initialisation: slot (array index) → the name of a map or program. */
  contents: { index: number; target: string }[];
  /** Global data: the section's initial bytes (zeros for .bss). */
  data?: Uint8Array;
  /** Global data of a .rodata section: frozen before programs load. */
  readOnly?: boolean;
  /** iproute2's bpf_elf_map: id and inner_id / inner_idx of map-in-map. */
  elfMap?: { id: number; innerId: number; innerIdx: number };
  /** struct_ops: the kernel struct's name and which member (byte offset) points to which program. */
  structOps?: { typeName: string; programs: { offset: number; program: string }[] };
}

/** Something an instruction refers to that is only known at load time. */
export type Reference =
  /** ld_imm64 of a map: becomes BPF_PSEUDO_MAP_FD. */
  | { kind: 'map'; insn: number; map: string }
  /** ld_imm64 of an address in global data: becomes BPF_PSEUDO_MAP_VALUE with the offset. */
  | { kind: 'data'; insn: number; map: string; offset: number }
  /** An extern (__kconfig variable, __ksym variable or kfunc call). */
  | { kind: 'extern'; insn: number; name: string; call: boolean };

/**
 * A program of a parsed object: name, section, instructions, program type and attach type, BTF info,
 * before load.
 */
export interface ProgramSpec {
  /** The function's name. */
  name: string;
  section: string;
  /** From the section name (programTypeForSection); 0 and kind 'Unknown' when it is not one libbpf knows. */
  type: number;
  expectedAttachType: number;
  kind: string;
  /** The section's part after the prefix: kprobe function, tracepoint 'category/name', ... */
  attachTarget?: string;
  /** attachTarget parsed by the section's syntax (kprobe function, BTF name, ...). */
  target?: AttachTarget;
  sleepable: boolean;
  /** false for libbpf's SEC("?..."): Ebpf.load leaves the program unloaded unless told otherwise (EbpfLoader.setAutoload). */
  autoload: boolean;
  license: string;
  kernelVersion: number;
  /** The program with every subprogram it calls appended and the calls patched. */
  instructions: Uint8Array;
  references: Reference[];
  /** BTF.ext records for `instructions` (instruction offsets in the linked program). */
  funcInfos: FuncInfo[];
  lineInfos: LineInfo[];
  coreRelos: CoreRelo[];
}

/** A global variable of a data section. */
export interface VariableSpec {
  name: string;
  /** The data map (section name) that holds it. */
  map: string;
  offset: number;
  size: number;
  typeId?: number;
}

const DATA_SECTION = /^\.(data|rodata|bss)(\..*)?$/;
/**
 * The largest data section (a .bss has no bytes in the file to bound it): the verifier
 * refuses offsets into a map value past BPF_MAX_VAR_OFF (1 << 29), so no program could
 * address a global beyond.
 */
const MAX_DATA_SECTION = 1 << 29;
/** Sections whose contents the parse reads: a SHT_NOBITS or SHT_NULL one would have none. */
const READ_SECTIONS = /^(maps|\.maps|\.struct_ops(\.link)?|\.BTF(\.ext)?|license|version)$/;
/** Data sections whose relocations the parse reads (the others' are for linkers). */
const RELOCATED_DATA = new Set(['.maps', '.struct_ops', '.struct_ops.link']);

interface Func {
  name: string;
  section: ElfSection;
  start: number; // instruction index in the section
  end: number;
  // Made when the function is first linked, for every program that reaches it:
  /** Its instructions (a view of the section). */
  code: Insns | undefined;
  /** Indices (in the function) of its calls, ld_imm64 and relocated instructions: the only ones #link looks at. */
  notable: number[] | undefined;
  /** Its BTF.ext records. */
  ext: { funcInfos: FuncInfo[]; lineInfos: LineInfo[]; coreRelos: CoreRelo[] } | undefined;
}

type Ext = NonNullable<Func['ext']>;

/** A linked program whose instructions are yet to be written: `fill` writes them into a buffer of byteLength. */
interface Linked {
  spec: ProgramSpec;
  reached: Func[];
  byteLength: number;
  fill: (instructions: Uint8Array) => void;
}

const EMPTY = new Uint8Array(0);

// BTF.ext records at another instruction (of a function appended to a program).
const moveFuncInfo = (r: FuncInfo, insnOff: number): FuncInfo => ({ insnOff, typeId: r.typeId });
const moveLineInfo = (r: LineInfo, insnOff: number): LineInfo => ({ insnOff, fileName: r.fileName, line: r.line, column: r.column, lineText: r.lineText });
const moveCoreRelo = (r: CoreRelo, insnOff: number): CoreRelo => ({ insnOff, typeId: r.typeId, accessStr: r.accessStr, kind: r.kind });

interface RawReference {
  insn: number; // index in the section
  symbol: ElfSymbol;
}

function fail(kind: ParseErrorKind, message: string, where?: string): never {
  throw new ParseError(kind, message, where);
}

const utf8 = new TextDecoder();

function cString(bytes: Uint8Array): string {
  let end = bytes.indexOf(0);
  if (end < 0) end = bytes.length;
  // A license is a few ASCII characters: no decoder call for those.
  if (end > 64) return utf8.decode(bytes.subarray(0, end));
  let ascii = '';
  for (let i = 0; i < end; i++) {
    if (bytes[i]! >= 0x80) return utf8.decode(bytes.subarray(0, end));
    ascii += String.fromCharCode(bytes[i]!);
  }
  return ascii;
}

/**
 * A parsed BPF ELF object (`ObjectSpec.parse`): its maps, programs, BTF and globals, before load; what
 * `Ebpf.load` loads.
 */
export class ObjectSpec {
  readonly maps = new Map<string, MapDefinition>();
  readonly programs = new Map<string, ProgramSpec>();
  readonly variables = new Map<string, VariableSpec>();
  readonly license: string;
  readonly kernelVersion: number;
  /** The object's BTF, when it has a .BTF section. */
  readonly btf?: Btf;
  readonly btfExt?: BtfExt;
  /** Names of undefined symbols the programs use (kconfig, ksym, kfuncs), with whether they are weak. */
  readonly externs = new Map<string, { weak: boolean }>();
  /** The __ksym externs (kfuncs and kernel variables) the object declares. */
  readonly ksyms: Map<string, KsymDeclaration> = new Map();

  /**
   * Externs only the user can give a value (EbpfLoader.setExtern): undefined symbols
   * loaded as 64-bit immediates, never called, declared neither __ksym nor __kconfig
   * (an inline-asm `r0 = MY_CONST ll`).
   */
  get constantExterns(): string[] {
    const kconfig = this.btf?.byName('.kconfig', 'datasec')[0];
    const isKconfig = (name: string) => kconfig?.kind === 'datasec' && kconfig.vars.some((v) => (this.btf!.type(v.type) as { name?: string }).name === name);
    const called = new Set<string>();
    for (const p of this.programs.values()) for (const r of p.references) if (r.kind === 'extern' && r.call) called.add(r.name);
    return [...this.externs.keys()].filter((n) => !called.has(n) && !this.ksyms.has(n) && !isKconfig(n));
  }

  readonly #elf: ElfFile;
  /** Per section index: whether it holds code (SHF_EXECINSTR; sh_flags is a bigint, costly to test in loops). */
  readonly #exec: boolean[];
  /** Per section index: its symbols, in symbol table order. */
  readonly #symbolsIn: ElfSymbol[][];
  /** Per section index: its functions, by start. */
  readonly #functions = new Map<number, Func[]>();
  readonly #refs = new Map<number, Map<number, RawReference>>(); // section index → insn → reference
  /** Code sections' references by instruction index (an array: #link asks at every instruction). */
  readonly #codeRefs = new Map<number, (RawReference | undefined)[]>();

  private constructor(bytes: Uint8Array) {
    const elf = ElfFile.parse(bytes);
    for (const section of elf.sections) {
      // SHT_NOBITS (and SHT_NULL) sections have a size but no bytes in the file.
      if (section.size === 0 || (section.type !== SHT_NOBITS && section.type !== SHT_NULL)) continue;
      if (section.executable || READ_SECTIONS.test(section.name)) fail('InvalidData', `is of type ${section.type}: it has no contents to read`, section.name);
      if (DATA_SECTION.test(section.name) && section.size > MAX_DATA_SECTION) {
        fail('InvalidData', `${section.size} bytes of global data, more than a program can address (${MAX_DATA_SECTION}: the verifier's BPF_MAX_VAR_OFF)`, section.name);
      }
    }
    this.#elf = elf;
    this.#exec = elf.sections.map((x) => x.executable);
    this.#symbolsIn = elf.sections.map(() => []);
    for (const sym of elf.symbols) if (sym.section < SHN_LORESERVE && sym.section < this.#symbolsIn.length) this.#symbolsIn[sym.section]!.push(sym);
    const license = elf.section('license');
    this.license = license ? cString(license.data) : '';
    const version = elf.section('version');
    this.kernelVersion = version && version.data.length >= 4 ? new DataView(version.data.buffer, version.data.byteOffset, 4).getUint32(0, true) : 0;
    const btfSection = elf.section('.BTF');
    if (btfSection) {
      const raw = Btf.parse(btfSection.data);
      // .BTF.ext names its strings by offsets into the original string table.
      const ext = elf.section('.BTF.ext');
      if (ext) this.btfExt = parseBtfExt(ext.data, raw);
      this.ksyms = ksymDeclarations(raw);
      this.btf = ObjectSpec.#fixDatasecs(raw, elf, this.#symbolsIn);
    }
    this.#collectRelocations();
    this.#collectDataSections();
    this.#collectBtfMaps();
    this.#collectLegacyMaps();
    this.#collectStructOps();
    this.#collectFunctions();
    this.#collectPrograms();
  }

  /**
   * Parses a clang-built BPF object (ELF, little endian). Throws ParseError (or
   * BtfError) for a malformed or unsupported object; needs no privileges.
   */
  static parse(bytes: Uint8Array): ObjectSpec {
    if (!(bytes instanceof Uint8Array)) throw new ParseError('InvalidArgument', `ObjectSpec.parse takes the bytes of an object file (Uint8Array or Buffer), got ${describeValue(bytes)}`);
    return new ObjectSpec(bytes);
  }

  /**
   * Makes the object's BTF acceptable to the kernel, as libbpf does before uploading:
   * - clang leaves DATASEC sizes and variable offsets at zero (only a linker knows
   *   them): fill them in from the section headers and symbols, sorted by offset;
   * - externs: the kernel refuses extern linkage, so extern VARs and FUNCs become
   *   global; '.kconfig' gets the layout of the .kconfig map; '.ksyms' (kfuncs and ksym
   *   variables, which live in no map) is emptied.
   */
  static #fixDatasecs(btf: Btf, elf: ElfFile, symbolsIn: ElfSymbol[][]): Btf {
    const EXTERN = 2;
    const GLOBAL = 1;
    const kconfig = kconfigLayout(btf);
    let changed = false;
    const extra: BtfType[] = [];
    // The kernel wants every DATASEC entry to be a VAR and no DATASEC empty: .ksyms entries
    // (kfuncs, ksym variables) all point at one dummy `int` variable, as libbpf does.
    let dummyVar = 0;
    const dummy = (): number => {
      if (dummyVar) return dummyVar;
      let intId = btf.types.findIndex((t) => t.kind === 'int' && t.size === 4 && t.name === 'int');
      if (intId < 0) {
        intId = btf.types.length + extra.length;
        extra.push({ id: intId, kind: 'int', name: 'int', size: 4, encoding: 1, bitOffset: 0, bits: 32 });
      }
      dummyVar = btf.types.length + extra.length;
      extra.push({ id: dummyVar, kind: 'var', name: '__tsbpf_ksym', type: intId, linkage: 1 });
      return dummyVar;
    };
    // The kernel wants a FUNC's parameters named; clang leaves an extern's unnamed.
    // libbpf names them after its dummy variable.
    const externProtos = new Set(btf.types.filter((t) => t.kind === 'func' && t.linkage === EXTERN).map((t) => (t as { type: number }).type));
    const types = btf.types.map((t) => {
      if (t.kind === 'func_proto' && externProtos.has(t.id) && t.params.some((p) => p.type !== 0 && p.name === '')) {
        changed = true;
        return { ...t, params: t.params.map((p) => (p.type !== 0 && p.name === '' ? { ...p, name: '__tsbpf_ksym' } : p)) };
      }
      if ((t.kind === 'var' || t.kind === 'func') && t.linkage === EXTERN) {
        changed = true;
        return { ...t, linkage: GLOBAL };
      }
      if (t.kind !== 'datasec') return t;
      if (t.name === '.ksyms') {
        changed = true;
        const vars = t.vars.map((_, i) => ({ type: dummy(), offset: i * 4, size: 4 }));
        return { ...t, size: vars.length * 4, vars };
      }
      if (t.name === '.kconfig') {
        changed = true;
        const vars = t.vars.map((v) => {
          const variable = btf.type(v.type);
          const place = variable.kind === 'var' ? kconfig.offsets.get(variable.name) : undefined;
          return place ? { ...v, offset: place.offset, size: place.size } : v;
        });
        return { ...t, size: kconfig.size, vars };
      }
      const section = elf.section(t.name);
      if (!section) return t;
      const vars = t.vars.map((v) => {
        const variable = btf.type(v.type);
        if (variable.kind !== 'var') return v;
        const sym = symbolsIn[section.index]!.find((x) => x.name === variable.name && x.type !== STT_SECTION);
        return sym ? { ...v, offset: sym.value, size: sym.size || v.size } : v;
      });
      vars.sort((a, b) => a.offset - b.offset);
      changed = true;
      return { ...t, size: section.size, vars };
    });
    if (!changed) return btf;
    // Added types need a marshalled upload; changes in place keep the object's own bytes, patched.
    return extra.length > 0 ? Btf.fromTypes([...types, ...extra]) : btf.withPatches(types);
  }

  // ---- relocations -------------------------------------------------------------------

  #collectRelocations(): void {
    const elf = this.#elf;
    for (const target of elf.relocationTargets()) {
      const section = elf.sections[target];
      if (!section) fail('InvalidRelocation', `relocations for missing section ${target}`);
      const exec = this.#exec[target]!;
      // Relocations matter in code and in the sections whose relocations say something
      // (map-in-map and tail call initialisers, struct_ops programs); .BTF's and
      // .BTF.ext's are for linkers.
      if (!exec && !RELOCATED_DATA.has(section.name)) continue;
      // Code sections' references go by instruction index (#codeRefs), data sections' by byte offset (#refs).
      const byInsn = new Map<number, RawReference>();
      const atInsn: (RawReference | undefined)[] | undefined = exec ? new Array<RawReference | undefined>(Math.ceil(section.size / INSN_SIZE)) : undefined;
      for (const r of elf.relocationsOf(target)) {
        const symbol = elf.symbols[r.symbol];
        if (!symbol) fail('InvalidRelocation', `relocation against missing symbol ${r.symbol}`, section.name);
        if (r.offset % INSN_SIZE !== 0 && exec) fail('InvalidRelocation', `misaligned relocation at ${r.offset}`, section.name);
        const ref = { insn: r.offset / INSN_SIZE, symbol };
        if (atInsn) atInsn[r.offset / INSN_SIZE] = ref;
        else byInsn.set(r.offset, ref);
      }
      if (atInsn) this.#codeRefs.set(target, atInsn);
      else this.#refs.set(target, byInsn);
    }
  }


  // ---- maps --------------------------------------------------------------------------

  #collectDataSections(): void {
    for (const section of this.#elf.sections) {
      if (!DATA_SECTION.test(section.name) || section.size === 0 || this.#exec[section.index]) continue;
      const datasec = this.btf?.byName(section.name, 'datasec')[0];
      const readOnly = section.name.startsWith('.rodata');
      this.maps.set(section.name, {
        name: section.name,
        section: section.name,
        type: MapType.Array,
        keySize: 4,
        valueSize: section.size,
        maxEntries: 1,
        // Mmapable, and read-only to programs for .rodata, as libbpf does.
        flags: BPF_F_MMAPABLE | (readOnly ? BPF_F_RDONLY_PROG : 0),
        numaNode: 0,
        mapExtra: 0n,
        pinning: Pinning.None,
        btfKeyTypeId: undefined,
        btfValueTypeId: datasec?.id,
        contents: [],
        data: section.type === SHT_NOBITS ? new Uint8Array(section.size) : section.data.slice(),
        readOnly,
      });
      // clang leaves the sizes and offsets in the BTF datasec at zero (only the linker
      // knows them): the symbol table is the truth, the BTF gives the variables' types.
      const typeOf = new Map<string, number>();
      if (datasec && datasec.kind === 'datasec') {
        for (const v of datasec.vars) {
          const t = this.btf!.type(v.type);
          if (t.kind === 'var') typeOf.set(t.name, t.type);
        }
      }
      for (const sym of this.#symbolsIn[section.index]!) {
        if (!sym.name || sym.type === STT_SECTION || sym.type === STT_FUNC) continue;
        if (sym.value + sym.size > section.size) fail('InvalidData', `global ${sym.name} (${sym.size} bytes at ${sym.value}) lies outside its section (${section.size} bytes)`, section.name);
        this.variables.set(sym.name, { name: sym.name, map: section.name, offset: sym.value, size: sym.size, typeId: typeOf.get(sym.name) });
      }
    }
  }

  /** BTF-defined maps: the '.maps' section, described by its BTF datasec. */
  #collectBtfMaps(): void {
    const section = this.#elf.section('.maps');
    if (!section) return;
    const btf = this.btf;
    if (!btf) fail('InvalidMapDefinition', 'a .maps section needs BTF', '.maps');
    const datasec = btf.byName('.maps', 'datasec')[0];
    if (!datasec || datasec.kind !== 'datasec') fail('InvalidMapDefinition', 'no BTF datasec describes the section', '.maps');
    const relocs = this.#refs.get(section.index) ?? new Map<number, RawReference>();
    // Only relocations may give the section's bytes meaning: anything else is not understood.
    const covered = new Uint8Array(section.size);
    for (const off of relocs.keys()) covered.fill(1, off, off + 8);
    const data = section.data;
    for (let i = 0; i < data.length; i++) {
      if (data[i] !== 0 && !covered[i]) fail('InvalidMapDefinition', `non-zero byte at offset ${i}: BTF map definitions must not be initialised`, '.maps');
    }
    for (const v of datasec.vars) {
      const variable = btf.type(v.type);
      if (variable.kind !== 'var') fail('InvalidMapDefinition', `datasec entry ${v.type} is not a variable`, '.maps');
      const def = this.#btfMapDefinition(variable.name, variable.type, '.maps');
      // The datasec's offsets are placeholders (zero): the symbol says where the map is.
      const sym = this.#symbolsIn[section.index]!.find((x) => x.name === variable.name);
      if (!sym) fail('InvalidMapDefinition', `map ${variable.name} has no symbol`, '.maps');
      const place = { offset: sym.value, size: sym.size || btf.sizeof(variable.type) };
      // Static initialisation: relocations inside the `values` array.
      const values = this.#valuesMember(variable.type);
      if (values) {
        for (const [off, ref] of relocs) {
          const rel = off - place.offset - values.offset;
          if (rel < 0 || off >= place.offset + place.size) continue;
          if (rel % 8 !== 0) fail('InvalidMapDefinition', `misaligned initialiser at ${off}`, variable.name);
          def.contents.push({ index: rel / 8, target: ref.symbol.name });
        }
        def.contents.sort((a, b) => a.index - b.index);
      }
      this.maps.set(def.name, def);
    }
  }

  #valuesMember(typeId: number): { offset: number } | undefined {
    const t = this.btf!.resolve(typeId);
    if (t.kind !== 'struct') return undefined;
    const m = t.members.find((x) => x.name === 'values');
    return m ? { offset: m.bitOffset / 8 } : undefined;
  }

  /** Reads a libbpf BTF map definition struct (`__uint`, `__type`, `__array`, `__ulong` members). */
  #btfMapDefinition(name: string, typeId: number, section: string): MapDefinition {
    const btf = this.btf!;
    const def: MapDefinition = {
      name,
      section,
      type: 0,
      keySize: 0,
      valueSize: 0,
      maxEntries: 0,
      flags: 0,
      numaNode: 0,
      mapExtra: 0n,
      pinning: Pinning.None,
      contents: [],
    };
    const struct = btf.resolve(typeId);
    if (struct.kind !== 'struct') fail('InvalidMapDefinition', `map definition is a ${struct.kind}, not a struct`, name);
    // __uint(name, val) is `int (*name)[val]`: the array length is the value.
    const uint = (member: { type: number }, what: string): number => {
      const ptr = btf.resolve(member.type);
      if (ptr.kind === 'enum' || ptr.kind === 'enum64') return Number(ptr.values[0]?.value ?? 0);
      if (ptr.kind !== 'ptr') fail('InvalidMapDefinition', `${what} is not declared with __uint`, name);
      const arr = btf.resolve(ptr.type);
      if (arr.kind !== 'array') fail('InvalidMapDefinition', `${what} is not declared with __uint`, name);
      return arr.nelems;
    };
    for (const m of struct.members) {
      switch (m.name) {
        case 'type':
          def.type = uint(m, 'type');
          break;
        case 'max_entries':
          def.maxEntries = uint(m, 'max_entries');
          break;
        case 'map_flags':
          def.flags = uint(m, 'map_flags');
          break;
        case 'numa_node':
          def.numaNode = uint(m, 'numa_node');
          break;
        case 'key_size':
          def.keySize = uint(m, 'key_size');
          break;
        case 'value_size':
          def.valueSize = uint(m, 'value_size');
          break;
        case 'pinning':
          def.pinning = uint(m, 'pinning');
          break;
        case 'map_extra': {
          const t = btf.resolve(m.type);
          def.mapExtra = t.kind === 'enum' || t.kind === 'enum64' ? BigInt.asUintN(64, t.values[0]?.value ?? 0n) : BigInt(uint(m, 'map_extra'));
          break;
        }
        case 'key':
        case 'value': {
          const ptr = btf.resolve(m.type);
          if (ptr.kind !== 'ptr') fail('InvalidMapDefinition', `${m.name} is not declared with __type`, name);
          const size = btf.sizeof(ptr.type);
          if (m.name === 'key') {
            def.keySize = size;
            def.btfKeyTypeId = ptr.type;
          } else {
            def.valueSize = size;
            def.btfValueTypeId = ptr.type;
          }
          break;
        }
        case 'values': {
          const arr = btf.resolve(m.type);
          if (arr.kind !== 'array') fail('InvalidMapDefinition', 'values is not declared with __array', name);
          const ptr = btf.resolve(arr.type);
          if (ptr.kind !== 'ptr') fail('InvalidMapDefinition', 'values is not an array of pointers', name);
          const target = btf.resolve(ptr.type);
          if (target.kind === 'struct') def.inner = this.#btfMapDefinition(`${name}.inner`, ptr.type, section);
          else if (target.kind !== 'func_proto') fail('InvalidMapDefinition', `values points to a ${target.kind}`, name);
          break;
        }
        default:
          fail('InvalidMapDefinition', `unknown map definition member '${m.name}'`, name);
      }
    }
    // Map in map: the value is the inner map's fd (4 bytes); a PROG_ARRAY's too.
    if (def.inner || (def.type === 3 && def.valueSize === 0)) {
      if (def.valueSize === 0) def.valueSize = 4;
      if (def.keySize === 0) def.keySize = 4;
    }
    return def;
  }

  /** Legacy maps: the 'maps' section of struct bpf_map_def (or iproute2's struct bpf_elf_map). */
  #collectLegacyMaps(): void {
    const section = this.#elf.section('maps');
    if (!section) return;
    const symbols = this.#symbolsIn[section.index]!
      .filter((s) => s.type !== STT_SECTION && s.name)
      .sort((a, b) => a.value - b.value);
    if (symbols.length === 0) {
      if (section.size > 0) fail('InvalidMapDefinition', 'map definitions without symbols', 'maps');
      return;
    }
    const stride = section.size / symbols.length;
    if (!Number.isInteger(stride) || stride < 20) fail('InvalidMapDefinition', `cannot split ${section.size} bytes into ${symbols.length} map definitions`, 'maps');
    const view = new DataView(section.data.buffer, section.data.byteOffset, section.data.byteLength);
    for (const sym of symbols) {
      const size = sym.size || stride;
      if (sym.value + size > section.size) fail('InvalidMapDefinition', 'map definition runs past the section', sym.name);
      const u32 = (i: number): number => (i * 4 + 4 <= size ? view.getUint32(sym.value + i * 4, true) : 0);
      // bpf_map_def is 20 bytes (5 u32); iproute2's bpf_elf_map exactly 36 (9 u32).
      // Any other size may only add zero bytes: fields we do not know must not be lost.
      const known = size === 36 ? 36 : 20;
      for (let off = known; off < size; off++) {
        if (section.data[sym.value + off] !== 0) fail('InvalidMapDefinition', `map definition of ${size} bytes has unknown non-zero fields past byte ${known}`, sym.name);
      }
      const def: MapDefinition = {
        name: sym.name,
        section: 'maps',
        type: u32(0),
        keySize: u32(1),
        valueSize: u32(2),
        maxEntries: u32(3),
        flags: u32(4),
        numaNode: 0,
        mapExtra: 0n,
        // iproute2: PIN_GLOBAL_NS (2) pins by name.
        pinning: size === 36 && u32(6) === 2 ? Pinning.ByName : Pinning.None,
        contents: [],
      };
      if (size === 36) def.elfMap = { id: u32(5), innerId: u32(7), innerIdx: u32(8) };
      this.maps.set(def.name, def);
    }
    this.#linkElfMapsInMaps();
  }

  /**
   * iproute2's map-in-map (lib/bpf_legacy.c): an outer map's inner_id names, by its
   * `id`, the map that is its inner template; a map with an id, no inner_id and an
   * inner_idx other than -1 is put at slot inner_idx of every outer map naming its id.
   */
  #linkElfMapsInMaps(): void {
    const defs = [...this.maps.values()].filter((d) => d.elfMap);
    for (const outer of defs) {
      const innerId = outer.elfMap!.innerId;
      if (innerId === 0) continue;
      if (outer.type !== 12 && outer.type !== 13) fail('InvalidMapDefinition', `inner_id ${innerId} on a map that is not ARRAY_OF_MAPS or HASH_OF_MAPS`, outer.name);
      const template = defs.find((d) => d.elfMap!.id === innerId && d !== outer);
      if (!template) fail('InvalidMapDefinition', `inner_id ${innerId}: no map has id ${innerId}`, outer.name);
      outer.inner = { ...template, name: `${outer.name}.inner`, contents: [], elfMap: undefined, pinning: Pinning.None };
      for (const d of defs) {
        const { id, innerId: dInner, innerIdx } = d.elfMap!;
        if (id === innerId && dInner === 0 && innerIdx !== 0xffffffff) outer.contents.push({ index: innerIdx, target: d.name });
      }
    }
  }

  /** struct_ops maps: variables of '.struct_ops' (and '.struct_ops.link', attached through a link). */
  #collectStructOps(): void {
    for (const section of this.#elf.sections) {
      if (section.name !== '.struct_ops' && section.name !== '.struct_ops.link') continue;
      const btf = this.btf;
      if (!btf) fail('InvalidMapDefinition', 'struct_ops needs BTF', section.name);
      const relocs = this.#refs.get(section.index) ?? new Map<number, RawReference>();
      for (const sym of this.#symbolsIn[section.index]!) {
        if (!sym.name || sym.type === STT_SECTION) continue;
        const variable = btf.byName(sym.name, 'var')[0];
        if (!variable || variable.kind !== 'var') fail('InvalidMapDefinition', `struct_ops variable ${sym.name} has no BTF`, section.name);
        const struct = btf.resolve(variable.type);
        if (struct.kind !== 'struct') fail('InvalidMapDefinition', `struct_ops variable ${sym.name} is not a struct`, section.name);
        const programs: { offset: number; program: string }[] = [];
        for (const [off, ref] of relocs) {
          if (off >= sym.value && off < sym.value + sym.size) programs.push({ offset: off - sym.value, program: ref.symbol.name });
        }
        this.maps.set(sym.name, {
          name: sym.name,
          section: section.name,
          type: MapType.StructOps,
          keySize: 4,
          valueSize: sym.size,
          maxEntries: 1,
          flags: section.name === '.struct_ops.link' ? BPF_F_LINK : 0,
          numaNode: 0,
          mapExtra: 0n,
          pinning: Pinning.None,
          btfValueTypeId: struct.id,
          contents: [],
          data: section.data.slice(sym.value, sym.value + sym.size),
          structOps: { typeName: struct.name, programs },
        });
      }
    }
  }

  // ---- programs ----------------------------------------------------------------------

  #collectFunctions(): void {
    const elf = this.#elf;
    for (const section of elf.sections) {
      if (!this.#exec[section.index] || section.size === 0) continue;
      if (section.size % INSN_SIZE !== 0) fail('InvalidProgram', `size ${section.size} is not a whole number of instructions`, section.name);
      const funcs = this.#symbolsIn[section.index]!
        .filter((s) => s.type === STT_FUNC)
        .sort((a, b) => a.value - b.value);
      const count = section.size / INSN_SIZE;
      const list: Func[] = [];
      this.#functions.set(section.index, list);
      funcs.forEach((s, i) => {
        if (s.value % INSN_SIZE !== 0 || s.size % INSN_SIZE !== 0) fail('InvalidProgram', `function ${s.name} is not instruction-aligned`, section.name);
        const start = s.value / INSN_SIZE;
        const next = i + 1 < funcs.length ? funcs[i + 1].value / INSN_SIZE : count;
        const end = s.size > 0 ? Math.min(start + s.size / INSN_SIZE, count) : next;
        if (start >= count || end <= start) fail('InvalidProgram', `function ${s.name} lies outside its section`, section.name);
        list.push({ name: s.name, section, start, end, code: undefined, notable: undefined, ext: undefined });
      });
    }
  }

  #functionAt(section: ElfSection, insn: number): Func | undefined {
    return this.#functions.get(section.index)?.find((f) => insn >= f.start && insn < f.end);
  }

  #collectPrograms(): void {
    // Functions in .text, or in a section libbpf would not take for a program (clang
    // puts `__section("static")` helpers there), are subprograms. Such a function that
    // no program calls is kept as a program of kind 'Unknown', so it is visible.
    const called = new Set<Func>();
    const deferred: Func[] = [];
    const linked: Linked[] = [];
    for (const funcs of this.#functions.values()) {
      for (const f of funcs) {
        if (f.section.name === '.text') continue;
        if (!sectionMatch(f.section.name)) {
          deferred.push(f);
          continue;
        }
        linked.push(this.#addProgram(f, called));
      }
    }
    for (const f of deferred) if (!called.has(f)) linked.push(this.#addProgram(f, called));
    // Every program's instructions in one buffer: one allocation per object, not per program.
    let total = 0;
    for (const l of linked) total += l.byteLength;
    const buffer = new ArrayBuffer(total);
    let offset = 0;
    for (const l of linked) {
      l.spec.instructions = new Uint8Array(buffer, offset, l.byteLength);
      l.fill(l.spec.instructions);
      offset += l.byteLength;
    }
  }

  #addProgram(f: Func, called: Set<Func>): Linked {
    if (this.programs.has(f.name)) fail('InvalidProgram', `two programs are named ${f.name}`, f.section.name);
    const linked = this.#link(f);
    for (const g of linked.reached) if (g !== f) called.add(g);
    this.programs.set(f.name, linked.spec);
    return linked;
  }

  /** Resolves where a call or function address at `insn` of `f` goes, as a (function, index) pair. */
  #callTarget(f: Func, insn: number, code: Insns, ref: RawReference | undefined, isCall: boolean): { fn: Func; at: number } | 'extern' {
    let section = f.section;
    let at: number;
    if (ref) {
      const sym = ref.symbol;
      if (sym.section === SHN_UNDEF) return 'extern';
      section = this.#elf.sections[sym.section];
      if (!section || !this.#exec[sym.section]) fail('InvalidRelocation', `call to ${sym.name || 'a symbol'} outside code`, f.section.name);
      // libbpf: calls carry imm in instructions, function addresses in bytes.
      at = sym.value / INSN_SIZE + (isCall ? code.imm(insn) : code.imm(insn) / INSN_SIZE) + 1;
      if (!isCall && !this.#functionStartsAt(section, at) && this.#functionStartsAt(section, at - 1)) at -= 1;
    } else {
      at = insn + code.imm(insn) + 1;
    }
    const fn = this.#functionAt(section, at);
    if (!fn) fail('InvalidRelocation', `call at instruction ${insn} goes to ${section.name}+${at}, where no function is`, f.name);
    return { fn, at };
  }

  #isCode(sym: ElfSymbol): boolean {
    const section = sym.section === SHN_UNDEF ? undefined : this.#elf.sections[sym.section];
    return section !== undefined && this.#exec[sym.section]!;
  }

  #functionStartsAt(section: ElfSection, at: number): boolean {
    return this.#functions.get(section.index)?.some((f) => f.start === at) ?? false;
  }

  /** f.code, f.notable: made once per function, however many programs reach it. */
  #prepare(f: Func, refs: (RawReference | undefined)[] | undefined): Insns {
    if (f.code) return f.code;
    const data = f.section.data;
    const code = new Insns(new Uint8Array(data.buffer, data.byteOffset + f.start * INSN_SIZE, (f.end - f.start) * INSN_SIZE));
    const bytes = code.bytes;
    const notable: number[] = [];
    for (let i = 0; i < f.end - f.start; i++) {
      const op = bytes[i * INSN_SIZE];
      if (op === CALL || op === LD_IMM64 || refs?.[f.start + i] !== undefined) notable.push(i);
    }
    f.notable = notable;
    return (f.code = code);
  }

  /** The program `entry` with every function it reaches appended, calls patched, references collected. */
  #link(entry: Func): Linked {
    const order: Func[] = [entry];
    const base = new Map<Func, number>([[entry, 0]]);
    let length = entry.end - entry.start;
    const references: Reference[] = [];
    // Calls and function addresses to rewrite once the program is laid out: index in
    // the linked program, imm, src. The section bytes are only read (through views):
    // the program is copied once, into its final buffer.
    const patches: number[] = [];

    for (let k = 0; k < order.length; k++) {
      const f = order[k];
      const fBase = base.get(f)!;
      const refs = this.#codeRefs.get(f.section.index);
      const code = this.#prepare(f, refs);
      const bytes = code.bytes;
      for (const i of f.notable!) {
        const ref = refs?.[f.start + i];
        const op = bytes[i * INSN_SIZE];
        const src = bytes[i * INSN_SIZE + 1]! >> 4;
        const isCall = op === CALL && (src === PseudoCall.Call || ref !== undefined);
        // A function address (callback): ld_imm64 relocated against code; clang leaves src_reg 0.
        const isFuncAddr = op === LD_IMM64 && (src === PseudoSrc.Func || (ref !== undefined && this.#isCode(ref.symbol)));
        if (isCall || isFuncAddr) {
          const target = this.#callTarget(f, i, code, ref, isCall);
          if (target === 'extern') {
            const name = ref!.symbol.name;
            this.externs.set(name, { weak: ref!.symbol.bind === 2 });
            references.push({ kind: 'extern', insn: fBase + i, name, call: true });
            continue;
          }
          let calleeBase = base.get(target.fn);
          if (calleeBase === undefined) {
            calleeBase = length;
            base.set(target.fn, calleeBase);
            order.push(target.fn);
            length += target.fn.end - target.fn.start;
          }
          patches.push(fBase + i, calleeBase + (target.at - target.fn.start) - (fBase + i + 1), isCall ? PseudoCall.Call : PseudoSrc.Func);
          continue;
        }
        if (!ref) continue;
        if (!code.isLdImm64(i)) fail('InvalidRelocation', `relocation on instruction ${i} that is not a load of a 64-bit immediate`, f.name);
        references.push(this.#dataReference(f, fBase + i, code, i, ref.symbol));
      }
    }

    const fill = (instructions: Uint8Array): void => {
      for (const f of order) instructions.set(f.code!.bytes, base.get(f)! * INSN_SIZE);
      const linked = new Insns(instructions);
      for (let p = 0; p < patches.length; p += 3) {
        linked.setImm(patches[p]!, patches[p + 1]!);
        linked.setSrc(patches[p]!, patches[p + 2]!);
      }
    };
    const match = sectionMatch(entry.section.name);
    const spec: ProgramSpec = {
      name: entry.name,
      section: entry.section.name,
      type: match?.progType ?? 0,
      expectedAttachType: match?.expectedAttachType ?? 0,
      kind: match?.kind ?? 'Unknown',
      attachTarget: match?.attachTarget,
      target: match?.target,
      sleepable: match?.sleepable ?? false,
      autoload: match?.autoload ?? true,
      license: this.license,
      kernelVersion: this.kernelVersion,
      instructions: EMPTY, // filled in by #collectPrograms
      references,
      funcInfos: this.#extFor('funcInfos', order, base, moveFuncInfo),
      lineInfos: this.#extFor('lineInfos', order, base, moveLineInfo),
      coreRelos: this.#extFor('coreRelos', order, base, moveCoreRelo),
    };
    return { spec, reached: order, byteLength: length * INSN_SIZE, fill };
  }

  /** What a relocated ld_imm64 refers to: a map, global data, or an extern. */
  #dataReference(f: Func, insn: number, code: Insns, i: number, sym: ElfSymbol): Reference {
    if (sym.section === SHN_UNDEF) {
      this.externs.set(sym.name, { weak: sym.bind === 2 });
      return { kind: 'extern', insn, name: sym.name, call: false };
    }
    const section = this.#elf.sections[sym.section];
    if (!section) fail('InvalidRelocation', `reference to missing section ${sym.section}`, f.name);
    if (section.name === '.maps' || section.name === 'maps') {
      if (sym.type === STT_SECTION) {
        // libbpf and cilium/ebpf refuse this too: the map must be named by its own symbol.
        fail('InvalidRelocation', `reference to a map through the section symbol (offset ${code.imm(i)}): a static map definition needs a global name`, f.name);
      }
      return { kind: 'map', insn, map: sym.name };
    }
    if (this.maps.has(section.name) && DATA_SECTION.test(section.name)) {
      const offset = (sym.type === STT_SECTION ? 0 : sym.value) + code.imm(i);
      return { kind: 'data', insn, map: section.name, offset };
    }
    fail('InvalidRelocation', `reference to ${sym.name || section.name} in section ${section.name}, which is neither maps nor data`, f.name);
  }

  /**
   * BTF.ext records of the functions in `order`, moved to their place in the linked
   * program (`move` copies a record to another offset; one that stays is shared with
   * btfExt, both being read-only data).
   */
  #extFor<K extends keyof Ext>(key: K, order: Func[], base: Map<Func, number>, move: (r: Ext[K][number], insnOff: number) => Ext[K][number]): Ext[K] {
    const out: Ext[K][number][] = [];
    if (!this.btfExt) return out as Ext[K];
    for (const f of order) {
      if (!f.ext) this.#splitExt(f.section);
      const own = f.ext![key];
      const b = base.get(f)!;
      if (b === f.start) for (const r of own) out.push(r);
      else for (const r of own) out.push(move(r, r.insnOff - f.start + b));
    }
    return out as Ext[K];
  }

  /** Splits a section's BTF.ext records among its functions (records outside every function are left out). */
  #splitExt(section: ElfSection): void {
    const funcs = this.#functions.get(section.index) ?? [];
    for (const f of funcs) f.ext = { funcInfos: [], lineInfos: [], coreRelos: [] };
    const split = <K extends keyof Ext>(key: K, list: Ext[K] | undefined): void => {
      for (const r of list ?? []) {
        const f = this.#functionAt(section, r.insnOff);
        if (f) (f.ext![key] as Ext[K][number][]).push(r);
      }
    };
    const ext = this.btfExt!;
    split('funcInfos', ext.funcInfos.get(section.name));
    split('lineInfos', ext.lineInfos.get(section.name));
    split('coreRelos', ext.coreRelos.get(section.name));
  }


}


