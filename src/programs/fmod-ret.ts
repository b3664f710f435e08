import { Program } from './program.js';

/**
 * FModRet programs (sections "fmod_ret+", "fmod_ret.s+").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class FModRet extends Program {}
