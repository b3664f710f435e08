import { Program } from './program.js';

/**
 * KProbe programs (sections "kprobe+", "kretprobe+", "ksyscall+", "kretsyscall+").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class KProbe extends Program {}
