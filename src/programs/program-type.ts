// Program types and attach types: the kernel's enums (generated from its BTF) and their
// names. The section table that maps ELF section names to them is obj/sections.ts.
export { AttachType, ProgramType } from '../sys/abi/enums.js';
export { attachTypeName, programTypeName } from '../sys/names.js';
