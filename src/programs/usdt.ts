import { Program } from './program.js';
import type { ProgramKind } from './program-type.js';

/**
 * Usdt programs (sections "usdt+", "usdt.s+").
 * USDT probes need the target's .note.stapsdt notes (and argument specs); tsbpf does not attach them yet. A USDT is a uprobe at the note's address: UProbe.attach with an offset works meanwhile.
 */
export class Usdt extends Program {
  static override readonly programKind: ProgramKind = 'Usdt';
}
