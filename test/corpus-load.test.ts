// Ebpf.load over the whole compatibility corpus, one program at a time (the others
// deferred) so that one program the kernel refuses does not hide the rest. Every
// outcome is listed: a regression changes a line. 'loads' means the maps and every
// program load; otherwise the programs that do not are named with their typed error.
//
// Why the failures fail, on this kernel (6.18, no kprobes, tracing programs refused):
// - NotSupported/EPERM: fentry/fexit programs, refused before verification (freplace
//   programs are not loaded by Ebpf.load: they need a target program; attach-trace.test).
// - relocs/relocs_read: written for their own target BTF, not the running kernel; their
//   checks reach poisoned CO-RE relocations (CO-RE itself is tested in obj-core.test).
// - errors-el: deliberately unsatisfiable CO-RE relocations and kfunc: must fail.
// - UnresolvedExtern: fwd_decl (a function never defined), linked1/2 (needs the other
//   object), asm_relocation (MY_CONST, an inline-asm symbol the user must supply with
//   setExtern: tested in loader-externs.test), a missing non-weak ksym.
// - NotSupported (kfunc-kmod, invalid-kfunc): kfuncs of bpf_testmod, a module this
//   kernel does not have (in neither vmlinux nor any module BTF).
// - typed_ksym_test: the kernel cannot resolve the typed ksym's address (ENOENT).
// - constants-el: returns a .rodata constant the user must set first (tested below).
// - struct_ops (sched_ext, struct_ops-el): the kernel has no sched_ext_ops (no sched_ext)
//   and no bpf_testmod_ops (no bpf_testmod): MapError NotSupported naming the struct
//   (struct_ops itself is tested with bpf/struct_ops.o in struct-ops.test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { EbpfLoader, ObjectSpec } from '../src/index.js';
import { corpusDir, corpusObjects, fdCount } from './helpers.js';

const corpus = corpusDir;

const expected: Record<string, string | Record<string, string>> = {
  'btf/testdata/relocs-el.elf': { fields: 'ProgramError/LoadError/EINVAL' },
  'btf/testdata/relocs_enum-el.elf': 'loads',  // maps and 1 program(s)
  'btf/testdata/relocs_read-el.elf': { reads: 'ProgramError/LoadError/EINVAL' },
  'btf/testdata/relocs_read_tgt-el.elf': 'loads',  // maps and 0 program(s)
  'btf/testdata/tags-el.elf': { prog: 'ProgramError/UnresolvedExtern' },
  'cmd/bpf2go/test/test_bpfel.o': 'loads',  // maps and 1 program(s)
  'cmd/bpf2go/testdata/minimal-el.elf': 'loads',  // maps and 1 program(s)
  'docs/examples/getting_started/counter_bpfel.o': 'loads',  // maps and 1 program(s)
  'docs/examples/variables/variables_bpfel.o': 'loads',  // maps and 3 program(s)
  'examples/cgroup_skb/bpf_bpfel.o': 'loads',  // maps and 1 program(s)
  'examples/fentry/bpf_bpfel.o': { tcp_connect: 'ProgramError/NotSupported/EPERM' },
  'examples/kprobe/bpf_bpfel.o': 'loads',  // maps and 1 program(s)
  'examples/kprobe_percpu/bpf_bpfel.o': 'loads',  // maps and 1 program(s)
  'examples/kprobepin/bpf_bpfel.o': 'loads',  // maps and 1 program(s)
  'examples/ringbuffer/bpf_bpfel.o': 'loads',  // maps and 1 program(s)
  'examples/sched_ext/bpf_bpfel.o': { maps: 'MapError/NotSupported' },
  'examples/tcprtt/bpf_bpfel.o': { tcp_close: 'ProgramError/NotSupported/EPERM' },
  'examples/tcprtt_sockops/bpf_bpfel.o': 'loads',  // maps and 1 program(s)
  'examples/tcx/bpf_bpfel.o': 'loads',  // maps and 2 program(s)
  'examples/tracepoint_in_c/bpf_bpfel.o': 'loads',  // maps and 1 program(s)
  'examples/uretprobe/bpf_x86_bpfel.o': 'loads',  // maps and 1 program(s)
  'examples/xdp/bpf_bpfel.o': 'loads',  // maps and 1 program(s)
  'examples/xdp_live_frame/bpf_bpfel.o': 'loads',  // maps and 2 program(s)
  'testdata/arena-el.elf': 'loads',  // maps and 0 program(s)
  'testdata/btf_map_init-el.elf': 'loads',  // maps and 2 program(s)
  'testdata/constants-el.elf': { freeze_rodata: 'ProgramError/LoadError/EINVAL' },
  'testdata/errors-el.elf': { poisoned_single: 'ProgramError/LoadError/EINVAL', poisoned_double: 'ProgramError/LoadError/EINVAL', poisoned_kfunc: 'ProgramError/LoadError/EINVAL' },
  'testdata/fentry_fexit-el.elf': { trace_on_entry: 'ProgramError/NotSupported/EPERM', trace_on_exit: 'ProgramError/NotSupported/EPERM' },
  'testdata/freplace-el.elf': 'loads',  // the freplace program waits for its target: Extension.load({ target })
  'testdata/fwd_decl-el.elf': { call_fwd: 'ProgramError/UnresolvedExtern' },
  'testdata/invalid-kfunc-el.elf': { call_kfunc: 'ProgramError/NotSupported' },
  'testdata/invalid_btf_map_init-el.elf': 'ParseError',
  'testdata/invalid_map-el.elf': 'ParseError',
  'testdata/invalid_map_static-el.elf': 'ParseError',
  'testdata/iproute2_map_compat-el.elf': 'loads',  // maps and 0 program(s)
  'testdata/kconfig-el.elf': 'loads',  // maps and 1 program(s)
  'testdata/kfunc-el.elf': { benchmark: 'ProgramError/NotSupported/EPERM' },
  'testdata/kfunc-kmod-el.elf': { call_kfunc: 'ProgramError/NotSupported' },
  'testdata/ksym-el.elf': { missing_ksym_test: 'ProgramError/UnresolvedExtern', typed_ksym_test: 'ProgramError/LoadError/ENOENT', missing_typed_ksym_test: 'ProgramError/UnresolvedExtern' },
  'testdata/linked-el.elf': 'loads',  // maps and 5 program(s)
  'testdata/linked1-el.elf': { entry_l2: 'ProgramError/UnresolvedExtern' },
  'testdata/linked2-el.elf': { entry_l1: 'ProgramError/UnresolvedExtern' },
  'testdata/loader-clang-14-el.elf': { asm_relocation: 'ProgramError/UnresolvedExtern' },
  'testdata/loader-clang-17-el.elf': { asm_relocation: 'ProgramError/UnresolvedExtern' },
  'testdata/loader-clang-22-el.elf': { asm_relocation: 'ProgramError/UnresolvedExtern' },
  'testdata/loader_nobtf-el.elf': { asm_relocation: 'ProgramError/UnresolvedExtern' },
  'testdata/manyprogs-el.elf': 'loads',  // maps and 30 program(s)
  'testdata/map_spin_lock-el.elf': 'loads',  // maps and 0 program(s)
  'testdata/raw_tracepoint-el.elf': 'loads',  // maps and 1 program(s)
  'testdata/strings-el.elf': 'loads',  // maps and 1 program(s)
  'testdata/struct_ops-el.elf': { maps: 'MapError/NotSupported', test_1: 'MapError/NotSupported' },
  'testdata/subprog_reloc-el.elf': 'loads',  // maps and 1 program(s)
  'testdata/variables-el.elf': 'loads',  // maps and 8 program(s)
};

function outcome(path: string, programs: string[], only?: string): string {
  const loader = new EbpfLoader();
  for (const name of programs) if (name !== only) loader.deferProgram(name);
  try {
    loader.load(path).close();
    return 'ok';
  } catch (err) {
    const e = err as { name: string; kind?: string; code?: string };
    return [e.name, e.kind, e.code].filter(Boolean).join('/');
  }
}

test('every corpus object: maps, then each program, load or fail with the listed typed error', () => {
  const before = fdCount();
  const got: Record<string, string | Record<string, string>> = {};
  for (const path of corpusObjects()) {
    const file = relative(corpus, path);
    let spec: ObjectSpec;
    try {
      spec = ObjectSpec.parse(readFileSync(path));
    } catch (err) {
      got[file] = (err as Error).name;
      continue;
    }
    const names = [...spec.programs.keys()];
    const failures: Record<string, string> = {};
    const maps = outcome(path, names);
    if (maps !== 'ok') failures.maps = maps;
    for (const name of names) {
      const r = outcome(path, names, name);
      if (r !== 'ok') failures[name] = r;
    }
    got[file] = Object.keys(failures).length === 0 ? 'loads' : failures;
  }
  assert.deepEqual(got, expected);
  assert.equal(fdCount(), before, 'every load, failed or not, released its descriptors');
});

test('constants-el: with its .rodata constant set, the sk_lookup program verifies', () => {
  const path = resolve(corpus, 'testdata/constants-el.elf');
  const spec = ObjectSpec.parse(readFileSync(path));
  const [name] = [...spec.variables.values()].filter((v) => v.map === '.rodata').map((v) => v.name);
  const ebpf = new EbpfLoader().setGlobal(name, 1).load(path);
  try {
    assert.equal(ebpf.program('freeze_rodata').kind, 'SkLookup');
  } finally {
    ebpf.close();
  }
});
