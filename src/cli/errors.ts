// What a failed command prints, and its exit code: 1 for a runtime failure, 2 for a
// usage error. The library's messages already name the call and errno; the CLI adds
// what to do about the common ones.

/** A usage error found after parsing (an id that is not a number, a bad hex key): exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A failure the CLI found and explained itself (a key not in the map, a link type without detach): exit 1, no hint. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

const libraryErrors = new Set(['MapError', 'ProgramError', 'BtfError', 'ParseError', 'PinError', 'SyscallError', 'XdpSocketError']);

/**
 * The errno code ('EPERM') of a kernel failure: a library error's, or one in its cause
 * chain. A file error (ENOENT from open) names its path already and gets no hint.
 */
function kernelCodeOf(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (libraryErrors.has(e.name) && typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
  }
  return undefined;
}

const hints: Record<string, string> = {
  EPERM: 'needs CAP_BPF/CAP_SYS_ADMIN (run as root, or with sudo)',
  EACCES: 'needs CAP_BPF/CAP_SYS_ADMIN (run as root, or with sudo); for a pinned object, check the bpffs file permissions',
  ENOENT: 'no such object: list what exists with `tsbpf prog list`, `tsbpf map list` or `tsbpf link list`',
  ENOSYS: 'this kernel has no bpf() system call (CONFIG_BPF_SYSCALL)',
};

export function describeError(err: unknown): { message: string; hint?: string; exitCode: number } {
  if (err instanceof UsageError) return { message: err.message, exitCode: 2 };
  if (err instanceof CliError) return { message: err.message, exitCode: 1 };
  const message = err instanceof Error ? err.message : String(err);
  // By name and kind, not instanceof: the library may not be loaded (a usage error comes first).
  if ((err as { kind?: unknown } | undefined)?.kind === 'NotSupported') {
    return { message, hint: 'this kernel lacks the feature: `tsbpf feature` lists what it supports', exitCode: 1 };
  }
  const code = kernelCodeOf(err);
  const known = err instanceof Error && libraryErrors.has(err.name);
  const hint = code ? hints[code] : undefined;
  // A library error is the user's situation; anything else is a bug worth its stack.
  if (!known && !code && err instanceof Error && process.env.TSBPF_DEBUG) return { message: err.stack ?? message, exitCode: 1 };
  return { message, hint, exitCode: 1 };
}
