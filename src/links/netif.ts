// What the network attach paths (XDP, tc) share: naming an interface, a program's
// kernel id, and a way to name the attached program to the kernel at detach time even
// after the user unloaded theirs.
import { describeValue } from '../describe.js';
import { ProgramError } from '../errors.js';
import { objGetInfoByFd, progGetFdById } from '../sys/bpf.js';
import { bpfProgInfoLayout } from '../sys/abi/info.js';
import { kernel } from '../sys/native.js';

export interface Interface {
  index: number;
  name: string;
}

/**
 * The interface `target` names (a name, or an index) in this process's network
 * namespace; ProgramError 'UnknownInterface' when there is none, before any attach call.
 */
export function resolveInterface(target: string | number, program: string): Interface {
  if (typeof target === 'number') {
    const name = Number.isInteger(target) && target > 0 && target <= 0xffffffff ? kernel.ifIndexToName(target) : undefined;
    if (name !== undefined) return { index: target, name };
  } else if (typeof target === 'string') {
    if (target.includes('\0')) throw new ProgramError('InvalidArgument', `attaching ${program}: an interface name cannot contain NUL (the kernel would read only up to it): ${describeValue(target)}`, { program });
    const index = kernel.ifNameToIndex(target);
    if (index > 0) return { index, name: target };
  } else {
    throw new ProgramError('InvalidArgument', `attaching ${program}: the interface must be a name or an index, got ${describeValue(target)}`, { program });
  }
  throw new ProgramError('UnknownInterface', `attaching ${program}: no network interface ${describeValue(target)} in this network namespace`, { program });
}

/** The kernel id of the program behind `fd` (bpf_prog_info.id). */
export function programId(fd: number): number {
  // The kernel copies no more than asked for: the fields up to id.
  const info = new Uint8Array(bpfProgInfoLayout.id + 4);
  objGetInfoByFd(fd, info);
  return new DataView(info.buffer).getUint32(bpfProgInfoLayout.id, true);
}

/**
 * The program of an attachment the kernel keeps no link object for (netlink XDP): its
 * id, and an fd of it when the kernel must be told which program is expected. The
 * user's fd is borrowed while it still refers to that program; after the user unloaded
 * (or reloaded) it, the program is opened by id for the one call (which needs
 * CAP_SYS_ADMIN), so the common case needs no more privilege than the attach did.
 */
export class ProgramRef {
  readonly id: number;
  readonly name: string;
  readonly #program: { readonly fd: number };

  constructor(program: { readonly fd: number; readonly name: string }) {
    this.id = programId(program.fd);
    this.name = program.name;
    this.#program = program;
  }

  withFd<T>(fn: (fd: number) => T): T {
    let fd: number | undefined;
    try {
      fd = this.#program.fd;
      if (programId(fd) !== this.id) fd = undefined;
    } catch {
      fd = undefined; // not loaded any more
    }
    if (fd !== undefined) return fn(fd);
    const own = progGetFdById(this.id);
    try {
      return fn(own);
    } finally {
      kernel.close(own);
    }
  }
}
