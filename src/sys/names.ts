// Printable names of the kernel's map, program and attach types, from the generated enums.
import { attachTypeNames, mapTypeNames, programTypeNames } from './abi/enums.js';

/** 'BPF_MAP_TYPE_ARRAY_OF_MAPS' for 12; 'map type 99' for an unknown one. */
export function mapTypeName(type: number): string {
  return mapTypeNames[type] || `map type ${type}`;
}

/** 'BPF_PROG_TYPE_XDP' for 6; 'program type 99' for an unknown one. */
export function programTypeName(type: number): string {
  return programTypeNames[type] || `program type ${type}`;
}

/** 'BPF_CGROUP_INET_INGRESS' for 0; 'attach type 99' for an unknown one. */
export function attachTypeName(type: number): string {
  return attachTypeNames[type] || `attach type ${type}`;
}
