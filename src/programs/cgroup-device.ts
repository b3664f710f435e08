import { Program } from './program.js';

/**
 * CgroupDevice programs (sections "cgroup/dev").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class CgroupDevice extends Program {}
