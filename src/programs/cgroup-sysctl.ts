import { Program } from './program.js';

/**
 * CgroupSysctl programs (sections "cgroup/sysctl").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class CgroupSysctl extends Program {}
