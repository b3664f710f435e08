// End to end through the kernel: a BPF program reads an inner map through an
// ARRAY_OF_MAPS that user space fills, swaps and empties with tsbpf.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArrayMap, ArrayOfMaps, MapType, u32 } from '../src/index.js';
import * as sys from '../src/sys/index.js';
import { fdCount } from './helpers.js';
import {
  add64Imm, assemble, call, decode, exit, Helper, jneImm, ldMapFd, ldxW, mov64Imm, mov64Reg, ProgType,
  R0, R1, R2, R10, stW,
} from './asm.js';
import { Prog } from './prog.js';

const EMPTY_SLOT = 0xe0e0;
const NO_KEY = 0xe1e1;
const INNER_ENTRIES = 8;

/**
 *   inner = bpf_map_lookup_elem(&outer, &slot); if (!inner) return EMPTY_SLOT;
 *   value = bpf_map_lookup_elem(inner, &key);   if (!value) return NO_KEY;
 *   return *value;
 */
function lookupProgram(outerFd: number, slot: number, key: number): Uint8Array {
  return assemble([
    stW(R10, -4, slot),
    ldMapFd(R1, outerFd),
    mov64Reg(R2, R10),
    add64Imm(R2, -4),
    call(Helper.mapLookupElem),
    jneImm(R0, 0, 2),
    mov64Imm(R0, EMPTY_SLOT),
    exit(),
    mov64Reg(R1, R0),
    stW(R10, -8, key),
    mov64Reg(R2, R10),
    add64Imm(R2, -8),
    call(Helper.mapLookupElem),
    jneImm(R0, 0, 2),
    mov64Imm(R0, NO_KEY),
    exit(),
    ldxW(R0, R0, 0),
    exit(),
  ]);
}

test('the encoder writes struct bpf_insn as the kernel reads it', () => {
  const bytes = assemble([exit(), mov64Imm(R0, -1), ldMapFd(R1, 5), stW(R10, -4, 7), ldxW(R0, R1, 2)]);
  assert.equal(bytes.length, 6 * 8);
  const hex = Buffer.from(bytes).toString('hex').match(/.{16}/g);
  assert.deepEqual(hex, [
    '9500000000000000', // exit
    'b7000000ffffffff', // r0 = -1
    '1811000005000000', // r1 = map_fd 5 (src_reg 1), first slot
    '0000000000000000', // second slot
    '620afcff07000000', // *(u32 *)(r10 - 4) = 7
    '6110020000000000', // r0 = *(u32 *)(r1 + 2)
  ]);
  assert.deepEqual(decode(bytes, 4), { code: 0x62, dst: 10, src: 0, off: -4, imm: 7 });
  assert.throws(() => assemble([stW(R10, 0x8000, 0)]), RangeError);
});

test('a program sees what user space stores, swaps and deletes in an ArrayOfMaps', (t) => {
  const before = fdCount();
  const SLOT = 2;
  const KEY = 5;
  {
    using outer = ArrayOfMaps.create({
      maxEntries: 4,
      innerMap: { type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: INNER_ENTRIES },
    });
    using first = ArrayMap.create(u32, { maxEntries: INNER_ENTRIES });
    const second = ArrayMap.create(u32, { maxEntries: INNER_ENTRIES });
    first.set(KEY, 1_111_111);
    second.set(KEY, 2_222_222);
    second.set(KEY - 1, 99); // another key: must not be what the program reads

    using prog = Prog.load(ProgType.SocketFilter, lookupProgram(outer.fd, SLOT, KEY), 'aom_lookup');
    using outOfRange = Prog.load(ProgType.SocketFilter, lookupProgram(outer.fd, SLOT, INNER_ENTRIES), 'aom_nokey');
    using otherSlot = Prog.load(ProgType.SocketFilter, lookupProgram(outer.fd, SLOT + 1, KEY), 'aom_other');

    // Nothing stored yet: the slot is empty.
    assert.equal(prog.run(), EMPTY_SLOT);

    outer.set(SLOT, first);
    assert.equal(outer.getId(SLOT), first.map.id);
    assert.equal(prog.run(), 1_111_111);
    assert.equal(otherSlot.run(), EMPTY_SLOT, 'the neighbouring slot stays empty');
    assert.equal(outOfRange.run(), NO_KEY, 'a key past max_entries is NULL in the inner map');

    // An update of the inner map is seen at once.
    first.set(KEY, 3_333_333);
    assert.equal(prog.run(), 3_333_333);

    // Swap the slot to another inner map.
    outer.set(SLOT, second);
    assert.equal(outer.getId(SLOT), second.map.id);
    assert.equal(prog.run(), 2_222_222);

    // The outer map holds its own reference: closing our handle keeps the inner map alive.
    const secondId = second.map.id;
    second.close();
    assert.equal(second.map.closed, true);
    assert.equal(prog.run(), 2_222_222);
    {
      using again = ArrayOfMaps.tryFrom(outer.map, ArrayMap.fromMapData(u32)).get(SLOT);
      assert.equal(again.map.id, secondId);
      assert.equal(again.get(KEY), 2_222_222);
    }

    // Delete: the program sees an empty slot again.
    outer.remove(SLOT);
    assert.equal(prog.run(), EMPTY_SLOT);
    assert.throws(() => outer.getId(SLOT), { name: 'MapError', kind: 'KeyNotFound' });

    // And back.
    outer.set(SLOT, first);
    assert.equal(prog.run(), 3_333_333);
    t.diagnostic(`program fds ${prog.fd}, ${outOfRange.fd}, ${otherSlot.fd}`);
  }
  assert.equal(fdCount(), before, 'every map and program descriptor is closed');
});

test('a program fd closed through the kernel seam is gone from /proc/self/fd', () => {
  const before = fdCount();
  using outer = ArrayOfMaps.create({
    maxEntries: 1,
    innerMap: { type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: INNER_ENTRIES },
  });
  const logBuf = new Uint8Array(1 << 16);
  const fd = sys.progLoad({ progType: ProgType.SocketFilter, insns: lookupProgram(outer.fd, 0, 0), license: 'GPL', logBuf });
  assert.equal(fdCount(), before + 2);
  assert.equal(sys.progTestRun({ progFd: fd, dataIn: new Uint8Array(64) }).retval, EMPTY_SLOT);
  assert.equal(sys.kernel.close(fd), 0);
  assert.equal(fdCount(), before + 1);
  assert.throws(() => sys.progTestRun({ progFd: fd, dataIn: new Uint8Array(64) }), { name: 'SyscallError', call: 'bpf_prog_test_run', code: 'EBADF' });
});

test('the verifier log reaches the caller when a program is refused', () => {
  // r0 is never set: "R0 !read_ok".
  const bad = assemble([exit()]);
  assert.throws(
    () => Prog.load(ProgType.SocketFilter, bad),
    (err: Error & { call?: string; code?: string }) => {
      assert.equal(err.call, 'bpf_prog_load');
      assert.equal(err.code, 'EACCES');
      assert.match(err.message, /R0 !read_ok/);
      return true;
    },
  );
});
