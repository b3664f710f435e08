import { Program } from './program.js';

/**
 * SchedAct programs (sections "action").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class SchedAct extends Program {}
