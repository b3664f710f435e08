// A struct_ops map registered through a link (BPF_LINK_CREATE with attach type
// BPF_STRUCT_OPS, 6.4+): the registration lasts as long as the link.
import { linkCreate } from '../sys/link.js';
import { AttachType } from '../sys/abi/enums.js';
import { attachError, FdLink } from './link.js';

/** Registers the BPF_F_LINK struct_ops map `map` (named `name`, of kernel struct `typeName`). */
export function attachStructOps(map: { fd: number }, name: string, typeName: string): FdLink {
  try {
    return new FdLink(linkCreate({ progFd: map.fd, target: 0, attachType: AttachType.StructOps }), `struct_ops ${name} (${typeName})`);
  } catch (err) {
    throw attachError(name, `struct_ops ${typeName}`, err);
  }
}
