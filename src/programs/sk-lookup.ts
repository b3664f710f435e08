import { Program } from './program.js';

/**
 * SkLookup programs (sections "sk_lookup").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class SkLookup extends Program {}
