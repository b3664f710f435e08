// One wrapper per bpf(2) command: encode union bpf_attr, make the call through the
// seam, turn a failure into a SyscallError naming the call (libbpf's names).
import { Attr, checkFlags, cString, ptrWords } from './attr.js';
import { Errno, SyscallError } from './errors.js';
import { kernel } from './native.js';
import { retrying } from './retry.js';
import { scratchAt, type Scratch } from '../codec/scratch.js';

/** enum bpf_cmd */
export const Cmd = {
  MapCreate: 0,
  MapLookupElem: 1,
  MapUpdateElem: 2,
  MapDeleteElem: 3,
  MapGetNextKey: 4,
  ProgLoad: 5,
  ObjPin: 6,
  ObjGet: 7,
  ProgAttach: 8,
  ProgDetach: 9,
  ProgTestRun: 10,
  ProgGetNextId: 11,
  MapGetNextId: 12,
  ProgGetFdById: 13,
  MapGetFdById: 14,
  ObjGetInfoByFd: 15,
  ProgQuery: 16,
  RawTracepointOpen: 17,
  BtfLoad: 18,
  BtfGetFdById: 19,
  TaskFdQuery: 20,
  MapLookupAndDeleteElem: 21,
  MapFreeze: 22,
  BtfGetNextId: 23,
  MapLookupBatch: 24,
  MapLookupAndDeleteBatch: 25,
  MapUpdateBatch: 26,
  MapDeleteBatch: 27,
  LinkCreate: 28,
  LinkUpdate: 29,
  LinkGetFdById: 30,
  LinkGetNextId: 31,
  EnableStats: 32,
  IterCreate: 33,
  LinkDetach: 34,
  ProgBindMap: 35,
} as const;

const BPF_OBJ_NAME_LEN = 16;

function fail(call: string, r: number, detail?: string): never {
  throw new SyscallError(call, -r, detail);
}

// ---- BPF_MAP_CREATE ----------------------------------------------------------------

export interface MapCreateAttr {
  mapType: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags?: number;
  innerMapFd?: number;
  numaNode?: number;
  mapName?: string;
  mapIfindex?: number;
  btfFd?: number;
  btfKeyTypeId?: number;
  btfValueTypeId?: number;
  btfVmlinuxValueTypeId?: number;
  mapExtra?: bigint | number;
}

const createAttr = new Attr(72);

/** BPF_MAP_CREATE → a new map fd (the caller owns it). */
export function mapCreate(a: MapCreateAttr): number {
  const attr = createAttr.reset()
    .u32(0, a.mapType)
    .u32(4, a.keySize)
    .u32(8, a.valueSize)
    .u32(12, a.maxEntries)
    .u32(16, a.mapFlags ?? 0)
    .u32(20, a.innerMapFd ?? 0)
    .u32(24, a.numaNode ?? 0)
    .name(28, BPF_OBJ_NAME_LEN, a.mapName ?? '')
    .u32(44, a.mapIfindex ?? 0)
    .u32(48, a.btfFd ?? 0)
    .u32(52, a.btfKeyTypeId ?? 0)
    .u32(56, a.btfValueTypeId ?? 0)
    .u32(60, a.btfVmlinuxValueTypeId ?? 0)
    .u64(64, a.mapExtra ?? 0);
  const r = kernel.bpf(Cmd.MapCreate, attr.bytes);
  if (r < 0) fail('bpf_map_create', r);
  return r;
}

// ---- element commands (the hot path) -----------------------------------------------
// attr: map_fd u32 @0, key ptr @8, value/next_key ptr @16, flags u64 @24.

const elem = new Attr(32);
const KEY_VALUE = ptrWords(8, 16);
const KEY = ptrWords(8);

function elemAttr(fd: number, flags: number | bigint): Uint8Array {
  elem.view.setUint32(0, fd, true);
  if (flags === 0) {
    elem.view.setUint32(24, 0, true);
    elem.view.setUint32(28, 0, true);
  } else {
    checkFlags(flags);
    elem.u64(24, flags);
  }
  return elem.bytes;
}

/**
 * BPF_MAP_LOOKUP_ELEM: fills `value`. Returns false when the key is absent (ENOENT).
 * The caller guarantees key.length >= key_size and value.length >= the value size.
 */
export function mapLookupElem(fd: number, key: Uint8Array, value: Uint8Array, flags: number | bigint = 0): boolean {
  const r = kernel.bpf(Cmd.MapLookupElem, elemAttr(fd, flags), KEY_VALUE, key, value);
  if (r === 0) return true;
  if (r === -Errno.ENOENT) return false;
  fail('bpf_map_lookup_elem', r);
}

/** BPF_MAP_UPDATE_ELEM (flags: BPF_ANY 0, BPF_NOEXIST 1, BPF_EXIST 2, BPF_F_LOCK 4). */
export function mapUpdateElem(fd: number, key: Uint8Array, value: Uint8Array, flags: number | bigint = 0): void {
  const r = kernel.bpf(Cmd.MapUpdateElem, elemAttr(fd, flags), KEY_VALUE, key, value);
  if (r !== 0) fail('bpf_map_update_elem', r);
}

/** BPF_MAP_DELETE_ELEM. Returns false when the key was absent (ENOENT). */
export function mapDeleteElem(fd: number, key: Uint8Array, flags: number | bigint = 0): boolean {
  const r = kernel.bpf(Cmd.MapDeleteElem, elemAttr(fd, flags), KEY, key);
  if (r === 0) return true;
  if (r === -Errno.ENOENT) return false;
  fail('bpf_map_delete_elem', r);
}

/** BPF_MAP_LOOKUP_AND_DELETE_ELEM (queues, stacks, hashes). Returns false on ENOENT. */
export function mapLookupAndDeleteElem(
  fd: number,
  key: Uint8Array | null,
  value: Uint8Array,
  flags: number | bigint = 0,
): boolean {
  const r = kernel.bpf(Cmd.MapLookupAndDeleteElem, elemAttr(fd, flags), KEY_VALUE, key, value);
  if (r === 0) return true;
  if (r === -Errno.ENOENT) return false;
  fail('bpf_map_lookup_and_delete_elem', r);
}

/**
 * BPF_MAP_GET_NEXT_KEY: writes the key after `key` (the first key when `key` is null)
 * into `nextKey`. Returns false at the end of the map.
 */
export function mapGetNextKey(fd: number, key: Uint8Array | null, nextKey: Uint8Array): boolean {
  const r = kernel.bpf(Cmd.MapGetNextKey, elemAttr(fd, 0), KEY_VALUE, key, nextKey);
  if (r === 0) return true;
  if (r === -Errno.ENOENT) return false;
  fail('bpf_map_get_next_key', r);
}

const ELEM_ATTR = 32;

/**
 * Element commands on one map through a single buffer (attr, key, value), the path
 * of every element operation of MapData and the typed maps: one buffer crosses into
 * native code instead of three. Encode into `key` / `value`, then call. Sizes are
 * the map's key size and value bytes.
 */
export class ElemIo {
  readonly key: Scratch;
  readonly value: Scratch;
  readonly #io: Uint8Array;
  readonly #attr: DataView;
  readonly #keyPtr: number;

  constructor(keySize: number, valueSize: number) {
    const keyOff = ELEM_ATTR;
    const valueOff = keyOff + Math.ceil(keySize / 8) * 8;
    const io = new Uint8Array(valueOff + Math.max(valueSize, 1));
    this.#io = io;
    this.#attr = new DataView(io.buffer, 0, ELEM_ATTR);
    // Offset 0 is NULL: a zero-size key (queues, stacks) is passed as no key at all.
    this.#keyPtr = keySize > 0 ? keyOff : 0;
    this.#attr.setUint32(8, this.#keyPtr, true);
    this.#attr.setUint32(16, valueOff, true);
    this.key = scratchAt(io, keyOff, keySize);
    this.value = scratchAt(io, valueOff, valueSize);
  }

  #call(cmd: number, fd: number, flags: number | bigint, mask: number, attrLen = ELEM_ATTR): number {
    const a = this.#attr;
    a.setUint32(0, fd, true);
    if (flags === 0) {
      a.setUint32(24, 0, true);
      a.setUint32(28, 0, true);
    } else {
      checkFlags(flags);
      a.setBigUint64(24, BigInt(flags), true);
    }
    return kernel.bpfIo(cmd, this.#io, attrLen, mask);
  }

  /** BPF_MAP_LOOKUP_ELEM of `key` into `value`; false on ENOENT. */
  lookup(fd: number, flags: number | bigint = 0): boolean {
    const r = this.#call(Cmd.MapLookupElem, fd, flags, KEY_VALUE);
    if (r === 0) return true;
    if (r === -Errno.ENOENT) return false;
    fail('bpf_map_lookup_elem', r);
  }

  /** BPF_MAP_UPDATE_ELEM of `key` with `value`. */
  update(fd: number, flags: number | bigint = 0): void {
    const r = this.#call(Cmd.MapUpdateElem, fd, flags, KEY_VALUE);
    if (r !== 0) fail('bpf_map_update_elem', r);
  }

  /**
   * BPF_MAP_GET_NEXT_KEY: the key after `key` (the first key when `first`) into
   * `value`, which must be key-sized; false at the end of the map.
   */
  nextKey(fd: number, first: boolean): boolean {
    if (first) this.#attr.setUint32(8, 0, true);
    const r = this.#call(Cmd.MapGetNextKey, fd, 0, KEY_VALUE);
    if (first) this.#attr.setUint32(8, this.#keyPtr, true);
    if (r === 0) return true;
    if (r === -Errno.ENOENT) return false;
    fail('bpf_map_get_next_key', r);
  }

  /** BPF_MAP_DELETE_ELEM of `key`; false on ENOENT. */
  delete(fd: number): boolean {
    // The kernel wants every byte after `key` zero for a delete: pass only map_fd and key.
    const r = this.#call(Cmd.MapDeleteElem, fd, 0, KEY, 16);
    if (r === 0) return true;
    if (r === -Errno.ENOENT) return false;
    fail('bpf_map_delete_elem', r);
  }
}

// ---- batch commands ----------------------------------------------------------------
// attr.batch: in_batch @0, out_batch @8, keys @16, values @24, count u32 @32,
// map_fd u32 @36, elem_flags u64 @40, flags u64 @48.

const batch = new Attr(56);
const BATCH_PTRS = ptrWords(0, 8, 16, 24);

export interface BatchResult {
  /** Elements processed (also on a partial failure). */
  count: number;
  /** True when the kernel reported the end of the map (ENOENT on lookups). */
  done: boolean;
}

function batchCall(
  cmd: number,
  call: string,
  fd: number,
  inBatch: Uint8Array | null,
  outBatch: Uint8Array | null,
  keys: Uint8Array | null,
  values: Uint8Array | null,
  count: number,
  elemFlags: number | bigint,
): BatchResult {
  checkFlags(elemFlags, 'elemFlags');
  batch.reset().u32(32, count).u32(36, fd).u64(40, elemFlags);
  const r = kernel.bpf(cmd, batch.bytes, BATCH_PTRS, inBatch, outBatch, keys, values);
  const done = batch.getU32(32);
  if (r === 0) return { count: done, done: false };
  if (r === -Errno.ENOENT && cmd !== Cmd.MapUpdateBatch) return { count: done, done: true };
  fail(call, r, `after ${done} of ${count} elements`);
}

/** BPF_MAP_UPDATE_BATCH: `count` keys and values packed back to back. */
export function mapUpdateBatch(fd: number, keys: Uint8Array, values: Uint8Array, count: number, elemFlags: number | bigint = 0): BatchResult {
  return batchCall(Cmd.MapUpdateBatch, 'bpf_map_update_batch', fd, null, null, keys, values, count, elemFlags);
}

/** BPF_MAP_DELETE_BATCH. */
export function mapDeleteBatch(fd: number, keys: Uint8Array, count: number, elemFlags: number | bigint = 0): BatchResult {
  return batchCall(Cmd.MapDeleteBatch, 'bpf_map_delete_batch', fd, null, null, keys, null, count, elemFlags);
}

/** BPF_MAP_LOOKUP_BATCH: `inBatch` null to start; `outBatch` receives the cursor. */
export function mapLookupBatch(
  fd: number,
  inBatch: Uint8Array | null,
  outBatch: Uint8Array,
  keys: Uint8Array,
  values: Uint8Array,
  count: number,
  elemFlags: number | bigint = 0,
): BatchResult {
  return batchCall(Cmd.MapLookupBatch, 'bpf_map_lookup_batch', fd, inBatch, outBatch, keys, values, count, elemFlags);
}

/** BPF_MAP_LOOKUP_AND_DELETE_BATCH. */
export function mapLookupAndDeleteBatch(
  fd: number,
  inBatch: Uint8Array | null,
  outBatch: Uint8Array,
  keys: Uint8Array,
  values: Uint8Array,
  count: number,
  elemFlags: number | bigint = 0,
): BatchResult {
  return batchCall(Cmd.MapLookupAndDeleteBatch, 'bpf_map_lookup_and_delete_batch', fd, inBatch, outBatch, keys, values, count, elemFlags);
}

// ---- objects: pin, get, ids, info, freeze ------------------------------------------

const obj = new Attr(16);

/** BPF_OBJ_PIN: pins `fd` at `path` on a bpffs. */
export function objPin(fd: number, path: string): void {
  obj.reset().u32(8, fd);
  const r = kernel.bpf(Cmd.ObjPin, obj.bytes, ptrWords(0), cString(path));
  if (r !== 0) fail('bpf_obj_pin', r, path);
}

/** BPF_OBJ_GET: opens the object pinned at `path` (file_flags: BPF_F_RDONLY/WRONLY). */
export function objGet(path: string, fileFlags = 0): number {
  obj.reset().u32(12, fileFlags);
  const r = kernel.bpf(Cmd.ObjGet, obj.bytes, ptrWords(0), cString(path));
  if (r < 0) fail('bpf_obj_get', r, path);
  return r;
}

const byId = new Attr(12);

function getFdById(cmd: number, call: string, id: number, openFlags: number): number {
  byId.u32(0, id).u32(4, 0).u32(8, openFlags);
  const r = kernel.bpf(cmd, byId.bytes);
  if (r < 0) fail(call, r, `id ${id}`);
  return r;
}

/** BPF_MAP_GET_FD_BY_ID → a new fd for map `id`. */
export function mapGetFdById(id: number, openFlags = 0): number {
  return getFdById(Cmd.MapGetFdById, 'bpf_map_get_fd_by_id', id, openFlags);
}

/** BPF_PROG_GET_FD_BY_ID → a new fd for program `id`. */
export function progGetFdById(id: number, openFlags = 0): number {
  return getFdById(Cmd.ProgGetFdById, 'bpf_prog_get_fd_by_id', id, openFlags);
}

function getNextId(cmd: number, call: string, start: number): number | undefined {
  byId.u32(0, start).u32(4, 0).u32(8, 0);
  const r = kernel.bpf(cmd, byId.bytes);
  if (r === -Errno.ENOENT) return undefined;
  if (r < 0) fail(call, r);
  return byId.getU32(4);
}

/** BPF_MAP_GET_NEXT_ID: the id of the next map after `start`, undefined at the end. */
export function mapGetNextId(start: number): number | undefined {
  return getNextId(Cmd.MapGetNextId, 'bpf_map_get_next_id', start);
}

/** BPF_PROG_GET_NEXT_ID. */
export function progGetNextId(start: number): number | undefined {
  return getNextId(Cmd.ProgGetNextId, 'bpf_prog_get_next_id', start);
}

/** BPF_BTF_GET_NEXT_ID (5.4+): the id of the next BTF object (vmlinux, modules, loaded programs'). */
export function btfGetNextId(start: number): number | undefined {
  return getNextId(Cmd.BtfGetNextId, 'bpf_btf_get_next_id', start);
}

/** BPF_BTF_GET_FD_BY_ID → a new fd for BTF object `id`. */
export function btfGetFdById(id: number): number {
  return getFdById(Cmd.BtfGetFdById, 'bpf_btf_get_fd_by_id', id, 0);
}

/** BPF_LINK_GET_FD_BY_ID → a new fd for link `id`. */
export function linkGetFdById(id: number): number {
  return getFdById(Cmd.LinkGetFdById, 'bpf_link_get_fd_by_id', id, 0);
}

/** BPF_LINK_GET_NEXT_ID: the next link id after `start`, undefined at the end. */
export function linkGetNextId(start: number): number | undefined {
  return getNextId(Cmd.LinkGetNextId, 'bpf_link_get_next_id', start);
}

const infoAttr = new Attr(16);

/**
 * BPF_OBJ_GET_INFO_BY_FD: fills `info` (struct bpf_{map,prog,link,btf}_info); returns the
 * length the kernel wrote. For a program, `mapIds` and `xlated` receive its map ids and
 * translated instructions (their counts land in info's nr_map_ids / xlated_prog_len).
 */
export function objGetInfoByFd(fd: number, info: Uint8Array, mapIds?: Uint32Array, xlated?: Uint8Array): number {
  infoAttr.reset().u32(0, fd).u32(4, info.length);
  const r = mapIds || xlated
    ? kernel.bpf(Cmd.ObjGetInfoByFd, infoAttr.bytes, ptrWords(8), info, mapIds ?? null, xlated ?? null)
    : kernel.bpf(Cmd.ObjGetInfoByFd, infoAttr.bytes, ptrWords(8), info);
  if (r !== 0) fail('bpf_obj_get_info_by_fd', r);
  return infoAttr.getU32(4);
}

/** The raw bytes of a BTF object the kernel holds (OBJ_GET_INFO_BY_FD on a BTF fd, twice: size, then data). */
export function btfGetData(btfFd: number): Uint8Array {
  // struct bpf_btf_info: btf @0 (the addon points it at the buffer after info), btf_size @8.
  const info = new Uint8Array(32);
  const call = (data?: Uint8Array) => {
    infoAttr.reset().u32(0, btfFd).u32(4, info.length);
    const r = data
      ? kernel.bpf(Cmd.ObjGetInfoByFd, infoAttr.bytes, ptrWords(8), info, data)
      : kernel.bpf(Cmd.ObjGetInfoByFd, infoAttr.bytes, ptrWords(8), info);
    if (r !== 0) fail('bpf_obj_get_info_by_fd', r, 'btf');
    return new DataView(info.buffer).getUint32(8, true);
  };
  const size = call();
  const data = new Uint8Array(size);
  if (size > 0 && call(data) !== size) fail('bpf_obj_get_info_by_fd', -Errno.EAGAIN, 'btf changed size');
  return data;
}

const freezeAttr = new Attr(4);

/** BPF_MAP_FREEZE: user space can no longer write the map (5.2+). */
export function mapFreeze(fd: number): void {
  freezeAttr.u32(0, fd);
  const r = kernel.bpf(Cmd.MapFreeze, freezeAttr.bytes);
  if (r !== 0) fail('bpf_map_freeze', r);
}

// ---- programs ----------------------------------------------------------------------

export interface ProgLoadAttr {
  progType: number;
  /** struct bpf_insn array, 8 bytes each. */
  insns: Uint8Array;
  license: string;
  progName?: string;
  progFlags?: number;
  expectedAttachType?: number;
  progBtfFd?: number;
  attachBtfId?: number;
  /** Also attach_btf_obj_fd: the BTF object (a kernel module's) that attachBtfId is in. */
  attachProgFd?: number;
  kernVersion?: number;
  logLevel?: number;
  /** Verifier log buffer; its length is log_size. */
  logBuf?: Uint8Array;
  /** struct bpf_func_info records (8 bytes each) and struct bpf_line_info records (16 bytes each). */
  funcInfo?: Uint8Array;
  lineInfo?: Uint8Array;
  /** fd_array: s32 fds; kfunc calls into a module name theirs by index in insn.off (index 0 means vmlinux). */
  fdArray?: Int32Array;
}

const progAttr = new Attr(144);
// insns, license, log_buf, func_info, line_info (+ fd_array at 120).
const PROG_LOAD_PTRS = ptrWords(8, 16, 32, 80, 96);
const PROG_LOAD_WITH_FDS = ptrWords(8, 16, 32, 80, 96, 120);
// Licenses as C strings: the same few, load after load.
const licenses = new Map<string, Uint8Array>();
const FUNC_INFO_SIZE = 8;
const LINE_INFO_SIZE = 16;

/** BPF_PROG_LOAD → a new program fd. The verifier log, if any, is in `logBuf`. */
export function progLoad(a: ProgLoadAttr): number {
  if (a.insns.length % 8 !== 0) throw new RangeError('insns must be a whole number of 8-byte instructions');
  const attr = progAttr.reset()
    .u32(0, a.progType)
    .u32(4, a.insns.length / 8)
    .u32(24, a.logBuf ? (a.logLevel ?? 1) : 0)
    .u32(28, a.logBuf?.length ?? 0)
    .u32(40, a.kernVersion ?? 0)
    .u32(44, a.progFlags ?? 0)
    .name(48, BPF_OBJ_NAME_LEN, a.progName ?? '')
    .u32(68, a.expectedAttachType ?? 0)
    .u32(72, a.progBtfFd ?? 0)
    .u32(108, a.attachBtfId ?? 0)
    .u32(112, a.attachProgFd ?? 0);
  if (a.funcInfo?.length) attr.u32(76, FUNC_INFO_SIZE).u32(88, a.funcInfo.length / FUNC_INFO_SIZE);
  if (a.lineInfo?.length) attr.u32(92, LINE_INFO_SIZE).u32(104, a.lineInfo.length / LINE_INFO_SIZE);
  let license = licenses.get(a.license);
  if (!license) {
    if (licenses.size >= 64) licenses.clear();
    licenses.set(a.license, (license = cString(a.license)));
  }
  const fds = a.fdArray?.length ? [new Uint8Array(a.fdArray.buffer, a.fdArray.byteOffset, a.fdArray.byteLength)] : [];
  const r = retrying(Errno.EAGAIN, () =>
    kernel.bpf(
      Cmd.ProgLoad,
      attr.bytes,
      a.fdArray?.length ? PROG_LOAD_WITH_FDS : PROG_LOAD_PTRS,
      a.insns,
      license!,
      a.logBuf ?? null,
      a.funcInfo?.length ? a.funcInfo : null,
      a.lineInfo?.length ? a.lineInfo : null,
      ...fds,
    ),
  );
  if (r < 0) fail('bpf_prog_load', r);
  return r;
}

/** log_true_size of the last progLoad (6.4+; 0 before): the log size the verifier needed. */
export function progLoadLogTrueSize(): number {
  return progAttr.getU32(140);
}

const btfAttr = new Attr(32);
const BTF_PTRS = ptrWords(0, 8);

/** BPF_BTF_LOAD → a BTF object fd. The kernel's complaints, if any, are in `logBuf`. */
export function btfLoad(btf: Uint8Array, logBuf?: Uint8Array): number {
  const attr = btfAttr.reset().u32(16, btf.length).u32(20, logBuf?.length ?? 0).u32(24, logBuf ? 1 : 0);
  const r = kernel.bpf(Cmd.BtfLoad, attr.bytes, BTF_PTRS, btf, logBuf ?? null);
  if (r < 0) fail('bpf_btf_load', r);
  return r;
}

export interface ProgTestRunAttr {
  progFd: number;
  dataIn?: Uint8Array;
  dataOut?: Uint8Array;
  ctxIn?: Uint8Array;
  ctxOut?: Uint8Array;
  repeat?: number;
  flags?: number;
  cpu?: number;
}

export interface ProgTestRunResult {
  retval: number;
  /** Average run time in ns as the kernel reports it. */
  duration: number;
  dataSizeOut: number;
  ctxSizeOut: number;
}

const testAttr = new Attr(80);

/** BPF_PROG_TEST_RUN. */
export function progTestRun(a: ProgTestRunAttr): ProgTestRunResult {
  const attr = testAttr.reset()
    .u32(0, a.progFd)
    .u32(8, a.dataIn?.length ?? 0)
    .u32(12, a.dataOut?.length ?? 0)
    .u32(32, a.repeat ?? 0)
    .u32(40, a.ctxIn?.length ?? 0)
    .u32(44, a.ctxOut?.length ?? 0)
    .u32(64, a.flags ?? 0)
    .u32(68, a.cpu ?? 0);
  const r = retrying(Errno.EINTR, () =>
    kernel.bpf(Cmd.ProgTestRun, attr.bytes, ptrWords(16, 24, 48, 56), a.dataIn ?? null, a.dataOut ?? null, a.ctxIn ?? null, a.ctxOut ?? null),
  );
  if (r !== 0) fail('bpf_prog_test_run', r);
  return { retval: attr.getU32(4), duration: attr.getU32(36), dataSizeOut: attr.getU32(12), ctxSizeOut: attr.getU32(44) };
}
