import { Program, runWithContext } from './program.js';
import type { ProgramKind } from '../obj/sections.js';

/**
 * Syscall programs (section "syscall", BPF_PROG_TYPE_SYSCALL, 5.14+): run from user
 * space with BPF_PROG_TEST_RUN, never attached. The context is the argument struct;
 * the kernel writes it back into the same buffer.
 */
export class Syscall extends Program {
  static override readonly programKind: ProgramKind = 'Syscall';

  /** Runs the program once with `args` as its context (updated in place); returns its return value. */
  run(args?: Uint8Array): number {
    return runWithContext(this, args);
  }
}
