// Every public entry point of the loader, programs and maps, called with arguments of
// the wrong shape (wrong types, out-of-range numbers, missing or extra option fields):
// whatever comes out must be one of tsbpf's typed errors, never a TypeError,
// RangeError or "Cannot read properties of undefined". Run by api-shapes.test.ts in a
// child in a fresh network namespace (`unshare --net`), so that a call that does
// attach (the wrong shape was accepted) touches no interface of the machine.
// Prints one JSON object: calls made, outcomes, and the untyped errors with their call.
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  ArrayMap, ArrayOfMaps, Btf, BtfError, Ebpf, EbpfLoader, HashMap, HashOfMaps, loadKernelBtf, MapBatchCursor, MapData, MapError, MapType, ObjectSpec,
  ParseError, PinError, Program, ProgramError, programFromId, programFromPin, SockHash, SockMap, SyscallError, u32, u64,
  PerCpuArray, PerCpuHashMap, LpmTrie, Queue, Stack, BloomFilter, StackTraceMap, TypedMap,
  XdpSocket, XdpSocketError,
} from '../src/index.js';
import { programClasses } from '../src/programs/kinds.js';
import { fdCount, repoRoot } from './helpers.js';
import { specialMapClasses, sweepSpecialMaps } from './special-maps-shapes.js';

/** Values no parameter of the API takes, of every JS type. */
export const WRONG: readonly unknown[] = [
  undefined, null, true, false, NaN, -1, 1.5, 2 ** 53, -(2 ** 40), Infinity, '', 'tsbpf-no-such', 'tsbpf\0nul', {}, [], [1.5, 'x'],
  () => 0, Symbol('tsbpf'), 1n << 70n, -1n, new Uint8Array(3), new ArrayBuffer(8), { fd: -1 }, { fd: 2 ** 40 }, new Date(0),
];

/** The wrong values tried for each option field (a smaller set: there are many fields). */
const WRONG_FIELD: readonly unknown[] = [null, true, NaN, -1, 1.5, 2 ** 53, 'tsbpf-no-such', {}, [1.5, 'x'], Symbol('tsbpf'), 1n << 70n, new Uint8Array(3)];

/** Option names the attach, create and test-run options of every kind use: each is tried with each wrong value. */
const OPTION_KEYS = [
  'target', 'pid', 'cookie', 'offset', 'retprobe', 'symbol', 'symbols', 'pattern', 'addresses', 'offsets', 'cookies', 'function', 'flags',
  'mode', 'netlink', 'replace', 'priority', 'handle', 'before', 'after', 'anchor', 'expectedRevision', 'scope', 'type', 'config',
  'samplePeriod', 'sampleFrequency', 'inherit', 'link', 'attachType', 'hook', 'headroom', 'route', 'device', 'protocol', 'hookNum',
  'defrag', 'cgroup', 'map', 'order', 'data', 'dataOut', 'ctx', 'ctxOut', 'repeat', 'cpu', 'name', 'category', 'mechanism', 'session',
  'prefix', 'table', 'interface', 'direction', 'innerMap', 'numaNode', 'mapExtra', 'btf', 'keySize', 'valueSize', 'maxEntries',
  'program', 'provider', 'binary', 'ref', 'unique', 'queue', 'frameCount', 'frameSize', 'ringSize',
];

const obj = (name: string) => resolve(repoRoot, 'bpf', name);

export interface Outcome {
  calls: number;
  outcomes: Record<string, number>;
  /** Untyped errors grouped by entry point and message (numbers and values elided): a sample call and a count each. */
  untyped: { call: string; error: string; count: number }[];
  covered: string[];
  /** Calls and time of each entry point's sweep. */
  sweeps: { label: string; calls: number; ms: number; fds: number }[];
  /** Public methods taking arguments that no sweep drives (the list must stay empty). */
  uncovered: string[];
  /** Attach targets with a NUL after a real name, per kind: whether the program loaded here, and the outcome. */
  nul: { kind: string; loaded: boolean; outcome: string }[];
  fdsBefore: number;
  fdsAfter: number;
}

const typed = (err: unknown): string | undefined => {
  if (err instanceof MapError || err instanceof ProgramError) return `${err.name} ${err.kind}`;
  if (err instanceof PinError) return `PinError ${err.kind}`;
  if (err instanceof ParseError || err instanceof BtfError || err instanceof XdpSocketError) return `${err.name} ${err.kind}`;
  if (err instanceof SyscallError) return 'SyscallError';
  return undefined;
};

const show = (v: unknown): string => {
  if (typeof v === 'symbol') return 'Symbol()';
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'function') return 'function';
  if (v instanceof Uint8Array) return `Uint8Array(${v.length})`;
  if (v instanceof ArrayBuffer) return `ArrayBuffer(${v.byteLength})`;
  if (v instanceof Date) return 'Date';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
};

/** Releases whatever a call that succeeded returned (a map, a link, a loaded object). */
function release(value: unknown): void {
  if (value && typeof value === 'object') {
    const v = value as { close?: () => void; detach?: () => void; next?: () => unknown };
    try {
      if (typeof v.next === 'function' && typeof (v as Iterable<unknown>)[Symbol.iterator] === 'function') for (const x of v as Iterable<unknown>) void x;
      else if (typeof v.detach === 'function') v.detach();
      else if (typeof v.close === 'function') v.close();
    } catch {
      // detach of a link already gone, ...: not what is measured here
    }
  }
}

/** Methods the classes keep for themselves and their subclasses (protected, @internal). */
const INTERNAL = new Set(['fromSpec', 'adopt', 'setIndex', 'setKey', 'lookupElem', 'lookupExisting', 'updateElem', 'deleteExisting', 'valueAt', 'removeIndex', 'loadAgainst', 'readBatch', 'writeBatch']);

/** Public methods (static and instance, inherited too) of the loader and map classes that take arguments, not in `covered`. */
function uncovered(covered: string[]): string[] {
  const classes: Record<string, { prototype: object }> = { EbpfLoader, Ebpf, MapData, ArrayMap, HashMap, ArrayOfMaps, HashOfMaps, SockMap, SockHash, Program, ...specialMapClasses };
  Object.assign(classes, { PerCpuArray, PerCpuHashMap, LpmTrie, Queue, Stack, BloomFilter, StackTraceMap, XdpSocket });
  const driven = new Set(covered.map((c) => c.replace(/\(.*?\)/, '').replace(/\/options$/, '')));
  const missing: string[] = [];
  for (const [name, cls] of Object.entries(classes)) {
    for (const start of [cls, cls.prototype]) {
      for (let o: object | null = start; o && o !== Object.prototype && o !== Function.prototype; o = Object.getPrototypeOf(o)) {
        for (const key of Object.getOwnPropertyNames(o)) {
          const fn = Object.getOwnPropertyDescriptor(o, key)?.value as unknown;
          if (typeof fn !== 'function' || key === 'constructor' || INTERNAL.has(key)) continue;
          // Methods of no argument (close, info, keys...) take nothing to get wrong; load and the getters-by-index do.
          if (fn.length === 0 && !['load', 'get', 'getId'].includes(key)) continue;
          const label = `${name}.${key}`;
          const programDriven = name === 'Program' && [...driven].some((d) => d.endsWith(`.${key}`));
          if (!driven.has(label) && !programDriven) missing.push(label);
        }
      }
    }
  }
  return [...new Set(missing)];
}

/** The first program of `kind` in bpf/*.o, in an Ebpf of its own with nothing else loaded. */
function findProgram(kind: string): { ebpf: Ebpf; program: Program } | undefined {
  for (const file of readdirSync(resolve(repoRoot, 'bpf')).filter((f) => f.endsWith('.o') && !f.startsWith('huge_'))) {
    let spec: ObjectSpec;
    try {
      spec = ObjectSpec.parse(readFileSync(obj(file)));
    } catch {
      continue;
    }
    const name = [...spec.programs.values()].find((p) => p.kind === kind)?.name;
    if (!name) continue;
    const l = new EbpfLoader();
    for (const other of spec.programs.keys()) l.setAutoload(other, false);
    const ebpf = l.load(obj(file));
    return { ebpf, program: ebpf.program(name) };
  }
  return undefined;
}

export function run(): Outcome {
  const out: Outcome = { calls: 0, outcomes: {}, untyped: [], covered: [], sweeps: [], nul: [], uncovered: [], fdsBefore: fdCount(), fdsAfter: -1 };
  const call = (label: string, fn: () => unknown): void => {
    out.calls++;
    let outcome: string;
    try {
      const r = fn();
      release(r);
      outcome = 'accepted';
    } catch (err) {
      const kind = typed(err);
      if (kind) outcome = kind;
      else {
        outcome = 'untyped';
        const error = `${(err as Error)?.name}: ${(err as Error)?.message ?? String(err)}`.slice(0, 300);
        const group = `${label.split('(')[0]} ${error.replace(/got .*$|[0-9]+/g, '#')}`;
        const seen = untypedGroups.get(group);
        if (seen) seen.count++;
        else {
          const entry = { call: label, error, count: 1 };
          untypedGroups.set(group, entry);
          out.untyped.push(entry);
        }
      }
    }
    out.outcomes[outcome] = (out.outcomes[outcome] ?? 0) + 1;
  };
  const cover = (name: string) => out.covered.push(name);
  const untypedGroups = new Map<string, Outcome['untyped'][number]>();

  /** Calls `fn(args)` with each wrong value at each position of `defaults` (the others as given), and each option key wrong in object positions. */
  const sweep = (label: string, defaults: unknown[], fn: (...args: unknown[]) => unknown): void => {
    cover(label);
    const t0 = performance.now();
    const calls0 = out.calls;
    const fds0 = fdCount();
    try {
      sweepNow(label, defaults, fn);
    } finally {
      const fds = fdCount() - fds0;
      out.sweeps.push({ label, calls: out.calls - calls0, ms: Math.round(performance.now() - t0), fds });
      if (process.env.TSBPF_SHAPES_VERBOSE) process.stderr.write(`${label}: ${out.calls - calls0} calls, ${Math.round(performance.now() - t0)} ms${fds ? `, fds ${fds > 0 ? '+' : ''}${fds}` : ''}\n`);
    }
  };
  const sweepNow = (label: string, defaults: unknown[], fn: (...args: unknown[]) => unknown): void => {
    for (let i = 0; i < defaults.length; i++) {
      for (const w of WRONG) {
        const args = defaults.slice();
        args[i] = w;
        call(`${label}(${args.map((a, j) => (j === i ? show(a) : '·')).join(', ')})`, () => fn(...args));
      }
      const d = defaults[i];
      // Option objects (plain objects, not codecs): each field the entry point reads, wrong
      // in turn. Which fields it reads is learnt by watching it (a Proxy) until no call
      // reads a new one; OPTION_KEYS seeds the watch with fields a call may skip over.
      if (d !== null && typeof d === 'object' && Object.getPrototypeOf(d) === Object.prototype && typeof (d as { encode?: unknown }).encode !== 'function') {
        const read = new Set<string>(Object.keys(d));
        const watched = (o: object): object =>
          new Proxy(o, {
            get: (t, k) => (typeof k === 'string' && read.add(k), Reflect.get(t, k)),
            has: (t, k) => (typeof k === 'string' && read.add(k), Reflect.has(t, k)),
          });
        const done = new Set<string>();
        call(`${label}(watched defaults)`, () => fn(...defaults.map((x, j) => (j === i ? watched({ ...(d as object) }) : x))));
        for (const key of OPTION_KEYS) {
          // A field no call reads is tried once, to see whether something reads it.
          const args = defaults.slice();
          args[i] = watched({ ...(d as object), [key]: WRONG_FIELD[0] });
          if (!read.has(key)) call(`${label}({ ${key}: ${show(WRONG_FIELD[0])} })`, () => fn(...args));
        }
        for (let fresh = [...read]; fresh.length > 0; fresh = [...read].filter((k) => !done.has(k))) {
          for (const key of fresh) {
            done.add(key);
            for (const w of WRONG_FIELD) {
              const args = defaults.slice();
              args[i] = watched({ ...(d as object), [key]: w });
              call(`${label}(${defaults.map((_, j) => (j === i ? `{ ${key}: ${show(w)} }` : '·')).join(', ')})`, () => fn(...args));
            }
          }
        }
      }
    }
  };

  const autoloadBytes = readFileSync(obj('autoload.o'));

  // ---- loader ----
  sweep('Ebpf.load', [obj('autoload.o')], (p) => Ebpf.load(p as string));
  sweep('ObjectSpec.parse', [autoloadBytes], (b) => ObjectSpec.parse(b as Uint8Array));
  const btfBytes = ObjectSpec.parse(autoloadBytes).btf!.marshal();
  sweep('Btf.parse', [btfBytes, undefined], (b, base) => Btf.parse(b as Uint8Array, base as Btf));
  sweep('Btf.fromTypes', [[{ id: 0, kind: 'void' }]], (t) => Btf.fromTypes(t as never));
  sweep('loadKernelBtf', ['/sys/kernel/btf/vmlinux'], (p) => loadKernelBtf(p as string));
  const loader = () => new EbpfLoader();
  sweep('EbpfLoader.setGlobal', ['enabled', true, {}], (n, v, o) => loader().setGlobal(n as string, v as never, o as never).load(obj('typed_globals.o')));
  sweep('EbpfLoader.setExtern', ['MY_CONST', 1], (n, v) => loader().setExtern(n as string, v as number).load(obj('autoload.o')));
  sweep('EbpfLoader.setMaxEntries', ['slots', 8], (n, v) => loader().setMaxEntries(n as string, v as number).load(obj('autoload.o')));
  sweep('EbpfLoader.setValueSize', ['stacks', 64], (n, v) => loader().setValueSize(n as string, v as number).load(obj('stack_trace.o')));
  sweep('EbpfLoader.mapPinPath', ['/sys/fs/bpf'], (p) => loader().mapPinPath(p as string).load(obj('autoload.o')));
  sweep('EbpfLoader.replaceMap', ['slots', undefined], (n, m) => loader().replaceMap(n as string, m as MapData).load(obj('autoload.o')));
  sweep('EbpfLoader.btf', [undefined], (b) => loader().btf(b as Btf).load(obj('core.o')));
  sweep('EbpfLoader.verifierLogLevel', [1], (l) => loader().verifierLogLevel(l as number).setAutoload('optional_bad', true).load(obj('autoload.o')));
  sweep('EbpfLoader.setAutoload', ['optional_good', true], (n, a) => loader().setAutoload(n as string, a as boolean).load(obj('autoload.o')));
  sweep('EbpfLoader.deferProgram', ['always'], (n) => loader().deferProgram(n as string).load(obj('autoload.o')));
  sweep('EbpfLoader.load', [obj('autoload.o')], (p) => loader().load(p as string));
  for (const method of ['map', 'takeMap', 'program', 'structOps'] as const) {
    sweep(`Ebpf.${method}`, ['slots'], (n) => {
      const ebpf = Ebpf.load(autoloadBytes);
      try {
        const r = (ebpf[method] as (n: string) => unknown)(n as string);
        if (method === 'takeMap') (r as MapData).close();
      } finally {
        ebpf.close();
      }
    });
  }

  // ---- maps ----
  const spec = { type: MapType.Array, keySize: 4, valueSize: 8, maxEntries: 4 };
  sweep('MapData.create', [spec], (s) => MapData.create(s as never));
  sweep('MapData.fromPin', ['/sys/fs/bpf/tsbpf-no-such'], (p) => MapData.fromPin(p as string));
  sweep('MapData.fromId', [1], (id) => MapData.fromId(id as number));
  sweep('MapData.fromFd', [0], (fd) => MapData.fromFd(fd as number));
  const withMap = <T>(fn: (m: MapData) => T) => {
    const m = MapData.create(spec);
    try {
      return fn(m);
    } finally {
      m.close();
    }
  };
  const key = new Uint8Array(4);
  const value = new Uint8Array(8);
  sweep('MapData.lookup', [key, 0], (k, f) => withMap((m) => m.lookup(k as Uint8Array, f as number)));
  sweep('MapData.update', [key, value, 0], (k, v, f) => withMap((m) => m.update(k as Uint8Array, v as Uint8Array, f as number)));
  sweep('MapData.delete', [key], (k) => withMap((m) => m.delete(k as Uint8Array)));
  sweep('MapData.nextKey', [key], (k) => withMap((m) => m.nextKey(k as Uint8Array)));
  sweep('MapData.pin', ['/sys/fs/bpf/tsbpf-no-such/x'], (p) => withMap((m) => m.pin(p as string)));
  for (const m of ['info', 'freeze', 'keys']) sweep(`MapData.${m}`, [], () => withMap((map) => release((map as unknown as Record<string, () => unknown>)[m]!())));

  sweep('ArrayMap.create', [u64, { maxEntries: 4 }], (c, o) => ArrayMap.create(c as never, o as never));
  sweep('ArrayMap.tryFrom', [undefined, u64, {}], (m, c, o) => withMap((map) => ArrayMap.tryFrom((m ?? map) as MapData, c as never, o as never)));
  sweep('ArrayMap.fromMapData', [u64], (c) => withMap((map) => ArrayMap.fromMapData(c as never)(map)));
  const withArray = <T>(fn: (a: ArrayMap<bigint>) => T) => {
    const a = ArrayMap.create(u64, { maxEntries: 4 });
    try {
      return fn(a);
    } finally {
      a.close();
    }
  };
  sweep('ArrayMap.get', [0, 0], (i, f) => withArray((a) => a.get(i as number, f as number)));
  sweep('ArrayMap.set', [0, 1n, 0], (i, v, f) => withArray((a) => a.set(i as number, v as bigint, f as number)));
  sweep('ArrayMap.pin', ['/sys/fs/bpf/tsbpf-no-such/x'], (p) => withArray((a) => a.pin(p as string)));
  sweep('HashMap.create', [u32, u64, { maxEntries: 4 }], (k, v, o) => HashMap.create(k as never, v as never, o as never));
  sweep('HashMap.tryFrom', [undefined, u32, u64, {}], (m, k, v, o) => withMap((map) => HashMap.tryFrom((m ?? map) as MapData, k as never, v as never, o as never)));
  const withHash = <T>(fn: (h: HashMap<number, bigint>) => T) => {
    const h = HashMap.create(u32, u64, { maxEntries: 4 });
    try {
      return fn(h);
    } finally {
      h.close();
    }
  };
  sweep('HashMap.get', [1, 0], (k, f) => withHash((h) => h.get(k as number, f as number)));
  sweep('HashMap.insert', [1, 1n, 0], (k, v, f) => withHash((h) => h.insert(k as number, v as bigint, f as number)));
  sweep('HashMap.remove', [1], (k) => withHash((h) => h.remove(k as number)));
  // The per-CPU, LPM, queue, stack, bloom and stack trace maps: each made, used, closed per call.
  const using = <M extends { close(): void }, T>(make: () => M, fn: (m: M) => T): T => {
    const m = make();
    try {
      return fn(m);
    } finally {
      m.close();
    }
  };
  const more: [string, () => MapData, () => TypedMap, unknown[], unknown[]][] = [
    ['PerCpuArray', () => MapData.create({ type: MapType.PercpuArray, keySize: 4, valueSize: 8, maxEntries: 4 }), () => PerCpuArray.create(u64, { maxEntries: 4 }), [u64], [0, 1n]],
    ['PerCpuHashMap', () => MapData.create({ type: MapType.PercpuHash, keySize: 4, valueSize: 8, maxEntries: 4 }), () => PerCpuHashMap.create(u32, u64, { maxEntries: 4 }), [u32, u64], [1, 1n]],
    ['LpmTrie', () => LpmTrie.create(4, u64, { maxEntries: 4 }).map, () => LpmTrie.create(4, u64, { maxEntries: 4 }), [4, u64], [{ prefixLen: 8, data: new Uint8Array(4) }, 1n]],
    ['Queue', () => MapData.create({ type: MapType.Queue, keySize: 0, valueSize: 8, maxEntries: 4 }), () => Queue.create(u64, { maxEntries: 4 }), [u64], [1n]],
    ['Stack', () => MapData.create({ type: MapType.Stack, keySize: 0, valueSize: 8, maxEntries: 4 }), () => Stack.create(u64, { maxEntries: 4 }), [u64], [1n]],
    ['BloomFilter', () => MapData.create({ type: MapType.BloomFilter, keySize: 0, valueSize: 8, maxEntries: 4 }), () => BloomFilter.create(u64, { maxEntries: 4 }), [u64], [1n]],
    ['StackTraceMap', () => MapData.create({ type: MapType.StackTrace, keySize: 4, valueSize: 64, maxEntries: 4 }), () => StackTraceMap.create({ maxEntries: 4 }), [], [1]],
  ];
  const classOf: Record<string, any> = { PerCpuArray, PerCpuHashMap, LpmTrie, Queue, Stack, BloomFilter, StackTraceMap };
  for (const [name, raw, made, shape, elem] of more) {
    const cls = classOf[name];
    sweep(`${name}.create`, [...shape, { maxEntries: 4 }], (...a) => cls.create(...a));
    sweep(`${name}.tryFrom`, [undefined, ...shape, {}], (m, ...a) => using(raw, (map) => cls.tryFrom((m ?? map) as MapData, ...a)));
    if (typeof cls.fromMapData === 'function') sweep(`${name}.fromMapData`, shape, (...a) => using(raw, (map) => cls.fromMapData(...a)(map)));
    sweep(`${name}.pin`, ['/sys/fs/bpf/tsbpf-no-such/x'], (p) => using(made, (m) => m.pin(p as string)));
    const methods: Record<string, unknown[]> =
      name === 'Queue' || name === 'Stack' ? { push: [elem[0], 0] }
      : name === 'BloomFilter' ? { insert: [elem[0], 0], contains: [elem[0]] }
      : name === 'StackTraceMap' ? { get: [elem[0], 0], remove: [elem[0]], getBuildIds: [elem[0]], insert: [elem[0], [1n], 0] }
      : name === 'PerCpuArray' ? { get: [elem[0], 0], set: [elem[0], elem[1], 0] }
      : { get: [elem[0], 0], insert: [elem[0], elem[1], 0], remove: [elem[0]] };
    for (const [method, args] of Object.entries(methods)) sweep(`${name}.${method}`, args, (...a) => using(made, (m) => (m as any)[method](...a)));
    if (name === 'Queue' || name === 'Stack' || name === 'BloomFilter') continue;
    // The batch verbs of the shared contract (the kernel may refuse them: NotSupported).
    const value = name === 'StackTraceMap' ? [1n] : elem[1];
    sweep(`${name}.getBatch`, [undefined, 4, 0], (c, n, f) => using(made, (m) => (m as any).getBatch(c ?? new MapBatchCursor(), n, f)));
    sweep(`${name}.insertBatch`, [[elem[0]], [value], 0], (k, v, f) => using(made, (m) => (m as any).insertBatch(k, v, f)));
    if (name === 'PerCpuArray') continue;
    sweep(`${name}.getAndRemoveBatch`, [undefined, 4, 0], (c, n, f) => using(made, (m) => (m as any).getAndRemoveBatch(c ?? new MapBatchCursor(), n, f)));
    sweep(`${name}.removeBatch`, [[elem[0]]], (k) => using(made, (m) => (m as any).removeBatch(k)));
  }
  const inner = { type: MapType.Array, keySize: 4, valueSize: 8, maxEntries: 4 };
  const ofMaps = { maxEntries: 4, innerMap: inner };
  sweep('ArrayOfMaps.create', [undefined, ofMaps], (i, o) => ArrayOfMaps.create(i as never, o as never));
  sweep('ArrayOfMaps.tryFrom', [undefined, undefined, {}], (m, i, o) => withMap((map) => ArrayOfMaps.tryFrom((m ?? map) as MapData, i as never, o as never)));
  const withAom = <T>(fn: (a: ArrayOfMaps<MapData>, m: MapData) => T) => {
    const a = ArrayOfMaps.create(ofMaps);
    const m = MapData.create(inner);
    try {
      return fn(a, m);
    } finally {
      m.close();
      a.close();
    }
  };
  sweep('ArrayOfMaps.set', [0, undefined, 0], (i, v, f) => withAom((a, m) => a.set(i as number, (v ?? m) as MapData, f as number)));
  sweep('ArrayOfMaps.get', [0, 0], (i, f) => withAom((a, m) => (a.set(0, m), a.get(i as number, f as number))));
  sweep('ArrayOfMaps.getId', [0, 0], (i, f) => withAom((a) => a.getId(i as number, f as number)));
  sweep('ArrayOfMaps.remove', [0], (i) => withAom((a) => a.remove(i as number)));
  sweep('ArrayOfMaps.setMany', [[], 0], (e, f) => withAom((a) => a.setMany(e as never, f as number)));
  sweep('HashOfMaps.create', [u32, undefined, ofMaps], (k, i, o) => HashOfMaps.create(k as never, i as never, o as never));
  sweep('HashOfMaps.tryFrom', [undefined, u32, undefined, {}], (m, k, i, o) => withMap((map) => HashOfMaps.tryFrom((m ?? map) as MapData, k as never, i as never, o as never)));
  const withHom = <T>(fn: (h: HashOfMaps<number, MapData>, m: MapData) => T) => {
    const h = HashOfMaps.create(u32, ofMaps);
    const m = MapData.create(inner);
    try {
      return fn(h, m);
    } finally {
      m.close();
      h.close();
    }
  };
  sweep('HashOfMaps.insert', [1, undefined, 0], (k, v, f) => withHom((h, m) => h.insert(k as number, (v ?? m) as MapData, f as number)));
  sweep('HashOfMaps.get', [1, 0], (k, f) => withHom((h) => h.get(k as number, f as number)));
  sweep('SockMap.create', [{ maxEntries: 4 }], (o) => SockMap.create(o as never));
  sweep('SockMap.set', [0, undefined, 0], (i, s, f) => {
    const m = SockMap.create({ maxEntries: 4 });
    try {
      m.set(i as number, s as never, f as number);
    } finally {
      m.close();
    }
  });
  sweep('SockHash.create', [u32, { maxEntries: 4 }], (k, o) => SockHash.create(k as never, o as never));
  const withSockMap = <T>(fn: (m: SockMap) => T) => {
    const m = SockMap.create({ maxEntries: 4 });
    try {
      return fn(m);
    } finally {
      m.close();
    }
  };
  const withSockHash = <T>(fn: (m: SockHash<number>) => T) => {
    const m = SockHash.create(u32, { maxEntries: 4 });
    try {
      return fn(m);
    } finally {
      m.close();
    }
  };
  const sockMapSpec = { type: MapType.Sockmap, keySize: 4, valueSize: 8, maxEntries: 4 };
  sweep('SockMap.tryFrom', [undefined, {}], (m, o) => {
    const map = MapData.create(sockMapSpec);
    try {
      SockMap.tryFrom((m ?? map) as MapData, o as never);
    } finally {
      map.close();
    }
  });
  sweep('SockMap.get', [0, 0], (i, f) => withSockMap((m) => m.get(i as number, f as number)));
  sweep('SockMap.remove', [0], (i) => withSockMap((m) => m.remove(i as number)));
  sweep('SockHash.tryFrom', [undefined, u32, {}], (m, k, o) => {
    const map = MapData.create({ ...sockMapSpec, type: MapType.Sockhash });
    try {
      SockHash.tryFrom((m ?? map) as MapData, k as never, o as never);
    } finally {
      map.close();
    }
  });
  sweep('SockHash.insert', [1, undefined, 0], (k, s, f) => withSockHash((m) => m.insert(k as number, s as never, f as number)));
  sweep('SockHash.get', [1, 0], (k, f) => withSockHash((m) => m.get(k as number, f as number)));
  sweep('SockHash.remove', [1], (k) => withSockHash((m) => m.remove(k as number)));
  sweep('HashMap.fromMapData', [u32, u64], (k, v) => {
    const map = MapData.create({ type: MapType.Hash, keySize: 4, valueSize: 8, maxEntries: 4 });
    try {
      HashMap.fromMapData(k as never, v as never)(map);
    } finally {
      map.close();
    }
  });
  sweep('HashMap.pin', ['/sys/fs/bpf/tsbpf-no-such/x'], (p) => withHash((h) => h.pin(p as string)));
  sweep('HashOfMaps.getId', [1, 0], (k, f) => withHom((h) => h.getId(k as number, f as number)));
  sweep('HashOfMaps.remove', [1], (k) => withHom((h) => h.remove(k as number)));
  // pin is TypedMap's, the same for every typed map: driven through each all the same.
  const pinPath = '/sys/fs/bpf/tsbpf-no-such/x';
  sweep('ArrayOfMaps.pin', [pinPath], (p) => withAom((a) => a.pin(p as string)));
  sweep('HashOfMaps.pin', [pinPath], (p) => withHom((h) => h.pin(p as string)));
  sweep('SockMap.pin', [pinPath], (p) => withSockMap((m) => m.pin(p as string)));
  sweep('SockHash.pin', [pinPath], (p) => withSockHash((m) => m.pin(p as string)));
  sweepSpecialMaps(sweep, pinPath);

  // ---- AF_XDP sockets (on lo of the child's namespace) ----
  // One socket for the method sweeps: the kernel frees a closed socket's queue a few
  // milliseconds later (EBUSY until then). The create sweep comes last.
  let xsk: XdpSocket | undefined;
  try {
    xsk = XdpSocket.create(1, { frameCount: 4 });
  } catch (err) {
    if (!(err instanceof XdpSocketError)) throw err;
  }
  const withXsk = (fn: (s: XdpSocket) => unknown) => fn(xsk ?? XdpSocket.create(1, { frameCount: 4 }));
  sweep('XdpSocket.receive', [4], (n) => withXsk((s) => s.receive(n as number)));
  // Aborted signals only (undefined included): a real wait leaves a watch whose duplicate
  // fd closes on a later turn of the loop, after this synchronous run has counted fds.
  const aborted = AbortSignal.abort();
  sweep('XdpSocket.readable', [aborted], (a) => withXsk((s) => void s.readable((a ?? aborted) as never).catch(() => undefined)));
  xsk?.close();
  sweep('XdpSocket.create', [1, { frameCount: 4 }], (i, o) => release(XdpSocket.create(i as never, o as never)));

  // ---- batches and global variables ----
  const cursor = () => new MapBatchCursor();
  sweep('MapData.lookupBatch', [undefined, new Uint8Array(8), new Uint8Array(16), 2, 0], (c, k, v, n, f) => withMap((m) => m.lookupBatch((c ?? cursor()) as never, k as never, v as never, n as number, f as number)));
  sweep('MapData.lookupAndDeleteBatch', [undefined, new Uint8Array(8), new Uint8Array(16), 2, 0], (c, k, v, n, f) => withMap((m) => m.lookupAndDeleteBatch((c ?? cursor()) as never, k as never, v as never, n as number, f as number)));
  sweep('MapData.updateBatch', [new Uint8Array(8), new Uint8Array(16), 2, 0], (k, v, n, f) => withMap((m) => m.updateBatch(k as never, v as never, n as number, f as number)));
  sweep('MapData.deleteBatch', [new Uint8Array(8), 2], (k, n) => withMap((m) => m.deleteBatch(k as never, n as number)));
  type Batched = { getBatch(c: MapBatchCursor, n?: number, f?: number): unknown; getAndRemoveBatch?(c: MapBatchCursor, n?: number, f?: number): unknown; removeBatch?(k: never[]): unknown };
  const batchSweeps = (name: string, use: (fn: (m: Batched) => unknown) => unknown, key: unknown) => {
    sweep(`${name}.getBatch`, [undefined, 4, 0], (c, n, f) => use((m) => m.getBatch((c ?? cursor()) as never, n as number, f as number)));
    if (name.includes('Hash')) {
      sweep(`${name}.getAndRemoveBatch`, [undefined, 4, 0], (c, n, f) => use((m) => m.getAndRemoveBatch!((c ?? cursor()) as never, n as number, f as number)));
      sweep(`${name}.removeBatch`, [[key]], (k) => use((m) => m.removeBatch!(k as never)));
    }
  };
  batchSweeps('ArrayMap', (fn) => withArray((a) => fn(a)), 0);
  batchSweeps('HashMap', (fn) => withHash((h) => fn(h)), 1);
  batchSweeps('ArrayOfMaps', (fn) => withAom((a) => fn(a)), 0);
  batchSweeps('HashOfMaps', (fn) => withHom((h) => fn(h)), 1);
  batchSweeps('SockMap', (fn) => withSockMap((m) => fn(m)), 0);
  batchSweeps('SockHash', (fn) => withSockHash((m) => fn(m)), 1);
  sweep('ArrayMap.insertBatch', [[0], [1n], 0], (i, v, f) => withArray((a) => a.insertBatch(i as never, v as never, f as number)));
  sweep('HashMap.insertBatch', [[1], [1n], 0], (k, v, f) => withHash((h) => h.insertBatch(k as never, v as never, f as number)));
  sweep('ArrayOfMaps.insertBatch', [[0], undefined, 0], (i, v, f) => withAom((a, m) => a.insertBatch(i as never, (v ?? [m]) as never, f as number)));
  sweep('HashOfMaps.insertBatch', [[1], undefined, 0], (k, v, f) => withHom((h, m) => h.insertBatch(k as never, (v ?? [m]) as never, f as number)));
  sweep('SockMap.insertBatch', [[0], [], 0], (i, v, f) => withSockMap((m) => m.insertBatch(i as never, v as never, f as number)));
  sweep('SockHash.insertBatch', [[1], [], 0], (k, v, f) => withSockHash((m) => m.insertBatch(k as never, v as never, f as number)));
  sweep('Ebpf.typedMap', ['records', ArrayMap], (n, k) => {
    const ebpf = Ebpf.load(obj('btf_types.o'));
    try {
      return ebpf.typedMap(n as string, k as typeof ArrayMap).map.fd;
    } finally {
      ebpf.close();
    }
  });
  sweep('Ebpf.variable', ['data_a'], (n) => {
    const ebpf = Ebpf.load(obj('globals.o'));
    try {
      return ebpf.variable(n as string).get();
    } finally {
      ebpf.close();
    }
  });

  // ---- programs: every kind, loaded where this kernel allows it ----
  sweep('Program.fromPin', ['/sys/fs/bpf/tsbpf-no-such'], (p) => Program.fromPin(p as string));
  sweep('Program.fromId', [1], (id) => Program.fromId(id as number));
  sweep('programFromPin', ['/sys/fs/bpf/tsbpf-no-such'], (p) => programFromPin(p as string));
  sweep('programFromId', [1], (id) => programFromId(id as number));
  const objects = readdirSync(resolve(repoRoot, 'bpf')).filter((f) => f.endsWith('.o') && !f.startsWith('huge_'));
  const kindsSeen = new Set<string>();
  const cleanups: (() => void)[] = [];
  for (const file of objects) {
    let spec: ObjectSpec;
    try {
      spec = ObjectSpec.parse(readFileSync(obj(file)));
    } catch {
      continue;
    }
    for (const [name, prog] of spec.programs) {
      if (prog.kind === 'Unknown' || kindsSeen.has(`${prog.kind}/${prog.section.split('/')[0]}`)) continue;
      kindsSeen.add(`${prog.kind}/${prog.section.split('/')[0]}`);
      // One load per kind; the program is loaded again when a call left it unloaded.
      const l = new EbpfLoader();
      for (const other of spec.programs.keys()) l.setAutoload(other, false);
      const ebpf = l.load(obj(file));
      cleanups.push(() => ebpf.close());
      const p = ebpf.program(name);
      const withProgram = (fn: (p: Program) => unknown): unknown => {
        if (!p.loaded) {
          try {
            p.load();
          } catch {
            // Refused by this kernel: the calls meet NotLoaded (typed) and nothing else.
          }
        }
        release(fn(p));
        return undefined;
      };
      const label = `${prog.kind}(${name})`;
      if (typeof (p as unknown as { attach?: unknown }).attach === 'function') sweep(`${label}.attach`, [undefined, undefined, {}], (a, b, c) => withProgram((p) => (p as unknown as { attach: (...x: unknown[]) => unknown }).attach(a, b, c)));
      if (typeof (p as unknown as { attach?: unknown }).attach === 'function') sweep(`${label}.attach/options`, [{}], (o) => withProgram((p) => (p as unknown as { attach: (...x: unknown[]) => unknown }).attach(o)));
      sweep(`${label}.testRun`, [{ data: new Uint8Array(64) }], (o) => withProgram((p) => p.testRun(o as never)));
      sweep(`${label}.pin`, ['/sys/fs/bpf/tsbpf-no-such/x'], (path) => withProgram((p) => p.pin(path as string)));
      sweep(`${label}.load`, [undefined], (o) => withProgram((p) => (p.unload(), (p as unknown as { load: (o: unknown) => unknown }).load(o))));
      if (prog.kind === 'Extension') sweep(`${label}.load/options`, [{}], (o) => withProgram((p) => (p as unknown as { load: (o: unknown) => unknown }).load(o)));
      // A kind without a class of its own (SchedAct, LwtSeg6local, Usdt) loads as a plain Program.
      const Kind = programClasses[prog.kind as keyof typeof programClasses] ?? Program;
      sweep(`${prog.kind}.fromPin`, ['/sys/fs/bpf/tsbpf-no-such'], (path) => Kind.fromPin(path as string));
    }
  }
  // Names with a NUL after a real name: the kernel would read up to the NUL and attach to
  // the real one. Each must be refused (where the program loads: else NotLoaded comes first).
  const nulCases: [string, (p: Program) => unknown][] = [
    ['RawTracePoint', (p) => (p as unknown as { attach: (n: string) => unknown }).attach('sys_enter\0x')],
    ['TracePoint', (p) => (p as unknown as { attach: (c: string, n: string) => unknown }).attach('syscalls', 'sys_enter_getppid\0x')],
    ['Xdp', (p) => (p as unknown as { attach: (i: string) => unknown }).attach('lo\0x')],
    ['KProbe', (p) => (p as unknown as { attach: (f: string) => unknown }).attach('do_nanosleep\0x')],
    ['UProbe', (p) => (p as unknown as { attach: (o: object) => unknown }).attach({ target: process.execPath, symbol: 'main\0x' })],
  ];
  out.nul = [];
  for (const [kind, attach] of nulCases) {
    const found = findProgram(kind);
    if (!found) continue;
    const { ebpf, program } = found;
    try {
      try {
        program.load();
      } catch {
        // refused here: NotLoaded below
      }
      let outcome = 'accepted';
      try {
        release(attach(program));
      } catch (err) {
        outcome = typed(err) ?? `untyped ${(err as Error).message}`;
      }
      out.nul.push({ kind, loaded: program.loaded, outcome });
    } finally {
      ebpf.close();
    }
  }
  for (const c of cleanups) c();
  out.uncovered = uncovered(out.covered);
  out.fdsAfter = fdCount();
  return out;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  console.log(JSON.stringify(run()));
}
