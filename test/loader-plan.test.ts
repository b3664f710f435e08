// The pure half of the loader (src/loader/plan.ts) runs without a kernel: every object
// here is planned with the kernel replaced by one that throws on any call, against facts
// given as data (this machine's vmlinux BTF as bytes, a made-up configuration, release
// and symbol table), and the plan's maps, initial bytes and relocated instructions are
// checked value by value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Btf, MapType, ObjectSpec, ProgramError, ProgramType } from '../src/index.js';
import * as sys from '../src/sys/index.js';
import { replaceKernel } from '../src/testing.js';
import { LoadPlan, type KernelFacts, type PlanSettings, type ProgramPlan } from '../src/loader/index.js';
import { Insns, PseudoCall, PseudoSrc } from '../src/obj/insn.js';
import { BPF_F_MMAPABLE, BPF_F_RDONLY_PROG } from '../src/obj/spec.js';
import { corpusDir, repoRoot, thrown } from './helpers.js';

const vmlinux = Btf.parse(readFileSync('/sys/kernel/btf/vmlinux'));

const SYMBOLS = new Map<string, bigint>([
  ['bpf_init', 0xffff_ffff_8123_4567n],
  ['bpf_trace_run1', 0xffff_ffff_8000_0008n],
]);

const facts: KernelFacts = {
  btf: vmlinux,
  modules: [],
  config: new Map([
    ['CONFIG_HZ', '250'],
    ['CONFIG_BPF_SYSCALL', 'y'],
    ['CONFIG_DEFAULT_HOSTNAME', '"plan-host"'],
  ]),
  release: [6, 18, 44],
  symbolAddress: (name) => SYMBOLS.get(name),
  possibleCpus: 8,
};

function settings(over: Partial<PlanSettings> = {}): PlanSettings {
  return { globals: new Map(), externs: new Map(), maxEntries: new Map(), autoload: new Map(), ...over };
}

/** Runs `fn` with every kernel call throwing (the plan must make none). */
function withoutKernel<T>(fn: () => T): T {
  const throwing = Object.fromEntries(
    Object.keys(sys.kernel).map((name) => [
      name,
      () => {
        throw new Error(`the plan called the kernel (${name})`);
      },
    ]),
  );
  const restore = replaceKernel(throwing);
  try {
    return fn();
  } finally {
    restore();
  }
}

function parse(path: string): ObjectSpec {
  return ObjectSpec.parse(readFileSync(path));
}

const bpf = (name: string) => resolve(repoRoot, 'bpf', name);
const corpus = (name: string) => resolve(corpusDir, 'testdata', name);

/** The 64-bit immediate of ld_imm64 instruction `i`. */
function imm64(insns: Insns, i: number): bigint {
  return (BigInt.asUintN(32, BigInt(insns.imm(i + 1))) << 32n) | BigInt.asUintN(32, BigInt(insns.imm(i)));
}

/** Plans every program of the object (copies of the instructions: the plan's buffer is reused). */
function planAll(plan: LoadPlan): Map<string, ProgramPlan & { bytes: Uint8Array }> {
  const out = new Map<string, ProgramPlan & { bytes: Uint8Array }>();
  for (const prog of plan.spec.programs.values()) {
    const p = plan.program(prog);
    out.set(prog.name, { ...p, bytes: p.insns.bytes.slice() });
  }
  return out;
}

test('bpf/globals.o: one array per data section, initial bytes with setGlobal values, fd slots for each section', () => {
  withoutKernel(() => {
    assert.match(thrown(() => sys.kernel.close(-1)).message, /the plan called the kernel \(close\)/);
    const spec = parse(bpf('globals.o'));
    const plan = new LoadPlan(spec, settings({ globals: new Map([['ro_a', { value: 42, mustExist: true }]]) }), facts);
    const shapes = [...spec.maps.values()].map((d) => plan.map(d));
    assert.deepEqual(
      shapes.map(({ name, type, keySize, valueSize, maxEntries, flags }) => [name, type, keySize, valueSize, maxEntries, flags]),
      [
        ['.data', MapType.Array, 4, 20, 1, BPF_F_MMAPABLE],
        ['.rodata', MapType.Array, 4, 8, 1, BPF_F_MMAPABLE | BPF_F_RDONLY_PROG],
        ['.data.custom', MapType.Array, 4, 4, 1, BPF_F_MMAPABLE],
        ['.rodata.custom', MapType.Array, 4, 4, 1, BPF_F_MMAPABLE | BPF_F_RDONLY_PROG],
        ['.bss', MapType.Array, 4, 20, 1, BPF_F_MMAPABLE],
      ],
    );
    // ro_a = 42 (it was 10), ro_b = 20 as the object has it; the spec's bytes are unchanged.
    const rodata = spec.maps.get('.rodata')!;
    const ro = new DataView(plan.data(rodata)!.buffer);
    assert.equal(ro.getUint32(spec.variables.get('ro_a')!.offset, true), 42);
    assert.equal(ro.getUint32(spec.variables.get('ro_b')!.offset, true), 20);
    assert.equal(new DataView(rodata.data!.buffer, rodata.data!.byteOffset).getUint32(spec.variables.get('ro_a')!.offset, true), 10);
    assert.equal(plan.kconfig(), undefined);
    const compute = plan.program(spec.programs.get('compute')!);
    assert.equal(compute.insns.length, 44);
    assert.equal(compute.progType, ProgramType.SocketFilter);
    assert.deepEqual([...new Set(compute.mapFds.map((r) => r.map))].sort(), ['.bss', '.data', '.data.custom', '.rodata', '.rodata.custom']);
    for (const { insn } of compute.mapFds) assert.equal(compute.insns.src(insn), PseudoSrc.MapValue);
  });
});

test('bpf/core.o: CO-RE relocated against the vmlinux BTF given, per program', () => {
  withoutKernel(() => {
    const spec = parse(bpf('core.o'));
    const programs = planAll(new LoadPlan(spec, settings(), facts));
    assert.deepEqual([...programs].map(([n, p]) => [n, p.insns.length, p.progType, p.poisoned]), [
      ['core_task_btf', 161, ProgramType.Syscall, 'insn #61: FieldByteOffset task_struct___pre514.state (0:0 @ offset 0): [114] struct task_struct has no member state; instruction #61 poisoned'],
      ['core_task_probe', 168, ProgramType.Syscall, 'insn #83: FieldByteOffset task_struct___pre514.state (0:0 @ offset 0): [114] struct task_struct has no member state; instruction #83 poisoned'],
      ['core_sys_enter', 181, ProgramType.RawTracepoint, 'insn #96: FieldByteOffset task_struct___pre514.state (0:0 @ offset 0): [114] struct task_struct has no member state; instruction #96 poisoned'],
    ]);
    // The instructions differ from the object's where relocations apply.
    for (const [name, p] of programs) assert.notDeepEqual(p.bytes, spec.programs.get(name)!.instructions, name);
  });
});

test('bpf/map_in_map.o: map shapes (setMaxEntries applied) and instruction counts', () => {
  withoutKernel(() => {
    const spec = parse(bpf('map_in_map.o'));
    const plan = new LoadPlan(spec, settings({ maxEntries: new Map([['inner_a', 32]]) }), facts);
    const shape = (n: string) => {
      const { type, keySize, valueSize, maxEntries } = plan.map(spec.maps.get(n)!);
      return [type, keySize, valueSize, maxEntries];
    };
    assert.deepEqual(shape('inner_a'), [MapType.Array, 4, 8, 32]);
    assert.deepEqual(shape('outer'), [MapType.ArrayOfMaps, 4, 4, 4]);
    assert.deepEqual(shape('outer_hash'), [MapType.HashOfMaps, 4, 4, 4]);
    assert.deepEqual(shape('jump_table'), [MapType.ProgArray, 4, 4, 4]);
    assert.deepEqual([...planAll(plan)].map(([n, p]) => [n, p.insns.length]), [
      ['tail_target', 7],
      ['lookup_outer', 28],
      ['lookup_outer_hash', 28],
      ['tail_caller', 9],
    ]);
  });
});

test('bpf/struct_ops.o: the kernel struct, member indexes and kfunc ids from the BTF given', () => {
  withoutKernel(() => {
    const spec = parse(bpf('struct_ops.o'));
    const plan = new LoadPlan(spec, settings(), facts);
    const { target, shape } = plan.structOps(spec.maps.get('tsbpf_cc')!);
    const ops = vmlinux.byName('tcp_congestion_ops', 'struct')[0]!;
    assert.equal(target.struct.id, ops.id);
    assert.deepEqual([shape.type, shape.keySize, shape.valueSize, shape.maxEntries], [MapType.StructOps, 4, vmlinux.byName('bpf_struct_ops_tcp_congestion_ops', 'struct')[0]!.size, 1]);
    for (const [name, member, kfunc] of [
      ['cc_ssthresh', 'ssthresh', 'tcp_reno_ssthresh'],
      ['cc_cong_avoid', 'cong_avoid', 'tcp_reno_cong_avoid'],
      ['cc_undo_cwnd', 'undo_cwnd', 'tcp_reno_undo_cwnd'],
    ] as const) {
      const prog = spec.programs.get(name)!;
      const p = plan.program(prog);
      assert.equal(p.structOps, true);
      assert.equal(p.attachBtfId, ops.id);
      assert.equal(p.expectedAttachType, ops.members.findIndex((m) => m.name === member), name);
      const call = prog.references.find((r) => r.kind === 'extern')!.insn;
      assert.equal(p.insns.src(call), PseudoCall.KfuncCall);
      assert.equal(p.insns.imm(call), vmlinux.byName(kfunc, 'func')[0]!.id);
      assert.equal(plan.loadsWithObject(prog, true), true);
    }
  });
});

test('kconfig-el.elf: the .kconfig value from the configuration and release given', () => {
  withoutKernel(() => {
    const spec = parse(corpus('kconfig-el.elf'));
    const plan = new LoadPlan(spec, settings(), facts);
    const kconfig = plan.kconfig()!;
    assert.deepEqual([kconfig.shape.type, kconfig.shape.maxEntries, kconfig.shape.flags, kconfig.shape.name], [MapType.Array, 1, BPF_F_RDONLY_PROG | BPF_F_MMAPABLE, '.kconfig']);
    const prog = spec.programs.get('kconfig')!;
    const p = plan.program(prog);
    assert.equal(p.insns.length, 27);
    // Each extern reads the .kconfig map at its own offset.
    const offsets = new Map<string, number>();
    for (const ref of prog.references) {
      if (ref.kind !== 'extern') continue;
      assert.equal(p.insns.src(ref.insn), PseudoSrc.MapValue);
      assert.ok(p.mapFds.some((f) => f.insn === ref.insn && f.map === '.kconfig'));
      offsets.set(ref.name, p.insns.imm(ref.insn + 1));
    }
    const v = new DataView(kconfig.value.buffer);
    assert.equal(v.getUint32(offsets.get('LINUX_KERNEL_VERSION')!, true), (6 << 16) + (18 << 8) + 44);
    assert.equal(v.getUint8(offsets.get('LINUX_HAS_SYSCALL_WRAPPER')!), 1);
    assert.equal(v.getUint32(offsets.get('CONFIG_HZ')!, true), 250);
    assert.equal(v.getUint8(offsets.get('CONFIG_BPF_SYSCALL')!), 1); // a tristate: y
    // char CONFIG_DEFAULT_HOSTNAME[1]: room for the NUL only.
    assert.deepEqual([offsets.get('CONFIG_DEFAULT_HOSTNAME'), kconfig.value[offsets.get('CONFIG_DEFAULT_HOSTNAME')!], kconfig.value.length], [16, 0, 24]);
    // A configuration without the value: the plan says which extern is missing.
    const bare = new LoadPlan(spec, settings(), { ...facts, config: new Map() });
    assert.match(thrown(() => bare.kconfig()).message, /__kconfig extern CONFIG_HZ is not set/);
  });
});

test('ksym-el.elf: typeless ksyms get the addresses given, typed ones their vmlinux BTF ids; missing weak ones 0', () => {
  withoutKernel(() => {
    const spec = parse(corpus('ksym-el.elf'));
    const plan = new LoadPlan(spec, settings(), facts);
    assert.deepEqual(plan.typelessKsyms().sort(), ['bpf_init', 'bpf_trace_run1', 'missing_ksym', 'missing_weak_ksym']);
    const ksym = plan.program(spec.programs.get('ksym_test')!);
    assert.equal(ksym.insns.length, 12);
    assert.equal(imm64(ksym.insns, 2), SYMBOLS.get('bpf_trace_run1'));
    assert.equal(imm64(ksym.insns, 7), SYMBOLS.get('bpf_init'));
    assert.equal(ksym.insns.src(7), 0);
    const typed = plan.program(spec.programs.get('typed_ksym_test')!);
    for (const [insn, name] of [[2, 'softnet_data'], [7, 'bpf_prog_active']] as const) {
      assert.equal(typed.insns.src(insn), PseudoSrc.BtfId);
      assert.equal(typed.insns.imm(insn), vmlinux.byName(name, 'var')[0]!.id);
      assert.equal(typed.insns.imm(insn + 1), 0);
    }
    assert.equal(imm64(plan.program(spec.programs.get('missing_weak_ksym_test')!).insns, 1), 0n);
    const err = thrown(() => plan.program(spec.programs.get('missing_ksym_test')!));
    assert.ok(err instanceof ProgramError && err.kind === 'UnresolvedExtern', String(err));
    // A module's (weak) variable with no modules given: 0; a strong one not found is named.
    const mod = plan.program(spec.programs.get('typed_ksym_mod_var_test')!);
    assert.deepEqual([mod.insns.src(2), imm64(mod.insns, 2), mod.moduleFds], [0, 0n, []]);
    assert.match(thrown(() => plan.program(spec.programs.get('missing_typed_ksym_test')!)).message, /__ksym missing_typed_ksym is in neither vmlinux BTF nor the BTF of a loaded kernel module \(modules with BTF: none loaded\)/);
  });
});

test('kfunc-el.elf: kfunc calls by vmlinux BTF id; a missing weak kfunc is poisoned', () => {
  withoutKernel(() => {
    const spec = parse(corpus('kfunc-el.elf'));
    const plan = new LoadPlan(spec, settings(), facts);
    const bench = plan.program(spec.programs.get('benchmark')!);
    assert.equal(bench.insns.length, 3);
    assert.equal(bench.insns.src(1), PseudoCall.KfuncCall);
    assert.equal(bench.insns.imm(1), vmlinux.byName('bpf_fentry_test1', 'func')[0]!.id);
    assert.equal(bench.insns.off(1), 0);
    assert.deepEqual(bench.moduleFds, []);
    const weak = plan.program(spec.programs.get('weak_kfunc_missing')!);
    assert.equal(weak.insns.imm(4), 0xbad2310);
    assert.equal(imm64(weak.insns, 1), 0n);
  });
});

test('loader-clang-14-el.elf: setExtern constants, perf event array sizes, and what the settings name must exist', () => {
  withoutKernel(() => {
    const spec = parse(corpus('loader-clang-14-el.elf'));
    const plan = new LoadPlan(spec, settings({ externs: new Map([['MY_CONST', 0x1234_5678_9abc_def0n]]) }), facts);
    const asm = plan.program(spec.programs.get('asm_relocation')!);
    assert.equal(asm.insns.length, 3);
    assert.equal(imm64(asm.insns, 0), 0x1234_5678_9abc_def0n);
    const perf = plan.map(spec.maps.get('perf_event_array')!);
    assert.deepEqual([perf.keySize, perf.valueSize, perf.maxEntries], [4, 4, 4096]);
    assert.deepEqual([...planAll(plan)].map(([n, p]) => [n, p.insns.length]), [
      ['xdp_prog', 53],
      ['no_relocation', 2],
      ['asm_relocation', 3],
      ['data_sections', 30],
      ['anon_const', 17],
    ]);
    // Without MY_CONST the plan names the setting that gives it.
    const without = new LoadPlan(spec, settings(), facts);
    assert.match(thrown(() => without.program(spec.programs.get('asm_relocation')!)).message, /give its value with EbpfLoader.setExtern/);
    assert.match(thrown(() => new LoadPlan(spec, settings({ externs: new Map([['NOPE', 1n]]) }), facts)).message, /no extern NOPE that takes a value/);
  });
});

/** The modules a source file imports, as written. */
function importsOf(path: string): string[] {
  return [...readFileSync(path, 'utf8').matchAll(/^(?:import|export)\b[^;]*?from '([^']+)'/gms)].map((m) => m[1]!);
}

test('layers: obj/ imports only itself, node:, the error and describe leaves and the kernel enums; the plan no kernel access', () => {
  const objDir = resolve(repoRoot, 'src/obj');
  const leaves = new Set(['../errors.js', '../describe.js', '../sys/abi/enums.js']);
  for (const file of readdirSync(objDir).filter((f) => f.endsWith('.ts'))) {
    for (const from of importsOf(resolve(objDir, file))) {
      assert.ok(from.startsWith('./') || from.startsWith('node:buffer') || leaves.has(from), `obj/${file} imports ${from}`);
    }
  }
  const kernelSide = /^(\.\.\/sys\/(?!abi\/enums\.js)|\.\.\/kernel-btf\.js|\.\.\/externs\.js|\.\.\/features\.js|\.\.\/file\.js|node:fs|node:os|node:zlib|\.\/load\.js)/;
  for (const from of importsOf(resolve(repoRoot, 'src/loader/plan.ts'))) assert.doesNotMatch(from, kernelSide, `loader/plan.ts imports ${from}`);
});
