// struct bpf_prog_info, decoded. One decoder for Program.info() and loadedPrograms().
import { readCString } from '../sys/attr.js';
import { objGetInfoByFd } from '../sys/bpf.js';
import { programTypeName } from './program-type.js';

/** What the kernel reports about a loaded program (BPF_OBJ_GET_INFO_BY_FD). */
export interface ProgramInfo {
  id: number;
  /** The name given at load, at most 15 characters (BPF_OBJ_NAME_LEN - 1). */
  name: string;
  /** BPF_PROG_TYPE_* */
  type: number;
  typeName: string;
  /** The kernel's hash of the program's instructions, 16 hex digits (as bpftool prints it). */
  tag: string;
  /** Ids of the maps the program uses. */
  mapIds: number[];
  /** Times the program ran and the time it took, counted only while statistics are on (enableStats). */
  runCount: bigint;
  runTimeNs: bigint;
  /** Runs skipped because the program was already running on that CPU. */
  recursionMisses: bigint;
  /** Instructions the verifier processed (5.16+; 0 before). */
  verifiedInsns: number;
  /** The program's BTF object id (0: loaded without BTF). */
  btfId: number;
  /** When the program was loaded: ns since boot (CLOCK_BOOTTIME). */
  loadTime: bigint;
  createdByUid: number;
  gplCompatible: boolean;
  /** Bytes of translated (after the verifier's rewrites) and of JIT-compiled code. */
  xlatedLength: number;
  jitedLength: number;
  /** Tracing, LSM and extension programs: the BTF type they attach to, and the BTF object holding it (vmlinux: its id). */
  attachBtfId: number;
  attachBtfObjId: number;
  /** Offloaded programs: the device, and its network namespace. */
  ifindex: number;
  netnsDev: bigint;
  netnsIno: bigint;
}

/** sizeof(struct bpf_prog_info) in Linux 6.18; older kernels fill a prefix and leave the rest zero. */
const PROG_INFO_SIZE = 232;

function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** Decodes struct bpf_prog_info (the map ids come separately). */
export function decodeProgramInfo(b: Uint8Array, mapIds: number[]): ProgramInfo {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const u32 = (o: number) => v.getUint32(o, true);
  const u64 = (o: number) => v.getBigUint64(o, true);
  const type = u32(0);
  return {
    id: u32(4),
    name: readCString(b, 64, 16),
    type,
    typeName: programTypeName(type),
    tag: hex(b.subarray(8, 16)),
    mapIds,
    runCount: u64(200),
    runTimeNs: u64(192),
    recursionMisses: u64(208),
    verifiedInsns: u32(216),
    btfId: u32(128),
    loadTime: u64(40),
    createdByUid: u32(48),
    gplCompatible: (u32(84) & 1) === 1,
    xlatedLength: u32(20),
    jitedLength: u32(16),
    attachBtfId: u32(224),
    attachBtfObjId: u32(220),
    ifindex: u32(80),
    netnsDev: u64(88),
    netnsIno: u64(96),
  };
}

/**
 * The info of a program fd. The map ids need a second call: the first tells how many
 * (nr_map_ids), the second fills an array of that size; if maps were added in between
 * (they cannot be, for a loaded program, except by BPF_PROG_BIND_MAP) the loop asks again.
 */
export function programInfoByFd(fd: number): ProgramInfo {
  const buf = new Uint8Array(PROG_INFO_SIZE);
  const view = new DataView(buf.buffer);
  objGetInfoByFd(fd, buf);
  let count = view.getUint32(52, true);
  let ids = new Uint32Array(0);
  while (count > ids.length) {
    ids = new Uint32Array(count);
    objGetInfoByFd(fd, buf, ids);
    count = view.getUint32(52, true);
  }
  return decodeProgramInfo(buf, [...ids.subarray(0, count)]);
}
