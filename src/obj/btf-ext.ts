// .BTF.ext parser: func_info, line_info and CO-RE relocation records, grouped by the ELF
// section (program) they describe. The layout is libbpf's struct btf_ext_header followed
// by, for each kind of info, a u32 record size and then per-section blocks of
// { sec_name_off, num_info, records[num_info] }. Names are offsets into the object's
// .BTF string section, hence the Btf argument.
import { BtfError } from '../errors.js';
import { BTF_MAGIC, type Btf } from './btf.js';
import { INSN_SIZE } from './insn.js';

/** A `.BTF.ext` func_info record: where a function starts and its BTF type. */
export interface FuncInfo {
  /** Instruction index in the section (the file has byte offsets; divided by 8). */
  insnOff: number;
  typeId: number;
}

/** A `.BTF.ext` line_info record: the source line of an instruction. */
export interface LineInfo {
  insnOff: number;
  fileName: string;
  line: number;
  column: number;
  lineText: string;
}

/** A `.BTF.ext` CO-RE relocation record (5.2+ BTF; relocated by the loader against the kernel's BTF). */
export interface CoreRelo {
  insnOff: number;
  typeId: number;
  /** e.g. "0:1:2": the accessor chain, member / array indices separated by ':'. */
  accessStr: string;
  /** A CoreReloKind. */
  kind: number;
}

/** The parsed `.BTF.ext` section of an object: func_info, line_info and CO-RE relocations, by section. */
export interface BtfExt {
  funcInfos: Map<string, FuncInfo[]>;
  lineInfos: Map<string, LineInfo[]>;
  coreRelos: Map<string, CoreRelo[]>;
}

/** enum bpf_core_relo_kind. */
export const CoreReloKind = {
  FieldByteOffset: 0,
  FieldByteSize: 1,
  FieldExists: 2,
  FieldSigned: 3,
  FieldLShiftU64: 4,
  FieldRShiftU64: 5,
  TypeIdLocal: 6,
  TypeIdTarget: 7,
  TypeExists: 8,
  TypeSize: 9,
  EnumvalExists: 10,
  EnumvalValue: 11,
  TypeMatches: 12,
} as const;
export type CoreReloKind = (typeof CoreReloKind)[keyof typeof CoreReloKind];

const CORE_RELO_KIND_NAMES = Object.keys(CoreReloKind);

/** 'FieldByteOffset' for 0, ... ; undefined for an unknown kind. */
export function coreReloKindName(kind: number): string | undefined {
  return CORE_RELO_KIND_NAMES[kind];
}

const HEADER_MIN = 24; // up to line_info_len
const HEADER_CORE = 32; // with core_relo_off / core_relo_len

type Reader<T> = (view: DataView, p: number, where: string) => T;

export function parseBtfExt(bytes: Uint8Array, btf: Btf): BtfExt {
  if (!(bytes instanceof Uint8Array)) throw new BtfError('InvalidArgument', '.BTF.ext input must be a Uint8Array');
  if (bytes.length < 8) throw new BtfError('Malformed', `.BTF.ext too short for a header (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint16(0, true);
  if (magic !== BTF_MAGIC) {
    if (magic === 0x9feb) throw new BtfError('UnsupportedFormat', 'big-endian .BTF.ext is not supported');
    throw new BtfError('Malformed', `bad .BTF.ext magic 0x${magic.toString(16)}`);
  }
  if (bytes[2] !== 1) throw new BtfError('UnsupportedFormat', `unsupported .BTF.ext version ${bytes[2]}`);
  if (bytes[3] !== 0) throw new BtfError('UnsupportedFormat', `unsupported .BTF.ext flags 0x${bytes[3]!.toString(16)}`);
  const hdrLen = view.getUint32(4, true);
  if (hdrLen < HEADER_MIN) throw new BtfError('Malformed', `.BTF.ext header length ${hdrLen} is less than ${HEADER_MIN}`);
  if (hdrLen > bytes.length) throw new BtfError('Malformed', `.BTF.ext header length ${hdrLen} exceeds the data (${bytes.length} bytes)`);
  const data = new DataView(bytes.buffer, bytes.byteOffset + hdrLen, bytes.length - hdrLen);

  const str = (off: number, where: string): string => {
    try {
      return btf.string(off);
    } catch (err) {
      throw new BtfError('Malformed', `.BTF.ext ${where}: ${(err as Error).message}`, { cause: err });
    }
  };
  // Line info's strings: the loader finds them again in the uploaded BTF.
  const noted = (off: number, where: string): string => {
    try {
      return btf.noteString(off);
    } catch (err) {
      throw new BtfError('Malformed', `.BTF.ext ${where}: ${(err as Error).message}`, { cause: err });
    }
  };
  const insn = (byteOff: number, where: string): number => {
    if (byteOff % INSN_SIZE !== 0) throw new BtfError('Malformed', `.BTF.ext ${where}: instruction offset ${byteOff} is not a multiple of ${INSN_SIZE}`);
    return byteOff / INSN_SIZE;
  };
  const typeId = (id: number, where: string): number => {
    if (id >= btf.typeCount) throw new BtfError('Malformed', `.BTF.ext ${where}: type id ${id} does not exist (${btf.typeCount} types)`);
    return id;
  };

  const funcInfos = readInfo<FuncInfo>(data, view.getUint32(8, true), view.getUint32(12, true), 'func_info', 8, (v, p, where) => ({
    insnOff: insn(v.getUint32(p, true), where),
    typeId: typeId(v.getUint32(p + 4, true), where),
  }), str);

  const lineInfos = readInfo<LineInfo>(data, view.getUint32(16, true), view.getUint32(20, true), 'line_info', 16, (v, p, where) => {
    const lineCol = v.getUint32(p + 12, true);
    return {
      insnOff: insn(v.getUint32(p, true), where),
      fileName: noted(v.getUint32(p + 4, true), where),
      line: lineCol >>> 10,
      column: lineCol & 0x3ff,
      lineText: noted(v.getUint32(p + 8, true), where),
    };
  }, str);

  let coreRelos = new Map<string, CoreRelo[]>();
  if (hdrLen >= HEADER_CORE) {
    coreRelos = readInfo<CoreRelo>(data, view.getUint32(24, true), view.getUint32(28, true), 'core_relo', 16, (v, p, where) => {
      const kind = v.getUint32(p + 12, true);
      if (kind >= CORE_RELO_KIND_NAMES.length) throw new BtfError('UnsupportedFormat', `.BTF.ext ${where}: unknown CO-RE relocation kind ${kind}`);
      return {
        insnOff: insn(v.getUint32(p, true), where),
        typeId: typeId(v.getUint32(p + 4, true), where),
        accessStr: str(v.getUint32(p + 8, true), where),
        kind,
      };
    }, str);
  }

  return { funcInfos, lineInfos, coreRelos };
}

function readInfo<T>(
  data: DataView,
  off: number,
  len: number,
  what: string,
  minRecSize: number,
  read: Reader<T>,
  str: (off: number, where: string) => string,
): Map<string, T[]> {
  const out = new Map<string, T[]>();
  if (len === 0) return out;
  if (off > data.byteLength || len > data.byteLength - off) {
    throw new BtfError('Malformed', `.BTF.ext ${what} (${len} bytes at ${off}) exceeds the data (${data.byteLength} bytes after the header)`);
  }
  if (off % 4 !== 0) throw new BtfError('Malformed', `.BTF.ext ${what} offset ${off} is not 4-byte aligned`);
  if (len < 4) throw new BtfError('Malformed', `.BTF.ext ${what} is too short for its record size`);
  const end = off + len;
  const recSize = data.getUint32(off, true);
  if (recSize < minRecSize || recSize % 4 !== 0) {
    throw new BtfError('Malformed', `.BTF.ext ${what} record size ${recSize} is invalid (at least ${minRecSize}, a multiple of 4)`);
  }
  let p = off + 4;
  while (p < end) {
    if (end - p < 8) throw new BtfError('Malformed', `.BTF.ext ${what}: truncated section header at ${p - off}`);
    const secName = str(data.getUint32(p, true), `${what} section name`);
    const num = data.getUint32(p + 4, true);
    p += 8;
    const where = `${what} of ${secName}`;
    if (num === 0) throw new BtfError('Malformed', `.BTF.ext ${where}: no records`);
    if (num > (end - p) / recSize) throw new BtfError('Malformed', `.BTF.ext ${where}: ${num} records of ${recSize} bytes run past the end`);
    let list = out.get(secName);
    if (!list) out.set(secName, (list = []));
    for (let i = 0; i < num; i++, p += recSize) list.push(read(data, p, where));
  }
  return out;
}
