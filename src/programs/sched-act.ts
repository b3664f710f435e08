import { Program } from './program.js';

/**
 * SchedAct programs (sections "action").
 * tc actions (act_bpf, added by `tc action` / `tc filter ... action bpf`); tsbpf does not attach them yet. testRun works.
 */
export class SchedAct extends Program {}
