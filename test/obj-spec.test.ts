// ObjectSpec.parse over the whole compatibility corpus and our own objects: the
// outcome of every file is listed, so a regression shows as a changed line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ParseError } from '../src/index.js';
import { ObjectSpec } from '../src/obj/spec.js';
import { Insns } from '../src/obj/insn.js';
import { corpusDir } from './helpers.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const corpus = corpusDir;

function parse(path: string): ObjectSpec {
  return ObjectSpec.parse(readFileSync(path.startsWith('bpf/') ? resolve(root, path) : resolve(corpus, path)));
}

// file → expected outcome: the number of maps and programs, or the ParseError's kind and message.
const outcomes: Record<string, { maps: number; programs: number } | { error: RegExp }> = {
  'btf/testdata/relocs-el.elf': { maps: 0, programs: 6 },
  'btf/testdata/relocs_enum-el.elf': { maps: 0, programs: 1 },
  'btf/testdata/relocs_read-el.elf': { maps: 0, programs: 1 },
  'btf/testdata/relocs_read_tgt-el.elf': { maps: 1, programs: 0 },
  'btf/testdata/tags-el.elf': { maps: 1, programs: 1 },
  'cmd/bpf2go/test/test_bpfel.o': { maps: 3, programs: 1 },
  'cmd/bpf2go/testdata/minimal-el.elf': { maps: 3, programs: 1 },
  'docs/examples/getting_started/counter_bpfel.o': { maps: 1, programs: 1 },
  'docs/examples/variables/variables_bpfel.o': { maps: 2, programs: 3 },
  'examples/cgroup_skb/bpf_bpfel.o': { maps: 1, programs: 1 },
  'examples/fentry/bpf_bpfel.o': { maps: 1, programs: 1 },
  'examples/kprobe/bpf_bpfel.o': { maps: 1, programs: 1 },
  'examples/kprobe_percpu/bpf_bpfel.o': { maps: 1, programs: 1 },
  'examples/kprobepin/bpf_bpfel.o': { maps: 1, programs: 1 },
  'examples/ringbuffer/bpf_bpfel.o': { maps: 1, programs: 1 },
  'examples/sched_ext/bpf_bpfel.o': { maps: 1, programs: 0 },
  'examples/tcprtt/bpf_bpfel.o': { maps: 1, programs: 1 },
  'examples/tcprtt_sockops/bpf_bpfel.o': { maps: 2, programs: 1 },
  'examples/tcx/bpf_bpfel.o': { maps: 1, programs: 2 },
  'examples/tracepoint_in_c/bpf_bpfel.o': { maps: 1, programs: 1 },
  'examples/uretprobe/bpf_x86_bpfel.o': { maps: 1, programs: 1 },
  'examples/xdp/bpf_bpfel.o': { maps: 1, programs: 1 },
  'examples/xdp_live_frame/bpf_bpfel.o': { maps: 0, programs: 2 },
  'testdata/arena-el.elf': { maps: 1, programs: 0 },
  'testdata/btf_map_init-el.elf': { maps: 3, programs: 2 },
  'testdata/constants-el.elf': { maps: 1, programs: 1 },
  'testdata/errors-el.elf': { maps: 0, programs: 3 },
  'testdata/fentry_fexit-el.elf': { maps: 0, programs: 3 },
  'testdata/freplace-el.elf': { maps: 0, programs: 2 },
  'testdata/fwd_decl-el.elf': { maps: 0, programs: 1 },
  'testdata/invalid-kfunc-el.elf': { maps: 0, programs: 1 },
  'testdata/invalid_btf_map_init-el.elf': { error: /^InvalidMapDefinition: \.maps: non-zero byte at offset 8/ },
  'testdata/invalid_map-el.elf': { error: /^InvalidMapDefinition: invalid_map: map definition of 24 bytes has unknown non-zero fields/ },
  'testdata/invalid_map_static-el.elf': { error: /^InvalidRelocation: xdp_prog: reference to a map through the section symbol/ },
  'testdata/iproute2_map_compat-el.elf': { maps: 1, programs: 0 },
  'testdata/kconfig-el.elf': { maps: 0, programs: 1 },
  'testdata/kfunc-el.elf': { maps: 0, programs: 4 },
  'testdata/kfunc-kmod-el.elf': { maps: 0, programs: 1 },
  'testdata/ksym-el.elf': { maps: 1, programs: 7 },
  'testdata/linked-el.elf': { maps: 7, programs: 5 },
  'testdata/linked1-el.elf': { maps: 6, programs: 4 },
  'testdata/linked2-el.elf': { maps: 6, programs: 4 },
  'testdata/loader-clang-14-el.elf': { maps: 15, programs: 5 },
  'testdata/loader-clang-17-el.elf': { maps: 15, programs: 5 },
  'testdata/loader-clang-22-el.elf': { maps: 15, programs: 5 },
  'testdata/loader_nobtf-el.elf': { maps: 9, programs: 5 },
  'testdata/manyprogs-el.elf': { maps: 1, programs: 30 },
  'testdata/map_spin_lock-el.elf': { maps: 1, programs: 0 },
  'testdata/raw_tracepoint-el.elf': { maps: 0, programs: 1 },
  'testdata/strings-el.elf': { maps: 2, programs: 1 },
  'testdata/struct_ops-el.elf': { maps: 1, programs: 1 },
  'testdata/subprog_reloc-el.elf': { maps: 1, programs: 1 },
  'testdata/variables-el.elf': { maps: 7, programs: 8 },
  'bpf/core.o': { maps: 2, programs: 3 },
  'bpf/globals.o': { maps: 5, programs: 1 },
  'bpf/kinds.o': { maps: 0, programs: 72 },
  'bpf/many.o': { maps: 4, programs: 25 },
  'bpf/map_in_map.o': { maps: 8, programs: 4 },
};

test('every object of the corpus and of bpf/ has its expected outcome', () => {
  const got: Record<string, unknown> = {};
  const want: Record<string, unknown> = {};
  for (const [file, expected] of Object.entries(outcomes)) {
    try {
      const spec = parse(file);
      got[file] = { maps: spec.maps.size, programs: spec.programs.size };
    } catch (err) {
      assert.ok(err instanceof ParseError, `${file}: ${String(err)}`);
      got[file] = 'error' in expected && expected.error.test(`${err.kind}: ${err.message}`) ? expected : `${err.kind}: ${err.message}`;
    }
    want[file] = expected;
  }
  assert.deepEqual(got, want);
});

test('BTF maps: types, sizes, flags, pinning, inner templates (loader-clang-22)', () => {
  const spec = parse('testdata/loader-clang-22-el.elf');
  const hash = spec.maps.get('hash_map')!;
  assert.deepEqual([hash.type, hash.keySize, hash.valueSize, hash.maxEntries, hash.flags], [1, 4, 8, 1, 1]);
  assert.equal(spec.maps.get('btf_pin')!.pinning, 1);
  for (const name of ['btf_outer_map', 'btf_outer_map_anon']) {
    const outer = spec.maps.get(name)!;
    assert.equal(outer.type, 12);
    assert.deepEqual([outer.inner!.type, outer.inner!.keySize, outer.inner!.valueSize, outer.inner!.maxEntries], [1, 4, 4, 1]);
  }
  const rodata = spec.maps.get('.rodata')!;
  assert.equal(rodata.readOnly, true);
  assert.equal(rodata.flags & (1 << 7), 1 << 7, 'BPF_F_RDONLY_PROG');
  assert.ok(rodata.btfValueTypeId! > 0, 'the datasec is the value type');
});

test('legacy maps, with and without BTF, and iproute2 bpf_elf_map', () => {
  const nobtf = parse('testdata/loader_nobtf-el.elf');
  assert.equal(nobtf.btf, undefined);
  assert.deepEqual([nobtf.maps.get('hash_map')!.type, nobtf.maps.get('hash_map')!.keySize], [1, 4]);
  const ip = parse('testdata/iproute2_map_compat-el.elf').maps.get('hash_map')!;
  assert.ok(ip.elfMap, 'a 36-byte definition is iproute2 struct bpf_elf_map');
  assert.equal(ip.pinning, 1, 'PIN_GLOBAL_NS pins by name');
});

test('static initialisation: map-in-map slots and a PROG_ARRAY', () => {
  const spec = parse('testdata/btf_map_init-el.elf');
  assert.deepEqual(spec.maps.get('outer_map_init')!.contents, [{ index: 1, target: 'inner_map' }]);
  assert.deepEqual(spec.maps.get('prog_array_init')!.contents, [{ index: 1, target: 'tail_1' }]);
  const own = parse('bpf/map_in_map.o');
  assert.deepEqual(own.maps.get('outer')!.contents, [{ index: 1, target: 'inner_a' }]);
  assert.deepEqual(own.maps.get('outer_hash')!.contents, [{ index: 2, target: 'inner_b' }]);
  assert.deepEqual(own.maps.get('jump_table')!.contents, [{ index: 0, target: 'tail_target' }]);
  assert.equal(own.maps.get('outer')!.inner!.name, 'outer.inner');
});

test('global variables take their offsets from the symbol table', () => {
  const spec = parse('bpf/globals.o');
  const at = (name: string) => {
    const v = spec.variables.get(name)!;
    return [v.map, v.offset, v.size];
  };
  assert.deepEqual(at('data_a'), ['.data', 0, 4]);
  assert.deepEqual(at('data_b'), ['.data', 8, 8]);
  assert.deepEqual(at('static_data'), ['.data', 16, 4]);
  assert.deepEqual(at('ro_b'), ['.rodata', 4, 4]);
  assert.deepEqual(at('bss_pair'), ['.bss', 12, 8]);
  assert.deepEqual(at('custom_ro'), ['.rodata.custom', 0, 4]);
  const refs = spec.programs.get('compute')!.references;
  assert.ok(refs.some((r) => r.kind === 'data' && r.map === '.data' && r.offset === 16), 'a static variable through the section symbol');
});

test('programs: types from their sections, subprograms linked with calls patched and BTF.ext moved', () => {
  const spec = parse('bpf/many.o');
  const socket = spec.programs.get('socket_0')!;
  assert.equal(socket.kind, 'SocketFilter');
  assert.equal(socket.license, 'Dual MIT/GPL');
  assert.equal(spec.programs.get('xdp_0')!.kind, 'Xdp');
  assert.equal(spec.programs.get('syscall_0')!.sleepable, true);
  // `record` (in .text) is appended once; every call lands on its first instruction.
  assert.equal(socket.funcInfos.length, 2);
  const code = new Insns(socket.instructions);
  const subStart = socket.funcInfos[1].insnOff;
  let calls = 0;
  for (let i = 0; i < code.length; i++) {
    if (code.isSubprogCall(i)) {
      calls++;
      assert.equal(i + code.imm(i) + 1, subStart);
    }
  }
  assert.ok(calls >= 1);
  assert.ok(socket.lineInfos.every((l) => l.insnOff < code.length));
  assert.ok(socket.coreRelos.length >= 1);
  // A callback's address (ld_imm64 of a function) becomes BPF_PSEUDO_FUNC.
  const cb = parse('testdata/subprog_reloc-el.elf').programs.get('fp_relocation')!;
  const c = new Insns(cb.instructions);
  const funcs = cb.funcInfos.map((f) => f.insnOff);
  let addrs = 0;
  for (let i = 0; i < c.length; i++) {
    if (c.isFuncAddr(i)) {
      addrs++;
      assert.ok(funcs.includes(i + c.imm(i) + 1), 'the callback address is a function start');
    }
  }
  assert.equal(addrs, 1);
});

test('externs and struct_ops are recorded', () => {
  const kconfig = parse('testdata/kconfig-el.elf');
  assert.ok(kconfig.externs.has('LINUX_KERNEL_VERSION'));
  const kfunc = parse('testdata/kfunc-el.elf');
  assert.ok([...kfunc.programs.get('call_kfunc')!.references].some((r) => r.kind === 'extern' && r.call));
  const ops = parse('testdata/struct_ops-el.elf').maps.get('testmod_ops')!;
  assert.equal(ops.type, 26);
  assert.deepEqual(ops.structOps!.programs, [{ offset: 0, program: 'test_1' }]);
});

test('malformed objects are ParseErrors', () => {
  assert.throws(() => ObjectSpec.parse(new Uint8Array(10)), ParseError);
  assert.throws(() => ObjectSpec.parse('x' as never), ParseError);
  const good = readFileSync(resolve(root, 'bpf/globals.o'));
  for (let cut = 0; cut < good.length; cut += 97) {
    try {
      ObjectSpec.parse(good.subarray(0, cut));
    } catch (err) {
      assert.ok(err instanceof Error && (err.name === 'ParseError' || err.name === 'BtfError'), `cut at ${cut}: ${String(err)}`);
    }
  }
});
