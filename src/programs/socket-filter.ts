import { Program } from './program.js';

/**
 * SocketFilter programs (sections "socket").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class SocketFilter extends Program {}
