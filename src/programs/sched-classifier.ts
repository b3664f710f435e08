import { Program } from './program.js';

/**
 * SchedClassifier programs (sections "tc/ingress", "tc/egress", "tcx/ingress", "tcx/egress", "tc", "classifier").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class SchedClassifier extends Program {}
