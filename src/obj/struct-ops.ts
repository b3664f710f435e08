// struct_ops layout, pure over BTF: the kernel struct a struct_ops map implements, which
// kernel member each of the object's members is, and the kernel's value
// (`struct bpf_struct_ops_<name>`, the struct at its `data` member) built from the
// object's initialiser and program fds. maps/struct-ops.ts registers the map.
import { MapError } from '../errors.js';
import type { Btf, BtfTypeOf } from './btf.js';

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
