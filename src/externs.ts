// Externs of a BPF object, resolved against the running kernel as libbpf does:
// __kconfig variables (LINUX_KERNEL_VERSION, CONFIG_* from /proc/config.gz) live in a
// read-only '.kconfig' map; __ksym variables and kfuncs resolve to vmlinux BTF ids
// (typeless ksyms to /proc/kallsyms addresses).
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import type { Btf } from './obj/btf.js';

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

/** Lays out the object's __kconfig externs (their BTF datasec holds no offsets): each at its type's alignment. */
export function kconfigLayout(btf: Btf | undefined): KconfigLayout {
  const offsets = new Map<string, { offset: number; size: number; typeId: number }>();
  const sec = btf?.byName('.kconfig', 'datasec')[0];
  let size = 0;
  if (btf && sec && sec.kind === 'datasec') {
    for (const v of sec.vars) {
      const variable = btf.type(v.type);
      if (variable.kind !== 'var') continue;
      const s = btf.sizeof(variable.type);
      const align = Math.max(1, btf.alignof(variable.type));
      size = Math.ceil(size / align) * align;
      offsets.set(variable.name, { offset: size, size: s, typeId: variable.type });
      size += s;
    }
  }
  return { offsets, size: Math.ceil(size / 8) * 8 };
}

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
 * enum libbpf_tristate); bools y/m 1; strings as NUL-padded chars; integers.
 */
export function kconfigValue(btf: Btf, name: string, typeId: number, size: number): Uint8Array | undefined {
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  const writeInt = (v: bigint) => {
    for (let i = 0; i < size; i++) view.setUint8(i, Number((BigInt.asUintN(64, v) >> BigInt(8 * i)) & 0xffn));
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
  const t = btf.resolve(typeId);
  if (t.kind === 'enum' || t.kind === 'enum64') {
    writeInt(raw === 'y' ? 1n : raw === 'm' ? 2n : 0n);
  } else if (t.kind === 'array') {
    const s = raw.startsWith('"') ? JSON.parse(raw) as string : raw;
    out.set(new TextEncoder().encode(s).subarray(0, size - 1));
  } else if (raw === 'y' || raw === 'm' || raw === 'n') {
    writeInt(raw === 'n' ? 0n : 1n);
  } else {
    writeInt(BigInt(raw));
  }
  return out;
}

let kallsyms: Map<string, bigint> | undefined;

/** Address of kernel symbol `name` from /proc/kallsyms (needs root to see real addresses). */
export function kernelSymbolAddress(name: string): bigint | undefined {
  if (!kallsyms) {
    kallsyms = new Map();
    try {
      for (const line of readFileSync('/proc/kallsyms', 'utf8').split('\n')) {
        const [addr, , sym] = line.split(/\s+/);
        if (sym && !kallsyms.has(sym)) kallsyms.set(sym, BigInt('0x' + addr));
      }
    } catch {
      // No kallsyms: typeless ksyms stay unresolved.
    }
  }
  const a = kallsyms.get(name);
  return a === 0n ? undefined : a;
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
