// struct_ops maps (BPF_MAP_TYPE_STRUCT_OPS, 5.6+): a kernel struct of callbacks
// (tcp_congestion_ops, sched_ext_ops, ...) implemented by BPF programs. The object
// declares the struct with its own (partial) layout; the kernel wants its
// `struct bpf_struct_ops_<name>` value, with the struct at the value's `data` member,
// data members copied by name and each function pointer holding a program fd.
//
// Registration: a map without BPF_F_LINK is registered by writing its value and
// unregistered by deleting key 0 (closing the fd does not unregister: the registration
// holds its own reference). A BPF_F_LINK map's value only prepares it; BPF_LINK_CREATE
// with attach type BPF_STRUCT_OPS registers it, and closing the link unregisters.
import { MapError } from '../errors.js';
import type { Btf, BtfTypeOf } from '../obj/btf.js';
import type { MapData } from './map-data.js';
import type { FdLink } from '../links/link.js';
import { attachStructOps } from '../links/struct-ops.js';

const EINPROGRESS = 115;

/** BPF_F_LINK: the map is registered through a link. */
export const BPF_F_LINK = 1 << 13;

/** Where the kernel defines a struct_ops type. */
export interface StructOpsTarget {
  /** vmlinux BTF, or the split BTF of the module that defines the struct. */
  btf: Btf;
  /** The module's name; undefined for vmlinux. */
  module?: string;
  struct: BtfTypeOf<'struct'>;
  /** `struct bpf_struct_ops_<name>`: what the map holds. */
  valueType: BtfTypeOf<'struct'>;
  /** Byte offset of the struct within the value (the `data` member). */
  dataOffset: number;
}

/** The kernel's struct `typeName` and its struct_ops value type in `btf`, or undefined. */
export function findStructOpsTarget(typeName: string, btf: Btf, module?: string): StructOpsTarget | undefined {
  const struct = btf.byName(typeName, 'struct')[0];
  const valueType = btf.byName(`bpf_struct_ops_${typeName}`, 'struct')[0];
  if (!struct || !valueType) return undefined;
  const data = valueType.members.find((m) => m.name === 'data');
  if (!data) return undefined;
  return { btf, module, struct, valueType, dataOffset: data.bitOffset / 8 };
}

/** The kernel member that the object's member at byte `offset` of its struct is: name and index (a program's expected_attach_type). */
export function structOpsMember(local: Btf, localTypeId: number, offset: number, target: StructOpsTarget): { name: string; index: number } {
  const struct = local.resolve(localTypeId);
  const member = struct.kind === 'struct' ? struct.members.find((m) => m.bitOffset === offset * 8) : undefined;
  if (!member) throw new MapError('InvalidArgument', `struct_ops ${target.struct.name}: no member of the object's struct at offset ${offset}`);
  const index = target.struct.members.findIndex((m) => m.name === member.name);
  if (index < 0) throw new MapError('NotSupported', `struct_ops ${target.struct.name}: the kernel's struct has no member ${member.name}`);
  return { name: member.name, index };
}

/**
 * The value to write into the map: `data` is the object's initialiser (its own layout),
 * `programs` the fd of the program at each function-pointer member's byte offset.
 * As libbpf and cilium/ebpf: members are matched by name; one the kernel lacks must be
 * zero; a function pointer without a program stays NULL; other members are copied and
 * must have the kernel's size.
 */
export function structOpsValue(local: Btf, localTypeId: number, data: Uint8Array, target: StructOpsTarget, programs: { offset: number; fd: number }[]): Uint8Array {
  const struct = local.resolve(localTypeId);
  if (struct.kind !== 'struct') throw new MapError('InvalidArgument', `struct_ops: the object's type ${localTypeId} is not a struct`);
  const kernel = target.struct;
  const value = new Uint8Array(target.valueType.size);
  const view = new DataView(value.buffer);
  const fail = (why: string): never => {
    throw new MapError('InvalidArgument', `struct_ops ${kernel.name}: ${why}`);
  };
  for (const m of struct.members) {
    if (m.bitfieldSize || m.bitOffset % 8) fail(`bitfield member ${m.name} is not supported`);
    const off = m.bitOffset / 8;
    const size = local.sizeof(m.type);
    const bytes = data.subarray(off, off + size);
    const km = kernel.members.find((k) => k.name === m.name);
    if (!km) {
      if (bytes.some((b) => b !== 0)) fail(`member ${m.name} is set but the kernel's struct has no such member`);
      continue;
    }
    if (km.bitfieldSize || km.bitOffset % 8) fail(`the kernel's member ${m.name} is a bitfield`);
    const at = target.dataOffset + km.bitOffset / 8;
    if (local.resolve(m.type).kind === 'ptr') {
      if (target.btf.resolve(km.type).kind !== 'ptr') fail(`member ${m.name} is a pointer in the object but not in the kernel`);
      const prog = programs.find((p) => p.offset === off);
      if (prog) view.setBigUint64(at, BigInt(prog.fd), true);
      else if (bytes.some((b) => b !== 0)) fail(`pointer member ${m.name} is set to something other than a program`);
      continue;
    }
    const kernelSize = target.btf.sizeof(km.type);
    if (kernelSize !== size) fail(`member ${m.name} is ${size} bytes in the object and ${kernelSize} in the kernel`);
    value.set(bytes, at);
  }
  return value;
}

/**
 * A struct_ops map of a loaded object, with its kernel value ready. `register()` /
 * `unregister()` for maps without BPF_F_LINK; a BPF_F_LINK map was written at load
 * and waits for a link (BPF_LINK_CREATE with `map.fd`, attach type BPF_STRUCT_OPS).
 * A view: the Ebpf owns the map and unregisters it when closed.
 */
export class StructOpsMap {
  readonly name: string;
  readonly map: MapData;
  /** The kernel struct implemented: 'tcp_congestion_ops', ... */
  readonly typeName: string;
  /** BPF_F_LINK: registered through a link, not by register(). */
  readonly link: boolean;
  readonly #value: () => Uint8Array;
  #registered = false;

  /** @internal the loader makes these; `value` builds the kernel value from the programs' current fds. */
  constructor(name: string, map: MapData, typeName: string, value: () => Uint8Array) {
    this.name = name;
    this.map = map;
    this.typeName = typeName;
    this.link = (map.flags & BPF_F_LINK) !== 0;
    this.#value = value;
  }

  /** The kernel value (`struct bpf_struct_ops_<typeName>`): data members, program fds. */
  get value(): Uint8Array {
    return this.#value();
  }

  get registered(): boolean {
    return this.#registered;
  }

  /**
   * Registers the struct with the kernel subsystem (one map update). Not for BPF_F_LINK
   * maps. Once per map: the kernel refuses a second value (MapError, EBUSY), even after
   * unregister(); load the object again to register again.
   */
  register(): void {
    if (this.link) {
      throw new MapError('InvalidArgument', `struct_ops map ${this.name} has BPF_F_LINK: it is registered by creating a link (BPF_LINK_CREATE, attach type BPF_STRUCT_OPS), not by register()`);
    }
    if (this.#registered) return;
    this.map.update(new Uint8Array(4), this.value);
    this.#registered = true;
  }

  /**
   * Registers a BPF_F_LINK map through a link (BPF_LINK_CREATE, attach type
   * BPF_STRUCT_OPS, 6.4+): the registration lasts as long as the link (detach, close
   * or, when pinned, unpin).
   */
  attach(): FdLink {
    if (!this.link) {
      throw new MapError('InvalidArgument', `struct_ops map ${this.name} has no BPF_F_LINK: it is registered by register(), not by a link`);
    }
    return attachStructOps(this.map, this.name, this.typeName);
  }

  /**
   * Unregisters (deletes key 0); harmless when not registered. When the kernel refuses
   * (MapError), the map stays registered and unregister() may be called again.
   */
  unregister(): void {
    if (!this.#registered) return;
    try {
      this.map.delete(new Uint8Array(4)); // false (ENOENT): not registered any more
    } catch (err) {
      // EINPROGRESS: being unregistered already (by someone else through the map's id).
      if (!(err instanceof MapError && err.errno === EINPROGRESS)) throw err;
    }
    this.#registered = false;
  }
}
