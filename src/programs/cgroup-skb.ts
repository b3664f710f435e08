import { Program } from './program.js';

/**
 * CgroupSkb programs (sections "cgroup_skb/ingress", "cgroup_skb/egress", "cgroup/skb").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class CgroupSkb extends Program {}
