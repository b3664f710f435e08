// Reading the files a caller names (objects, BTF): regular files only, bounded in size,
// so that a device (/dev/zero), a fifo or a directory is refused at once instead of
// read forever or blocked on.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { describeValue } from './describe.js';
import { ParseError } from './errors.js';
import { Errno, SyscallError } from './sys/errors.js';

/** What `st` is when it is not a regular file, for the message. */
function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a fifo';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** The errno of a Node fs error (Node reports it negated), EIO when there is none. */
function errnoOf(err: unknown): number {
  const n = (err as { errno?: unknown })?.errno;
  return typeof n === 'number' && n !== 0 ? Math.abs(n) : Errno.EIO;
}

/**
 * The bytes of the regular file at `path` (`what`: 'a BPF object file'), at most `maxBytes` of them. SyscallError
 * ('open', 'read') when it cannot be opened or read (ENOENT, EACCES, ...); ParseError
 * when it is not a regular file or is larger than `maxBytes`. Opened O_NONBLOCK, so a
 * fifo without a writer does not block the open.
 */
export function readRegularFile(path: string, what: string, maxBytes: number): Uint8Array {
  if (typeof path !== 'string' || path === '' || path.includes('\0')) {
    throw new ParseError('InvalidArgument', `${describeValue(path)} is not a file path (for ${what})`);
  }
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw syscallError('open', err, path);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ParseError('InvalidFile', `${path} is ${fileKind(st)}, not ${what}`);
    if (st.size > maxBytes) throw new ParseError('InvalidFile', `${path} has ${st.size} bytes, more than ${what} can have (${maxBytes})`);
    // Read what fstat promised and no more: a file that grows meanwhile stays bounded.
    const out = new Uint8Array(st.size);
    let got = 0;
    while (got < out.length) {
      let n: number;
      try {
        n = readSync(fd, out, got, out.length - got, null);
      } catch (err) {
        throw syscallError('read', err, path);
      }
      if (n === 0) break;
      got += n;
    }
    return got === out.length ? out : out.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

function syscallError(call: string, err: unknown, path: string): SyscallError {
  const e = new SyscallError(call, errnoOf(err), path);
  (e as { cause?: unknown }).cause = err;
  return e;
}

/**
 * The largest object or BTF file read: far past what the kernel takes (a program has at
 * most 1M instructions, 8 MiB; BPF_BTF_LOAD at most 16 MiB of BTF).
 */
export const MAX_OBJECT_FILE = 256 << 20;
