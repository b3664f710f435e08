// Pinning on bpffs, shared by every object that owns an fd.
import { statfsSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import { describeValue } from './describe.js';
import { PinError } from './errors.js';
import { SyscallError } from './sys/errors.js';
import { objGet, objPin } from './sys/bpf.js';

const BPF_FS_MAGIC = 0xcafe4a11;

/** Throws PinError 'InvalidPinPath' unless `path` is a plausible new path on a bpffs. */
export function checkPinPath(path: unknown): asserts path is string {
  if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) {
    throw new PinError('InvalidPinPath', typeof path === 'string' ? path : describeValue(path), `invalid pin path ${describeValue(path)}: must be a non-empty string without NUL`);
  }
  if (!isAbsolute(path)) throw new PinError('InvalidPinPath', path, `invalid pin path ${path}: must be absolute`);
  const dir = dirname(path);
  let type: number;
  try {
    type = statfsSync(dir).type;
  } catch (err) {
    throw new PinError('InvalidPinPath', path, `invalid pin path ${path}: parent directory ${dir} is not accessible (${(err as NodeJS.ErrnoException).code})`);
  }
  if (type !== BPF_FS_MAGIC) {
    throw new PinError('InvalidPinPath', path, `invalid pin path ${path}: ${dir} is not on a bpf filesystem (mount -t bpf bpf /sys/fs/bpf)`);
  }
}

/** Pins `fd` at `path` (BPF_OBJ_PIN). */
export function pinFd(fd: number, path: string): void {
  checkPinPath(path);
  try {
    objPin(fd, path);
  } catch (err) {
    if (err instanceof SyscallError) throw new PinError('SyscallError', path, err.message, err);
    throw err;
  }
}

/** Opens the object pinned at `path` (BPF_OBJ_GET); the caller owns the fd. */
export function openPinned(path: string, fileFlags = 0): number {
  if (typeof path !== 'string' || path.length === 0 || path.includes('\0') || !isAbsolute(path)) {
    throw new PinError('InvalidPinPath', typeof path === 'string' ? path : describeValue(path), `invalid pin path ${describeValue(path)}`);
  }
  try {
    return objGet(path, fileFlags);
  } catch (err) {
    if (err instanceof SyscallError) throw new PinError('SyscallError', path, err.message, err);
    throw err;
  }
}
