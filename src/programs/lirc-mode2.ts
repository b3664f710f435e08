import { Program } from './program.js';

/**
 * LircMode2 programs (sections "lirc_mode2").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class LircMode2 extends Program {}
