import { getSystemErrorMap } from 'node:util';
import { constants } from 'node:os';
import { readFileSync } from 'node:fs';

/**
 * Errno values used by the wrappers, from the platform (Linux), and the kernel-internal
 * ENOTSUPP (524), which leaks out of bpf(2) for operations a map or program type lacks.
 */
export const Errno = { ...constants.errno, ENOTSUPP: 524 } as const;

const errnoNames = new Map<number, [string, string]>();
for (const [neg, pair] of getSystemErrorMap()) errnoNames.set(-neg, pair);
errnoNames.set(Errno.ENOTSUPP, ['ENOTSUPP', 'operation not supported by this map or program type']);
// libuv's table lacks ESTALE, which mprog hooks (tcx) return for a stale expected_revision.
if (!errnoNames.has(116)) errnoNames.set(116, ['ESTALE', 'stale revision: the hook changed']);

/** The Node-style code of an errno value: 1 → 'EPERM'. */
export function errnoCode(errno: number): string {
  return errnoNames.get(errno)?.[0] ?? `E${errno}`;
}

/** The capabilities the bpf(2) commands check (linux/capability.h). */
export const Capability = { NET_ADMIN: 12, SYS_ADMIN: 21, PERFMON: 38, BPF: 39 } as const;

/** The effective capability set (CapEff), or 0 when it cannot be read. */
function effectiveCapabilities(): bigint {
  try {
    const line = readFileSync('/proc/self/status', 'utf8').match(/^CapEff:\s*([0-9a-f]+)/m);
    return line ? BigInt('0x' + line[1]) : 0n;
  } catch {
    return 0n;
  }
}

/**
 * True when the process holds every capability in `caps` (unknown: false). As in the
 * kernel (bpf_capable, perfmon_capable), CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON.
 */
export function hasCapabilities(caps: readonly number[]): boolean {
  return missingCapabilities(caps).length === 0;
}

const capabilityNames = new Map<number, string>(Object.entries(Capability).map(([name, cap]) => [cap, `CAP_${name}`]));

/** The names of the capabilities in `caps` the process lacks ('CAP_PERFMON'), CAP_SYS_ADMIN standing in as in hasCapabilities. */
export function missingCapabilities(caps: readonly number[]): string[] {
  const eff = effectiveCapabilities();
  const has = (cap: number) => ((eff >> BigInt(cap)) & 1n) === 1n;
  return caps.filter((cap) => !(has(cap) || ((cap === Capability.BPF || cap === Capability.PERFMON) && has(Capability.SYS_ADMIN)))).map((cap) => capabilityNames.get(cap) ?? `capability ${cap}`);
}

/** True when the effective capabilities include CAP_BPF or CAP_SYS_ADMIN (unknown: false). */
export function hasBpfCapability(): boolean {
  return hasCapabilities([Capability.BPF]);
}

/** What an EPERM means: the missing privilege, or, for a privileged process, that the object refused. */
function privilegeHint(): string {
  if (hasCapabilities([Capability.SYS_ADMIN])) return 'the process has CAP_SYS_ADMIN (which covers CAP_BPF and CAP_PERFMON): the kernel refused for another reason (a frozen or read-only map, a program type this kernel does not allow, a lockdown policy)';
  if (hasBpfCapability()) return 'the process has CAP_BPF but not CAP_SYS_ADMIN: tracing programs also need CAP_PERFMON, networking programs and maps CAP_NET_ADMIN, and objects reached by id (prog/map/link list) CAP_SYS_ADMIN; or the kernel refused for another reason (a frozen or read-only map, a lockdown policy)';
  const uid = process.getuid?.() ?? -1;
  let hint = `needs CAP_BPF (or CAP_SYS_ADMIN); this process runs as uid ${uid} without them`;
  try {
    const level = readFileSync('/proc/sys/kernel/unprivileged_bpf_disabled', 'utf8').trim();
    if (level !== '0') hint += ` and kernel.unprivileged_bpf_disabled=${level} forbids unprivileged BPF`;
  } catch {
    // No procfs: the uid alone must do.
  }
  return hint;
}

const brand = Symbol.for('tsbpf.SyscallError');

/**
 * A system call failed. The leaf of every kernel-backed error: `call` names the
 * libbpf-style call ('bpf_map_lookup_elem'), `errno` the number, `code` its name.
 */
export class SyscallError extends Error {
  override readonly name = 'SyscallError';
  readonly call: string;
  readonly errno: number;
  readonly code: string;

  constructor(call: string, errno: number, detail?: string) {
    const [code, text] = errnoNames.get(errno) ?? [`E${errno}`, 'unknown error'];
    let message = `${call} failed: ${code} (${text})`;
    if (detail) message += `: ${detail}`;
    if (errno === Errno.EPERM) message += `: ${privilegeHint()}`;
    super(message);
    this.call = call;
    this.errno = errno;
    this.code = code;
  }

  get [brand](): true {
    return true;
  }

  /** `instanceof` by brand, so errors from another copy of tsbpf in the process match too. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
  }
}

/** Throws the SyscallError of a wrapper whose call returned `r` (-errno). */
export function fail(call: string, r: number, detail?: string): never {
  throw new SyscallError(call, -r, detail);
}
