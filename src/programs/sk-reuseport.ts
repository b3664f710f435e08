import { Program } from './program.js';

/**
 * SkReuseport programs (sections "sk_reuseport/migrate", "sk_reuseport").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class SkReuseport extends Program {}
