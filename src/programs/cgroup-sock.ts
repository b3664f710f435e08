import { Program } from './program.js';

/**
 * CgroupSock programs (sections "cgroup/sock_create", "cgroup/sock_release", "cgroup/sock", "cgroup/post_bind4", "cgroup/post_bind6").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class CgroupSock extends Program {}
