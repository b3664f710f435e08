// A tiny eBPF instruction encoder for the end-to-end tests.
// struct bpf_insn { u8 code; u8 dst_reg:4, src_reg:4; s16 off; s32 imm; } (8 bytes, little endian).

// Instruction classes.
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_ALU64 = 0x07;
// Sizes.
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_DW = 0x18;
// Modes.
export const BPF_IMM = 0x00;
export const BPF_MEM = 0x60;
// ALU / JMP operations and sources.
export const BPF_ADD = 0x00;
export const BPF_MOV = 0xb0;
export const BPF_JEQ = 0x10;
export const BPF_JNE = 0x50;
export const BPF_CALL = 0x80;
export const BPF_EXIT = 0x90;
export const BPF_K = 0x00;
export const BPF_X = 0x08;

/** ld_imm64 src_reg: imm is a map fd. */
export const BPF_PSEUDO_MAP_FD = 1;

/** Helper ids. */
export const Helper = { mapLookupElem: 1, mapUpdateElem: 2, mapDeleteElem: 3 } as const;

/** Program types. */
export const ProgType = { SocketFilter: 1, Kprobe: 2, SchedCls: 3, SchedAct: 4, Xdp: 6 } as const;

export type Reg = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;
export const R0: Reg = 0, R1: Reg = 1, R2: Reg = 2, R3: Reg = 3, R6: Reg = 6, R10: Reg = 10;

export interface Insn {
  code: number;
  dst: Reg;
  src: number;
  off: number;
  imm: number;
}

function insn(code: number, dst: Reg, src: number, off: number, imm: number): Insn {
  if (!Number.isInteger(off) || off < -0x8000 || off > 0x7fff) throw new RangeError(`off ${off} does not fit in s16`);
  if (!Number.isInteger(imm) || imm < -0x8000_0000 || imm > 0xffff_ffff) throw new RangeError(`imm ${imm} does not fit in 32 bits`);
  return { code, dst, src, off, imm };
}

/** dst = imm (64-bit, sign-extended). */
export const mov64Imm = (dst: Reg, imm: number): Insn => insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);
/** dst = src (64-bit). */
export const mov64Reg = (dst: Reg, src: Reg): Insn => insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0);
/** dst += imm (64-bit). */
export const add64Imm = (dst: Reg, imm: number): Insn => insn(BPF_ALU64 | BPF_ADD | BPF_K, dst, 0, 0, imm);
/** *(u32 *)(dst + off) = imm */
export const stW = (dst: Reg, off: number, imm: number): Insn => insn(BPF_ST | BPF_MEM | BPF_W, dst, 0, off, imm);
/** dst = *(u64 *)(src + off) */
export const ldxDW = (dst: Reg, src: Reg, off: number): Insn => insn(BPF_LDX | BPF_MEM | BPF_DW, dst, src, off, 0);
/** dst = *(u32 *)(src + off) */
export const ldxW = (dst: Reg, src: Reg, off: number): Insn => insn(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0);
/** if dst != imm goto pc + 1 + off */
export const jneImm = (dst: Reg, imm: number, off: number): Insn => insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm);
/** if dst == imm goto pc + 1 + off */
export const jeqImm = (dst: Reg, imm: number, off: number): Insn => insn(BPF_JMP | BPF_JEQ | BPF_K, dst, 0, off, imm);
/** call helper `id` */
export const call = (id: number): Insn => insn(BPF_JMP | BPF_CALL, 0, 0, 0, id);
export const exit = (): Insn => insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);

/** ld_imm64 dst, imm64 (two slots). */
export function ldImm64(dst: Reg, value: bigint, src = 0): [Insn, Insn] {
  const v = BigInt.asUintN(64, value);
  return [
    insn(BPF_LD | BPF_DW | BPF_IMM, dst, src, 0, Number(v & 0xffff_ffffn)),
    insn(0, 0, 0, 0, Number(v >> 32n)),
  ];
}

/** ld_imm64 dst, map_fd (BPF_PSEUDO_MAP_FD): the verifier turns the fd into the map pointer. */
export function ldMapFd(dst: Reg, fd: number): [Insn, Insn] {
  return ldImm64(dst, BigInt(fd), BPF_PSEUDO_MAP_FD);
}

/** Encodes instructions (nested arrays are flattened, so ld_imm64 pairs can be spread or not). */
export function assemble(program: readonly (Insn | readonly Insn[])[]): Uint8Array {
  const list = program.flat() as Insn[];
  const out = new Uint8Array(list.length * 8);
  const view = new DataView(out.buffer);
  list.forEach((i, n) => {
    const o = n * 8;
    if (i.dst < 0 || i.dst > 10 || i.src < 0 || i.src > 15) throw new RangeError(`bad register in insn ${n}`);
    view.setUint8(o, i.code);
    view.setUint8(o + 1, (i.src << 4) | i.dst);
    view.setInt16(o + 2, i.off, true);
    if (i.imm < 0) view.setInt32(o + 4, i.imm, true);
    else view.setUint32(o + 4, i.imm, true);
  });
  return out;
}

/** Decodes one instruction (for the encoder's own test). */
export function decode(bytes: Uint8Array, index: number): Insn {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const o = index * 8;
  const regs = view.getUint8(o + 1);
  return { code: view.getUint8(o), dst: (regs & 0xf) as Reg, src: regs >> 4, off: view.getInt16(o + 2, true), imm: view.getInt32(o + 4, true) };
}
