// struct bpf_insn, as far as the loader reads and rewrites it: 8 bytes, little endian:
// code u8, dst_reg:4 | src_reg:4 u8, off i16, imm i32. ld_imm64 spans two slots.

export const INSN_SIZE = 8;

export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_ALU64 = 0x07;
export const BPF_K = 0x00;
export const BPF_JMP = 0x05;
export const BPF_JMP32 = 0x06;
export const BPF_CALL = 0x80;
export const BPF_EXIT = 0x90;
export const BPF_IMM = 0x00;
export const BPF_DW = 0x18;
/** ld_imm64: BPF_LD | BPF_IMM | BPF_DW */
export const LD_IMM64 = BPF_LD | BPF_IMM | BPF_DW;
/** call: BPF_JMP | BPF_CALL */
export const CALL = BPF_JMP | BPF_CALL;

/** src_reg values of ld_imm64 and call that refer to something other than a constant. */
export const PseudoSrc = {
  MapFd: 1,
  MapValue: 2,
  BtfId: 3,
  Func: 4,
  MapIdx: 5,
  MapIdxValue: 6,
} as const;
/** src_reg of a call: a BPF-to-BPF call, a kfunc call. */
export const PseudoCall = { Call: 1, KfuncCall: 2 } as const;

/**
 * A little-endian view over instruction bytes with field accessors. The fields are
 * read and written byte by byte: an Insns is made per program and function, and a
 * DataView costs more to make than these few accesses.
 */
export class Insns {
  readonly bytes: Uint8Array;
  #view?: DataView;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  get view(): DataView {
    return (this.#view ??= new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength));
  }

  get length(): number {
    return this.bytes.length / INSN_SIZE;
  }

  code(i: number): number {
    return this.bytes[i * INSN_SIZE];
  }
  dst(i: number): number {
    return this.bytes[i * INSN_SIZE + 1] & 0x0f;
  }
  src(i: number): number {
    return this.bytes[i * INSN_SIZE + 1] >> 4;
  }
  setSrc(i: number, src: number): void {
    const b = i * INSN_SIZE + 1;
    this.bytes[b] = (this.bytes[b] & 0x0f) | (src << 4);
  }
  off(i: number): number {
    const b = this.bytes;
    const o = i * INSN_SIZE + 2;
    return ((b[o]! | (b[o + 1]! << 8)) << 16) >> 16;
  }
  setOff(i: number, off: number): void {
    const b = this.bytes;
    const o = i * INSN_SIZE + 2;
    b[o] = off & 0xff;
    b[o + 1] = (off >> 8) & 0xff;
  }
  imm(i: number): number {
    const b = this.bytes;
    const o = i * INSN_SIZE + 4;
    return b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);
  }
  setImm(i: number, imm: number): void {
    const b = this.bytes;
    const o = i * INSN_SIZE + 4;
    b[o] = imm & 0xff;
    b[o + 1] = (imm >> 8) & 0xff;
    b[o + 2] = (imm >> 16) & 0xff;
    b[o + 3] = (imm >>> 24) & 0xff;
  }

  isLdImm64(i: number): boolean {
    return this.code(i) === LD_IMM64;
  }
  isCall(i: number): boolean {
    return this.code(i) === CALL;
  }
  /** A BPF-to-BPF call. */
  isSubprogCall(i: number): boolean {
    return this.isCall(i) && this.src(i) === PseudoCall.Call;
  }
  /** ld_imm64 of a function address (a callback). */
  isFuncAddr(i: number): boolean {
    return this.isLdImm64(i) && this.src(i) === PseudoSrc.Func;
  }
}
