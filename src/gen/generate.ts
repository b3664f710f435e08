// `tsbpf gen`: a TypeScript module for one BPF object, as bpf2go and libbpf's skeletons
// give Go and C: declarations of the object's types (from its BTF), and a typed load()
// whose maps, programs and variables have the classes and value types the object calls
// for, so a misspelt name or a wrong value shape fails to compile. Codecs are not emitted:
// the module derives them from the object's BTF at run time (Ebpf.typedMap, btfCodec),
// the same code that decodes everything else; the declarations say what they return.
import { createHash } from 'node:crypto';
import { ParseError } from '../errors.js';
import { MapType, mapTypeName } from '../maps/map-type.js';
import type { Btf } from '../obj/btf.js';
import type { ObjectSpec, MapDefinition } from '../obj/spec.js';
import { programClasses } from '../programs/kinds.js';
import type { ProgramKind } from '../obj/sections.js';
import { btfCodecOf } from '../codec/btf.js';
import { CodecTypes, globalInputType, globalType, type Declaration, type TsType } from './types.js';

export interface GenerateOptions {
  /**
   * How the module gets the object: 'embed' (default) holds its bytes (base64), so the
   * module is all an application needs; 'path' loads it from `objectPath` at run time.
   */
  source?: 'embed' | 'path';
  /**
   * With source 'path': the object's path as the module refers to it. A relative path
   * is resolved against the generated module's own location (import.meta.url).
   */
  objectPath?: string;
  /** The module the generated code imports the library from (default 'tsbpf'). */
  importFrom?: string;
  /** The object's file name, for the header comment. */
  objectName?: string;
}

/** What generate() made: the module's text, and the model it printed (for checks). */
export interface Generated {
  code: string;
  /** Named struct, union and enum declarations, by BTF id. */
  declarations: Map<number, Declaration>;
  /** What each map's class is, with its key / value types as printed. */
  maps: GeneratedMap[];
  /** Each program's class name ('Xdp', ...; 'Program' for a kind without a class). */
  programs: { name: string; className: string }[];
  /** Each global's type as GlobalVariable.get() returns it. */
  variables: { name: string; type: TsType }[];
}

export interface GeneratedMap {
  name: string;
  /** Class name in the library ('HashMap', 'RingBuf', 'MapData', 'StructOpsMap', ...). */
  className: string;
  /** The decoded key and value, where the class has them from BTF. */
  key?: TsType;
  value?: TsType;
  /** How load() makes it: 'typed' (Ebpf.typedMap), 'bytes' (keys / values as bytes), 'class' (Ebpf.map with the class), 'structOps', 'raw' (MapData). */
  via: 'typed' | 'bytes' | 'class' | 'structOps' | 'raw';
}

/** Names the module declares itself: a C type of the same name gets another. */
const RESERVED = [
  'Maps', 'Programs', 'Variables', 'Globals', 'LoadOptions', 'Loaded', 'Codecs', 'load', 'codecs', 'tsbpf', 'objectBytes',
  // Global types the module's own declarations use, or users expect unshadowed.
  'Record', 'Partial', 'Readonly', 'Array', 'Map', 'Set', 'Object', 'Function', 'String', 'Number', 'Boolean', 'BigInt', 'Symbol',
  'Uint8Array', 'ArrayBufferView', 'Promise', 'Error', 'Date', 'RegExp', 'Buffer', 'Disposable', 'Iterator', 'URL', 'NodeJS', 'JSON', 'Math',
];

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
/** A property name; `__proto__` computed, so that an object literal defines it rather than setting the prototype. */
const prop = (name: string): string => (name === '__proto__' ? `['__proto__']` : IDENT.test(name) ? name : quote(name));
const quote = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** A C-ish description for doc comments (never containing `*\/`). */
const doc = (text: string): string => text.replace(/\*\//g, '* /');

/** Class of each map type whose class Ebpf.typedMap makes, and which of key / value it takes from BTF. */
const TYPED: Partial<Record<MapType, { cls: string; key: boolean; value: boolean }>> = {
  [MapType.Array]: { cls: 'ArrayMap', key: false, value: true },
  [MapType.PercpuArray]: { cls: 'PerCpuArray', key: false, value: true },
  [MapType.Hash]: { cls: 'HashMap', key: true, value: true },
  [MapType.LruHash]: { cls: 'HashMap', key: true, value: true },
  [MapType.PercpuHash]: { cls: 'PerCpuHashMap', key: true, value: true },
  [MapType.LruPercpuHash]: { cls: 'PerCpuHashMap', key: true, value: true },
  [MapType.ArrayOfMaps]: { cls: 'ArrayOfMaps', key: false, value: false },
  [MapType.HashOfMaps]: { cls: 'HashOfMaps', key: true, value: false },
  [MapType.Queue]: { cls: 'Queue', key: false, value: true },
  [MapType.Stack]: { cls: 'Stack', key: false, value: true },
  [MapType.BloomFilter]: { cls: 'BloomFilter', key: false, value: true },
  [MapType.LpmTrie]: { cls: 'LpmTrie', key: false, value: true },
};

/** Map types with a class of their own and no codec (Ebpf.map(name, Class)), or a codec for one side. */
const CLASSES: Partial<Record<MapType, { cls: string; codec?: 'key' | 'value' }>> = {
  [MapType.Ringbuf]: { cls: 'RingBuf' },
  [MapType.UserRingbuf]: { cls: 'UserRingBuf' },
  [MapType.PerfEventArray]: { cls: 'PerfEventArray' },
  [MapType.ProgArray]: { cls: 'ProgramArray' },
  [MapType.Sockmap]: { cls: 'SockMap' },
  [MapType.Sockhash]: { cls: 'SockHash', codec: 'key' },
  [MapType.ReuseportSockarray]: { cls: 'ReusePortSockArray' },
  [MapType.Devmap]: { cls: 'DevMap' },
  [MapType.DevmapHash]: { cls: 'DevMapHash' },
  [MapType.Cpumap]: { cls: 'CpuMap' },
  [MapType.Xskmap]: { cls: 'XskMap' },
  [MapType.CgroupArray]: { cls: 'CgroupArray' },
  [MapType.SkStorage]: { cls: 'SkStorage', codec: 'value' },
  [MapType.TaskStorage]: { cls: 'TaskStorage', codec: 'value' },
  [MapType.InodeStorage]: { cls: 'InodeStorage', codec: 'value' },
  [MapType.CgrpStorage]: { cls: 'CgrpStorage', codec: 'value' },
  [MapType.StackTrace]: { cls: 'StackTraceMap' },
  [MapType.Arena]: { cls: 'Arena' },
};

const mapTypeLabel = (type: number): string => mapTypeName(type).replace(/^BPF_MAP_TYPE_/, '');

class Printer {
  readonly types: CodecTypes;
  readonly btf: Btf | undefined;

  constructor(btf: Btf | undefined) {
    this.btf = btf;
    this.types = new CodecTypes(btf ?? ({ types: [] } as unknown as Btf), RESERVED);
  }

  /** A type as TypeScript text. */
  ts(t: TsType): string {
    switch (t.kind) {
      case 'bytes':
        return 'Uint8Array';
      case 'number':
      case 'bigint':
      case 'boolean':
      case 'string':
      case 'unknown':
        return t.kind;
      case 'literal':
        return quote(t.value);
      case 'ref':
        return this.types.declaration(t.id)!.name;
      case 'array': {
        const inner = this.ts(t.of);
        return t.of.kind === 'union' ? `(${inner})[]` : `${inner}[]`;
      }
      case 'union': {
        if (t.of.length === 0) return 'never';
        return [...new Set(t.of.map((x) => this.ts(x)))].join(' | ');
      }
      case 'object':
        return t.fields.length === 0 ? 'Record<string, never>' : `{ ${t.fields.map((f) => `${prop(f.name)}: ${this.ts(f.type)}`).join('; ')} }`;
    }
  }

  /** The decoded type of BTF type `id` when btfCodecOf lays it out at `size` bytes; undefined otherwise. */
  codecType(id: number | undefined, size: number): TsType | undefined {
    const btf = this.btf;
    if (!btf || id === undefined || id === 0) return undefined;
    try {
      if (btfCodecOf(btf, id).size !== size) return undefined;
    } catch {
      return undefined;
    }
    return this.types.type(id);
  }

  /** A type with its references replaced by what they name (to compare shapes). */
  expand(t: TsType, depth = 0): unknown {
    if (depth > 64) return '…';
    switch (t.kind) {
      case 'ref':
        return this.expand(this.types.declaration(t.id)!.type, depth + 1);
      case 'array':
        return { array: this.expand(t.of, depth + 1) };
      case 'union':
        return { union: t.of.map((x) => this.expand(x, depth + 1)) };
      case 'object':
        return { object: t.fields.map((f) => [f.name, this.expand(f.type, depth + 1)]) };
      default:
        return t;
    }
  }
}

interface MapPlan extends GeneratedMap {
  /** The type as the Maps interface prints it. */
  tsType: string;
  /** The expression load() makes it with (`ebpf` in scope). */
  expr: string;
  comment: string;
}

function planMap(p: Printer, def: MapDefinition): MapPlan {
  const name = def.name;
  const label = `${mapTypeLabel(def.type)}${def.keySize ? `, key ${def.keySize} B` : ''}${def.valueSize ? `, value ${def.valueSize} B` : ''}, ${def.maxEntries} entries`;
  const typed = TYPED[def.type as MapType];
  if (typed) {
    const key = typed.key ? p.codecType(def.btfKeyTypeId, def.keySize) : undefined;
    const value = typed.value ? p.codecType(def.btfValueTypeId, def.valueSize) : undefined;
    const fromBtf = (!typed.key || key !== undefined) && (!typed.value || value !== undefined);
    const inner = (): { ts: string; type?: TsType } => {
      if (!def.inner) return { ts: 'tsbpf.MapData' };
      const plan = planMap(p, { ...def.inner, name: `${name} (inner)` });
      // typedMap makes inner maps of the classes it knows, with BTF for both sides.
      return plan.via === 'typed' ? { ts: plan.tsType } : { ts: 'tsbpf.BtfTypedMap | tsbpf.MapData' };
    };
    const cls = `tsbpf.${typed.cls}`;
    if (fromBtf) {
      const k = key && p.ts(key);
      const v = value && p.ts(value);
      let tsType: string;
      switch (typed.cls) {
        case 'ArrayOfMaps':
          tsType = `${cls}<${inner().ts}>`;
          break;
        case 'HashOfMaps':
          tsType = `${cls}<${k}, ${inner().ts}>`;
          break;
        case 'LpmTrie':
          tsType = `${cls}<Uint8Array, ${v}>`;
          break;
        default:
          tsType = typed.key ? `${cls}<${k}, ${v}>` : `${cls}<${v}>`;
      }
      const keyDoc = typed.key && def.btfKeyTypeId ? `key ${cTypeName(p, def.btfKeyTypeId)}` : '';
      const valueDoc = typed.value && def.btfValueTypeId ? `value ${cTypeName(p, def.btfValueTypeId)}` : '';
      return {
        name,
        className: typed.cls,
        key,
        value,
        via: 'typed',
        tsType,
        expr: `ebpf.typedMap(${quote(name)}, ${cls}) as unknown as ${tsType}`,
        comment: `${mapTypeLabel(def.type)}${keyDoc ? `, ${keyDoc}` : ''}${valueDoc ? `, ${valueDoc}` : ''}, ${def.maxEntries} entries`,
      };
    }
    // No BTF for a side (a legacy map, key_size without __type): keys and values as bytes.
    const kb = `tsbpf.bytes(${def.keySize})`;
    const vb = `tsbpf.bytes(${def.valueSize})`;
    const shapes: Record<string, { ts: string; args: string }> = {
      ArrayOfMaps: { ts: `${cls}`, args: '' },
      HashOfMaps: { ts: `${cls}<Uint8Array>`, args: `, ${kb}` },
      LpmTrie: { ts: `${cls}<Uint8Array, Uint8Array>`, args: `, ${Math.max(0, def.keySize - 4)}, ${vb}` },
    };
    const shape = shapes[typed.cls] ?? (typed.key ? { ts: `${cls}<Uint8Array, Uint8Array>`, args: `, ${kb}, ${vb}` } : { ts: `${cls}<Uint8Array>`, args: `, ${vb}` });
    return {
      name,
      className: typed.cls,
      key: typed.key ? { kind: 'bytes' } : undefined,
      value: typed.value ? { kind: 'bytes' } : undefined,
      via: 'bytes',
      tsType: shape.ts,
      expr: `ebpf.map(${quote(name)}, ${cls}${shape.args})`,
      comment: `${label} (no BTF for its key or value: bytes)`,
    };
  }
  const other = CLASSES[def.type as MapType];
  if (other) {
    const cls = `tsbpf.${other.cls}`;
    if (!other.codec) return { name, className: other.cls, via: 'class', tsType: cls, expr: `ebpf.map(${quote(name)}, ${cls})`, comment: label };
    const side = other.codec;
    const id = side === 'key' ? def.btfKeyTypeId : def.btfValueTypeId;
    const size = side === 'key' ? def.keySize : def.valueSize;
    const t = p.codecType(id, size);
    const ts = t ? p.ts(t) : 'Uint8Array';
    const codec = t
      ? `tsbpf.btfCodecOf<${ts}>(ebpf.spec.btf!, ebpf.spec.maps.get(${quote(name)})!.${side === 'key' ? 'btfKeyTypeId' : 'btfValueTypeId'}!)`
      : `tsbpf.bytes(${size})`;
    return { name, className: other.cls, [side]: t ?? { kind: 'bytes' }, via: 'class', tsType: `${cls}<${ts}>`, expr: `ebpf.map(${quote(name)}, ${cls}, ${codec})`, comment: label };
  }
  if (def.type === MapType.StructOps) {
    return { name, className: 'StructOpsMap', via: 'structOps', tsType: 'tsbpf.StructOpsMap', expr: `ebpf.structOps(${quote(name)})`, comment: `STRUCT_OPS ${def.structOps?.typeName ?? ''}`.trim() };
  }
  return { name, className: 'MapData', via: 'raw', tsType: 'tsbpf.MapData', expr: `ebpf.map(${quote(name)})`, comment: label };
}

/** 'struct record', '__u32', 'enum color' for doc comments. */
const cTypeName = (p: Printer, id: number): string => (p.btf ? cNameOf(p.btf, id) : `type ${id}`);

function cNameOf(btf: Btf, id: number): string {
  const t = btf.type(id);
  switch (t.kind) {
    case 'struct':
    case 'union':
    case 'enum':
    case 'enum64':
      return t.name ? `${t.kind === 'enum64' ? 'enum' : t.kind} ${t.name}` : `anonymous ${t.kind === 'enum64' ? 'enum' : t.kind}`;
    case 'int':
    case 'float':
    case 'typedef':
      return t.name;
    case 'const':
    case 'volatile':
      return `${t.kind} ${cNameOf(btf, t.type)}`;
    case 'ptr':
      return `${cNameOf(btf, t.type)} *`;
    case 'array':
      return `${cNameOf(btf, t.type)}[${t.nelems}]`;
    case 'datasec':
      return `section ${t.name}`;
    default:
      return t.kind;
  }
}

/**
 * The TypeScript module for `spec` (ObjectSpec.parse of the object's bytes, `bytes`).
 * ParseError 'InvalidArgument' for source 'path' without objectPath.
 */
export function generate(spec: ObjectSpec, bytes: Uint8Array, options: GenerateOptions = {}): Generated {
  const source = options.source ?? 'embed';
  if (source !== 'embed' && source !== 'path') throw new ParseError('InvalidArgument', `gen: source must be 'embed' or 'path', got ${String(source)}`);
  if (source === 'path' && !options.objectPath) throw new ParseError('InvalidArgument', 'gen: source \'path\' needs objectPath');
  const importFrom = options.importFrom ?? 'tsbpf';
  const btf = spec.btf;
  const p = new Printer(btf);

  const maps = [...spec.maps.values()].map((def) => planMap(p, def));
  // Every named struct, union and enum, so event records (ring and perf buffers) have theirs.
  p.types.declareAll();

  const programs = [...spec.programs.values()]
    .filter((prog) => prog.kind !== 'Unknown') // the loader makes no program of an unknown section
    .map((prog) => ({ name: prog.name, section: prog.section, className: programClasses[prog.kind as ProgramKind]?.name ?? 'Program' }));

  const variables = [...spec.variables.values()].map((v) => {
    const type = globalType(btf, v.typeId, v.size);
    const input = globalInputType(btf, v.typeId, v.size);
    return { name: v.name, section: v.map, size: v.size, typeId: v.typeId, type, input };
  });

  // A global whose type reads the same as a declared struct is printed as that struct.
  const declarationFor = (typeId: number | undefined, t: TsType): string | undefined => {
    if (!btf || typeId === undefined || t.kind !== 'object') return undefined;
    let r = btf.type(typeId);
    while ((r.kind === 'typedef' || r.kind === 'const' || r.kind === 'volatile') && 'type' in r) r = btf.type(r.type);
    const d = p.types.declaration(r.id);
    if (!d) return undefined;
    return JSON.stringify(p.expand(d.type)) === JSON.stringify(p.expand(t)) ? d.name : undefined;
  };

  const declarations = p.types.declarations;
  const byId = new Map(declarations.map((d) => [d.id, d]));
  // Codecs by name: btfCodec finds the first type of a name and kind, so only that one has its codec here.
  const withCodec = declarations.filter((d) => {
    if (!btf) return false;
    const [kind, ...rest] = d.cName.split(' ');
    if (rest.length === 0) {
      // A bare name: btfCodec takes a struct or union of that name before a typedef.
      const named = btf.byName(d.cName);
      if (named.some((t) => t.kind === 'struct' || t.kind === 'union')) return false;
      const typedef = named.find((t) => t.kind === 'typedef');
      return typedef !== undefined && btf.resolve(typedef.id).id === d.id;
    }
    const want = kind === 'enum' ? ['enum', 'enum64'] : [kind];
    return btf.byName(rest.join(' ')).find((t) => want.includes(t.kind))?.id === d.id;
  });

  const out: string[] = [];
  const w = (line = '') => out.push(line);
  const digest = createHash('sha256').update(bytes).digest('hex');
  w(`// Generated by \`tsbpf gen\` from ${doc(options.objectName ?? 'a BPF object')} (sha256 ${digest.slice(0, 16)}). Do not edit: run tsbpf gen again.`);
  w('/* eslint-disable */');
  w(`import * as tsbpf from ${quote(importFrom)};`);
  if (source === 'path' && !options.objectPath!.startsWith('/')) w(`import { fileURLToPath } from 'node:url';`);
  w();

  if (declarations.length) w('// ---- types of the object\'s BTF, as the codecs decode them (64-bit integers as bigint, char[N] as strings, enums as names) ----');
  for (const d of declarations) {
    w();
    w(`/** ${doc(d.cName)} */`);
    if (d.type.kind === 'object') {
      w(`export interface ${d.name} {`);
      for (const f of d.type.fields) w(`  ${prop(f.name)}: ${p.ts(f.type)};`);
      w('}');
    } else {
      w(`export type ${d.name} = ${p.ts(d.type)};`);
    }
  }
  w();

  w('/** The object\'s maps, each as its type\'s class with key and value types from BTF. */');
  w('export interface Maps {');
  for (const m of maps) {
    w(`  /** ${doc(m.comment)} */`);
    w(`  readonly ${prop(m.name)}: ${m.tsType};`);
  }
  w('}');
  w();
  w('/** The object\'s programs, each as its kind\'s class (attach() takes what the kind needs). */');
  w('export interface Programs {');
  for (const prog of programs) {
    w(`  /** SEC(${doc(JSON.stringify(prog.section))}) */`);
    w(`  readonly ${prop(prog.name)}: tsbpf.${prog.className};`);
  }
  w('}');
  w();
  w('/** The object\'s globals, read and written in place (GlobalVariable.get() / set()). */');
  w('export interface Variables {');
  for (const v of variables) {
    const ts = declarationFor(v.typeId, v.type) ?? p.ts(v.type);
    w(`  /** ${doc(`${v.typeId !== undefined && btf ? cNameOf(btf, v.typeId) : `${v.size} bytes`} in ${v.section}`)} */`);
    w(`  readonly ${prop(v.name)}: tsbpf.GlobalVariable<${ts}>;`);
  }
  w('}');
  w();
  w('/** Initial values of globals, set before load (EbpfLoader.setGlobal); bytes of the variable\'s size fit any. */');
  w('export interface Globals {');
  for (const v of variables) w(`  ${prop(v.name)}?: ${v.input ? `${p.ts(v.input)} | Uint8Array` : 'Uint8Array'};`);
  // None: an index signature of never, so that any name given is an error (an empty interface takes anything).
  if (variables.length === 0) w('  [name: string]: never;');
  w('}');
  w();
  w('/** A codec for each named struct, union and enum, from the object\'s BTF: for ring and perf buffer records, map values read by hand. */');
  w('export interface Codecs {');
  const codecType = (d: Declaration): string => (d.type.kind === 'union' ? `${d.name} | ${isBig(btf!, d.id) ? 'bigint' : 'number'}` : d.name);
  for (const d of withCodec) w(`  readonly ${prop(d.name)}: tsbpf.Codec<${codecType(d)}>;`);
  w('}');
  w();
  w(`export interface LoadOptions {
  /** The object's bytes or path, instead of the ${source === 'embed' ? 'one embedded here' : 'path given at generation'} (the same object, rebuilt). */
  object?: Uint8Array | string;
  /** Initial values of globals (.rodata, .data, .bss). */
  globals?: Globals;
  /** max_entries of maps, instead of what the object declares. */
  maxEntries?: { [K in keyof Maps]?: number };
  /** Programs not to load now (load them later with programs.NAME.load()). */
  defer?: readonly (keyof Programs)[];
  /** Directory for maps pinned by name (LIBBPF_PIN_BY_NAME; default /sys/fs/bpf). */
  mapPinPath?: string;
  /** Anything else on the loader before it loads (setExtern, btf, verifierLogLevel, replaceMap, ...). */
  configure?: (loader: tsbpf.EbpfLoader) => void;
}

/** A loaded object. close() (or \`using\`) releases every map, program and variable. */
export interface Loaded {
  readonly ebpf: tsbpf.Ebpf;
  readonly maps: Maps;
  readonly programs: Programs;
  readonly variables: Variables;
  readonly codecs: Codecs;
  close(): void;
  [Symbol.dispose](): void;
}

/** The codecs of the object's named types, from \`btf\` (the object's: loaded.ebpf.spec.btf, or ObjectSpec.parse(bytes).btf). */
export function codecs(btf: tsbpf.Btf): Codecs {`);
  if (withCodec.length === 0) w('  void btf;');
  w('  return {');
  for (const d of withCodec) w(`    ${prop(d.name)}: tsbpf.btfCodec<${codecType(d)}>(btf, ${quote(d.cName)}),`);
  w('  };');
  w('}');
  w();
  w(`/** Loads the object: maps, then programs (not attached: programs.NAME.attach(), or ebpf.attachAll()). */
export function load(options: LoadOptions = {}): Loaded {
  const loader = new tsbpf.EbpfLoader();
  for (const [name, value] of Object.entries(options.globals ?? {})) if (value !== undefined) loader.setGlobal(name, value as tsbpf.GlobalValue);
  for (const [name, n] of Object.entries(options.maxEntries ?? {})) if (n !== undefined) loader.setMaxEntries(name, n as number);
  for (const name of options.defer ?? []) loader.setAutoload(name as string, false);
  if (options.mapPinPath !== undefined) loader.mapPinPath(options.mapPinPath);
  options.configure?.(loader);
  const ebpf = loader.load(options.object ?? ${source === 'embed' ? 'objectBytes()' : 'objectPath()'});
  try {
    const maps: Maps = {`);
  for (const m of maps) w(`      ${prop(m.name)}: ${m.expr},`);
  w(`    };
    const programs: Programs = {`);
  for (const prog of programs) w(`      ${prop(prog.name)}: ${prog.className === 'Program' ? `ebpf.program(${quote(prog.name)})` : `ebpf.program(${quote(prog.name)}, tsbpf.${prog.className})`},`);
  w(`    };
    const variables: Variables = {`);
  for (const v of variables) w(`      ${prop(v.name)}: ebpf.variable(${quote(v.name)}),`);
  w(`    };
    const close = (): void => ebpf.close();
    return { ebpf, maps, programs, variables, codecs: ${btf ? 'codecs(ebpf.spec.btf!)' : '{}'}, close, [Symbol.dispose]: close };
  } catch (err) {
    ebpf.close();
    throw err;
  }
}
`);
  if (source === 'path') {
    const ref = options.objectPath!;
    w(`/** The object's path: ${doc(ref)}${ref.startsWith('/') ? '' : ', beside this module'}. */`);
    w(`function objectPath(): string {`);
    w(ref.startsWith('/') ? `  return ${quote(ref)};` : `  return fileURLToPath(new URL(${quote(ref)}, import.meta.url));`);
    w('}');
  } else {
    w(`/** The object's bytes (${bytes.length} of them). */`);
    w('function objectBytes(): Uint8Array {');
    w(`  return Buffer.from(OBJECT, 'base64');`);
    w('}');
    w();
    w(`const OBJECT =\n  '${Buffer.from(bytes).toString('base64')}';`);
  }

  return {
    code: out.join('\n'),
    declarations: byId,
    maps: maps.map(({ name, className, key, value, via }) => ({ name, className, key, value, via })),
    programs: programs.map(({ name, className }) => ({ name, className })),
    variables: variables.map(({ name, type }) => ({ name, type })),
  };
}

function isBig(btf: Btf, id: number): boolean {
  const t = btf.type(id);
  return 'size' in t && t.size > 4;
}
