import { Program } from './program.js';

/**
 * UProbe programs (sections "uprobe+", "uprobe.s+", "uretprobe+", "uretprobe.s+").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class UProbe extends Program {}
