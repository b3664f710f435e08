// One wrapper per bpf(2) command: encode union bpf_attr, make the call through the
// seam, turn a failure into a SyscallError naming the call (libbpf's names).
import { Attr, checkFlags, cString, ptrWords } from './attr.js';
import { Errno, fail } from './errors.js';
import { elemBuffer, kernel } from './native.js';
import { ATTEMPTS, retrying } from './retry.js';
import { Cmd } from './abi/enums.js';
import {
  type MapCreateFields,
  batchLayout, btfLoadLayout, encodeBatch, encodeBtfLoad, encodeMapCreate, encodeProgLoad, encodeTest, getIdLayout, infoLayout,
  mapCreateLayout, mapElemLayout, mapFreezeLayout, objLayout, progLoadLayout, testLayout,
} from './abi/attr.js';
import { bpfBtfInfoLayout } from './abi/info.js';
import { scratchAt, type Scratch } from './scratch.js';

/** enum bpf_cmd, generated from the kernel's BTF. */
export { Cmd };

// ---- BPF_MAP_CREATE ----------------------------------------------------------------

/** BPF_MAP_CREATE's fields; type, sizes and max_entries are required. */
export type MapCreateAttr = MapCreateFields & Required<Pick<MapCreateFields, 'mapType' | 'keySize' | 'valueSize' | 'maxEntries'>>;

const createAttr = new Attr(mapCreateLayout.size);

/** BPF_MAP_CREATE → a new map fd (the caller owns it). */
export function mapCreate(a: MapCreateAttr): number {
  // The name is always written: the encoder NUL-pads it.
  const attr = encodeMapCreate(createAttr.reset(), { ...a, mapName: a.mapName ?? '' });
  const r = kernel.bpf(Cmd.MapCreate, attr.bytes);
  if (r < 0) fail('bpf_map_create', r);
  return r;
}

// ---- element commands (the hot path) -----------------------------------------------

const ELEM_ATTR = mapElemLayout.size;
const ELEM_MAP_FD = mapElemLayout.mapFd;
const ELEM_FLAGS = mapElemLayout.flags;
const elem = new Attr(ELEM_ATTR);
const KEY_VALUE = ptrWords(mapElemLayout.key, mapElemLayout.value);
const KEY = ptrWords(mapElemLayout.key);
// A delete passes only map_fd and key: the kernel wants every byte after `key` zero.
const DELETE_ATTR = mapElemLayout.key + 8;

function elemAttr(fd: number, flags: number | bigint): Uint8Array {
  elem.view.setUint32(ELEM_MAP_FD, fd, true);
  if (flags === 0) {
    elem.view.setUint32(ELEM_FLAGS, 0, true);
    elem.view.setUint32(ELEM_FLAGS + 4, 0, true);
  } else {
    checkFlags(flags);
    elem.u64(ELEM_FLAGS, flags);
  }
  return elem.bytes;
}

/**
 * BPF_MAP_LOOKUP_ELEM: fills `value`. Returns false when the key is absent (ENOENT).
 * The caller guarantees that `key` holds at least key_size bytes and `value` at least the value size.
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

/**
 * BPF_MAP_LOOKUP_AND_DELETE_ELEM (4.20; hash maps 5.14): fills `value` and removes the
 * element; a null key for queues and stacks (pop). Returns false when there is none (ENOENT).
 */
export function mapLookupAndDeleteElem(fd: number, key: Uint8Array | null, value: Uint8Array, flags: number | bigint = 0): boolean {
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


/**
 * Element commands on one map through a single buffer (attr, key, value), the path
 * of every element operation of MapData and the typed maps: one buffer crosses into
 * native code instead of three. Encode into `key` / `value`, then call. Sizes are
 * the map's key size and value bytes.
 */
export class ElemIo {
  readonly key: Scratch;
  readonly value: Scratch;
  readonly #attr: DataView;
  readonly #keyPtr: number;
  /** The addon's name for the buffer (kernel.bpfElem). */
  readonly #handle: number;

  constructor(keySize: number, valueSize: number) {
    const keyOff = ELEM_ATTR;
    const valueOff = keyOff + Math.ceil(keySize / 8) * 8;
    // Allocated and held by the addon, so each call passes numbers only.
    const { handle, buffer } = elemBuffer(valueOff + Math.max(valueSize, 1));
    const io = new Uint8Array(buffer);
    this.#handle = handle;
    this.#attr = new DataView(io.buffer, 0, ELEM_ATTR);
    // Offset 0 is NULL: a zero-size key (queues, stacks) is passed as no key at all.
    this.#keyPtr = keySize > 0 ? keyOff : 0;
    this.#attr.setUint32(mapElemLayout.key, this.#keyPtr, true);
    this.#attr.setUint32(mapElemLayout.value, valueOff, true);
    this.key = scratchAt(io, keyOff, keySize);
    this.value = scratchAt(io, valueOff, valueSize);
  }

  #call(cmd: number, fd: number, flags: number | bigint, mask: number, attrLen: number = ELEM_ATTR): number {
    const a = this.#attr;
    a.setUint32(ELEM_MAP_FD, fd, true);
    if (flags === 0) {
      a.setUint32(ELEM_FLAGS, 0, true);
      a.setUint32(ELEM_FLAGS + 4, 0, true);
    } else {
      checkFlags(flags);
      a.setBigUint64(ELEM_FLAGS, BigInt(flags), true);
    }
    return kernel.bpfElem(cmd, this.#handle, attrLen, mask);
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
    if (first) this.#attr.setUint32(mapElemLayout.key, 0, true);
    const r = this.#call(Cmd.MapGetNextKey, fd, 0, KEY_VALUE);
    if (first) this.#attr.setUint32(mapElemLayout.key, this.#keyPtr, true);
    if (r === 0) return true;
    if (r === -Errno.ENOENT) return false;
    fail('bpf_map_get_next_key', r);
  }

  /** BPF_MAP_DELETE_ELEM of `key`; false on ENOENT. */
  delete(fd: number): boolean {
    const r = this.#call(Cmd.MapDeleteElem, fd, 0, KEY, DELETE_ATTR);
    if (r === 0) return true;
    if (r === -Errno.ENOENT) return false;
    fail('bpf_map_delete_elem', r);
  }
}

// ---- batch commands ----------------------------------------------------------------

const batch = new Attr(batchLayout.size);
const BATCH_PTRS = ptrWords(batchLayout.inBatch, batchLayout.outBatch, batchLayout.keys, batchLayout.values);

/** What a batch command (5.6+) did: how many elements, and whether it reached the end of the map. */
export interface BatchResult {
  /** Elements processed (also on a partial failure). */
  count: number;
  /** True when the kernel reported the end of the map (ENOENT on lookups). */
  done: boolean;
}

/** BPF_MAP_UPDATE_BATCH: `count` keys and values packed back to back. */
export function mapUpdateBatch(fd: number, keys: Uint8Array, values: Uint8Array, count: number, elemFlags: number | bigint = 0): BatchResult {
  checkFlags(elemFlags, 'elemFlags');
  batch.reset().u32(batchLayout.count, count).u32(batchLayout.mapFd, fd).u64(batchLayout.elemFlags, elemFlags);
  const r = kernel.bpf(Cmd.MapUpdateBatch, batch.bytes, BATCH_PTRS, null, null, keys, values);
  const done = batch.getU32(batchLayout.count);
  if (r === 0) return { count: done, done: false };
  fail('bpf_map_update_batch', r, `after ${done} of ${count} elements`);
}

/**
 * One batch command. ENOENT is the end for the lookups (the end of the map) and for
 * delete (a key not in the map: the kernel stops there); `count` is what was done
 * before it, in every case.
 */
function batchCall(cmd: number, call: string, fd: number, inBatch: Uint8Array | null, outBatch: Uint8Array | null, keys: Uint8Array | null, values: Uint8Array | null, count: number, elemFlags: number | bigint): BatchResult {
  checkFlags(elemFlags, 'elemFlags');
  encodeBatch(batch.reset(), { count, mapFd: fd, elemFlags });
  const r = kernel.bpf(cmd, batch.bytes, BATCH_PTRS, inBatch, outBatch, keys, values);
  const done = batch.getU32(batchLayout.count);
  if (r === 0) return { count: done, done: false };
  if (r === -Errno.ENOENT && cmd !== Cmd.MapUpdateBatch) return { count: done, done: true };
  fail(call, r, `after ${done} of ${count} elements`);
}

/**
 * BPF_MAP_LOOKUP_BATCH (5.6+): up to `count` keys and values from the position in
 * `inBatch` (the start when null); the next position goes to `outBatch` (the two may
 * be one buffer: the kernel reads before it writes). Cursor buffers hold
 * max(key_size, 4) bytes: hash maps keep a u32 bucket index there, arrays a key.
 * `done` at the end of the map, with the last elements counted.
 */
export function mapLookupBatch(fd: number, inBatch: Uint8Array | null, outBatch: Uint8Array, keys: Uint8Array, values: Uint8Array, count: number, elemFlags: number | bigint = 0): BatchResult {
  return batchCall(Cmd.MapLookupBatch, 'bpf_map_lookup_batch', fd, inBatch, outBatch, keys, values, count, elemFlags);
}

/** BPF_MAP_LOOKUP_AND_DELETE_BATCH (5.6+, hash maps): as mapLookupBatch, deleting what it returns. */
export function mapLookupAndDeleteBatch(fd: number, inBatch: Uint8Array | null, outBatch: Uint8Array, keys: Uint8Array, values: Uint8Array, count: number, elemFlags: number | bigint = 0): BatchResult {
  return batchCall(Cmd.MapLookupAndDeleteBatch, 'bpf_map_lookup_and_delete_batch', fd, inBatch, outBatch, keys, values, count, elemFlags);
}

/** BPF_MAP_DELETE_BATCH (5.6+, hash maps): deletes `count` keys in order; `done` when one was absent (the kernel stops there). */
export function mapDeleteBatch(fd: number, keys: Uint8Array, count: number, elemFlags: number | bigint = 0): BatchResult {
  return batchCall(Cmd.MapDeleteBatch, 'bpf_map_delete_batch', fd, null, null, keys, null, count, elemFlags);
}

// ---- objects: pin, get, ids, info, freeze ------------------------------------------

const obj = new Attr(objLayout.size);
const PATHNAME = ptrWords(objLayout.pathname);

/** BPF_OBJ_PIN: pins `fd` at `path` on a bpffs. */
export function objPin(fd: number, path: string): void {
  obj.reset().u32(objLayout.bpfFd, fd);
  const r = kernel.bpf(Cmd.ObjPin, obj.bytes, PATHNAME, cString(path));
  if (r !== 0) fail('bpf_obj_pin', r, path);
}

/** BPF_OBJ_GET: opens the object pinned at `path` (file_flags: BPF_F_RDONLY/WRONLY). */
export function objGet(path: string, fileFlags = 0): number {
  obj.reset().u32(objLayout.fileFlags, fileFlags);
  const r = kernel.bpf(Cmd.ObjGet, obj.bytes, PATHNAME, cString(path));
  if (r < 0) fail('bpf_obj_get', r, path);
  return r;
}

const byId = new Attr(getIdLayout.size);
// GET_FD_BY_ID has no pointers: through bpfElem over a registered attr (ArrayOfMaps.get's path).
const byIdIo = elemBuffer(getIdLayout.size);
const byIdView = new DataView(byIdIo.buffer);

function getFdById(cmd: number, call: string, id: number, openFlags: number): number {
  byIdView.setUint32(getIdLayout.startId, id, true);
  byIdView.setUint32(getIdLayout.nextId, 0, true);
  byIdView.setUint32(getIdLayout.openFlags, openFlags, true);
  const r = kernel.bpfElem(cmd, byIdIo.handle, getIdLayout.size, 0);
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
  byId.reset().u32(getIdLayout.startId, start);
  const r = kernel.bpf(cmd, byId.bytes);
  if (r === -Errno.ENOENT) return undefined;
  if (r < 0) fail(call, r);
  return byId.getU32(getIdLayout.nextId);
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

const infoAttr = new Attr(infoLayout.size);
const INFO = ptrWords(infoLayout.info);

/**
 * BPF_OBJ_GET_INFO_BY_FD: fills `info` (a struct bpf_map_info, bpf_prog_info, bpf_link_info or bpf_btf_info); returns the
 * length the kernel wrote. For a program, `mapIds` and `xlated` receive its map ids and
 * translated instructions (their counts land in info's nr_map_ids / xlated_prog_len);
 * for a BTF object, `mapIds`' place takes the buffer of its raw bytes (btf_size).
 */
export function objGetInfoByFd(fd: number, info: Uint8Array, mapIds?: Uint32Array | Uint8Array, xlated?: Uint8Array, what?: string): number {
  infoAttr.reset().u32(infoLayout.bpfFd, fd).u32(infoLayout.infoLen, info.length);
  const r = mapIds || xlated
    ? kernel.bpf(Cmd.ObjGetInfoByFd, infoAttr.bytes, INFO, info, mapIds ?? null, xlated ?? null)
    : kernel.bpf(Cmd.ObjGetInfoByFd, infoAttr.bytes, INFO, info);
  if (r !== 0) fail('bpf_obj_get_info_by_fd', r, what);
  return infoAttr.getU32(infoLayout.infoLen);
}

/** The raw bytes of a BTF object the kernel holds (OBJ_GET_INFO_BY_FD on a BTF fd, twice: size, then data). */
export function btfGetData(btfFd: number): Uint8Array {
  // The addon points bpf_btf_info.btf at the buffer given after info.
  const info = new Uint8Array(bpfBtfInfoLayout.size);
  const view = new DataView(info.buffer);
  const call = (data?: Uint8Array) => {
    info.fill(0);
    objGetInfoByFd(btfFd, info, data, undefined, 'btf');
    return view.getUint32(bpfBtfInfoLayout.btfSize, true);
  };
  const size = call();
  const data = new Uint8Array(size);
  if (size > 0 && call(data) !== size) fail('bpf_obj_get_info_by_fd', -Errno.EAGAIN, 'btf changed size');
  return data;
}

const freezeAttr = new Attr(mapFreezeLayout.size);

/** BPF_MAP_FREEZE: user space can no longer write the map (5.2+). */
export function mapFreeze(fd: number): void {
  freezeAttr.u32(mapFreezeLayout.mapFd, fd);
  const r = kernel.bpf(Cmd.MapFreeze, freezeAttr.bytes);
  if (r !== 0) fail('bpf_map_freeze', r);
}

// ---- programs ----------------------------------------------------------------------

/** The fields of BPF_PROG_LOAD that tsbpf sets. */
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

const progAttr = new Attr(progLoadLayout.size);
const L = progLoadLayout;
const PROG_LOAD_PTRS = ptrWords(L.insns, L.license, L.logBuf, L.funcInfo, L.lineInfo);
const PROG_LOAD_WITH_FDS = ptrWords(L.insns, L.license, L.logBuf, L.funcInfo, L.lineInfo, L.fdArray);
// Licenses as C strings: the same few, load after load.
const licenses = new Map<string, Uint8Array>();
const FUNC_INFO_SIZE = 8;
const LINE_INFO_SIZE = 16;

/** BPF_PROG_LOAD → a new program fd. The verifier log, if any, is in `logBuf`. */
export function progLoad(a: ProgLoadAttr): number {
  if (a.insns.length % 8 !== 0) throw new RangeError('insns must be a whole number of 8-byte instructions');
  const attr = encodeProgLoad(progAttr.reset(), {
    progType: a.progType,
    insnCnt: a.insns.length / 8,
    logLevel: a.logBuf ? (a.logLevel ?? 1) : 0,
    logSize: a.logBuf?.length ?? 0,
    kernVersion: a.kernVersion ?? 0,
    progFlags: a.progFlags ?? 0,
    progName: a.progName ?? '',
    expectedAttachType: a.expectedAttachType ?? 0,
    progBtfFd: a.progBtfFd ?? 0,
    attachBtfId: a.attachBtfId ?? 0,
    attachProgFd: a.attachProgFd ?? 0,
  });
  if (a.funcInfo?.length) encodeProgLoad(attr, { funcInfoRecSize: FUNC_INFO_SIZE, funcInfoCnt: a.funcInfo.length / FUNC_INFO_SIZE });
  if (a.lineInfo?.length) encodeProgLoad(attr, { lineInfoRecSize: LINE_INFO_SIZE, lineInfoCnt: a.lineInfo.length / LINE_INFO_SIZE });
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
  return progAttr.getU32(L.logTrueSize);
}

const btfAttr = new Attr(btfLoadLayout.size);
const BTF_PTRS = ptrWords(btfLoadLayout.btf, btfLoadLayout.btfLogBuf);

/** BPF_BTF_LOAD → a BTF object fd. The kernel's complaints, if any, are in `logBuf`. */
export function btfLoad(btf: Uint8Array, logBuf?: Uint8Array): number {
  const attr = encodeBtfLoad(btfAttr.reset(), { btfSize: btf.length, btfLogSize: logBuf?.length ?? 0, btfLogLevel: logBuf ? 1 : 0 });
  const r = kernel.bpf(Cmd.BtfLoad, attr.bytes, BTF_PTRS, btf, logBuf ?? null);
  if (r < 0) fail('bpf_btf_load', r);
  return r;
}

/** The fields of BPF_PROG_TEST_RUN (4.12+). */
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

/** What BPF_PROG_TEST_RUN gives back. */
export interface ProgTestRunResult {
  retval: number;
  /** Average run time in ns as the kernel reports it. */
  duration: number;
  dataSizeOut: number;
  ctxSizeOut: number;
}

const testAttr = new Attr(testLayout.size);
const T = testLayout;
const TEST_PTRS = ptrWords(T.dataIn, T.dataOut, T.ctxIn, T.ctxOut);

/** BPF_PROG_TEST_RUN. */
export function progTestRun(a: ProgTestRunAttr): ProgTestRunResult {
  const attr = encodeTest(testAttr.reset(), {
    progFd: a.progFd,
    dataSizeIn: a.dataIn?.length ?? 0,
    dataSizeOut: a.dataOut?.length ?? 0,
    repeat: a.repeat ?? 0,
    ctxSizeIn: a.ctxIn?.length ?? 0,
    ctxSizeOut: a.ctxOut?.length ?? 0,
    flags: a.flags ?? 0,
    cpu: a.cpu ?? 0,
  });
  const r = retrying(Errno.EINTR, () =>
    kernel.bpf(Cmd.ProgTestRun, attr.bytes, TEST_PTRS, a.dataIn ?? null, a.dataOut ?? null, a.ctxIn ?? null, a.ctxOut ?? null),
  );
  if (r !== 0) fail('bpf_prog_test_run', r);
  return { retval: attr.getU32(T.retval), duration: attr.getU32(T.duration), dataSizeOut: attr.getU32(T.dataSizeOut), ctxSizeOut: attr.getU32(T.ctxSizeOut) };
}

const ctxAttr = new Attr(testLayout.size);
const CTX_PTR = ptrWords(T.ctxIn);

/**
 * BPF_PROG_TEST_RUN with a context and nothing else (a syscall program's arguments,
 * which the kernel updates in place), for programs run over and over: an attr of its
 * own whose other fields stay zero, so a run writes four fields and passes one buffer.
 * Returns retval.
 */
export function progTestRunCtx(progFd: number, ctx: Uint8Array | null): number {
  const v = ctxAttr.view;
  v.setUint32(T.progFd, progFd, true);
  v.setUint32(T.retval, 0, true);
  v.setUint32(T.ctxSizeIn, ctx === null ? 0 : ctx.length, true);
  v.setUint32(T.duration, 0, true);
  let r = kernel.bpf(Cmd.ProgTestRun, ctxAttr.bytes, CTX_PTR, ctx);
  for (let n = 1; r === -Errno.EINTR && n < ATTEMPTS; n++) r = kernel.bpf(Cmd.ProgTestRun, ctxAttr.bytes, CTX_PTR, ctx);
  if (r !== 0) fail('bpf_prog_test_run', r);
  return v.getUint32(T.retval, true);
}
