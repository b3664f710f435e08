// Where a uprobe goes: the file (a path, a library name found in the target process's
// mappings or in /etc/ld.so.cache, or a process's executable) and the offset into it of
// a function, read from the file's ELF symbols.
import { readRegularFile } from '../file.js';
import { closeSync, existsSync, openSync, readFileSync, readlinkSync, readSync, statSync } from 'node:fs';
import { basename, isAbsolute, resolve } from 'node:path';
import { describeValue } from '../describe.js';
import { ProgramError } from '../errors.js';
import { ElfFile } from '../obj/elf.js';
import { findFunction, type FunctionSymbol, functionSymbols, globPattern } from '../obj/elf-symbols.js';

export interface UprobeFile {
  /** The file the probe goes in. */
  path: string;
  /** The process to trace, -1 for every process that runs the file. */
  pid: number;
}

/** The ELF class, data encoding and machine of a file (bytes 4, 5, 18-19 of the header), or undefined. */
function elfIdent(path: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const b = Buffer.alloc(20);
    if (readSync(fd, b, 0, 20, 0) < 20 || b.readUInt32BE(0) !== 0x7f454c46) return undefined;
    return `${b[4]}/${b[5]}/${b.readUInt16LE(18)}`;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

let ownIdent: string | undefined;

/** Libraries of /etc/ld.so.cache by name ('libc.so.6' → its paths, in cache order). */
export function parseLdSoCache(bytes: Uint8Array): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const text = (off: number) => {
    const end = bytes.indexOf(0, off);
    return new TextDecoder().decode(bytes.subarray(off, end < 0 ? bytes.length : end));
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = (at: number, s: string) => new TextDecoder().decode(bytes.subarray(at, at + s.length)) === s;
  // The old format ("ld.so-1.7.0", 12-byte entries) may come first; the new one follows, 8-aligned.
  let base = 0;
  if (magic(0, 'ld.so-1.7.0') && bytes.length >= 16) {
    base = (16 + view.getUint32(12, true) * 12 + 7) & ~7;
  }
  const NEW = 'glibc-ld.so.cache1.1';
  if (!magic(base, NEW) || base + 48 > bytes.length) return out;
  const n = view.getUint32(base + 20, true);
  for (let i = 0; i < n; i++) {
    const e = base + 48 + i * 24;
    if (e + 24 > bytes.length) break;
    // key/value are offsets from the start of the new-format header.
    const key = base + view.getUint32(e + 4, true);
    const value = base + view.getUint32(e + 8, true);
    if (key >= bytes.length || value >= bytes.length) continue;
    const name = text(key);
    const list = out.get(name);
    if (list) list.push(text(value));
    else out.set(name, [text(value)]);
  }
  return out;
}

/** The library `name` as mapped by process `pid` ('libc.so.6' or 'libc.so' for /usr/lib/.../libc.so.6). */
function fromMaps(name: string, pid: number): string | undefined {
  let maps: string;
  try {
    maps = readFileSync(`/proc/${pid}/maps`, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of maps.split('\n')) {
    const path = line.split(/\s+/, 6)[5];
    if (!path?.startsWith('/')) continue;
    const file = basename(path);
    if (file === name || file.startsWith(`${name}.`)) return path;
  }
  return undefined;
}

/** A bare library name through /etc/ld.so.cache, choosing the entry built for this process's machine. */
function fromLdSoCache(name: string): string | undefined {
  let paths: string[] | undefined;
  try {
    paths = parseLdSoCache(readFileSync('/etc/ld.so.cache')).get(name);
  } catch {
    return undefined;
  }
  ownIdent ??= elfIdent('/proc/self/exe');
  return paths?.find((p) => elfIdent(p) === ownIdent);
}

function unknownTarget(program: string, what: string): ProgramError {
  return new ProgramError('UnknownTarget', `${program}: ${what}`, { program });
}

/**
 * Resolves a uprobe target: a path; a bare file name ('libc.so.6'), looked up in the
 * mappings of `pid` and then in /etc/ld.so.cache; or a pid, whose executable is traced
 * (in that process only, unless `pid` says otherwise). ProgramError 'UnknownTarget'
 * when there is no such file or process.
 */
export function resolveUprobeFile(program: string, target: string | number, pid?: number): UprobeFile {
  if (pid !== undefined && (!Number.isInteger(pid) || pid < -1 || pid > 0x7fffffff)) throw new ProgramError('InvalidArgument', `pid must be an integer ≥ -1, got ${describeValue(pid)}`);
  if (typeof target === 'number') {
    if (!Number.isInteger(target) || target <= 0 || target > 0x7fffffff) throw new ProgramError('InvalidArgument', `target pid must be a positive integer, got ${target}`);
    let path: string;
    try {
      path = readlinkSync(`/proc/${target}/exe`);
    } catch {
      throw unknownTarget(program, `no process ${target} (or its executable is not readable)`);
    }
    // A deleted or foreign-namespace executable is still reachable through the link.
    if (!existsSync(path)) path = `/proc/${target}/exe`;
    return { path, pid: pid ?? target };
  }
  if (typeof target !== 'string' || target === '' || target.includes('\0')) throw new ProgramError('InvalidArgument', 'target must be a path, a library name or a pid');
  let path: string | undefined = target;
  if (!target.includes('/')) {
    path = (pid !== undefined && pid > 0 ? fromMaps(target, pid) : undefined) ?? fromLdSoCache(target);
    if (!path) throw unknownTarget(program, `no library ${target}${pid !== undefined && pid > 0 ? ` mapped by process ${pid} or` : ''} in /etc/ld.so.cache`);
  } else if (!isAbsolute(target)) {
    path = resolve(target); // tracefs and messages need the absolute path
  }
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    // reported below
  }
  if (!isFile) throw unknownTarget(program, `${path} is not a file`);
  return { path, pid: pid ?? -1 };
}

// Parsed symbol tables by path, checked against size and mtime: attaching several
// probes to one library reads and parses it once.
const symbolCache = new Map<string, { key: string; symbols: FunctionSymbol[] }>();

/** The defined functions of the ELF file at `path` (ProgramError 'UnknownTarget' if it is not ELF). */
export function fileFunctions(program: string, path: string): FunctionSymbol[] {
  const st = statSync(path);
  const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  const hit = symbolCache.get(path);
  if (hit?.key === key) return hit.symbols;
  let symbols: FunctionSymbol[];
  try {
    // A regular file only: a device or fifo named as the target would be read forever.
    symbols = functionSymbols(ElfFile.parse(readRegularFile(path, 'an ELF file', 1 << 30), { native: true }));
  } catch (err) {
    throw new ProgramError('UnknownTarget', `${program}: ${path} is not an ELF file uprobes can use: ${(err as Error).message}`, { program, cause: err });
  }
  if (symbolCache.size > 16) symbolCache.clear();
  symbolCache.set(path, { key, symbols });
  return symbols;
}

/** The file offset of `symbol` in `path` (ProgramError 'UnknownSymbol' when missing or ambiguous). */
export function symbolOffset(program: string, path: string, symbol: string): bigint {
  const found = findFunction(fileFunctions(program, path), symbol);
  if (found.length === 0) throw new ProgramError('UnknownSymbol', `${program}: no function ${symbol} in ${path}`, { program });
  if (found.length > 1) {
    const list = found.map((s) => `${s.versionedName} at 0x${s.offset.toString(16)}`).join(', ');
    throw new ProgramError('UnknownSymbol', `${program}: ${symbol} is ambiguous in ${path} (${list})`, { program });
  }
  return BigInt(found[0]!.offset);
}

/** The functions of `path` whose names match the glob `pattern`, one per file offset. */
export function patternOffsets(program: string, path: string, pattern: string): { names: string[]; offsets: bigint[] } {
  const re = globPattern(pattern);
  const seen = new Map<number, string>();
  for (const s of fileFunctions(program, path)) if (re.test(s.name) && !seen.has(s.offset)) seen.set(s.offset, s.name);
  if (seen.size === 0) throw new ProgramError('UnknownSymbol', `${program}: no function matching ${pattern} in ${path}`, { program });
  return { names: [...seen.values()], offsets: [...seen.keys()].map(BigInt) };
}
