// Codecs: JS values to the C layout of keys, values and event records, and back.
export { u8, u16, u32, u64, i8, i16, i32, i64, bytes, cstring, array, struct } from './codec.js';
export type { Codec, Decoded, StructValue } from './codec.js';
export { scratch, scratchAt } from '../sys/scratch.js';
export type { Scratch } from '../sys/scratch.js';
export { btfCodec, btfCodecOf } from './btf.js';
export type { BtfValue } from './btf.js';
