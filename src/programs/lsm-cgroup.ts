import { Program } from './program.js';

/**
 * LsmCgroup programs (sections "lsm_cgroup+").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class LsmCgroup extends Program {}
