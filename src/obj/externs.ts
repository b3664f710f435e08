// Externs of a BPF object as libbpf lays them out, pure over the object's BTF:
// __kconfig variables (LINUX_KERNEL_VERSION, CONFIG_*) live in a read-only '.kconfig'
// map; __ksym variables and kfuncs resolve to kernel BTF ids (typeless ksyms to
// kallsyms addresses). The kernel's values come in as data (externs.ts reads them).
import { BTF_INT_BOOL, BTF_INT_CHAR, type Btf } from './btf.js';
import { ParseError, ProgramError } from '../errors.js';

/** What the kernel says that __kconfig values come from. */
export interface KconfigFacts {
  /** CONFIG_* as the kernel's configuration sets them ('y', 'm', '0x10', '"text"'). */
  readonly config: ReadonlyMap<string, string>;
  /** The release as [major, minor, patch]. */
  readonly release: readonly number[];
}

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

/** LINUX_KERNEL_VERSION as the kernel encodes it: (major << 16) + (minor << 8) + min(patch, 255). */
export function linuxKernelVersion([major = 0, minor = 0, patch = 0]: readonly number[]): number {
  return (major << 16) + (minor << 8) + Math.min(patch, 255);
}

/**
 * The value of kconfig extern `name` as the bytes of its type (`size` bytes), or
 * undefined when `kernel.config` does not define it. Tristates: n 0, y 1, m 2 (libbpf's
 * enum libbpf_tristate); bools y/m 1; strings as NUL-padded chars; integers (decimal or
 * 0x hex) truncated to their size. ProgramError 'UnresolvedExtern' for a value
 * the declared type cannot hold (a string for an integer), as libbpf refuses it.
 */
export function kconfigValue(btf: Btf, name: string, typeId: number, size: number, kernel: KconfigFacts): Uint8Array | undefined {
  const out = new Uint8Array(size);
  const writeInt = (v: bigint) => {
    const u = BigInt.asUintN(64, v);
    for (let i = 0; i < Math.min(size, 8); i++) out[i] = Number((u >> BigInt(8 * i)) & 0xffn);
  };
  switch (name) {
    case 'LINUX_KERNEL_VERSION':
      writeInt(BigInt(linuxKernelVersion(kernel.release)));
      return out;
    case 'LINUX_HAS_BPF_COOKIE':
    case 'LINUX_HAS_SYSCALL_WRAPPER':
      writeInt(1n);
      return out;
  }
  const raw = kernel.config.get(name);
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

/** An `extern ... __ksym` of an object: whether it is a kernel function (kfunc) and whether it is typeless. */
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
