// Loading an object: plan.ts decides (pure), load.ts asks the kernel and makes it so.
export { Ebpf, EbpfLoader, memlockCharged, type GlobalOptions } from './load.js';
export { LoadPlan, type KernelFacts, type KernelModule, type MapShape, type PlanSettings, type ProgramPlan } from './plan.js';
export type { BtfMapClass, BtfMapOf, BtfTypedMap } from './typed-map.js';
