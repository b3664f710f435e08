// What the running kernel says that externs resolve to: its configuration
// (/proc/config.gz), release and symbol addresses (/proc/kallsyms). The layout and
// encoding of externs is pure (obj/externs.ts).
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';

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
