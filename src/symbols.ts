// Turning the addresses of a stack (StackTraceMap) into function+offset: the kernel's
// from /proc/kallsyms, a process's from its /proc/PID/maps and the ELF symbols of the
// files mapped there (read as the uprobe code reads them).
import { readFileSync, statSync } from 'node:fs';
import { ElfFile } from './obj/elf.js';
import { functionSymbols } from './obj/elf-symbols.js';

/** Where an address is: a function and the offset into it, and the module (kernel module, or the file of a process mapping). */
export interface ResolvedSymbol {
  name: string;
  offset: bigint;
  /** A kernel module's name ('[bpf]' for BPF programs) or a mapped file's path; absent for the kernel itself. */
  module?: string;
}

const hex = (n: bigint): string => `0x${n.toString(16)}`;

/** `name+0xoff [module]`, as perf and bpftrace print a frame. */
export function formatSymbol(s: ResolvedSymbol): string {
  return `${s.name}+${hex(s.offset)}${s.module ? ` [${s.module}]` : ''}`;
}

/** Index of the last of sorted `starts` at or below `addr`, -1 when none. */
function below(starts: BigUint64Array, addr: bigint): number {
  let lo = 0;
  let hi = starts.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid]! <= addr) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/** Sorts parallel columns by address. */
function sortedBy(addrs: bigint[]): { starts: BigUint64Array; order: number[] } {
  const order = addrs.map((_, i) => i).sort((a, b) => (addrs[a]! < addrs[b]! ? -1 : addrs[a]! > addrs[b]! ? 1 : 0));
  return { starts: BigUint64Array.from(order, (i) => addrs[i]!), order };
}

/**
 * The kernel's function symbols (/proc/kallsyms), sorted by address, for resolving
 * kernel stack frames. Without CAP_SYSLOG (or with kptr_restrict) the kernel shows every
 * address as 0: then `addressesHidden` is true and nothing resolves.
 */
export class KernelSymbols {
  // Addresses as two u32 halves: numbers compare and parse far faster than bigints.
  readonly #hi: Uint32Array;
  readonly #lo: Uint32Array;
  readonly #names: string[];
  readonly #modules: (string | undefined)[];
  /** True when /proc/kallsyms gave zeros for addresses (no privilege to see them). */
  readonly addressesHidden: boolean;

  private constructor(hi: Uint32Array, lo: Uint32Array, names: string[], modules: (string | undefined)[], hidden: boolean) {
    this.#hi = hi;
    this.#lo = lo;
    this.#names = names;
    this.#modules = modules;
    this.addressesHidden = hidden;
  }

  /** Reads `path` (default /proc/kallsyms) once: its text symbols (types t, T, w, W). */
  static load(path: string = '/proc/kallsyms'): KernelSymbols {
    return KernelSymbols.parse(readFileSync(path, 'latin1'));
  }

  /** Parses the text of /proc/kallsyms. */
  static parse(text: string): KernelSymbols {
    const his: number[] = [];
    const los: number[] = [];
    const names: string[] = [];
    const modules: (string | undefined)[] = [];
    let hidden = true;
    let sorted = true;
    for (let at = 0; at < text.length; ) {
      let eol = text.indexOf('\n', at);
      if (eol < 0) eol = text.length;
      // "ffffffff81000000 T _stext" or "ffffffffc0a01000 t fn\t[module]"
      const line = text.slice(at, eol);
      at = eol + 1;
      const sp = line.indexOf(' ');
      const type = sp > 0 && sp <= 16 && sp + 3 < line.length ? line.charCodeAt(sp + 1) : 0;
      // t T w W: text symbols
      if (type !== 0x74 && type !== 0x54 && type !== 0x77 && type !== 0x57) continue;
      const split = Math.max(0, sp - 8);
      const hi = split > 0 ? parseInt(line.slice(0, split), 16) : 0;
      const lo = parseInt(line.slice(split, sp), 16);
      if (Number.isNaN(hi) || Number.isNaN(lo)) continue;
      if (hi !== 0 || lo !== 0) hidden = false;
      const n = his.length;
      if (n > 0 && (hi < his[n - 1]! || (hi === his[n - 1]! && lo < los[n - 1]!))) sorted = false;
      his.push(hi);
      los.push(lo);
      const tab = line.indexOf('\t', sp + 3);
      if (tab < 0) {
        names.push(line.slice(sp + 3));
        modules.push(undefined);
      } else {
        names.push(line.slice(sp + 3, tab));
        modules.push(line.slice(tab + 1).replace(/^\[|\]$/g, ''));
      }
    }
    if (his.length === 0 || hidden) return new KernelSymbols(new Uint32Array(0), new Uint32Array(0), [], [], his.length > 0);
    if (sorted) return new KernelSymbols(Uint32Array.from(his), Uint32Array.from(los), names, modules, false);
    // Nearly sorted (the modules' and BPF programs' symbols follow the kernel's): TimSort's case.
    const order = his.map((_, i) => i).sort((a, b) => his[a]! - his[b]! || los[a]! - los[b]!);
    return new KernelSymbols(
      Uint32Array.from(order, (i) => his[i]!),
      Uint32Array.from(order, (i) => los[i]!),
      order.map((i) => names[i]!),
      order.map((i) => modules[i]),
      false,
    );
  }

  /** The number of symbols. */
  get size(): number {
    return this.#hi.length;
  }

  #start(i: number): bigint {
    return (BigInt(this.#hi[i]!) << 32n) | BigInt(this.#lo[i]!);
  }

  /** The function holding `addr` (the nearest symbol at or below it), or undefined below the first. */
  resolve(addr: bigint): ResolvedSymbol | undefined {
    const a = BigInt.asUintN(64, addr);
    const hi = Number(a >> 32n);
    const lo = Number(a & 0xffff_ffffn);
    const his = this.#hi;
    const los = this.#lo;
    let low = 0;
    let high = his.length - 1;
    let i = -1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      if (his[mid]! < hi || (his[mid] === hi && los[mid]! <= lo)) {
        i = mid;
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    if (i < 0) return undefined;
    const module = this.#modules[i];
    return { name: this.#names[i]!, offset: a - this.#start(i), ...(module !== undefined ? { module } : {}) };
  }

  /** The address of function `name`, undefined when the kernel has none. */
  address(name: string): bigint | undefined {
    const i = this.#names.indexOf(name);
    return i < 0 ? undefined : this.#start(i);
  }

  /** `function+0xoff` (with ` [module]` for a module's), or the address in hex when nothing holds it. */
  format(addr: bigint): string {
    const s = this.resolve(addr);
    return s ? formatSymbol(s) : hex(addr);
  }
}

/** One line of /proc/PID/maps with a file behind it. */
interface Mapping {
  start: bigint;
  end: bigint;
  fileOffset: bigint;
  path: string;
}

/** A file's functions by file offset. */
interface FileSymbols {
  starts: BigUint64Array;
  ends: BigUint64Array;
  names: string[];
}

const fileCache = new Map<string, { key: string; symbols: FileSymbols | undefined }>();

function fileSymbols(path: string): FileSymbols | undefined {
  let key: string;
  try {
    const st = statSync(path);
    if (!st.isFile()) return undefined;
    key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return undefined;
  }
  const hit = fileCache.get(path);
  if (hit?.key === key) return hit.symbols;
  let symbols: FileSymbols | undefined;
  try {
    const fns = functionSymbols(ElfFile.parse(readFileSync(path), { native: true }));
    const addrs = fns.map((f) => BigInt(f.offset));
    const { starts, order } = sortedBy(addrs);
    symbols = { starts, ends: BigUint64Array.from(order, (i) => addrs[i]! + BigInt(fns[i]!.size)), names: order.map((i) => fns[i]!.name) };
  } catch {
    symbols = undefined; // not ELF, or unreadable: its frames show as file+offset
  }
  if (fileCache.size > 64) fileCache.clear();
  fileCache.set(path, { key, symbols });
  return symbols;
}

/**
 * A process's function symbols, for resolving user stack frames: its mappings
 * (/proc/PID/maps, read when made: call `refresh()` after it loads libraries) and the
 * ELF symbols (.symtab and .dynsym) of each mapped file, read on first use. An address
 * resolves to the function whose [start, start + size) holds it; in a file without
 * such a symbol (stripped), `format` gives `path+0xfileoffset`.
 */
export class ProcessSymbols {
  readonly pid: number;
  #mappings: Mapping[] = [];

  constructor(pid: number) {
    if (!Number.isInteger(pid) || pid <= 0) throw new RangeError(`ProcessSymbols: pid must be a positive integer, got ${String(pid)}`);
    this.pid = pid;
    this.refresh();
  }

  /** Reads /proc/PID/maps again. */
  refresh(): void {
    const out: Mapping[] = [];
    for (const line of readFileSync(`/proc/${this.pid}/maps`, 'utf8').split('\n')) {
      // start-end perms offset dev inode path
      const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ ([0-9a-f]+) \S+ \d+\s+(.*)$/.exec(line);
      if (!m || m[4] === '') continue;
      out.push({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), fileOffset: BigInt(`0x${m[3]}`), path: m[4]!.replace(/ \(deleted\)$/, '') });
    }
    this.#mappings = out;
  }

  /** The mapped file holding `addr` and the file offset of `addr` in it. */
  locate(addr: bigint): { path: string; fileOffset: bigint } | undefined {
    const m = this.#mappings.find((x) => addr >= x.start && addr < x.end);
    return m && { path: m.path, fileOffset: addr - m.start + m.fileOffset };
  }

  /** The function holding `addr`, with the path of its file as `module`, or undefined. */
  resolve(addr: bigint): ResolvedSymbol | undefined {
    const where = this.locate(addr);
    if (!where || where.path.startsWith('[')) return undefined;
    // Through the process's root: its files, even in another mount namespace.
    const symbols = fileSymbols(`/proc/${this.pid}/root${where.path}`) ?? fileSymbols(where.path);
    if (!symbols) return undefined;
    const i = below(symbols.starts, where.fileOffset);
    if (i < 0 || where.fileOffset >= symbols.ends[i]!) return undefined;
    return { name: symbols.names[i]!, offset: where.fileOffset - symbols.starts[i]!, module: where.path };
  }

  /** `function+0xoff [path]`, else `path+0xfileoffset`, else the address in hex. */
  format(addr: bigint): string {
    const s = this.resolve(addr);
    if (s) return formatSymbol(s);
    const where = this.locate(addr);
    return where ? `${where.path}+${hex(where.fileOffset)}` : hex(addr);
  }
}
