// Function symbols of executables and shared libraries as uprobes need them: by
// (optionally versioned) name, at FILE offsets. The kernel places a uprobe at an offset
// into the file, so a symbol's virtual address is translated through the PT_LOAD
// segment that maps it: offset = st_value - p_vaddr + p_offset.
import { ParseError } from '../errors.js';
import {
  type ElfFile,
  type ElfSection,
  type ElfSymbol,
  PT_LOAD,
  SHN_UNDEF,
  SHT_DYNSYM,
  SHT_GNU_VERDEF,
  SHT_GNU_VERSYM,
  STB_WEAK,
  STT_FUNC,
  STT_GNU_IFUNC,
} from './elf.js';

export interface FunctionSymbol {
  /** The name without version. */
  name: string;
  /** The symbol version of a .dynsym entry ('GLIBC_2.2.5'), if it has one. */
  version?: string;
  /** Versioned name as nm -D prints it: 'malloc@@GLIBC_2.2.5' (default) or 'memcpy@GLIBC_2.2.5' (hidden). */
  versionedName: string;
  /** st_value: the virtual address. */
  address: number;
  size: number;
  /** STB_* */
  bind: number;
  /** STT_FUNC or STT_GNU_IFUNC */
  type: number;
  /** Where the symbol's code is in the file. */
  offset: number;
  table: '.symtab' | '.dynsym';
}

const VERSYM_HIDDEN = 0x8000;
const VER_NDX_GLOBAL = 1;

/** Version names of .gnu.version_d by version index. */
function versionDefinitions(elf: ElfFile): Map<number, string> {
  const names = new Map<number, string>();
  const verdef = elf.sections.find((s) => s.type === SHT_GNU_VERDEF);
  const strtab = verdef && elf.sections[verdef.link];
  if (!verdef || !strtab) return names;
  const where = verdef.name || `section ${verdef.index}`;
  const d = verdef.data;
  const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
  let pos = 0;
  // vd_cnt entries (sh_info) chained by vd_next; bounded so a cycle cannot loop forever.
  for (let i = 0; i < Math.max(verdef.info, 1) && i < 65536; i++) {
    if (pos + 20 > d.length) throw new ParseError('Malformed', `version definition at ${pos} runs past the section`, where);
    const ndx = view.getUint16(pos + 4, true);
    const aux = view.getUint32(pos + 12, true);
    const next = view.getUint32(pos + 16, true);
    if (pos + aux + 8 > d.length) throw new ParseError('Malformed', `version definition auxiliary at ${pos + aux} runs past the section`, where);
    names.set(ndx, stringAt(strtab, view.getUint32(pos + aux, true), where));
    if (next === 0) break;
    pos += next;
  }
  return names;
}

function stringAt(strtab: ElfSection, off: number, where: string): string {
  const end = strtab.data.indexOf(0, off);
  if (off >= strtab.data.length || end < 0) throw new ParseError('Malformed', `version name at ${off} is outside the string table`, where);
  return new TextDecoder().decode(strtab.data.subarray(off, end));
}

/** The file offset of virtual address `address`, through the PT_LOAD segment holding it. */
export function addressToOffset(elf: ElfFile, address: number): number | undefined {
  for (const seg of elf.segments) {
    if (seg.type === PT_LOAD && address >= seg.vaddr && address < seg.vaddr + seg.filesz) return address - seg.vaddr + seg.offset;
  }
  return undefined;
}

/**
 * Every defined function (STT_FUNC, STT_GNU_IFUNC) of .symtab and .dynsym with its file
 * offset. Functions outside every loadable segment (none in a well-formed file) are left out.
 */
export function functionSymbols(elf: ElfFile): FunctionSymbol[] {
  const out: FunctionSymbol[] = [];
  const add = (symbols: ElfSymbol[], table: FunctionSymbol['table'], version?: (i: number) => [string | undefined, boolean]) => {
    for (const s of symbols) {
      if ((s.type !== STT_FUNC && s.type !== STT_GNU_IFUNC) || s.section === SHN_UNDEF || s.name === '') continue;
      const offset = addressToOffset(elf, s.value);
      if (offset === undefined) continue;
      const [ver, hidden] = version?.(s.index) ?? [undefined, false];
      out.push({
        name: s.name,
        ...(ver !== undefined ? { version: ver } : {}),
        versionedName: ver === undefined ? s.name : `${s.name}${hidden ? '@' : '@@'}${ver}`,
        address: s.value,
        size: s.size,
        bind: s.bind,
        type: s.type,
        offset,
        table,
      });
    }
  };
  add(elf.symbols, '.symtab');
  const versym = elf.sections.find((s) => s.type === SHT_GNU_VERSYM);
  const dynsym = elf.sections.find((s) => s.type === SHT_DYNSYM);
  if (versym && dynsym && versym.link === dynsym.index) {
    const defs = versionDefinitions(elf);
    const v = new DataView(versym.data.buffer, versym.data.byteOffset, versym.data.byteLength);
    add(elf.dynamicSymbols, '.dynsym', (i) => {
      if (i * 2 + 2 > versym.data.length) return [undefined, false];
      const raw = v.getUint16(i * 2, true);
      const ndx = raw & ~VERSYM_HIDDEN;
      return [ndx > VER_NDX_GLOBAL ? defs.get(ndx) : undefined, (raw & VERSYM_HIDDEN) !== 0];
    });
  } else {
    add(elf.dynamicSymbols, '.dynsym');
  }
  return out;
}

/**
 * The definitions `name` refers to, one per distinct file offset, as libbpf resolves a
 * uprobe's function: 'malloc' matches any version of malloc; 'malloc@@GLIBC_2.2.5' and
 * 'malloc@GLIBC_2.2.5' that version. A weak definition gives way to a non-weak one,
 * an old (hidden) version to the default one. More than one result means the name is
 * ambiguous; none, that it is not there.
 */
export function findFunction(symbols: FunctionSymbol[], name: string): FunctionSymbol[] {
  const at = name.indexOf('@');
  const matches = symbols.filter((s) => {
    if (at < 0) return s.name === name;
    if (s.version === undefined) return false;
    const wanted = name.slice(at).replace(/^@@?/, '');
    return s.name === name.slice(0, at) && s.version === wanted && (name[at + 1] !== '@' || s.versionedName === name);
  });
  const strong = matches.filter((s) => s.bind !== STB_WEAK);
  const best = strong.length > 0 ? strong : matches;
  const byOffset = new Map<number, FunctionSymbol>();
  for (const s of best) if (!byOffset.has(s.offset)) byOffset.set(s.offset, s);
  const found = [...byOffset.values()];
  // An unversioned name defined in several versions ('memcpy@GLIBC_2.2.5' and
  // 'memcpy@@GLIBC_2.14') means the default one, as for a program linked today.
  if (found.length > 1 && at < 0) {
    const current = found.filter((s) => !s.versionedName.includes('@') || s.versionedName.includes('@@'));
    if (current.length === 1) return current;
  }
  return found;
}

/** A shell-style glob ('*' any run, '?' one character) as a RegExp over the whole name. */
export function globPattern(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}
