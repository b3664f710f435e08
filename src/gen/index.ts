// The code generator behind `tsbpf gen`.
export { generate } from './generate.js';
export type { GenerateOptions, Generated, GeneratedMap } from './generate.js';
export { mismatch } from './types.js';
export type { Declaration, TsType } from './types.js';
