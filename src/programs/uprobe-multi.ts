import { Program } from './program.js';

/**
 * UProbeMulti programs (sections "uprobe.multi+", "uretprobe.multi+", "uprobe.session+", "uprobe.multi.s+", "uretprobe.multi.s+", "uprobe.session.s+").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class UProbeMulti extends Program {}
