import { Program } from './program.js';

/**
 * SkSkb programs (sections "sk_skb/stream_parser", "sk_skb/stream_verdict", "sk_skb/verdict", "sk_skb").
 * Loaded by Ebpf.load; attaching arrives with the programs milestone.
 */
export class SkSkb extends Program {}
