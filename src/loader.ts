// Ebpf and EbpfLoader: turn an ObjectSpec into live maps and programs. Every step
// works on copies of the spec (kernel fix-ups never change it), and a failure closes
// everything made so far.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MapError, ProgramError } from './errors.js';
import { MapData, type MapSpec } from './maps/map-data.js';
import { MapType } from './maps/map-type.js';
import type { Btf } from './obj/btf.js';
import { Insns, PseudoCall, PseudoSrc } from './obj/insn.js';
import { ObjectSpec, Pinning, type MapDefinition, type ProgramSpec } from './obj/spec.js';
import { Program } from './programs/program.js';
import { programClasses } from './programs/kinds.js';
import type { ProgramKind } from './programs/program-type.js';
import { programTypeName } from './programs/program-type.js';
import { btfLoad, progLoad, type ProgLoadAttr } from './sys/bpf.js';
import { Errno, SyscallError } from './sys/errors.js';
import { possibleCpus } from './sys/cpus.js';
import { kernel } from './sys/native.js';
import { kconfigLayout, kconfigValue, kernelRelease, kernelSymbolAddress } from './externs.js';
import { loadKernelBtf } from './obj/btf.js';
import { applyCoreRelocations, formatCoreResults } from './obj/core.js';

const BPF_F_SLEEPABLE = 1 << 4;
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

type GlobalValue = Uint8Array | number | bigint;

/** Builder for Ebpf.load with options (aya's EbpfLoader). */
export class EbpfLoader {
  readonly #globals = new Map<string, { value: GlobalValue; mustExist: boolean }>();
  readonly #maxEntries = new Map<string, number>();
  readonly #replaced = new Map<string, MapData>();
  readonly #deferred = new Set<string>();
  #pinPath?: string;
  #btf?: Btf;
  #logLevel = 0;

  /** Sets the initial value of global `name` (.data, .rodata, .bss): bytes of its exact size, or a number/bigint for 1-8 byte integers. */
  setGlobal(name: string, value: GlobalValue, options: GlobalOptions = {}): this {
    this.#globals.set(name, { value, mustExist: options.mustExist ?? true });
    return this;
  }

  setMaxEntries(mapName: string, n: number): this {
    this.#maxEntries.set(mapName, n);
    return this;
  }

  /** Directory for maps declared with LIBBPF_PIN_BY_NAME (default /sys/fs/bpf). */
  mapPinPath(dir: string): this {
    this.#pinPath = dir;
    return this;
  }

  /** Uses `map` instead of creating the object's map `name` (the caller keeps owning it). */
  replaceMap(name: string, map: MapData): this {
    this.#replaced.set(name, map);
    return this;
  }

  /** The BTF to resolve CO-RE relocations against (default: the running kernel's). */
  btf(btf: Btf): this {
    this.#btf = btf;
    return this;
  }

  /** Verifier log level for every load (1 or 2); the log is always fetched when a load fails. */
  verifierLogLevel(level: number): this {
    this.#logLevel = level;
    return this;
  }

  /** Leaves program `name` unloaded: `ebpf.program(name).load()` loads it later. */
  deferProgram(name: string): this {
    this.#deferred.add(name);
    return this;
  }

  /** Parses, creates the maps, relocates and loads the programs. */
  load(bytesOrPath: Uint8Array | string): Ebpf {
    const bytes = typeof bytesOrPath === 'string' ? readFileSync(bytesOrPath) : bytesOrPath;
    const spec = ObjectSpec.parse(bytes);
    return Ebpf.fromSpec(spec, {
      globals: this.#globals,
      maxEntries: this.#maxEntries,
      replaced: this.#replaced,
      deferred: this.#deferred,
      pinPath: this.#pinPath ?? '/sys/fs/bpf',
      btf: this.#btf,
      logLevel: this.#logLevel,
    });
  }
}

interface LoadSettings {
  globals: Map<string, { value: GlobalValue; mustExist: boolean }>;
  maxEntries: Map<string, number>;
  replaced: Map<string, MapData>;
  deferred: Set<string>;
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
  #btfFd = -1;

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
      ebpf.close();
      throw err;
    }
    return ebpf;
  }

  /** The map `name`; the Ebpf keeps owning it (a view). */
  map(name: string): MapData {
    const m = this.#maps.get(name);
    if (!m) throw new MapError('InvalidArgument', `no map named ${name} (maps: ${[...this.#maps.keys()].join(', ')})`);
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
    if (!p) throw new ProgramError('NotLoaded', `no loaded program named ${name} (programs: ${[...this.#programs.keys()].join(', ')})`, { program: name });
    return p;
  }

  programs(): IterableIterator<[string, Program]> {
    return this.#programs.entries();
  }

  /** Closes every map and program still owned, and the object's BTF. */
  close(): void {
    for (const p of this.#programs.values()) p.close();
    this.#programs.clear();
    for (const m of this.#maps.values()) if (!this.#borrowed.has(m)) m.close();
    this.#maps.clear();
    if (this.#btfFd >= 0) kernel.close(this.#btfFd);
    this.#btfFd = -1;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  // ---- loading -----------------------------------------------------------------------

  #load(settings: LoadSettings): void {
    raiseMemlockIfCharged();
    const spec = this.spec;
    for (const [name, { mustExist }] of settings.globals) {
      if (mustExist && !spec.variables.has(name)) throw new MapError('InvalidArgument', `setGlobal: the object has no global named ${name}`);
    }
    const lines = this.#loadBtf();
    for (const def of spec.maps.values()) this.#createMap(def, settings);
    this.#createKconfig();
    for (const prog of spec.programs.values()) {
      if (prog.kind === 'Unknown') continue;
      const Kind = programClasses[prog.kind as ProgramKind] ?? Program;
      const program = new Kind(prog, () => this.#loadProgram(prog, settings, lines));
      this.#programs.set(prog.name, program);
      if (!settings.deferred.has(prog.name)) program.load();
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
      throw new MapError('NotSupported', `map ${def.name}: struct_ops maps (${def.structOps?.typeName ?? 'a kernel struct'}) are not supported by this loader yet`);
    }
    const pinPath = def.pinning === Pinning.ByName ? join(settings.pinPath, def.name) : undefined;
    if (pinPath && existsSync(pinPath)) {
      const pinned = MapData.fromPin(pinPath);
      const want = this.#mapSpec(def, settings, false);
      const info = pinned.info();
      const mismatch = (['type', 'keySize', 'valueSize', 'maxEntries'] as const).find((k) => info[k] !== want[k]);
      if (mismatch) {
        pinned.close();
        throw new MapError('CreateError', `map ${def.name}: the map pinned at ${pinPath} differs in ${mismatch} (${info[mismatch]}, the object wants ${want[mismatch]})`);
      }
      this.#maps.set(def.name, pinned);
      return;
    }
    let inner: MapData | undefined;
    if (def.inner) inner = this.#create(def.inner, settings);
    try {
      const spec = this.#mapSpec(def, settings, true);
      if (inner) spec.innerMap = inner;
      const map = this.#createWithBtfFallback(spec);
      this.#maps.set(def.name, map);
      if (def.data) this.#fillData(def, map, settings);
      if (pinPath) map.pin(pinPath);
    } finally {
      inner?.close();
    }
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
  #fillData(def: MapDefinition, map: MapData, settings: LoadSettings): void {
    // The section's bytes as they are, or a copy with the setGlobal values in it.
    let value = def.data!;
    for (const [name, { value: v }] of settings.globals) {
      const variable = this.spec.variables.get(name);
      if (!variable || variable.map !== def.name) continue;
      if (value === def.data) value = value.slice();
      value.set(globalBytes(name, v, variable.size), variable.offset);
    }
    map.update(KEY_ZERO, value);
    if (def.readOnly) map.freeze();
  }

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

  #loadProgram(prog: ProgramSpec, settings: LoadSettings, lines: ((s: string) => number) | undefined): number {
    const { insns, poisoned } = this.#relocate(prog, settings);
    for (const ref of prog.references) {
      if (ref.kind === 'extern') {
        this.#resolveExtern(prog, insns, ref.insn, ref.name, ref.call);
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
    if (prog.section.startsWith('xdp.frags')) flags |= BPF_F_XDP_HAS_FRAGS;
    const attachBtfId = this.#attachBtfId(prog);
    const attr: ProgLoadAttr = {
      attachBtfId,
      progType: prog.type,
      insns: insns.bytes,
      license: prog.license || 'GPL',
      progName: mapName(prog.name),
      progFlags: flags,
      expectedAttachType: prog.expectedAttachType,
      progBtfFd: withBtf ? this.#btfFd : 0,
      kernVersion: prog.kernelVersion,
      funcInfo,
      lineInfo,
      logBuf: undefined,
      logLevel: settings.logLevel || 1,
    };
    // First without a log (fast); on failure again with a log that grows until it fits.
    let logSize = settings.logLevel ? LOG_START : 0;
    let eagain = 0;
    for (;;) {
      const logBuf = logSize ? new Uint8Array(logSize) : undefined;
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
          logSize *= 4;
          continue;
        }
        // The verifier gives up with EAGAIN when a signal is pending: try again, as libbpf does.
        if (err.errno === Errno.EAGAIN && eagain++ < 5) continue;
        const log = logBuf ? new TextDecoder().decode(logBuf.subarray(0, Math.max(0, logBuf.indexOf(0)))) : '';
        if (err.errno === Errno.EPERM && log.trim() === '') {
          // Refused before verification: the kernel does not allow this program type here.
          throw new ProgramError('NotSupported', `cannot load program ${prog.name}: this kernel refuses ${programTypeName(prog.type)} programs (${prog.section}) with EPERM before verification`, {
            program: prog.name,
            cause: err,
          });
        }
        // A poisoned CO-RE relocation that is reached shows as a call to unknown#195896080.
        const why = poisoned && log.includes('195896080') ? `\nunsatisfied CO-RE relocations:\n${poisoned}` : '';
        throw new ProgramError('LoadError', `cannot load program ${prog.name} (${prog.section}): ${err.message}${log ? `\n${lastLines(log, 20)}` : ''}${why}`, {
          program: prog.name,
          verifierLog: log,
          cause: err,
        });
      }
    }
  }

  /** Tracing programs (fentry, fexit, fmod_ret, lsm, tp_btf, iter) name their kernel target by a vmlinux BTF id. */
  #attachBtfId(prog: ProgramSpec): number {
    const target = prog.target;
    if (!target || target.type !== 'btf' || prog.kind === 'Extension') return 0;
    if (target.module) {
      throw new ProgramError('NotSupported', `program ${prog.name}: attaching to kernel module ${target.module} needs module BTF, not supported yet`, { program: prog.name });
    }
    const found = loadKernelBtf().byName(target.btfName, target.btfKind)[0];
    if (!found) throw new ProgramError('RelocationError', `program ${prog.name}: the kernel has no ${target.btfKind} ${target.btfName} to attach to`, { program: prog.name });
    return found.id;
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
  #resolveExtern(prog: ProgramSpec, insns: Insns, i: number, name: string, call: boolean): void {
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
      missing(`${call ? 'call to' : 'use of'} ${name}, which the object does not define and does not declare __ksym or __kconfig`);
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
    const vmlinux = loadKernelBtf();
    const found = vmlinux.byName(name, decl.func ? 'func' : 'var')[0];
    if (!found) return missing(`${decl.func ? 'kfunc' : '__ksym'} ${name} is not in the kernel's BTF (kernel module BTF is not supported yet)`);
    if (call) {
      insns.setSrc(i, PseudoCall.KfuncCall);
      insns.setImm(i, found.id);
      insns.setOff(i, 0);
    } else {
      insns.setSrc(i, PseudoSrc.BtfId);
      insns.setImm(i, found.id);
      insns.setImm(i + 1, 0);
    }
  }

  /** Static initialisation of map-in-map slots and PROG_ARRAY tail-call tables. */
  #initialise(def: MapDefinition): void {
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

/** Kernel object names: at most 15 characters of [A-Za-z0-9_.]. */
function mapName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 15);
}

function globalBytes(name: string, value: GlobalValue, size: number): Uint8Array {
  if (value instanceof Uint8Array) {
    if (value.length !== size) throw new MapError('InvalidValueSize', `setGlobal(${name}): ${value.length} bytes for a ${size}-byte variable`, { size: value.length, expected: size });
    return value;
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  const big = typeof value === 'bigint' ? value : BigInt(value);
  if (![1, 2, 4, 8].includes(size)) throw new MapError('InvalidValueSize', `setGlobal(${name}): a number cannot fill a ${size}-byte variable; pass bytes`, { size, expected: [1, 2, 4, 8] });
  const bits = BigInt(size * 8);
  if (big < -(1n << (bits - 1n)) || big >= 1n << bits) throw new MapError('InvalidArgument', `setGlobal(${name}): ${value} does not fit ${size} bytes`);
  const u = BigInt.asUintN(size * 8, big);
  for (let i = 0; i < size; i++) view.setUint8(i, Number((u >> BigInt(8 * i)) & 0xffn));
  return out;
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

function lastLines(log: string, n: number): string {
  return log.trimEnd().split('\n').slice(-n).join('\n');
}


