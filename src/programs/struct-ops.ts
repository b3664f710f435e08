import { Program } from './program.js';
import type { ProgramKind } from '../obj/sections.js';

/**
 * StructOps programs (sections "struct_ops+", "struct_ops.s+").
 * Members of a struct_ops map: they run when the map is registered (StructOpsMap.register() or .attach()), never attached on their own.
 * Kernel 5.6+ (BPF_PROG_TYPE_STRUCT_OPS).
 */
export class StructOps extends Program {
  static override readonly programKind: ProgramKind = 'StructOps';
}
