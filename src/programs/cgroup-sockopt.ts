import { Program } from './program.js';

/**
 * CgroupSockopt programs (sections "cgroup/getsockopt", "cgroup/setsockopt").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class CgroupSockopt extends Program {}
