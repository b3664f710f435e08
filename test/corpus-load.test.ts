// Ebpf.load over the whole compatibility corpus, one program at a time (the others
// deferred) so that one program the kernel refuses does not hide the rest. Every
// outcome is listed: a regression changes a line. 'loads' means the maps and every
// program load; otherwise the programs that do not are named with their typed error.
//
// The table is what a kernel with every feature an object uses gives; what this
// kernel lacks or refuses is computed from the feature probes and its BTF, per map
// and per program (a refused map takes every program of its object with it):
// - a map type the probe finds refused (ARENA on some builds): MapError NotSupported;
// - a struct_ops map of a struct the kernel does not define (sched_ext_ops without
//   sched_ext, bpf_testmod_ops without bpf_testmod): MapError NotSupported;
// - a BTF-attached program whose target vmlinux lacks: ProgramError UnknownKernelFunction;
// - a program kind the probe finds refused (fentry/fexit on some builds): ProgramError NotSupported;
// - a non-weak kfunc in neither vmlinux nor a loaded module's BTF (bpf_testmod's, the
//   conntrack kfuncs where nf_conntrack is a module not loaded): ProgramError NotSupported;
// - a typed __ksym variable the kernel's kallsyms does not list (data symbols need
//   CONFIG_KALLSYMS_ALL): the kernel's ENOENT, ProgramError LoadError;
// - __kconfig externs where the kernel's configuration cannot be read (no
//   /proc/config.gz, no /boot/config-<release>): ProgramError UnresolvedExtern.
//
// Why the listed failures fail, on any kernel:
// - relocs/relocs_read: written for their own target BTF, not the running kernel; their
//   checks reach poisoned CO-RE relocations (CO-RE itself is tested in obj-core.test).
// - errors-el: deliberately unsatisfiable CO-RE relocations and kfunc: must fail.
// - UnresolvedExtern: fwd_decl (a function never defined), linked1/2 (needs the other
//   object), asm_relocation (MY_CONST, an inline-asm symbol the user must supply with
//   setExtern: tested in loader-externs.test), a missing non-weak ksym.
// - constants-el: returns a .rodata constant the user must set first (tested below).
// - freplace programs are not loaded by Ebpf.load: they need a target program
//   (attach-trace.test, features.test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { EbpfLoader, isMapTypeSupported, isProgramTypeSupported, loadKernelBtf, MapType, ObjectSpec } from '../src/index.js';
import { kernelConfig } from '../src/externs.js';
import { corpusDir, corpusObjects, fdCount } from './helpers.js';
import { kfuncHere } from './kernel-features.js';

const corpus = corpusDir;
const testmod = existsSync('/sys/kernel/btf/bpf_testmod');

type Outcome = string | Record<string, string>;

/** On a kernel with every feature the objects use. */
const full: Record<string, Outcome> = {
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
  'examples/fentry/bpf_bpfel.o': 'loads',  // fentry/tcp_connect
  'examples/kprobe/bpf_bpfel.o': 'loads',  // maps and 1 program(s)
  'examples/kprobe_percpu/bpf_bpfel.o': 'loads',  // maps and 1 program(s)
  'examples/kprobepin/bpf_bpfel.o': 'loads',  // maps and 1 program(s)
  'examples/ringbuffer/bpf_bpfel.o': 'loads',  // maps and 1 program(s)
  'examples/sched_ext/bpf_bpfel.o': 'loads',  // a sched_ext_ops struct_ops map
  'examples/tcprtt/bpf_bpfel.o': 'loads',  // fentry/tcp_close
  'examples/tcprtt_sockops/bpf_bpfel.o': 'loads',  // maps and 1 program(s)
  'examples/tcx/bpf_bpfel.o': 'loads',  // maps and 2 program(s)
  'examples/tracepoint_in_c/bpf_bpfel.o': 'loads',  // maps and 1 program(s)
  'examples/uretprobe/bpf_x86_bpfel.o': 'loads',  // maps and 1 program(s)
  'examples/xdp/bpf_bpfel.o': 'loads',  // maps and 1 program(s)
  'examples/xdp_live_frame/bpf_bpfel.o': 'loads',  // maps and 2 program(s)
  'testdata/arena-el.elf': 'loads',  // an ARENA map, 0 programs
  'testdata/btf_map_init-el.elf': 'loads',  // maps and 2 program(s)
  'testdata/constants-el.elf': { freeze_rodata: 'ProgramError/LoadError/EINVAL' },
  'testdata/errors-el.elf': { poisoned_single: 'ProgramError/LoadError/EINVAL', poisoned_double: 'ProgramError/LoadError/EINVAL', poisoned_kfunc: 'ProgramError/LoadError/EINVAL' },
  'testdata/fentry_fexit-el.elf': 'loads',  // fentry/fexit on the kernel function "target"
  'testdata/freplace-el.elf': 'loads',  // the freplace program waits for its target: Extension.load({ target })
  'testdata/fwd_decl-el.elf': { call_fwd: 'ProgramError/UnresolvedExtern' },
  'testdata/invalid-kfunc-el.elf': { call_kfunc: 'ProgramError/LoadError/EINVAL' },  // a test kfunc misused
  'testdata/invalid_btf_map_init-el.elf': 'ParseError',
  'testdata/invalid_map-el.elf': 'ParseError',
  'testdata/invalid_map_static-el.elf': 'ParseError',
  'testdata/iproute2_map_compat-el.elf': 'loads',  // maps and 0 program(s)
  'testdata/kconfig-el.elf': 'loads',  // maps and 1 program(s)
  'testdata/kfunc-el.elf': 'loads',  // includes fentry/bpf_fentry_test2
  'testdata/kfunc-kmod-el.elf': 'loads',  // a kfunc of bpf_testmod
  'testdata/ksym-el.elf': { missing_ksym_test: 'ProgramError/UnresolvedExtern', missing_typed_ksym_test: 'ProgramError/UnresolvedExtern' },
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
  'testdata/struct_ops-el.elf': 'loads',  // a bpf_testmod_ops struct_ops map
  'testdata/subprog_reloc-el.elf': 'loads',  // maps and 1 program(s)
  'testdata/variables-el.elf': 'loads',  // maps and 8 program(s)
};

/** Whether the kernel (vmlinux, or bpf_testmod where it is loaded) defines struct_ops struct `name`. */
function kernelHasStructOps(name: string): boolean {
  return loadKernelBtf().byName(`bpf_struct_ops_${name}`, 'struct').length > 0 || (name === 'bpf_testmod_ops' && testmod);
}

/**
 * Outcomes that differ by kernel version where no probe can tell: kfunc-el's benchmark
 * (an fentry program) calls bpf_fentry_test1 as a kfunc, which some kernels do not offer
 * tracing programs (the verifier's EACCES).
 */
const versionDependent: Record<string, Record<string, string>> = {
  'testdata/kfunc-el.elf': { benchmark: 'ProgramError/LoadError/EACCES' },
};

let kallsyms: Set<string> | undefined;

/** Whether /proc/kallsyms lists `name`. */
function inKallsyms(name: string): boolean {
  kallsyms ??= new Set(readFileSync('/proc/kallsyms', 'utf8').split('\n').map((l) => l.split(' ')[2] ?? ''));
  return kallsyms.has(name);
}

/** Why this kernel cannot load a program of `spec` with these references for want of a kfunc or a kernel symbol, if so. */
function missingSymbol(spec: ObjectSpec, references: readonly { kind: string; name?: string }[]): string | undefined {
  for (const r of references) {
    const d = r.kind === 'extern' && r.name ? spec.ksyms.get(r.name) : undefined;
    if (!d) continue;
    if (d.func && !spec.externs.get(r.name!)?.weak && !kfuncHere(r.name!)) return 'ProgramError/NotSupported';
    // A typed variable in BTF, weak or not, is handed to the kernel, which looks it up in kallsyms.
    if (!d.func && !d.typeless && loadKernelBtf().byName(r.name!, 'var').length > 0 && !inKallsyms(r.name!)) return 'ProgramError/LoadError/ENOENT';
  }
  return undefined;
}

/** `full[file]` with what this kernel lacks or refuses, from the probes. */
function expectedHere(file: string, spec: ObjectSpec): Outcome {
  const base = full[file];
  if (base === undefined || typeof base === 'string' && base !== 'loads') return base ?? 'not listed';
  const failures: Record<string, string> = typeof base === 'object' ? { ...base } : {};
  const refusedMap = [...spec.maps.values()].some((m) =>
    m.type === MapType.StructOps ? !kernelHasStructOps(m.structOps?.typeName ?? '') : !isMapTypeSupported(m.type));
  const vmlinux = loadKernelBtf();
  const kconfig = spec.btf?.byName('.kconfig', 'datasec')[0];
  const noConfig = kconfig !== undefined && kernelConfig().size === 0 ? 'ProgramError/UnresolvedExtern' : undefined;
  for (const [name, p] of spec.programs) {
    if (refusedMap) failures[name] = 'MapError/NotSupported';
    else if (noConfig) failures[name] = noConfig;
    if (p.kind === 'Extension') continue;
    const target = p.target?.type === 'btf' && !p.target.module ? p.target : undefined;
    const symbol = missingSymbol(spec, p.references);
    // A kfunc the kernel lacks stops the load before the verifier could refuse it.
    if (symbol === 'ProgramError/NotSupported' && failures[name]?.startsWith('ProgramError/LoadError')) failures[name] = symbol;
    if (failures[name] !== undefined) continue;
    if (target && vmlinux.byName(target.btfName, target.btfKind).length === 0) failures[name] = 'ProgramError/UnknownKernelFunction';
    else if (!isProgramTypeSupported(p.type, p.expectedAttachType || undefined, target?.btfName)) failures[name] = 'ProgramError/NotSupported';
    else if (symbol) failures[name] = symbol;
  }
  if (refusedMap) failures.maps = 'MapError/NotSupported';
  else if (noConfig) failures.maps = noConfig;
  return Object.keys(failures).length === 0 ? 'loads' : failures;
}

function outcome(path: string, programs: string[], only?: string): string {
  const loader = new EbpfLoader();
  for (const name of programs) if (name !== only) loader.deferProgram(name);
  try {
    loader.load(path).close();
    return 'ok';
  } catch (err) {
    // NotSupported says what the kernel lacks; its errno differs from kernel to kernel.
    const e = err as { name: string; kind?: string; code?: string };
    return [e.name, e.kind, e.kind === 'NotSupported' ? undefined : e.code].filter(Boolean).join('/');
  }
}

test('every corpus object: maps, then each program, load or fail with the listed typed error, or the NotSupported this kernel\'s probes predict', (t) => {
  const before = fdCount();
  const got: Record<string, Outcome> = {};
  const expected: Record<string, Outcome> = {};
  for (const path of corpusObjects()) {
    const file = relative(corpus, path);
    let spec: ObjectSpec;
    try {
      spec = ObjectSpec.parse(readFileSync(path));
    } catch (err) {
      got[file] = (err as Error).name;
      expected[file] = full[file] ?? 'not listed';
      continue;
    }
    expected[file] = expectedHere(file, spec);
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
  // Where the kernel gives a version-dependent outcome, that is what is expected.
  for (const [file, programs] of Object.entries(versionDependent)) {
    for (const [name, outcome] of Object.entries(programs)) {
      const g = got[file];
      if (typeof g !== 'object' || g[name] !== outcome) continue;
      const e = expected[file];
      expected[file] = { ...(typeof e === 'object' ? e : {}), [name]: outcome };
      t.diagnostic(`${file} ${name}: ${outcome} (this kernel's version-dependent outcome)`);
    }
  }
  const predicted = Object.entries(expected).filter(([file, e]) => JSON.stringify(e) !== JSON.stringify(full[file])).map(([file]) => file);
  t.diagnostic(`${Object.keys(got).length} objects; where this kernel lacks or refuses a feature (from the probes, its BTF and kallsyms): ${predicted.join(', ') || 'none'}`);
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
