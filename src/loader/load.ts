// Ebpf and EbpfLoader, the kernel half of loading: ask the kernel what the plan
// (plan.ts) needs to know, then make what it decides: maps, the object's BTF, programs
// (with the verifier's log on failure). Every step works on copies of the spec (kernel
// fix-ups never change it), and a failure closes everything made so far.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MapError, ParseError, PinError, ProgramError } from '../errors.js';
import { describeValue } from '../describe.js';
import { kernelConfig, kernelRelease, kernelSymbolAddress, resolveKernelSymbols } from '../externs.js';
import { isLinkTypeSupported, isRefusal, programCapabilities, refusedProgramFeature } from '../features.js';
import { MAX_OBJECT_FILE, readRegularFile } from '../file.js';
import type { GlobalData, GlobalValue } from '../global-value.js';
import { loadKernelBtf, moduleBtfs } from '../kernel-btf.js';
import { MapData, type MapSpec } from '../maps/map-data.js';
import { MapType } from '../maps/map-type.js';
import type { MapClass, MapInstanceOf, MapShapeOf } from '../maps/typed-map.js';
import { StructOpsMap } from '../maps/struct-ops.js';
import { structOpsValue } from '../obj/struct-ops.js';
import { Btf } from '../obj/btf.js';
import type { ProgramKind } from '../obj/sections.js';
import { BPF_F_LINK, ObjectSpec, Pinning, type MapDefinition, type ProgramSpec } from '../obj/spec.js';
import { LinkType } from '../sys/abi/enums.js';
import { asProgramClass, Program, type ProgramClass, type ProgramLoadTarget } from '../programs/program.js';
import { programClasses } from '../programs/kinds.js';
import { attachAll as attachPrograms, type AttachedLinks } from '../programs/attach-all.js';
import { summariseVerifierLog, verifierMessage } from '../programs/verifier-log.js';
import { btfLoad, progLoad, progLoadLogTrueSize, type ProgLoadAttr } from '../sys/bpf.js';
import { possibleCpus } from '../sys/cpus.js';
import { Errno, missingCapabilities, SyscallError } from '../sys/errors.js';
import { programTypeName } from '../sys/names.js';
import { kernel } from '../sys/native.js';
import { GlobalVariable } from './variable.js';
import { typedMapAs, type BtfMapClass, type BtfMapOf, type BtfTypedMap } from './typed-map.js';
import { encodeFuncInfo, encodeLineInfo, LoadPlan, Scratch, type KernelFacts, type MapShape, type PlanSettings } from './plan.js';

/** Key 0 of the single-element global data maps (the kernel only reads it). */
const KEY_ZERO = new Uint8Array(4);
const LOG_START = 1 << 16;
const LOG_MAX = 1 << 28;

/** Options of `EbpfLoader.setGlobal`. */
export interface GlobalOptions {
  /** Throw when the object has no such global (default true). */
  mustExist?: boolean;
}


/** Builder for Ebpf.load with options (aya's EbpfLoader). */
export class EbpfLoader {
  readonly #globals = new Map<string, { value: GlobalValue; mustExist: boolean }>();
  readonly #maxEntries = new Map<string, number>();
  readonly #valueSizes = new Map<string, number>();
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

  /**
   * value_size of map `mapName`, instead of what the object declares (libbpf's
   * bpf_map__set_value_size): a stack trace map's depth set at run time (8 bytes a
   * frame), a hash or array map's value. The map is then created without its BTF types,
   * which no longer match. MapError 'InvalidArgument' for a size outside [1, 2^32) now,
   * and at load for a map the object lacks or whose type fixes its value size;
   * 'NotSupported' at load for a global data section (.bss, .data, .rodata).
   */
  setValueSize(mapName: string, bytes: number): this {
    if (typeof mapName !== 'string') throw new MapError('InvalidArgument', `setValueSize: the map name must be a string, got ${describeValue(mapName)}`);
    if (typeof bytes !== 'number' || !Number.isInteger(bytes) || bytes < 1 || bytes > 0xffff_ffff) throw new MapError('InvalidArgument', `setValueSize(${mapName}): an integer in [1, 2^32) is needed, got ${describeValue(bytes)}`);
    this.#valueSizes.set(mapName, bytes);
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
      valueSizes: this.#valueSizes,
      replaced: this.#replaced,
      autoload: this.#autoload,
      pinPath: this.#pinPath ?? '/sys/fs/bpf',
      btf: this.#btf,
      logLevel: this.#logLevel,
    });
  }
}

interface LoadSettings extends PlanSettings {
  replaced: ReadonlyMap<string, MapData>;
  pinPath: string;
  logLevel: number;
}

/** The running kernel, as the plan asks about it (each fact read on first use, then cached). */
const runningKernel: KernelFacts = {
  get btf() {
    return loadKernelBtf();
  },
  get modules() {
    return moduleBtfs();
  },
  get config() {
    return kernelConfig();
  },
  get release() {
    return kernelRelease();
  },
  symbolAddress: kernelSymbolAddress,
  get possibleCpus() {
    return possibleCpus();
  },
};

/** A loaded object: its maps and programs, owned until close() (or taken). */
export class Ebpf implements Disposable {
  readonly spec: ObjectSpec;
  readonly #maps = new Map<string, MapData>();
  readonly #programs = new Map<string, Program>();
  readonly #borrowed = new Set<MapData>();
  readonly #structOps = new Map<string, StructOpsMap>();
  readonly #variables = new Map<string, GlobalVariable<any>>();
  #plan!: LoadPlan;
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

  /**
   * The map `name`; the Ebpf keeps owning it (a view). With a class and that class's
   * shape arguments (what its tryFrom takes after the map), the map viewed as that
   * class: `ebpf.map('counts', HashMap, u32, u64)` is a `HashMap<number, bigint>`, no
   * cast. The view does not own the map (closing it leaves the map open) unless the
   * arguments end with `{ owned: true }`. The class's tryFrom errors, with the map's
   * name: MapError 'InvalidMapType' for a map of another type, 'InvalidKeySize' /
   * 'InvalidValueSize' for codecs of the wrong size; 'InvalidArgument' when the object
   * has no such map or `cls` has no tryFrom.
   */
  map(name: string): MapData;
  /** The map `name` as an instance of `cls`: `cls.tryFrom(map, ...shape)`, the map's name in its errors. */
  map<C extends MapClass, A extends MapShapeOf<C>>(name: string, cls: C, ...shape: A): MapInstanceOf<C, A>;
  map(name: string, cls?: MapClass, ...shape: unknown[]): unknown {
    const m = this.#maps.get(name);
    if (!m) throw new MapError('InvalidArgument', `no map named ${describeName(name)} (maps: ${[...this.#maps.keys()].join(', ')})`);
    if (cls === undefined) return m;
    if ((typeof cls !== 'function' && typeof cls !== 'object') || cls === null || typeof cls.tryFrom !== 'function') {
      throw new MapError('InvalidArgument', `map ${name}: ${describeValue(cls)} is not a map class (HashMap, ArrayMap, RingBuf, ...: one with a static tryFrom)`);
    }
    try {
      return cls.tryFrom(m, ...shape);
    } catch (err) {
      if (!(err instanceof MapError)) throw err;
      const { index, maxEntries, mapType, expected, size, mapName, feature, cause } = err;
      throw new MapError(err.kind, `map ${name}: ${err.message}`, { index, maxEntries, mapType, expected, size, mapName, feature, cause });
    }
  }

  /** Moves map `name` out: the caller owns (and closes) it. */
  takeMap(name: string): MapData {
    const m = this.map(name);
    for (const [n, v] of this.#variables) if (v.section === name) this.#variables.delete(n);
    this.#maps.delete(name);
    return m;
  }

  /** Every map of the loaded object, by name. */
  maps(): IterableIterator<[string, MapData]> {
    return this.#maps.entries();
  }

  /**
   * The program `name` (the Ebpf keeps owning it). With a class, typed as that class:
   * `ebpf.program('count', TracePoint).attach()` needs no cast. ProgramError
   * 'WrongProgramType' (naming both kinds) when the program is of another kind,
   * 'NotLoaded' when the object has no program of that name.
   */
  program(name: string): Program;
  /** The program `name` as an instance of `cls` (Xdp, TracePoint, ...); ProgramError 'WrongProgramType' when it is another kind. */
  program<T extends Program>(name: string, cls: ProgramClass<T>): T;
  program<T extends Program>(name: string, cls?: ProgramClass<T>): Program | T {
    const p = this.#programs.get(name);
    if (!p) throw new ProgramError('NotLoaded', `no program named ${describeName(name)} (programs: ${[...this.#programs.keys()].join(', ')})`, { program: describeName(name) });
    return cls === undefined ? p : asProgramClass(p, cls);
  }

  /** Every program of the object, by name, in the object's order. */
  programs(): IterableIterator<[string, Program]> {
    return this.#programs.entries();
  }

  /**
   * Attaches every loaded program whose section names its target, as libbpf's skeleton
   * `__attach` does, and returns the links by program name (AttachedLinks, a Map the
   * caller owns: `using links = ebpf.attachAll()`, or close() it).
   *
   * Attached, each with its class's attach() and no arguments:
   * `tracepoint/<category>/<name>` and `tp/...`, `raw_tracepoint/<name>` and `raw_tp/...`
   * (and their `.w` forms), `tp_btf/<name>`, `fentry/`, `fexit/`, `fmod_ret/`, `lsm/`
   * `<function>` (and `.s` forms), `iter/<target>` (the iterator's default: all tasks,
   * ...), `kprobe/<function>[+offset]` and `kretprobe/`, `ksyscall/<syscall>` and
   * `kretsyscall/` (the arch's `__x64_sys_<syscall>`, as libbpf), `kprobe.multi/` and
   * `kprobe.session/<pattern>`, `uprobe/<binary>:<function>[+offset]` and `uretprobe/`
   * (and `.s`), `uprobe.multi/<binary>:<pattern>`, and a `freplace/` program loaded
   * against its target. `usdt/` sections, which tsbpf cannot attach, fail with
   * ProgramError 'NotSupported' (feature 'USDT').
   *
   * Skipped (no error; attach them yourself): programs not loaded (SEC("?..."),
   * setAutoload(false), deferProgram, freplace before load), sections without a
   * target (`kprobe`, `uprobe`, ...), and every kind whose target is not in the
   * section: XDP, tc/tcx, netkit, cgroup programs, lsm_cgroup, sk_lookup, flow
   * dissector, socket filters, sk_msg, sk_skb, sockops, sk_reuseport, lirc_mode2, lwt,
   * netfilter, perf_event, syscall and struct_ops programs.
   *
   * A program that cannot be attached (a target the kernel lacks, a malformed section
   * target, a kind the kernel refuses) throws a ProgramError with its name in `program`
   * and in the message, after the links already made are closed: all or nothing.
   */
  attachAll(): AttachedLinks {
    return attachPrograms(this.#programs.values());
  }

  /**
   * The global variable `name` (.data, .bss, .rodata and their named sections), read
   * and written in place in its section's memory-mapped map, typed from the object's
   * BTF: see GlobalVariable. MapError 'InvalidArgument' when the object has no such
   * global, or its section's map was taken (takeMap) or replaced.
   */
  variable<T = GlobalData>(name: string): GlobalVariable<T> {
    const known = this.#variables.get(name);
    if (known) return known as GlobalVariable<T>;
    const v = this.spec.variables.get(name);
    if (!v) throw new MapError('InvalidArgument', `no global variable named ${describeName(name)}`);
    const map = this.#maps.get(v.map);
    if (!map || this.#borrowed.has(map)) throw new MapError('InvalidArgument', `global ${name}: its section's map ${v.map} is not this object's (taken or replaced)`);
    const variable = new GlobalVariable<T>(v, map, this.spec.btf, this.spec.maps.get(v.map)?.readOnly === true);
    this.#variables.set(name, variable);
    return variable;
  }

  /**
   * Map `name` as the typed class of its type (ArrayMap, HashMap for HASH and LRU_HASH,
   * PerCpuArray, PerCpuHashMap, ArrayOfMaps / HashOfMaps whose `get` gives typed inner
   * maps, Queue, Stack, BloomFilter, LpmTrie with the key's data as bytes) with key and
   * value codecs from the object's BTF
   * (btfCodec): a view, the Ebpf keeps owning the map. With a class as `kind`
   * (`typedMap(name, HashMap)`) the result is typed as that class, and a map of another
   * type is MapError 'InvalidMapType'. MapError 'InvalidArgument' for no such map, 'InvalidMapType' for a
   * map type without such a class; BtfError 'TypeNotFound' when the object has no BTF
   * for the map's key or value.
   */
  typedMap(name: string): BtfTypedMap;
  typedMap<C extends BtfMapClass>(name: string, kind: C): BtfMapOf<C>;
  typedMap(name: string, kind?: BtfMapClass): BtfTypedMap {
    return typedMapAs(this.spec.maps.get(name)!, this.map(name), this.spec.btf, kind);
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
    this.#variables.clear();
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

  /** Same as `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  // ---- loading -----------------------------------------------------------------------

  #load(settings: LoadSettings): void {
    raiseMemlockIfCharged();
    const spec = this.spec;
    const plan = (this.#plan = new LoadPlan(spec, settings, runningKernel));
    // Typeless __ksym addresses: one read of /proc/kallsyms for all of them.
    resolveKernelSymbols(plan.typelessKsyms());
    const lines = this.#loadBtf();
    for (const def of spec.maps.values()) this.#createMap(def, settings);
    this.#createKconfig();
    for (const prog of spec.programs.values()) {
      if (prog.kind === 'Unknown') continue;
      const Kind = programClasses[prog.kind as ProgramKind] ?? Program;
      const autoload = settings.autoload.get(prog.name)?.load ?? prog.autoload;
      const program = new Kind({ ...prog, autoload }, (against) => this.#loadProgram(prog, settings, lines, against));
      this.#programs.set(prog.name, program);
      if (plan.loadsWithObject(prog, autoload)) program.load();
    }
    for (const def of spec.maps.values()) this.#initialise(def);
  }

  /** Uploads the object's BTF (with the strings line info needs); without it maps and programs load plainly. */
  #loadBtf(): ((s: string) => number) | undefined {
    const upload = this.#plan.btf();
    if (!upload) return undefined;
    // Without a log first (the kernel formats a line per type into it); the log only
    // matters when the upload fails, and then libbpf goes on without BTF too.
    try {
      this.#btfFd = btfLoad(upload.bytes);
      return upload.offsetOf;
    } catch (err) {
      if (err instanceof SyscallError) return undefined;
      throw err;
    }
  }

  /** The plan's map with the object's BTF, when it was uploaded and `withBtf`. */
  #mapSpec(shape: MapShape, withBtf: boolean): MapSpec {
    const { btf, ...rest } = shape;
    return { ...rest, btf: withBtf && btf && this.#btfFd >= 0 ? { fd: this.#btfFd, ...btf } : undefined };
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
      const want = this.#plan.map(def);
      const info = pinned.info();
      const mismatch = (['type', 'keySize', 'valueSize', 'maxEntries'] as const).find((k) => info[k] !== want[k]);
      if (mismatch) {
        throw new MapError('CreateError', `map ${def.name}: the map pinned at ${pinPath} differs in ${mismatch} (${info[mismatch]}, the object wants ${want[mismatch]})`);
      }
      return;
    }
    let inner: MapData | undefined;
    if (def.inner) inner = this.#create(def.inner);
    try {
      const spec = this.#mapSpec(this.#plan.map(def), true);
      if (inner) spec.innerMap = inner;
      const map = this.#createWithBtfFallback(spec);
      this.#maps.set(def.name, map);
      const data = this.#plan.data(def);
      if (data) {
        map.update(KEY_ZERO, data);
        if (def.readOnly) map.freeze();
      }
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
    const { target, shape } = this.#plan.structOps(def);
    if (this.#btfFd < 0) throw new MapError('InvalidArgument', `struct_ops map ${def.name}: the kernel needs the object's BTF, which was not loaded`);
    let map: MapData;
    try {
      map = MapData.create({ ...shape, btf: { fd: this.#btfFd }, btfVmlinuxValueTypeId: target.valueType.id });
    } catch (err) {
      // BPF_F_LINK is refused (EINVAL) by kernels without struct_ops links (before 6.4).
      if (err instanceof MapError && err.kind === 'CreateError' && (def.flags & BPF_F_LINK) !== 0 && !isLinkTypeSupported(LinkType.StructOps)) {
        throw new MapError('NotSupported', `struct_ops map ${def.name}: .struct_ops.link needs struct_ops links, which this kernel lacks (${err.code})`, { feature: 'BPF_LINK_TYPE_STRUCT_OPS', cause: err.cause });
      }
      throw err;
    }
    this.#maps.set(def.name, map);
  }

  #create(def: MapDefinition): MapData {
    return this.#createWithBtfFallback(this.#mapSpec(this.#plan.map(def), true));
  }

  /** Creates with BTF; where the kernel refuses BTF for the map type (EINVAL, ENOTSUPP), without, as libbpf does. */
  #createWithBtfFallback(spec: MapSpec): MapData {
    try {
      return MapData.create(spec);
    } catch (err) {
      if (!spec.btf || !(err instanceof MapError) || (err.errno !== Errno.EINVAL && err.errno !== Errno.ENOTSUPP)) throw err;
      return MapData.create({ ...spec, btf: undefined });
    }
  }

  #loadProgram(prog: ProgramSpec, settings: LoadSettings, lines: ((s: string) => number) | undefined, against?: ProgramLoadTarget): number {
    const plan = this.#plan.program(prog, { target: !against });
    const { insns, poisoned } = plan;
    for (const { insn, map: name } of plan.mapFds) {
      const map = this.#maps.get(name);
      if (!map) throw new ProgramError('RelocationError', `program ${prog.name} refers to map ${name}, which was not created`, { program: prog.name });
      insns.setImm(insn, map.fd);
    }
    const fdArray: number[] = [];
    for (const { insn, module, call } of plan.moduleFds) {
      const fd = this.#moduleFd(module);
      if (!call) {
        insns.setImm(insn + 1, fd);
        continue;
      }
      // fd_array[0] stands for vmlinux: modules' fds start at 1, as libbpf lays them out.
      if (fdArray.length === 0) fdArray.push(0);
      let index = fdArray.indexOf(fd);
      if (index < 1) index = fdArray.push(fd) - 1;
      insns.setOff(insn, index);
    }
    const withBtf = this.#btfFd >= 0 && lines !== undefined;
    // freplace: a function of another program (Extension.load; attach_prog_fd shares the
    // field with attach_btf_obj_fd); else a kernel target.
    const viaProgram = against && !plan.structOps;
    const attr: ProgLoadAttr = {
      attachBtfId: viaProgram ? against.btfId : plan.attachBtfId,
      attachProgFd: viaProgram ? against.progFd : plan.attachModule !== undefined ? this.#moduleFd(plan.attachModule) : undefined,
      fdArray: fdArray.length ? Int32Array.from(fdArray) : undefined,
      progType: plan.progType,
      insns: insns.bytes,
      license: plan.license,
      progName: plan.name,
      progFlags: plan.flags,
      expectedAttachType: plan.expectedAttachType,
      progBtfFd: withBtf ? this.#btfFd : 0,
      kernVersion: plan.kernelVersion,
      funcInfo: withBtf ? encodeFuncInfo(prog) : undefined,
      lineInfo: withBtf ? encodeLineInfo(prog, lines!) : undefined,
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
        // EPERM without a capability the program type needs: that, not the verifier, is the reason.
        const lacking = err.errno === Errno.EPERM ? missingCapabilities(programCapabilities(prog.type)) : [];
        if (lacking.length) {
          throw new ProgramError('LoadError', `${what}: EPERM: this process lacks ${lacking.join(' and ')}, which ${programTypeName(prog.type)} programs need`, {
            program: prog.name,
            verifierLog: log,
            cause: err,
          });
        }
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

  /** An fd for the BTF object of loaded module `name`, opened once per Ebpf. */
  #moduleFd(name: string): number {
    let fd = this.#moduleFds.get(name);
    if (fd === undefined) {
      fd = moduleBtfs().find((m) => m.name === name)!.openFd();
      this.#moduleFds.set(name, fd);
    }
    return fd;
  }

  /** The '.kconfig' map: values of the __kconfig externs the programs use, read-only. */
  #createKconfig(): void {
    const kconfig = this.#plan.kconfig();
    if (!kconfig) return;
    const map = MapData.create(this.#mapSpec(kconfig.shape, false));
    this.#maps.set('.kconfig', map);
    map.update(KEY_ZERO, kconfig.value);
    map.freeze();
  }

  /**
   * The kernel value of a struct_ops map. Written here only with BPF_F_LINK, where the
   * write just prepares the map for BPF_LINK_CREATE (as cilium/ebpf does at load). Without
   * BPF_F_LINK the write *is* the registration, which libbpf (bpf_map__attach_struct_ops)
   * and aya (StructOpsMap::register) leave to an explicit call: StructOpsMap.register().
   */
  #initialiseStructOps(def: MapDefinition): void {
    const target = this.#plan.structOpsTargetOf(def.name);
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
    if (ops.link && uses.every((u) => this.#programs.get(u.program)?.loaded)) map.update(KEY_ZERO, ops.value);
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

/** Verifier logs: read into a string at once, so one buffer serves every failed load. */
const logScratch = new Scratch();

/** The first `n` lines of `text`, and how many were left out. */
function capLines(text: string, n: number): string {
  const lines = text.trimEnd().split('\n');
  return lines.length <= n ? lines.join('\n') : `${lines.slice(0, n).join('\n')}\n(${lines.length - n} more)`;
}
