import { Program } from './program.js';

/**
 * KProbeMulti programs (sections "kprobe.multi+", "kretprobe.multi+", "kprobe.session+").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class KProbeMulti extends Program {}
