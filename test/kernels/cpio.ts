// A minimal writer of "newc" cpio archives, the format the kernel unpacks as an
// initramfs: enough for directories, regular files and device nodes.

export type CpioEntry =
  | { path: string; kind: 'dir'; mode?: number }
  | { path: string; kind: 'file'; data: Uint8Array; mode?: number }
  | { path: string; kind: 'char'; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFCHR = 0o020000;

const hex8 = (n: number) => n.toString(16).padStart(8, '0');
const pad4 = (n: number) => (4 - (n % 4)) % 4;

function header(ino: number, mode: number, size: number, nameSize: number, rdevMajor = 0, rdevMinor = 0): string {
  // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  return '070701' + [ino, mode, 0, 0, 1, 0, size, 0, 0, rdevMajor, rdevMinor, nameSize, 0].map(hex8).join('');
}

/** The archive holding `entries` in order (parents before children), with its trailer. */
export function cpioArchive(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let length = 0;
  const push = (b: Buffer) => {
    parts.push(b);
    length += b.length;
  };
  const add = (ino: number, name: string, mode: number, data: Uint8Array, rdev: [number, number] = [0, 0]) => {
    const nameBytes = Buffer.from(`${name}\0`);
    push(Buffer.from(header(ino, mode, data.length, nameBytes.length, ...rdev), 'ascii'));
    push(nameBytes);
    push(Buffer.alloc(pad4(110 + nameBytes.length)));
    push(Buffer.from(data.buffer, data.byteOffset, data.length));
    push(Buffer.alloc(pad4(data.length)));
  };
  const empty = new Uint8Array(0);
  entries.forEach((e, i) => {
    const name = e.path.replace(/^\/+/, '');
    if (e.kind === 'dir') add(i + 1, name, S_IFDIR | (e.mode ?? 0o755), empty);
    else if (e.kind === 'file') add(i + 1, name, S_IFREG | (e.mode ?? 0o644), e.data);
    else add(i + 1, name, S_IFCHR | (e.mode ?? 0o600), empty, [e.major, e.minor]);
  });
  add(0, 'TRAILER!!!', 0, empty);
  return Buffer.concat(parts, length);
}
