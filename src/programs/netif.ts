// What the network attach paths (XDP, tc) share: naming an interface, a program's
// kernel id, and a program fd the attachment owns so that detaching can name the
// program to the kernel even after the user unloaded theirs.
import { ProgramError } from '../errors.js';
import { objGetInfoByFd, progGetFdById } from '../sys/bpf.js';
import { FdOwner } from '../sys/fd.js';
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
    const index = kernel.ifNameToIndex(target);
    if (index > 0) return { index, name: target };
  } else {
    throw new TypeError(`interface must be a name or an index, not ${typeof target}`);
  }
  throw new ProgramError('UnknownInterface', `attaching ${program}: no network interface ${JSON.stringify(target)} in this network namespace`, { program });
}

/** The kernel id of the program behind `fd` (bpf_prog_info.id). */
export function programId(fd: number): number {
  const info = new Uint8Array(8); // type, id: the kernel copies no more than asked for
  objGetInfoByFd(fd, info);
  return new DataView(info.buffer).getUint32(4, true);
}

/** A program fd held by an attachment (opened by id, so the user's fd stays theirs). */
export class HeldProgram extends FdOwner {
  readonly id: number;
  readonly name: string;

  constructor(program: { fd: number; name: string }) {
    const id = programId(program.fd);
    super(progGetFdById(id));
    this.id = id;
    this.name = program.name;
  }

  protected closedError(): Error {
    return new ProgramError('NotAttached', `program ${this.name} (id ${this.id}) is no longer held by its attachment`, { program: this.name });
  }
}
