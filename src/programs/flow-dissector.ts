import { Program } from './program.js';

/**
 * FlowDissector programs (sections "flow_dissector").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class FlowDissector extends Program {}
