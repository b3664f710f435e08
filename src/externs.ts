// Externs of a BPF object, resolved against the running kernel as libbpf does:
// __kconfig variables (LINUX_KERNEL_VERSION, CONFIG_* from /proc/config.gz) live in a
// read-only '.kconfig' map; __ksym variables and kfuncs resolve to vmlinux BTF ids
// (typeless ksyms to /proc/kallsyms addresses).
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { BTF_INT_BOOL, BTF_INT_CHAR, type Btf } from './obj/btf.js';
import { ParseError, ProgramError } from './errors.js';

/** Where an extern goes once resolved. */
export type ExternValue =
  /** A __kconfig variable at `offset` of the .kconfig map. */
  | { kind: 'kconfig'; offset: number }
  /** A typed __ksym variable or a kfunc: its id in vmlinux BTF. */
  | { kind: 'btf'; id: number; func: boolean }
  /** A typeless __ksym: its address. */
  | { kind: 'address'; address: bigint }
  /** A weak extern the kernel lacks: 0 for variables, a poisoned call for kfuncs. */
  | { kind: 'missing' };

export interface KconfigLayout {
  /** Byte offset of each __kconfig variable in the .kconfig map's value. */
  offsets: Map<string, { offset: number; size: number; typeId: number }>;
  size: number;
}

/**
 * The longest __kconfig char array accepted. Kernel configuration strings are short
 * (the longest, CONFIG_CMDLINE, holds at most COMMAND_LINE_SIZE: 2048 bytes on x86,
 * 4096 elsewhere); anything larger only makes a huge read-only map of zeros.
 */
export const KCONFIG_MAX_STRING = 1 << 16;

/** What a __kconfig extern's type is, as libbpf classifies it (find_kcfg_type). */
export type KconfigKind = 'bool' | 'char' | 'int' | 'tristate' | 'string';

/**
 * The kconfig kind of BTF type `typeId`, or why it is not one: libbpf accepts
 * integers of 1, 2, 4 or 8 bytes (bool, char), `enum libbpf_tristate` and char arrays.
 */
function kconfigKind(btf: Btf, typeId: number): KconfigKind | string {
  const t = btf.resolve(typeId);
  switch (t.kind) {
    case 'int':
      if (t.encoding & BTF_INT_BOOL && t.size === 1) return 'bool';
      if (t.encoding & BTF_INT_CHAR && t.size === 1) return 'char';
      return [1, 2, 4, 8].includes(t.size) ? 'int' : `a ${t.size}-byte integer`;
    case 'enum':
    case 'enum64':
      return t.name === 'libbpf_tristate' && t.size === 4 ? 'tristate' : `enum ${t.name || '(anon)'} (only enum libbpf_tristate is)`;
    case 'array': {
      const element = btf.resolve(t.type);
      if (element.kind !== 'int' || element.size !== 1) return 'an array of something other than char';
      if (t.nelems > KCONFIG_MAX_STRING) return `a char array of ${t.nelems} bytes (at most ${KCONFIG_MAX_STRING})`;
      return 'string';
    }
    default:
      return `a ${t.kind}`;
  }
}

/**
 * Lays out the object's __kconfig externs (their BTF datasec holds no offsets): each at
 * its type's alignment. ParseError for an extern of a type no configuration value can
 * fill (libbpf refuses the same), which also bounds the map's size.
 */
export function kconfigLayout(btf: Btf | undefined): KconfigLayout {
  const offsets = new Map<string, { offset: number; size: number; typeId: number }>();
  const sec = btf?.byName('.kconfig', 'datasec')[0];
  let size = 0;
  if (btf && sec && sec.kind === 'datasec') {
    for (const v of sec.vars) {
      const variable = btf.type(v.type);
      if (variable.kind !== 'var') continue;
      const kind = kconfigKind(btf, variable.type);
      if (!KCONFIG_KINDS.has(kind)) throw new ParseError('InvalidExtern', `__kconfig extern ${variable.name} is ${kind}: no kernel configuration value fits it`, '.kconfig');
      const s = btf.sizeof(variable.type);
      const align = Math.max(1, btf.alignof(variable.type));
      size = Math.ceil(size / align) * align;
      offsets.set(variable.name, { offset: size, size: s, typeId: variable.type });
      size += s;
    }
  }
  return { offsets, size: Math.ceil(size / 8) * 8 };
}

const KCONFIG_KINDS = new Set<string>(['bool', 'char', 'int', 'tristate', 'string']);

let config: Map<string, string> | undefined;

/** CONFIG_* of the running kernel from /proc/config.gz (empty when the kernel does not expose it). */
export function kernelConfig(): Map<string, string> {
  if (config) return config;
  config = new Map();
  let text = '';
  try {
    text = gunzipSync(readFileSync('/proc/config.gz')).toString('utf8');
  } catch {
    try {
      text = readFileSync(`/boot/config-${release()}`, 'utf8');
    } catch {
      return config;
    }
  }
  for (const line of text.split('\n')) {
    const m = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (m) config.set(m[1], m[2]);
  }
  return config;
}

/** The running kernel's release as [major, minor, patch]. */
export function kernelRelease(): [number, number, number] {
  const [major = 0, minor = 0, patch = 0] = release().split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  return [major, minor, patch];
}

/** LINUX_KERNEL_VERSION as the kernel encodes it: (major << 16) + (minor << 8) + min(patch, 255). */
export function linuxKernelVersion(): number {
  const [major, minor, patch] = kernelRelease();
  return (major << 16) + (minor << 8) + Math.min(patch, 255);
}

/**
 * The value of kconfig extern `name` as the bytes of its type (`size` bytes), or
 * undefined when the kernel does not define it. Tristates: n 0, y 1, m 2 (libbpf's
 * enum libbpf_tristate); bools y/m 1; strings as NUL-padded chars; integers (decimal or
 * 0x hex) truncated to their size. ProgramError 'UnresolvedExtern' for a value
 * the declared type cannot hold (a string for an integer), as libbpf refuses it.
 */
export function kconfigValue(btf: Btf, name: string, typeId: number, size: number): Uint8Array | undefined {
  const out = new Uint8Array(size);
  const writeInt = (v: bigint) => {
    const u = BigInt.asUintN(64, v);
    for (let i = 0; i < Math.min(size, 8); i++) out[i] = Number((u >> BigInt(8 * i)) & 0xffn);
  };
  switch (name) {
    case 'LINUX_KERNEL_VERSION':
      writeInt(BigInt(linuxKernelVersion()));
      return out;
    case 'LINUX_HAS_BPF_COOKIE':
    case 'LINUX_HAS_SYSCALL_WRAPPER':
      writeInt(1n);
      return out;
  }
  const raw = kernelConfig().get(name);
  if (raw === undefined) return undefined;
  const kind = kconfigKind(btf, typeId);
  const mismatch = (what: string): never => {
    throw new ProgramError('UnresolvedExtern', `__kconfig extern ${name}: the kernel's value ${raw} is not ${what}, as the object declares it`);
  };
  switch (kind) {
    case 'tristate':
      writeInt(raw === 'y' ? 1n : raw === 'm' ? 2n : raw === 'n' ? 0n : mismatch('a tristate (y, m or n)'));
      break;
    case 'bool':
      writeInt(raw === 'y' || raw === 'm' ? 1n : raw === 'n' ? 0n : mismatch('a bool (y, m or n)'));
      break;
    case 'string': {
      let text = raw;
      if (raw.startsWith('"')) {
        try {
          text = JSON.parse(raw) as string;
        } catch {
          mismatch('a quoted string');
        }
      }
      out.set(new TextEncoder().encode(text).subarray(0, Math.max(0, size - 1)));
      break;
    }
    case 'char':
    case 'int':
      if (raw === 'y' || raw === 'm' || raw === 'n') writeInt(raw === 'n' ? 0n : 1n);
      else if (/^-?(0x[0-9a-f]+|[0-9]+)$/i.test(raw)) writeInt(raw.startsWith('-') ? -BigInt(raw.slice(1)) : BigInt(raw));
      else mismatch('an integer');
      break;
    default:
      mismatch('of a type kconfig values have');
  }
  return out;
}

/** Addresses looked up so far (not the whole table: /proc/kallsyms has 100,000+ lines, tens of MiB as a Map). */
const symbolAddresses = new Map<string, bigint | undefined>();

/** Address of kernel symbol `name` from /proc/kallsyms (needs root to see real addresses). */
export function kernelSymbolAddress(name: string): bigint | undefined {
  if (!symbolAddresses.has(name)) resolveKernelSymbols([name]);
  return symbolAddresses.get(name);
}

/**
 * Looks up in one read of /proc/kallsyms (slow: the kernel formats every line) the
 * addresses of `names` not looked up before; kernelSymbolAddress then answers from them.
 */
export function resolveKernelSymbols(names: Iterable<string>): void {
  const wanted = new Set<string>();
  for (const n of names) if (!symbolAddresses.has(n)) wanted.add(n);
  if (wanted.size === 0) return;
  const found = new Map<string, bigint>();
  try {
    // Lines are "<address> <type> <name>[\t[module]]"; the first line naming a symbol wins.
    const text = readFileSync('/proc/kallsyms', 'latin1');
    for (let start = 0; start < text.length && found.size < wanted.size; ) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      const line = text.slice(start, end);
      start = end + 1;
      const nameStart = line.indexOf(' ', line.indexOf(' ') + 1) + 1;
      if (nameStart === 0) continue;
      const tab = line.indexOf('\t', nameStart);
      const name = tab < 0 ? line.slice(nameStart) : line.slice(nameStart, tab);
      if (wanted.has(name) && !found.has(name)) found.set(name, BigInt('0x' + line.slice(0, line.indexOf(' '))));
    }
  } catch {
    // No kallsyms: typeless ksyms stay unresolved.
  }
  if (symbolAddresses.size + wanted.size > 4096) symbolAddresses.clear();
  for (const n of wanted) {
    const a = found.get(n);
    symbolAddresses.set(n, a === 0n ? undefined : a);
  }
}

export interface KsymDeclaration {
  /** A kfunc (a FUNC), else a variable. */
  func: boolean;
  /** A variable declared `const void` (its address from kallsyms), else typed. */
  typeless: boolean;
}

/** The externs declared in the object's '.ksyms' datasec (read before the BTF is sanitised for upload). */
export function ksymDeclarations(btf: Btf | undefined): Map<string, KsymDeclaration> {
  const out = new Map<string, KsymDeclaration>();
  const sec = btf?.byName('.ksyms', 'datasec')[0];
  if (!btf || !sec || sec.kind !== 'datasec') return out;
  for (const v of sec.vars) {
    const t = btf.type(v.type);
    if (t.kind === 'var' || t.kind === 'func') {
      out.set(t.name, { func: t.kind === 'func', typeless: t.kind === 'var' && btf.resolve(t.type).kind === 'void' });
    }
  }
  return out;
}
