import { Program } from './program.js';

/**
 * Netfilter programs (sections "netfilter").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class Netfilter extends Program {}
