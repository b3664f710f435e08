import { Program } from './program.js';
import type { ProgramKind } from './program-type.js';

/**
 * SchedAct programs (sections "action").
 * tc actions (act_bpf, added by `tc action` / `tc filter ... action bpf`); tsbpf does not attach them yet. testRun works.
 */
export class SchedAct extends Program {
  static override readonly programKind: ProgramKind = 'SchedAct';
}
