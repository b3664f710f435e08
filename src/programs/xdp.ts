import { Program } from './program.js';

/**
 * Xdp programs (sections "xdp.frags/devmap", "xdp/devmap", "xdp.frags/cpumap", "xdp/cpumap", "xdp.frags", "xdp").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class Xdp extends Program {}
