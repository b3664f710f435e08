// The pure half of loading. From an ObjectSpec, the loader's settings and what the
// kernel is (its BTF, configuration, release, symbol addresses, CPU count: passed in as
// data), it decides what to make: the shape and initial bytes of each map, the .kconfig
// value, the BTF to upload, and per program the relocated instructions with the slots
// that take an fd once the maps and module BTF objects exist. No system calls and no
// file reads: load.ts asks the kernel for the facts and makes the objects.
import { MapError, ProgramError } from '../errors.js';
import { encodeGlobal, type GlobalValue } from '../global-value.js';
import { MapType, mapTypeInfo, mapTypeName } from '../maps/map-type.js';
import { findStructOpsTarget, structOpsMember, type StructOpsTarget } from '../obj/struct-ops.js';
import { applyCoreRelocations, formatCoreResults } from '../obj/core.js';
import { kconfigLayout, kconfigValue, type KconfigFacts, type KconfigLayout } from '../obj/externs.js';
import { Insns, PseudoCall, PseudoSrc } from '../obj/insn.js';
import { BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS, sectionMatch } from '../obj/sections.js';
import { BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, type MapDefinition, type ObjectSpec, type ProgramSpec } from '../obj/spec.js';
import { ProgramType } from '../sys/abi/enums.js';
import { kernelBtfTarget, type Btf } from '../obj/btf.js';

const PAGE_SIZE = 4096;
/** What a weak kfunc the kernel lacks is called as (libbpf's poison: the verifier rejects it only if reached). */
const POISONED_KFUNC = 0xbad2310;

/** A loaded kernel module with BTF. */
export interface KernelModule {
  readonly name: string;
  /** Its BTF, split on vmlinux. */
  readonly btf: Btf;
}

/** What the plan needs to know about the kernel it is for. */
export interface KernelFacts extends KconfigFacts {
  /** vmlinux BTF: kfuncs, typed ksyms, attach targets, struct_ops types, and CO-RE's default target. */
  readonly btf: Btf;
  /** Loaded modules with BTF, searched in this order after vmlinux. */
  readonly modules: readonly KernelModule[];
  /** The address of kernel symbol `name` (kallsyms), undefined when it has none. */
  symbolAddress(name: string): bigint | undefined;
  /** Possible CPUs: the default size of a PERF_EVENT_ARRAY. */
  readonly possibleCpus: number;
}

/** The loader's settings that change the plan (EbpfLoader's). */
export interface PlanSettings {
  globals: ReadonlyMap<string, { value: GlobalValue; mustExist: boolean }>;
  externs: ReadonlyMap<string, bigint>;
  maxEntries: ReadonlyMap<string, number>;
  /** value_size of maps by name (EbpfLoader.setValueSize). */
  valueSizes?: ReadonlyMap<string, number>;
  autoload: ReadonlyMap<string, { load: boolean; mustExist: boolean }>;
  /** CO-RE's target BTF, instead of the kernel's. */
  btf?: Btf;
}

/** A map to create, without fds. */
export interface MapShape {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
  numaNode?: number;
  mapExtra?: bigint;
  /** Key and value type ids in the object's BTF, for a map that may be created with them. */
  btf?: { keyTypeId?: number; valueTypeId: number };
}

/** A program to load: relocated instructions and the slots load.ts fills with fds. */
export interface ProgramPlan {
  /** Valid until the next ProgramPlan: they live in a buffer reused load after load. */
  insns: Insns;
  /** The CO-RE relocations that were poisoned (a reached one shows as a call to unknown#195896080). */
  poisoned: string;
  /** ld_imm64 instructions whose imm is the fd of map `map` (src and offset are set). */
  mapFds: { insn: number; map: string }[];
  /** Instructions naming module `module`'s BTF object: a kfunc call (by fd_array index) or a ksym (by fd). */
  moduleFds: { insn: number; module: string; call: boolean }[];
  progType: number;
  expectedAttachType: number;
  /** attach_btf_id: a struct_ops struct, or a tracing target's id in vmlinux or in `attachModule`. */
  attachBtfId: number;
  attachModule?: string;
  /** A struct_ops member: the attach target is the struct, whatever load.ts is asked for. */
  structOps: boolean;
  flags: number;
  license: string;
  name: string;
  kernelVersion: number;
}

/** The object's BTF as uploaded, with the string offsets line info refers to. */
export interface BtfUpload {
  bytes: Uint8Array;
  offsetOf: (s: string) => number;
}

/** What to make of `spec` for a kernel, step by step as load.ts asks. */
export class LoadPlan {
  readonly spec: ObjectSpec;
  readonly #settings: PlanSettings;
  readonly #kernel: KernelFacts;
  /** setGlobal values as bytes, by global name: checked before anything is made. */
  readonly #initialValues = new Map<string, Uint8Array>();
  readonly #structOpsTargets = new Map<string, StructOpsTarget>();
  #kconfig?: KconfigLayout;
  #coreCache?: Map<number, number[]>;

  /** Checks the settings against the object (MapError, ProgramError 'InvalidArgument' or 'UnresolvedExtern'). */
  constructor(spec: ObjectSpec, settings: PlanSettings, kernel: KernelFacts) {
    this.spec = spec;
    this.#settings = settings;
    this.#kernel = kernel;
    for (const [name, { value, mustExist }] of settings.globals) {
      const variable = spec.variables.get(name);
      if (variable) this.#initialValues.set(name, encodeGlobal(variable, value, spec.btf));
      else if (mustExist) throw new MapError('InvalidArgument', `setGlobal: the object has no global named ${name}`);
    }
    for (const [name, { mustExist }] of settings.autoload) {
      if (mustExist && !spec.programs.has(name)) throw new ProgramError('InvalidArgument', `setAutoload: the object has no program named ${name} (programs: ${[...spec.programs.keys()].join(', ')})`, { program: name });
    }
    for (const name of settings.valueSizes?.keys() ?? []) checkResizable(spec, name);
    const constants = spec.constantExterns;
    for (const name of settings.externs.keys()) {
      if (!constants.includes(name)) throw new ProgramError('UnresolvedExtern', `setExtern(${name}): the object has no extern ${name} that takes a value (those it has: ${constants.join(', ') || 'none'})`);
    }
  }

  /** The typeless __ksym names, whose addresses the kernel facts are asked for. */
  typelessKsyms(): string[] {
    return [...this.spec.ksyms].filter(([, d]) => d.typeless).map(([n]) => n);
  }

  /** The object's BTF to upload (with the strings line info needs), or undefined without. */
  btf(): BtfUpload | undefined {
    const btf = this.spec.btf;
    if (!btf) return undefined;
    const wire = btf.wire();
    if (wire) return wire;
    const strings = new Set<string>();
    for (const p of this.spec.programs.values()) for (const l of p.lineInfos) strings.add(l.fileName).add(l.lineText);
    return btf.marshalWithStrings(strings);
  }

  /** The map to create for `def`: setMaxEntries applied, and the sizes the kernel wants for perf and ring buffers. */
  map(def: MapDefinition): MapShape {
    let { type, keySize, valueSize, maxEntries } = def;
    maxEntries = this.#settings.maxEntries.get(def.name) ?? maxEntries;
    const resized = this.#settings.valueSizes?.get(def.name);
    if (resized !== undefined) valueSize = resized;
    if (type === MapType.PerfEventArray) {
      keySize = 4;
      valueSize = 4;
      if (maxEntries === 0) maxEntries = this.#kernel.possibleCpus;
    }
    const ring = type === MapType.Ringbuf || type === MapType.UserRingbuf;
    if (ring) {
      // No key or value (a declared __type(value, ...) only documents the records), and a
      // power-of-two multiple of the page size.
      keySize = 0;
      valueSize = 0;
      let size = PAGE_SIZE;
      while (size < maxEntries) size *= 2;
      maxEntries = size;
    }
    return {
      type,
      keySize,
      valueSize,
      maxEntries,
      flags: def.flags,
      name: objectName(def.name),
      numaNode: def.numaNode || undefined,
      mapExtra: def.mapExtra || undefined,
      // A resized value no longer matches its BTF type: the map is created without BTF.
      btf: !ring && resized === undefined && def.btfValueTypeId ? { keyTypeId: def.btfKeyTypeId, valueTypeId: def.btfValueTypeId } : undefined,
    };
  }

  /** A data section's initial bytes: as the object has them, or a copy with the setGlobal values in it. */
  data(def: MapDefinition): Uint8Array | undefined {
    let value = def.data;
    if (!value) return undefined;
    for (const [name, bytes] of this.#initialValues) {
      const variable = this.spec.variables.get(name)!;
      if (variable.map !== def.name) continue;
      if (value === def.data) value = value.slice();
      value.set(bytes, variable.offset);
    }
    return value;
  }

  /**
   * The '.kconfig' map: the values of the __kconfig externs the programs use, or
   * undefined when they use none. ProgramError 'UnresolvedExtern' for a value the kernel
   * does not set, unless the extern is weak.
   */
  kconfig(): { shape: MapShape; value: Uint8Array } | undefined {
    const layout = this.#kconfigLayout();
    const used = [...layout.offsets.keys()].filter((n) => this.spec.externs.has(n));
    if (used.length === 0) return undefined;
    const value = new Uint8Array(layout.size);
    for (const name of used) {
      const { offset, size, typeId } = layout.offsets.get(name)!;
      const bytes = kconfigValue(this.spec.btf!, name, typeId, size, this.#kernel);
      if (bytes) value.set(bytes, offset);
      else if (!this.spec.externs.get(name)!.weak) {
        throw new ProgramError('UnresolvedExtern', `__kconfig extern ${name} is not set in this kernel's configuration (declare it __weak to accept 0)`);
      }
    }
    const shape = { type: MapType.Array, keySize: 4, valueSize: layout.size, maxEntries: 1, flags: BPF_F_RDONLY_PROG | BPF_F_MMAPABLE, name: '.kconfig' };
    return { shape, value };
  }

  #kconfigLayout(): KconfigLayout {
    return (this.#kconfig ??= kconfigLayout(this.spec.btf));
  }

  /**
   * A struct_ops map: the kernel struct it implements (in vmlinux BTF), and the map,
   * which holds the struct's value type (load.ts names it by id). MapError
   * 'NotSupported' when the kernel has no such struct, or only a module's (not supported yet).
   */
  structOps(def: MapDefinition): { target: StructOpsTarget; shape: MapShape } {
    const typeName = def.structOps?.typeName ?? '';
    const target = findStructOpsTarget(typeName, this.#kernel.btf);
    if (!target) {
      const inModule = this.#inModules((b) => findStructOpsTarget(typeName, b));
      if (inModule) {
        // Needs value_type_btf_obj_fd and BPF_F_VTYPE_BTF_OBJ_FD (6.9+) at map creation.
        throw new MapError('NotSupported', `struct_ops map ${def.name}: struct ${typeName} is defined by kernel module ${inModule.module.name}; struct_ops of modules are not supported yet`);
      }
      throw new MapError('NotSupported', `struct_ops map ${def.name}: this kernel has no struct ${typeName} to implement (no bpf_struct_ops_${typeName} in vmlinux BTF or the BTF of a loaded kernel module; modules with BTF: ${this.#moduleNames()})`);
    }
    this.#structOpsTargets.set(def.name, target);
    const shape = { type: MapType.StructOps, keySize: 4, valueSize: target.valueType.size, maxEntries: 1, flags: def.flags, name: objectName(def.name) };
    return { target, shape };
  }

  /** The kernel struct of struct_ops map `name`, once structOps() found it. */
  structOpsTargetOf(name: string): StructOpsTarget | undefined {
    return this.#structOpsTargets.get(name);
  }

  /** The struct_ops map and member (byte offset) that use program `prog`, if any. */
  structOpsUse(prog: ProgramSpec): { def: MapDefinition; offset: number } | undefined {
    for (const def of this.spec.maps.values()) {
      const use = def.structOps?.programs.find((p) => p.program === prog.name);
      if (use) return { def, offset: use.offset };
    }
    return undefined;
  }

  /**
   * Whether Ebpf.load loads `prog` (given its autoload): as libbpf, not a struct_ops
   * program no struct_ops map uses, and not freplace, which needs its target program
   * (Extension.load({ target, function }) loads it).
   */
  loadsWithObject(prog: ProgramSpec, autoload: boolean): boolean {
    if (!autoload || prog.kind === 'Extension') return false;
    return prog.type !== ProgramType.StructOps || this.structOpsUse(prog) !== undefined;
  }

  /**
   * Program `prog` relocated for the kernel: CO-RE applied, externs resolved, map
   * references marked. `target` false when load.ts names the attach target itself
   * (freplace's program). ProgramError 'RelocationError', 'UnresolvedExtern',
   * 'UnknownKernelFunction' or 'NotSupported' when the kernel lacks what it needs.
   */
  program(prog: ProgramSpec, { target = true }: { target?: boolean } = {}): ProgramPlan {
    const { insns, poisoned } = this.#relocate(prog);
    const plan: ProgramPlan = {
      insns,
      poisoned,
      mapFds: [],
      moduleFds: [],
      progType: prog.type,
      expectedAttachType: prog.expectedAttachType,
      attachBtfId: 0,
      structOps: false,
      flags: (prog.sleepable ? BPF_F_SLEEPABLE : 0) | (sectionMatch(prog.section)?.xdpFrags ? BPF_F_XDP_HAS_FRAGS : 0),
      license: prog.license || 'GPL',
      name: objectName(prog.name),
      kernelVersion: prog.kernelVersion,
    };
    for (const ref of prog.references) {
      if (ref.kind === 'extern') {
        const value = ref.call ? undefined : this.#settings.externs.get(ref.name);
        if (value === undefined) this.#resolveExtern(prog, plan, ref.insn, ref.name, ref.call);
        else setImm64(insns, ref.insn, value);
        continue;
      }
      if (!insns.isLdImm64(ref.insn)) throw new ProgramError('RelocationError', `program ${prog.name}: instruction ${ref.insn} is not ld_imm64`, { program: prog.name });
      insns.setSrc(ref.insn, ref.kind === 'map' ? PseudoSrc.MapFd : PseudoSrc.MapValue);
      insns.setImm(ref.insn + 1, ref.kind === 'data' ? ref.offset : 0);
      plan.mapFds.push({ insn: ref.insn, map: ref.map });
    }
    const ops = this.#structOpsAttach(prog);
    if (ops) {
      plan.structOps = true;
      plan.attachBtfId = ops.attachBtfId;
      plan.expectedAttachType = ops.expectedAttachType;
    } else if (target) {
      const t = this.#attachTarget(prog);
      plan.attachBtfId = t?.id ?? 0;
      plan.attachModule = t?.module;
    }
    return plan;
  }

  /** CO-RE: rewrites field offsets, sizes, existence, enum values... for the target kernel. */
  #relocate(prog: ProgramSpec): { insns: Insns; poisoned: string } {
    if (prog.coreRelos.length === 0) {
      const insns = insnScratch.take(prog.instructions.length);
      insns.set(prog.instructions);
      return { insns: new Insns(insns), poisoned: '' };
    }
    const local = this.spec.btf;
    if (!local) throw new ProgramError('RelocationError', `program ${prog.name} has CO-RE relocations but the object has no BTF`, { program: prog.name });
    const target = this.#settings.btf ?? this.#kernel.btf;
    const { instructions, results } = applyCoreRelocations(prog.instructions, prog.coreRelos, local, target, { candidateCache: (this.#coreCache ??= new Map()) });
    const bad = results.filter((r) => !r.ok);
    if (bad.length > 0) {
      throw new ProgramError('RelocationError', `program ${prog.name}: CO-RE relocation failed:\n${formatCoreResults(bad)}`, { program: prog.name });
    }
    return { insns: new Insns(instructions), poisoned: formatCoreResults(results.filter((r) => r.poisoned)) };
  }

  /** Points an instruction that uses an extern at what the kernel has, or fails naming it. */
  #resolveExtern(prog: ProgramSpec, plan: ProgramPlan, i: number, name: string, call: boolean): void {
    const insns = plan.insns;
    const weak = this.spec.externs.get(name)?.weak ?? false;
    const kc = this.#kconfigLayout().offsets.get(name);
    if (kc && !call) {
      insns.setSrc(i, PseudoSrc.MapValue);
      insns.setImm(i + 1, kc.offset);
      plan.mapFds.push({ insn: i, map: '.kconfig' });
      return;
    }
    const decl = this.spec.ksyms.get(name);
    const missing = (why: string): void => {
      if (!weak) throw new ProgramError('UnresolvedExtern', `program ${prog.name}: ${why}`, { program: prog.name });
      if (call) {
        insns.setSrc(i, 0);
        insns.setImm(i, POISONED_KFUNC);
      } else {
        setImm64(insns, i, 0n);
      }
    };
    if (!decl) {
      const hint = this.spec.constantExterns.includes(name) ? ' (a constant: give its value with EbpfLoader.setExtern)' : '';
      missing(`${call ? 'call to' : 'use of'} ${name}, which the object does not define and does not declare __ksym or __kconfig${hint}`);
      return;
    }
    if (decl.typeless) {
      const address = this.#kernel.symbolAddress(name);
      if (address === undefined) return missing(`__ksym ${name} is not in /proc/kallsyms`);
      setImm64(insns, i, address);
      return;
    }
    const kind = decl.func ? 'func' : 'var';
    let found = this.#kernel.btf.byName(name, kind)[0];
    let module: string | undefined;
    if (!found) {
      // Not in vmlinux: a loaded module's BTF (its own types only, not the vmlinux base).
      const inModule = this.#inModules((b) => b.byName(name, kind).find((t) => t.id >= b.firstId));
      if (inModule) {
        found = inModule.found;
        module = inModule.module.name;
      }
    }
    if (!found) {
      const where = `in neither vmlinux BTF nor the BTF of a loaded kernel module (modules with BTF: ${this.#moduleNames()})`;
      if (decl.func && !weak) {
        // The kernel lacks the function: most often the module that defines it is not loaded.
        throw new ProgramError('NotSupported', `program ${prog.name}: kfunc ${name} is ${where}; load the kernel module that provides it`, { program: prog.name });
      }
      return missing(`${decl.func ? 'kfunc' : '__ksym'} ${name} is ${where}`);
    }
    if (call) {
      insns.setSrc(i, PseudoCall.KfuncCall);
      insns.setImm(i, found.id);
      insns.setOff(i, 0);
    } else {
      insns.setSrc(i, PseudoSrc.BtfId);
      insns.setImm(i, found.id);
      insns.setImm(i + 1, 0);
    }
    if (module) plan.moduleFds.push({ insn: i, module, call });
  }

  /** A struct_ops program names the kernel struct (attach_btf_id) and the member it implements (expected_attach_type = member index). */
  #structOpsAttach(prog: ProgramSpec): { attachBtfId: number; expectedAttachType: number } | undefined {
    if (prog.type !== ProgramType.StructOps) return undefined;
    const use = this.structOpsUse(prog);
    const target = use && this.#structOpsTargets.get(use.def.name);
    if (!use || !target) throw new ProgramError('RelocationError', `struct_ops program ${prog.name} is not a member of any struct_ops map of the object`, { program: prog.name });
    try {
      const { index } = structOpsMember(this.spec.btf!, use.def.btfValueTypeId!, use.offset, target);
      return { attachBtfId: target.struct.id, expectedAttachType: index };
    } catch (err) {
      throw new ProgramError('RelocationError', `program ${prog.name}: ${(err as Error).message}`, { program: prog.name, cause: err });
    }
  }

  /**
   * Tracing programs (fentry, fexit, fmod_ret, lsm, tp_btf, iter) name their kernel
   * target by BTF id: in vmlinux, or in a module's BTF (attach_btf_obj_fd).
   */
  #attachTarget(prog: ProgramSpec): { id: number; module?: string } | undefined {
    const target = prog.target;
    if (!target || target.type !== 'btf' || prog.kind === 'Extension') return undefined;
    if (target.module) {
      const module = this.#kernel.modules.find((m) => m.name === target.module);
      if (!module) {
        throw new ProgramError('NotSupported', `program ${prog.name}: kernel module ${target.module} is not loaded (no BTF at /sys/kernel/btf/${target.module}; modules with BTF: ${this.#moduleNames()})`, { program: prog.name });
      }
      const found = module.btf.byName(target.btfName, target.btfKind).find((t) => t.id >= module.btf.firstId);
      if (!found) throw new ProgramError('UnknownKernelFunction', `program ${prog.name}: module ${target.module} has no ${target.btfKind} ${target.btfName} to attach to`, { program: prog.name });
      return { id: found.id, module: module.name };
    }
    return { id: kernelBtfTarget(this.#kernel.btf, target.btfName, target.btfKind, prog.name) };
  }

  /** The first module whose BTF `find` answers for, with the answer. */
  #inModules<T>(find: (btf: Btf) => T | undefined): { module: KernelModule; found: T } | undefined {
    for (const module of this.#kernel.modules) {
      const found = find(module.btf);
      if (found !== undefined) return { module, found };
    }
    return undefined;
  }

  /** The names of the loaded modules with BTF, for messages. */
  #moduleNames(): string {
    const names = this.#kernel.modules.map((m) => m.name);
    return names.length ? names.join(', ') : 'none loaded';
  }
}

/**
 * setValueSize(name): MapError 'InvalidArgument' when the object has no such map or its
 * type fixes the value size (rings, perf event arrays, maps of maps, fd-valued maps,
 * struct_ops); 'NotSupported' for a data section (.bss, .data, .rodata: libbpf resizes
 * the section and its last variable with it; tsbpf does not).
 */
function checkResizable(spec: ObjectSpec, name: string): void {
  const def = spec.maps.get(name);
  if (!def) throw new MapError('InvalidArgument', `setValueSize: the object has no map named ${name} (maps: ${[...spec.maps.keys()].join(', ')})`);
  if (def.data !== undefined) {
    throw new MapError('NotSupported', `setValueSize(${name}): resizing a global data section is not supported (its variables' offsets come from BTF); only maps declared in .maps can be resized`);
  }
  const fixed = mapTypeInfo(def.type)?.valueSizes;
  if (fixed || def.type === MapType.StructOps) {
    throw new MapError('InvalidArgument', `setValueSize(${name}): a ${mapTypeName(def.type)} has a value size fixed by the kernel${fixed ? ` (${fixed.join(' or ')})` : ''}`);
  }
}

/** An ld_imm64 of constant `value` (src 0). */
function setImm64(insns: Insns, i: number, value: bigint): void {
  insns.setSrc(i, 0);
  insns.setImm(i, Number(BigInt.asIntN(32, value)));
  insns.setImm(i + 1, Number(BigInt.asIntN(32, value >> 32n)));
}

/** Kernel object names: at most 15 characters of [A-Za-z0-9_.]. */
export function objectName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 15);
}

/**
 * A buffer reused load after load: BPF_PROG_LOAD copies the instructions, func info and
 * line info in, so they need no allocation of their own (a typed array over 64 bytes
 * costs a backing store and the collector's attention).
 */
export class Scratch {
  #buf = new Uint8Array(4096);
  #view = new DataView(this.#buf.buffer);

  /** n bytes (contents undefined); `view` is over them. Past 1 MiB, a buffer of their own, not kept. */
  take(n: number): Uint8Array {
    if (n > this.#buf.length) {
      const buf = new Uint8Array(Math.max(n, Math.min(this.#buf.length * 2, SCRATCH_KEEP)));
      this.#view = new DataView(buf.buffer);
      if (buf.length > SCRATCH_KEEP) return buf;
      this.#buf = buf;
    } else if (this.#view.buffer !== this.#buf.buffer) {
      this.#view = new DataView(this.#buf.buffer);
    }
    return this.#buf.subarray(0, n);
  }

  get view(): DataView {
    return this.#view;
  }
}

const SCRATCH_KEEP = 1 << 20;

const insnScratch = new Scratch();
const funcInfoScratch = new Scratch();
const lineInfoScratch = new Scratch();

/** struct bpf_func_info records of `prog` (in a reused buffer), or undefined when it has none. */
export function encodeFuncInfo(prog: ProgramSpec): Uint8Array | undefined {
  if (prog.funcInfos.length === 0) return undefined;
  const infos = prog.funcInfos;
  const out = funcInfoScratch.take(infos.length * 8);
  const v = funcInfoScratch.view;
  for (let i = 0; i < infos.length; i++) {
    v.setUint32(i * 8, infos[i]!.insnOff, true);
    v.setUint32(i * 8 + 4, infos[i]!.typeId, true);
  }
  return out;
}

/** struct bpf_line_info records of `prog` (in a reused buffer), with string offsets into the uploaded BTF. */
export function encodeLineInfo(prog: ProgramSpec, offsetOf: (s: string) => number): Uint8Array | undefined {
  if (prog.lineInfos.length === 0) return undefined;
  const lines = prog.lineInfos;
  const out = lineInfoScratch.take(lines.length * 16);
  const v = lineInfoScratch.view;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    v.setUint32(i * 16, l.insnOff, true);
    v.setUint32(i * 16 + 4, offsetOf(l.fileName), true);
    v.setUint32(i * 16 + 8, offsetOf(l.lineText), true);
    v.setUint32(i * 16 + 12, ((l.line & 0x3fffff) << 10) | (l.column & 0x3ff), true);
  }
  return out;
}
