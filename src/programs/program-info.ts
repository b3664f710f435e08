// struct bpf_prog_info, decoded. One decoder for Program.info() and loadedPrograms().
import { bpfProgInfoLayout, decodeBpfProgInfo } from '../sys/abi/info.js';
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

function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** Decodes struct bpf_prog_info (the map ids come separately). */
export function decodeProgramInfo(b: Uint8Array, mapIds: number[]): ProgramInfo {
  const k = decodeBpfProgInfo(b);
  return {
    id: k.id,
    name: k.name,
    type: k.type,
    typeName: programTypeName(k.type),
    tag: hex(k.tag),
    mapIds,
    runCount: k.runCnt,
    runTimeNs: k.runTimeNs,
    recursionMisses: k.recursionMisses,
    verifiedInsns: k.verifiedInsns,
    btfId: k.btfId,
    loadTime: k.loadTime,
    createdByUid: k.createdByUid,
    gplCompatible: k.gplCompatible === 1,
    xlatedLength: k.xlatedProgLen,
    jitedLength: k.jitedProgLen,
    attachBtfId: k.attachBtfId,
    attachBtfObjId: k.attachBtfObjId,
    ifindex: k.ifindex,
    netnsDev: k.netnsDev,
    netnsIno: k.netnsIno,
  };
}

/**
 * The info of a program fd. The map ids need a second call: the first tells how many
 * (nr_map_ids), the second fills an array of that size; if maps were added in between
 * (they cannot be, for a loaded program, except by BPF_PROG_BIND_MAP) the loop asks again.
 */
export function programInfoByFd(fd: number): ProgramInfo {
  const buf = new Uint8Array(bpfProgInfoLayout.size);
  const view = new DataView(buf.buffer);
  const NR_MAP_IDS = bpfProgInfoLayout.nrMapIds;
  objGetInfoByFd(fd, buf);
  let count = view.getUint32(NR_MAP_IDS, true);
  let ids = new Uint32Array(0);
  while (count > ids.length) {
    ids = new Uint32Array(count);
    objGetInfoByFd(fd, buf, ids);
    count = view.getUint32(NR_MAP_IDS, true);
  }
  return decodeProgramInfo(buf, [...ids.subarray(0, count)]);
}
