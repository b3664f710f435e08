// Ebpf and EbpfLoader: turn an ObjectSpec into live maps and programs. Every step
// works on copies of the spec (kernel fix-ups never change it), and a failure closes
// everything made so far.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MapError, ParseError, PinError, ProgramError } from './errors.js';
import { describeValue } from './describe.js';
import { MapData, type MapSpec } from './maps/map-data.js';
import { MapType } from './maps/map-type.js';
import { BPF_F_LINK, findStructOpsTarget, structOpsMember, structOpsValue, StructOpsMap, type StructOpsTarget } from './maps/struct-ops.js';
import { LinkType } from './programs/link.js';
import { Btf } from './obj/btf.js';
import { Insns, PseudoCall, PseudoSrc } from './obj/insn.js';
import { ObjectSpec, Pinning, type MapDefinition, type ProgramSpec } from './obj/spec.js';
import { Program } from './programs/program.js';
import { programClasses } from './programs/kinds.js';
import type { ProgramKind } from './programs/program-type.js';
import type { ProgramLoadTarget } from './programs/program.js';
import { kernelBtfTarget } from './programs/tracing-attach.js';
import { summariseVerifierLog, verifierMessage } from './programs/verifier-log.js';
import { btfLoad, progLoad, progLoadLogTrueSize, type ProgLoadAttr } from './sys/bpf.js';
import { Errno, SyscallError } from './sys/errors.js';
import { possibleCpus } from './sys/cpus.js';
import { kernel } from './sys/native.js';
import { kconfigLayout, kconfigValue, kernelRelease, kernelSymbolAddress, resolveKernelSymbols } from './externs.js';
import { loadKernelBtf } from './obj/btf.js';
import { applyCoreRelocations, formatCoreResults } from './obj/core.js';
import { findInModules, moduleBtfs, moduleNames, type ModuleBtf } from './obj/module-btf.js';
import { isLinkTypeSupported, isRefusal, programCapabilities, refusedProgramFeature } from './features.js';
import { MAX_OBJECT_FILE, readRegularFile } from './file.js';
import { encodeGlobal, type GlobalValue } from './global-value.js';

const BPF_F_SLEEPABLE = 1 << 4;
const STRUCT_OPS_PROG = 27; // BPF_PROG_TYPE_STRUCT_OPS
const BPF_F_XDP_HAS_FRAGS = 1 << 5;
const PAGE_SIZE = 4096;
/** Key 0 of the single-element global data maps (the kernel only reads it). */
const KEY_ZERO = new Uint8Array(4);
const LOG_START = 1 << 16;
const LOG_MAX = 1 << 28;

export interface GlobalOptions {
  /** Throw when the object has no such global (default true). */
  mustExist?: boolean;
}


/** Builder for Ebpf.load with options (aya's EbpfLoader). */
export class EbpfLoader {
  readonly #globals = new Map<string, { value: GlobalValue; mustExist: boolean }>();
  readonly #maxEntries = new Map<string, number>();
  readonly #replaced = new Map<string, MapData>();
  readonly #autoload = new Map<string, { load: boolean; mustExist: boolean }>();
  readonly #externs = new Map<string, bigint>();
  #pinPath?: string;
  #btf?: Btf;
  #logLevel = 0;

  /**
   * Sets the initial value of global `name` (.data, .rodata, .bss), checked at load
   * against the variable's BTF type: true/false for bool; a number (or bigint) for an
   * integer or enum, in its range; a string for a char array (with room for its NUL);
   * an array for an array of scalars; bytes (any typed array) of its exact size for
   * anything. MapError 'InvalidArgument' or 'InvalidValueSize' otherwise.
   */
  setGlobal(name: string, value: GlobalValue, options: GlobalOptions = {}): this {
    const mapArg = (why: string) => new MapError('InvalidArgument', `setGlobal: ${why}`);
    if (typeof name !== 'string') throw mapArg(`the global's name must be a string, got ${describeValue(name)}`);
    if (typeof options !== 'object' || options === null) throw mapArg(`options must be an object, got ${describeValue(options)}`);
    if (options.mustExist !== undefined && typeof options.mustExist !== 'boolean') throw mapArg(`mustExist must be true or false, got ${describeValue(options.mustExist)}`);
    this.#globals.set(name, { value, mustExist: options.mustExist ?? true });
    return this;
  }

  /**
   * The value of extern `name` that the kernel cannot supply: an undefined symbol the
   * object uses as a 64-bit immediate with no __kconfig or __ksym declaration (an
   * inline-asm `r0 = MY_CONST ll`; ObjectSpec.constantExterns lists them).
   */
  setExtern(name: string, value: number | bigint): this {
    const invalid = (why: string) => new ProgramError('InvalidArgument', `setExtern: ${why}`);
    if (typeof name !== 'string') throw invalid(`the extern's name must be a string, got ${describeValue(name)}`);
    const fits = typeof value === 'bigint' ? value >= -(1n << 63n) && value < 1n << 64n : typeof value === 'number' && Number.isSafeInteger(value);
    if (!fits) throw invalid(`${name}: the value must be an integer of 64 bits (a safe integer number or a bigint), got ${describeValue(value)}`);
    this.#externs.set(name, BigInt.asUintN(64, BigInt(value)));
    return this;
  }

  /** max_entries of map `mapName`, instead of what the object declares. */
  setMaxEntries(mapName: string, n: number): this {
    if (typeof mapName !== 'string') throw new MapError('InvalidArgument', `setMaxEntries: the map name must be a string, got ${describeValue(mapName)}`);
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffff_ffff) throw new MapError('InvalidArgument', `setMaxEntries(${mapName}): an integer in [0, 2^32) is needed, got ${describeValue(n)}`);
    this.#maxEntries.set(mapName, n);
    return this;
  }

  /** Directory for maps declared with LIBBPF_PIN_BY_NAME (default /sys/fs/bpf). */
  mapPinPath(dir: string): this {
    if (typeof dir !== 'string' || dir === '' || dir.includes('\0')) throw new PinError('InvalidPinPath', typeof dir === 'string' ? dir : describeValue(dir), `mapPinPath: a directory path is needed, got ${describeValue(dir)}`);
    this.#pinPath = dir;
    return this;
  }

  /** Uses `map` instead of creating the object's map `name` (the caller keeps owning it). */
  replaceMap(name: string, map: MapData): this {
    if (typeof name !== 'string') throw new MapError('InvalidArgument', `replaceMap: the map name must be a string, got ${describeValue(name)}`);
    if (!(map instanceof MapData)) throw new MapError('InvalidArgument', `replaceMap(${name}): a MapData is needed, got ${describeValue(map)}`);
    this.#replaced.set(name, map);
    return this;
  }

  /** The BTF to resolve CO-RE relocations against (default: the running kernel's). */
  btf(btf: Btf): this {
    if (!(btf instanceof Btf)) throw new ProgramError('InvalidArgument', `btf: a Btf (Btf.parse, loadKernelBtf) is needed, got ${describeValue(btf)}`);
    this.#btf = btf;
    return this;
  }

  /** Verifier log level for every load (1 or 2, plus 4 for statistics); the log is always fetched when a load fails. */
  verifierLogLevel(level: number): this {
    if (typeof level !== 'number' || !Number.isInteger(level) || level < 0 || level > 7) throw new ProgramError('InvalidArgument', `verifierLogLevel: 0 to 7 (BPF_LOG_LEVEL1 1, BPF_LOG_LEVEL2 2, BPF_LOG_STATS 4), got ${describeValue(level)}`);
    this.#logLevel = level;
    return this;
  }

  /**
   * Whether Ebpf.load loads program `name` (libbpf's bpf_program__set_autoload): true
   * loads a SEC("?...") program, which is not loaded by default; false leaves any
   * program unloaded, for `ebpf.program(name).load()` later. ProgramError
   * 'InvalidArgument' at load when the object has no such program.
   */
  setAutoload(name: string, autoload: boolean): this {
    if (typeof name !== 'string') throw new ProgramError('InvalidArgument', `setAutoload: the program name must be a string, got ${describeValue(name)}`);
    if (typeof autoload !== 'boolean') throw new ProgramError('InvalidArgument', `setAutoload(${name}): autoload must be true or false, got ${describeValue(autoload)}`, { program: name });
    this.#autoload.set(name, { load: autoload, mustExist: true });
    return this;
  }

  /** setAutoload(name, false), except that a name the object does not have is ignored. */
  deferProgram(name: string): this {
    if (typeof name !== 'string') throw new ProgramError('InvalidArgument', `deferProgram: the program name must be a string, got ${describeValue(name)}`);
    this.#autoload.set(name, { load: false, mustExist: false });
    return this;
  }

  /** Parses, creates the maps, relocates and loads the programs. */
  load(bytesOrPath: Uint8Array | string): Ebpf {
    if (typeof bytesOrPath !== 'string' && !(bytesOrPath instanceof Uint8Array)) throw new ParseError('InvalidArgument', `Ebpf.load takes the bytes of an object file or its path, got ${describeValue(bytesOrPath)}`);
    const bytes = typeof bytesOrPath === 'string' ? readRegularFile(bytesOrPath, 'a BPF object file', MAX_OBJECT_FILE) : bytesOrPath;
    const spec = ObjectSpec.parse(bytes);
    return Ebpf.fromSpec(spec, {
      globals: this.#globals,
      externs: this.#externs,
      maxEntries: this.#maxEntries,
      replaced: this.#replaced,
      autoload: this.#autoload,
      pinPath: this.#pinPath ?? '/sys/fs/bpf',
      btf: this.#btf,
      logLevel: this.#logLevel,
    });
  }
}

interface LoadSettings {
  globals: Map<string, { value: GlobalValue; mustExist: boolean }>;
  externs: Map<string, bigint>;
  maxEntries: Map<string, number>;
  replaced: Map<string, MapData>;
  autoload: Map<string, { load: boolean; mustExist: boolean }>;
  pinPath: string;
  btf?: Btf;
  logLevel: number;
}

/** A loaded object: its maps and programs, owned until close() (or taken). */
export class Ebpf implements Disposable {
  readonly spec: ObjectSpec;
  readonly #maps = new Map<string, MapData>();
  readonly #programs = new Map<string, Program>();
  readonly #borrowed = new Set<MapData>();
  readonly #structOps = new Map<string, StructOpsMap>();
  readonly #structOpsTargets = new Map<string, StructOpsTarget>();
  /** fds of kernel modules' BTF objects the programs refer to, by module name. */
  readonly #moduleFds = new Map<string, number>();
  #btfFd = -1;
  /** Pins made by this load (LIBBPF_PIN_BY_NAME maps that were not pinned yet): removed if the load fails. */
  readonly #pinnedHere: string[] = [];

  private constructor(spec: ObjectSpec) {
    this.spec = spec;
  }

  /** Loads an object: bytes, or the path of a .o file. */
  static load(bytesOrPath: Uint8Array | string): Ebpf {
    return (defaultLoader ??= new EbpfLoader()).load(bytesOrPath);
  }

  /** @internal */
  static fromSpec(spec: ObjectSpec, settings: LoadSettings): Ebpf {
    const ebpf = new Ebpf(spec);
    try {
      ebpf.#load(settings);
    } catch (err) {
      // All or nothing: the pins this load made go too (as libbpf unpins on a failed load).
      for (const path of ebpf.#pinnedHere) rmSync(path, { force: true });
      try {
        ebpf.close();
      } catch {
        // the load's own error is the one to report
      }
      throw err;
    }
    return ebpf;
  }

  /** The map `name`; the Ebpf keeps owning it (a view). */
  map(name: string): MapData {
    const m = this.#maps.get(name);
    if (!m) throw new MapError('InvalidArgument', `no map named ${describeName(name)} (maps: ${[...this.#maps.keys()].join(', ')})`);
    return m;
  }

  /** Moves map `name` out: the caller owns (and closes) it. */
  takeMap(name: string): MapData {
    const m = this.map(name);
    this.#maps.delete(name);
    return m;
  }

  maps(): IterableIterator<[string, MapData]> {
    return this.#maps.entries();
  }

  program(name: string): Program {
    const p = this.#programs.get(name);
    if (!p) throw new ProgramError('NotLoaded', `no program named ${describeName(name)} (programs: ${[...this.#programs.keys()].join(', ')})`, { program: describeName(name) });
    return p;
  }

  programs(): IterableIterator<[string, Program]> {
    return this.#programs.entries();
  }

  /** The struct_ops map `name` (a view: the Ebpf owns it, and unregisters it on close). */
  structOps(name: string): StructOpsMap {
    const s = this.#structOps.get(name);
    if (!s) throw new MapError('InvalidArgument', `no struct_ops map named ${describeName(name)} (struct_ops maps: ${[...this.#structOps.keys()].join(', ')})`);
    return s;
  }

  /**
   * Closes every map and program still owned, and the object's BTF. A struct_ops map the
   * kernel refuses to unregister stays registered (the registration holds the map): the
   * rest is closed all the same, then MapError says which.
   */
  close(): void {
    // A registration holds its own reference to the map: closing the fd would leave it registered.
    let stuck: MapError | undefined;
    for (const s of this.#structOps.values()) {
      try {
        if (this.#maps.get(s.name) === s.map) s.unregister();
      } catch (err) {
        stuck ??= err instanceof MapError && err.cause
          ? new MapError('SyscallError', `struct_ops map ${s.name} stays registered: ${err.message}`, { cause: err.cause })
          : (err as MapError);
      }
    }
    this.#structOps.clear();
    for (const p of this.#programs.values()) p.close();
    this.#programs.clear();
    for (const m of this.#maps.values()) if (!this.#borrowed.has(m)) m.close();
    this.#maps.clear();
    if (this.#btfFd >= 0) kernel.close(this.#btfFd);
    this.#btfFd = -1;
    for (const fd of this.#moduleFds.values()) kernel.close(fd);
    this.#moduleFds.clear();
    if (stuck) throw stuck;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  // ---- loading -----------------------------------------------------------------------

  #load(settings: LoadSettings): void {
    raiseMemlockIfCharged();
    const spec = this.spec;
    for (const [name, { value, mustExist }] of settings.globals) {
      const variable = spec.variables.get(name);
      if (variable) this.#initialValues.set(name, encodeGlobal(variable, value, spec.btf));
      else if (mustExist) throw new MapError('InvalidArgument', `setGlobal: the object has no global named ${name}`);
    }
    for (const [name, { mustExist }] of settings.autoload) {
      if (mustExist && !spec.programs.has(name)) throw new ProgramError('InvalidArgument', `setAutoload: the object has no program named ${name} (programs: ${[...spec.programs.keys()].join(', ')})`, { program: name });
    }
    const constants = spec.constantExterns;
    for (const name of settings.externs.keys()) {
      if (!constants.includes(name)) throw new ProgramError('UnresolvedExtern', `setExtern(${name}): the object has no extern ${name} that takes a value (those it has: ${constants.join(', ') || 'none'})`);
    }
    // Typeless __ksym addresses: one read of /proc/kallsyms for all of them.
    resolveKernelSymbols([...spec.ksyms].filter(([, d]) => d.typeless).map(([n]) => n));
    const lines = this.#loadBtf();
    for (const def of spec.maps.values()) this.#createMap(def, settings);
    this.#createKconfig();
    for (const prog of spec.programs.values()) {
      if (prog.kind === 'Unknown') continue;
      const Kind = programClasses[prog.kind as ProgramKind] ?? Program;
      const autoload = settings.autoload.get(prog.name)?.load ?? prog.autoload;
      const program = new Kind({ ...prog, autoload }, (against) => this.#loadProgram(prog, settings, lines, against));
      this.#programs.set(prog.name, program);
      // As libbpf: a struct_ops program no struct_ops map uses is not loaded. freplace
      // needs its target program: Extension.load({ target, function }) loads it.
      const unused = (prog.type === STRUCT_OPS_PROG && !this.#structOpsUse(prog)) || prog.kind === 'Extension';
      if (autoload && !unused) program.load();
    }
    for (const def of spec.maps.values()) this.#initialise(def);
  }

  /** Uploads the object's BTF (with the strings line info needs); without it maps and programs load plainly. */
  #loadBtf(): ((s: string) => number) | undefined {
    const btf = this.spec.btf;
    if (!btf) return undefined;
    let upload = btf.wire();
    if (!upload) {
      const strings = new Set<string>();
      for (const p of this.spec.programs.values()) for (const l of p.lineInfos) strings.add(l.fileName).add(l.lineText);
      upload = btf.marshalWithStrings(strings);
    }
    const { bytes, offsetOf } = upload;
    // Without a log first (the kernel formats a line per type into it); the log only
    // matters when the upload fails, and then libbpf goes on without BTF too.
    try {
      this.#btfFd = btfLoad(bytes);
      return offsetOf;
    } catch (err) {
      if (err instanceof SyscallError) return undefined;
      throw err;
    }
  }

  #mapSpec(def: MapDefinition, settings: LoadSettings, withBtf: boolean): MapSpec {
    let { type, keySize, valueSize, maxEntries } = def;
    maxEntries = settings.maxEntries.get(def.name) ?? maxEntries;
    if (type === MapType.PerfEventArray) {
      keySize = 4;
      valueSize = 4;
      if (maxEntries === 0) maxEntries = possibleCpus();
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
    const btf = withBtf && !ring && this.#btfFd >= 0 && def.btfValueTypeId ? { fd: this.#btfFd, keyTypeId: def.btfKeyTypeId, valueTypeId: def.btfValueTypeId } : undefined;
    return {
      type,
      keySize,
      valueSize,
      maxEntries,
      flags: def.flags,
      name: mapName(def.name),
      numaNode: def.numaNode || undefined,
      mapExtra: def.mapExtra || undefined,
      btf,
    };
  }

  #createMap(def: MapDefinition, settings: LoadSettings): void {
    const replaced = settings.replaced.get(def.name);
    if (replaced) {
      this.#maps.set(def.name, replaced);
      this.#borrowed.add(replaced);
      return;
    }
    if (def.type === MapType.StructOps) {
      this.#createStructOps(def);
      return;
    }
    const pinPath = def.pinning === Pinning.ByName ? join(settings.pinPath, def.name) : undefined;
    if (pinPath && existsSync(pinPath)) {
      const pinned = MapData.fromPin(pinPath);
      // Owned by this Ebpf from here on, so a failed check below closes it with the rest.
      this.#maps.set(def.name, pinned);
      const want = this.#mapSpec(def, settings, false);
      const info = pinned.info();
      const mismatch = (['type', 'keySize', 'valueSize', 'maxEntries'] as const).find((k) => info[k] !== want[k]);
      if (mismatch) {
        throw new MapError('CreateError', `map ${def.name}: the map pinned at ${pinPath} differs in ${mismatch} (${info[mismatch]}, the object wants ${want[mismatch]})`);
      }
      return;
    }
    let inner: MapData | undefined;
    if (def.inner) inner = this.#create(def.inner, settings);
    try {
      const spec = this.#mapSpec(def, settings, true);
      if (inner) spec.innerMap = inner;
      const map = this.#createWithBtfFallback(spec);
      this.#maps.set(def.name, map);
      if (def.data) this.#fillData(def, map);
      if (pinPath) {
        map.pin(pinPath);
        this.#pinnedHere.push(pinPath);
      }
    } finally {
      inner?.close();
    }
  }

  /** A struct_ops map holds the kernel's value type, named by its vmlinux BTF id (the object's BTF must be loaded too). */
  #createStructOps(def: MapDefinition): void {
    const typeName = def.structOps?.typeName ?? '';
    const target = findStructOpsTarget(typeName, loadKernelBtf());
    if (!target) {
      const inModule = findInModules((b) => findStructOpsTarget(typeName, b));
      if (inModule) {
        // Needs value_type_btf_obj_fd and BPF_F_VTYPE_BTF_OBJ_FD (6.9+) at map creation.
        throw new MapError('NotSupported', `struct_ops map ${def.name}: struct ${typeName} is defined by kernel module ${inModule.module.name}; struct_ops of modules are not supported yet`);
      }
      throw new MapError('NotSupported', `struct_ops map ${def.name}: this kernel has no struct ${typeName} to implement (no bpf_struct_ops_${typeName} in vmlinux BTF or the BTF of a loaded kernel module; modules with BTF: ${moduleNames()})`);
    }
    if (this.#btfFd < 0) throw new MapError('InvalidArgument', `struct_ops map ${def.name}: the kernel needs the object's BTF, which was not loaded`);
    this.#structOpsTargets.set(def.name, target);
    let map: MapData;
    try {
      map = MapData.create({
        type: MapType.StructOps,
        keySize: 4,
        valueSize: target.valueType.size,
        maxEntries: 1,
        flags: def.flags,
        name: mapName(def.name),
        btf: { fd: this.#btfFd },
        btfVmlinuxValueTypeId: target.valueType.id,
      });
    } catch (err) {
      // BPF_F_LINK is refused (EINVAL) by kernels without struct_ops links (before 6.4).
      if (err instanceof MapError && err.kind === 'CreateError' && (def.flags & BPF_F_LINK) !== 0 && !isLinkTypeSupported(LinkType.StructOps)) {
        throw new MapError('NotSupported', `struct_ops map ${def.name}: .struct_ops.link needs struct_ops links, which this kernel lacks (${err.code})`, { feature: 'BPF_LINK_TYPE_STRUCT_OPS', cause: err.cause });
      }
      throw err;
    }
    this.#maps.set(def.name, map);
  }

  /** The struct_ops map and member that use program `prog`, if any. */
  #structOpsUse(prog: ProgramSpec): { def: MapDefinition; offset: number } | undefined {
    for (const def of this.spec.maps.values()) {
      const use = def.structOps?.programs.find((p) => p.program === prog.name);
      if (use) return { def, offset: use.offset };
    }
    return undefined;
  }

  #create(def: MapDefinition, settings: LoadSettings): MapData {
    return this.#createWithBtfFallback(this.#mapSpec(def, settings, true));
  }

  /** Creates with BTF; where the kernel refuses BTF for the map type (EINVAL, ENOTSUPP), without, as libbpf does. */
  #createWithBtfFallback(spec: MapSpec): MapData {
    try {
      return MapData.create(spec);
    } catch (err) {
      if (!spec.btf || !(err instanceof MapError) || (err.errno !== Errno.EINVAL && err.errno !== 524)) throw err;
      return MapData.create({ ...spec, btf: undefined });
    }
  }

  /** Writes a data section's initial bytes (with setGlobal values) and freezes .rodata. */
  #fillData(def: MapDefinition, map: MapData): void {
    // The section's bytes as they are, or a copy with the setGlobal values in it.
    let value = def.data!;
    for (const [name, bytes] of this.#initialValues) {
      const variable = this.spec.variables.get(name)!;
      if (variable.map !== def.name) continue;
      if (value === def.data) value = value.slice();
      value.set(bytes, variable.offset);
    }
    map.update(KEY_ZERO, value);
    if (def.readOnly) map.freeze();
  }

  /** setGlobal values as bytes, checked before anything is made. */
  readonly #initialValues = new Map<string, Uint8Array>();

  #coreCache?: Map<number, number[]>;

  /** CO-RE: rewrites field offsets, sizes, existence, enum values... for the target kernel. */
  #relocate(prog: ProgramSpec, settings: LoadSettings): { insns: Insns; poisoned: string } {
    if (prog.coreRelos.length === 0) {
      const insns = insnScratch.take(prog.instructions.length);
      insns.set(prog.instructions);
      return { insns: new Insns(insns), poisoned: '' };
    }
    const local = this.spec.btf;
    if (!local) throw new ProgramError('RelocationError', `program ${prog.name} has CO-RE relocations but the object has no BTF`, { program: prog.name });
    const target = settings.btf ?? loadKernelBtf();
    const { instructions, results } = applyCoreRelocations(prog.instructions, prog.coreRelos, local, target, { candidateCache: (this.#coreCache ??= new Map()) });
    const bad = results.filter((r) => !r.ok);
    if (bad.length > 0) {
      throw new ProgramError('RelocationError', `program ${prog.name}: CO-RE relocation failed:\n${formatCoreResults(bad)}`, { program: prog.name });
    }
    return { insns: new Insns(instructions), poisoned: formatCoreResults(results.filter((r) => r.poisoned)) };
  }

  #loadProgram(prog: ProgramSpec, settings: LoadSettings, lines: ((s: string) => number) | undefined, against?: ProgramLoadTarget): number {
    const { insns, poisoned } = this.#relocate(prog, settings);
    const fdArray: number[] = [];
    for (const ref of prog.references) {
      if (ref.kind === 'extern') {
        const value = ref.call ? undefined : settings.externs.get(ref.name);
        if (value === undefined) this.#resolveExtern(prog, insns, ref.insn, ref.name, ref.call, fdArray);
        else {
          insns.setSrc(ref.insn, 0);
          insns.setImm(ref.insn, Number(BigInt.asIntN(32, value)));
          insns.setImm(ref.insn + 1, Number(BigInt.asIntN(32, value >> 32n)));
        }
        continue;
      }
      const map = this.#maps.get(ref.map);
      if (!map) throw new ProgramError('RelocationError', `program ${prog.name} refers to map ${ref.map}, which was not created`, { program: prog.name });
      if (!insns.isLdImm64(ref.insn)) throw new ProgramError('RelocationError', `program ${prog.name}: instruction ${ref.insn} is not ld_imm64`, { program: prog.name });
      insns.setSrc(ref.insn, ref.kind === 'map' ? PseudoSrc.MapFd : PseudoSrc.MapValue);
      insns.setImm(ref.insn, map.fd);
      insns.setImm(ref.insn + 1, ref.kind === 'data' ? ref.offset : 0);
    }
    const withBtf = this.#btfFd >= 0 && lines !== undefined;
    const funcInfo = withBtf ? encodeFuncInfo(prog) : undefined;
    const lineInfo = withBtf ? encodeLineInfo(prog, lines!) : undefined;
    let flags = 0;
    if (prog.sleepable) flags |= BPF_F_SLEEPABLE;
    if (prog.section.replace(/^\?/, '').startsWith('xdp.frags')) flags |= BPF_F_XDP_HAS_FRAGS;
    const ops = this.#structOpsAttach(prog);
    // freplace: a function of another program (Extension.load; attach_prog_fd shares the
    // field with attach_btf_obj_fd); else a kernel target.
    const target = ops ? undefined : against ? { id: against.btfId, btfObjFd: against.progFd } : this.#attachTarget(prog);
    const attr: ProgLoadAttr = {
      attachBtfId: ops?.attachBtfId ?? target?.id ?? 0,
      attachProgFd: target?.btfObjFd,
      fdArray: fdArray.length ? Int32Array.from(fdArray) : undefined,
      progType: prog.type,
      insns: insns.bytes,
      license: prog.license || 'GPL',
      progName: mapName(prog.name),
      progFlags: flags,
      expectedAttachType: ops?.expectedAttachType ?? prog.expectedAttachType,
      progBtfFd: withBtf ? this.#btfFd : 0,
      kernVersion: prog.kernelVersion,
      funcInfo,
      lineInfo,
      logBuf: undefined,
      logLevel: settings.logLevel || 1,
    };
    // First without a log (fast); on failure again with a log that grows until it fits
    // (to the size the kernel says it needs, 6.4+, else fourfold).
    let logSize = settings.logLevel ? LOG_START : 0;
    for (;;) {
      const logBuf = logSize ? logScratch.take(logSize) : undefined;
      // The buffer is reused: a load that writes no log must not show the last one.
      if (logBuf) logBuf[0] = 0;
      attr.logBuf = logBuf;
      try {
        return progLoad(attr);
      } catch (err) {
        if (!(err instanceof SyscallError)) throw err;
        if (logSize === 0) {
          logSize = LOG_START;
          continue;
        }
        if (err.errno === Errno.ENOSPC && logSize < LOG_MAX) {
          const needed = progLoadLogTrueSize();
          logSize = Math.min(LOG_MAX, needed > logSize ? needed : logSize * 4);
          continue;
        }
        const log = logBuf ? new TextDecoder().decode(logBuf.subarray(0, Math.max(0, logBuf.indexOf(0)))) : '';
        // Refused (EPERM with every capability the type needs, EINVAL, ...): when a minimal
        // program of the kind is refused too, the kernel lacks or forbids the kind itself.
        if (isRefusal(err.errno, programCapabilities(prog.type))) {
          // expected_attach_type 0 is "none" here (cgroup_skb's ingress: the same load).
          const target = prog.target?.type === 'btf' && !prog.target.module && prog.kind !== 'Extension' ? prog.target.btfName : undefined;
          const feature = refusedProgramFeature(prog.type, prog.expectedAttachType || undefined, target);
          if (feature) {
            throw new ProgramError('NotSupported', `cannot load program ${prog.name} (${prog.section}): this kernel refuses ${feature} programs (${err.code}, as for a minimal program of the kind)`, {
              program: prog.name,
              feature,
              cause: err,
            });
          }
        }
        const what = `cannot load program ${prog.name} (${prog.section})`;
        const summary = summariseVerifierLog(log);
        let message = summary ? verifierMessage(what, summary, err.code, err.errno === Errno.ENOSPC) : `${what}: ${err.message}${log.trim() ? ` (the verifier's log gives no reason, only statistics: see verifierLog)` : ' (the kernel wrote no verifier log)'}`;
        // A poisoned CO-RE relocation that is reached shows as a call to unknown#195896080.
        if (poisoned && log.includes('195896080')) message += `\nunsatisfied CO-RE relocations:\n${capLines(poisoned, 10)}`;
        throw new ProgramError('LoadError', message, {
          program: prog.name,
          verifierLog: log,
          cause: err,
        });
      }
    }
  }

  /** A struct_ops program names the kernel struct (attach_btf_id) and the member it implements (expected_attach_type = member index). */
  #structOpsAttach(prog: ProgramSpec): { attachBtfId: number; expectedAttachType: number } | undefined {
    if (prog.type !== STRUCT_OPS_PROG) return undefined;
    const use = this.#structOpsUse(prog);
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
  #attachTarget(prog: ProgramSpec): { id: number; btfObjFd?: number } | undefined {
    const target = prog.target;
    if (!target || target.type !== 'btf' || prog.kind === 'Extension') return undefined;
    if (target.module) {
      const module = moduleBtfs().find((m) => m.name === target.module);
      if (!module) {
        throw new ProgramError('NotSupported', `program ${prog.name}: kernel module ${target.module} is not loaded (no BTF at /sys/kernel/btf/${target.module}; modules with BTF: ${moduleNames()})`, { program: prog.name });
      }
      const found = module.btf.byName(target.btfName, target.btfKind).find((t) => t.id >= module.btf.firstId);
      if (!found) throw new ProgramError('UnknownKernelFunction', `program ${prog.name}: module ${target.module} has no ${target.btfKind} ${target.btfName} to attach to`, { program: prog.name });
      return { id: found.id, btfObjFd: this.#moduleFd(module) };
    }
    return { id: kernelBtfTarget(loadKernelBtf(), target.btfName, target.btfKind, prog.name) };
  }

  #moduleFd(module: ModuleBtf): number {
    let fd = this.#moduleFds.get(module.name);
    if (fd === undefined) {
      fd = module.openFd();
      this.#moduleFds.set(module.name, fd);
    }
    return fd;
  }

  #kconfig?: ReturnType<typeof kconfigLayout>;

  /** The '.kconfig' map: values of the __kconfig externs the programs use, read-only. */
  #createKconfig(): void {
    const layout = kconfigLayout(this.spec.btf);
    this.#kconfig = layout;
    const used = [...layout.offsets.keys()].filter((n) => this.spec.externs.has(n));
    if (used.length === 0) return;
    const value = new Uint8Array(layout.size);
    for (const name of used) {
      const { offset, size, typeId } = layout.offsets.get(name)!;
      const bytes = kconfigValue(this.spec.btf!, name, typeId, size);
      if (bytes) value.set(bytes, offset);
      else if (!this.spec.externs.get(name)!.weak) {
        throw new ProgramError('UnresolvedExtern', `__kconfig extern ${name} is not set in this kernel's configuration (declare it __weak to accept 0)`);
      }
    }
    const map = MapData.create({ type: MapType.Array, keySize: 4, valueSize: layout.size, maxEntries: 1, flags: (1 << 7) | (1 << 10), name: '.kconfig' });
    this.#maps.set('.kconfig', map);
    map.update(KEY_ZERO, value);
    map.freeze();
  }

  /** Points an instruction that uses an extern at what the kernel has, or fails naming it. */
  #resolveExtern(prog: ProgramSpec, insns: Insns, i: number, name: string, call: boolean, fdArray: number[]): void {
    const weak = this.spec.externs.get(name)?.weak ?? false;
    const kc = this.#kconfig?.offsets.get(name);
    if (kc && !call) {
      insns.setSrc(i, PseudoSrc.MapValue);
      insns.setImm(i, this.#maps.get('.kconfig')!.fd);
      insns.setImm(i + 1, kc.offset);
      return;
    }
    const decl = this.spec.ksyms.get(name);
    const missing = (why: string): void => {
      if (!weak) throw new ProgramError('UnresolvedExtern', `program ${prog.name}: ${why}`, { program: prog.name });
      if (call) {
        // As libbpf: a call the verifier rejects only if it is reached (bpf_ksym_exists guards it).
        insns.setSrc(i, 0);
        insns.setImm(i, 0xbad2310);
      } else {
        insns.setSrc(i, 0);
        insns.setImm(i, 0);
        insns.setImm(i + 1, 0);
      }
    };
    if (!decl) {
      const hint = this.spec.constantExterns.includes(name) ? ' (a constant: give its value with EbpfLoader.setExtern)' : '';
      missing(`${call ? 'call to' : 'use of'} ${name}, which the object does not define and does not declare __ksym or __kconfig${hint}`);
      return;
    }
    if (decl.typeless) {
      const address = kernelSymbolAddress(name);
      if (address === undefined) return missing(`__ksym ${name} is not in /proc/kallsyms`);
      insns.setSrc(i, 0);
      insns.setImm(i, Number(BigInt.asIntN(32, address)));
      insns.setImm(i + 1, Number(BigInt.asIntN(32, address >> 32n)));
      return;
    }
    const kind = decl.func ? 'func' : 'var';
    let found = loadKernelBtf().byName(name, kind)[0];
    let btfFd = 0;
    if (!found) {
      // Not in vmlinux: a loaded module's BTF (its own types only, not the vmlinux base).
      const inModule = findInModules((b) => b.byName(name, kind).find((t) => t.id >= b.firstId));
      if (inModule) {
        found = inModule.found;
        btfFd = this.#moduleFd(inModule.module);
      }
    }
    if (!found) {
      const where = `in neither vmlinux BTF nor the BTF of a loaded kernel module (modules with BTF: ${moduleNames()})`;
      if (decl.func && !weak) {
        // The kernel lacks the function: most often the module that defines it is not loaded.
        throw new ProgramError('NotSupported', `program ${prog.name}: kfunc ${name} is ${where}; load the kernel module that provides it`, { program: prog.name });
      }
      return missing(`${decl.func ? 'kfunc' : '__ksym'} ${name} is ${where}`);
    }
    if (call) {
      insns.setSrc(i, PseudoCall.KfuncCall);
      insns.setImm(i, found.id);
      let index = 0;
      if (btfFd) {
        // fd_array[0] stands for vmlinux: modules' fds start at 1, as libbpf lays them out.
        if (fdArray.length === 0) fdArray.push(0);
        index = fdArray.indexOf(btfFd);
        if (index < 1) index = fdArray.push(btfFd) - 1;
      }
      insns.setOff(i, index);
    } else {
      insns.setSrc(i, PseudoSrc.BtfId);
      insns.setImm(i, found.id);
      insns.setImm(i + 1, btfFd);
    }
  }

  /**
   * The kernel value of a struct_ops map. Written here only with BPF_F_LINK, where the
   * write just prepares the map for BPF_LINK_CREATE (as cilium/ebpf does at load). Without
   * BPF_F_LINK the write *is* the registration, which libbpf (bpf_map__attach_struct_ops)
   * and aya (StructOpsMap::register) leave to an explicit call: StructOpsMap.register().
   */
  #initialiseStructOps(def: MapDefinition): void {
    const target = this.#structOpsTargets.get(def.name);
    const map = this.#maps.get(def.name);
    if (!target || !map || !def.structOps) return;
    const uses = def.structOps.programs;
    const value = (): Uint8Array => {
      const programs = uses.map(({ offset, program }) => {
        const p = this.#programs.get(program);
        if (!p?.loaded) throw new MapError('InvalidArgument', `struct_ops map ${def.name}: program ${program} is not loaded`);
        return { offset, fd: p.fd };
      });
      return structOpsValue(this.spec.btf!, def.btfValueTypeId!, def.data ?? new Uint8Array(def.valueSize), target, programs);
    };
    const ops = new StructOpsMap(def.name, map, def.structOps.typeName, value);
    this.#structOps.set(def.name, ops);
    if (ops.link && uses.every((u) => this.#programs.get(u.program)?.loaded)) map.update(new Uint8Array(4), ops.value);
  }

  /** Static initialisation of map-in-map slots and PROG_ARRAY tail-call tables. */
  #initialise(def: MapDefinition): void {
    if (def.type === MapType.StructOps) return this.#initialiseStructOps(def);
    if (def.contents.length === 0) return;
    const map = this.#maps.get(def.name);
    if (!map) return;
    for (const { index, target } of def.contents) {
      // A tail-call slot of a program left unloaded (deferProgram) stays empty.
      const program = this.#programs.get(target);
      if (program && !program.loaded) continue;
      const fd = this.#maps.get(target)?.fd ?? program?.fd;
      if (fd === undefined) throw new MapError('InvalidArgument', `map ${def.name}: slot ${index} refers to ${target}, which was not loaded`);
      const key = new Uint8Array(4);
      const value = new Uint8Array(4);
      new DataView(key.buffer).setUint32(0, index, true);
      new DataView(value.buffer).setUint32(0, fd, true);
      map.update(key, value);
    }
  }
}

/** The loader of Ebpf.load: no options, and load() changes nothing in it, so one serves every call. */
let defaultLoader: EbpfLoader | undefined;

let memlockChecked = false;

/**
 * Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK (later ones to the memory
 * cgroup): raise it there only, once per process. Without CAP_SYS_RESOURCE the raise
 * fails and the load reports the kernel's EPERM itself.
 */
function raiseMemlockIfCharged(): void {
  if (memlockChecked) return;
  memlockChecked = true;
  const RLIMIT_MEMLOCK = 8;
  if (memlockCharged(kernelRelease())) kernel.setrlimit(RLIMIT_MEMLOCK, -1, -1);
}

/** Whether a kernel of this release charges BPF memory to RLIMIT_MEMLOCK (before 5.11). @internal */
export function memlockCharged([major, minor]: readonly number[]): boolean {
  return major < 5 || (major === 5 && minor < 11);
}

/** A name asked for, as a message shows it (a caller may pass anything). */
function describeName(name: unknown): string {
  return typeof name === 'string' ? name : describeValue(name);
}

/** Kernel object names: at most 15 characters of [A-Za-z0-9_.]. */
function mapName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 15);
}

/**
 * A buffer reused load after load: BPF_PROG_LOAD copies the instructions, func info and
 * line info in, so they need no allocation of their own (a typed array over 64 bytes
 * costs a backing store and the collector's attention).
 */
class Scratch {
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
/** Verifier logs: read into a string at once, so one buffer serves every failed load. */
const logScratch = new Scratch();
const lineInfoScratch = new Scratch();

function encodeFuncInfo(prog: ProgramSpec): Uint8Array | undefined {
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

function encodeLineInfo(prog: ProgramSpec, offsetOf: (s: string) => number): Uint8Array | undefined {
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

/** The first `n` lines of `text`, and how many were left out. */
function capLines(text: string, n: number): string {
  const lines = text.trimEnd().split('\n');
  return lines.length <= n ? lines.join('\n') : `${lines.slice(0, n).join('\n')}\n(${lines.length - n} more)`;
}


