import { Program } from './program.js';

/**
 * CgroupSockAddr programs (sections "cgroup/bind4", "cgroup/bind6", "cgroup/connect4", "cgroup/connect6", "cgroup/connect_unix", "cgroup/sendmsg4").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class CgroupSockAddr extends Program {}
