// Reading a metric's map at scrape time: each entry's key becomes labels and its value a
// sample; for histograms, entries of the same labels are the buckets of one series.
// Everything the configuration names is checked against the object's BTF once, when the
// exporter starts, so a scrape only walks the map.
import { BTF_INT_BOOL, BTF_INT_CHAR, type Btf, type BtfType } from '../obj/btf.js';
import type { MapDefinition } from '../obj/spec.js';
import type { BtfValue } from '../codec/btf.js';
import { ArrayMap } from '../maps/array.js';
import { HashMap } from '../maps/hash-map.js';
import { PerCpuArray, PerCpuHashMap } from '../maps/per-cpu.js';
import { mapTypeName } from '../maps/map-type.js';
import type { BtfTypedMap } from '../loader/typed-map.js';
import type { KernelSymbols } from '../symbols.js';
import { ExporterConfigError, type LabelConfig, type MetricConfig } from './config.js';

/** One line of the exposition: labels and a value (metricName for a histogram's _bucket, _sum, _count). */
export interface Sample {
  labels: Record<string, string>;
  value: number;
  metricName?: string;
}

/** The maps whose entries a metric can read. */
type ReadableMap = ArrayMap<BtfValue> | HashMap<BtfValue, BtfValue> | PerCpuArray<BtfValue> | PerCpuHashMap<BtfValue, BtfValue>;

type Getter = (v: unknown) => unknown;

/** What a key field or value member is, for checking what the configuration does with it. */
type Leaf = 'int' | 'ptr' | 'enum' | 'string' | 'bool' | 'float' | 'other';

/** Index: a map's key when it is an array index (no BTF key type). */
const INDEX = -1;

function leafOf(btf: Btf, id: number): { leaf: Leaf; type: BtfType | undefined } {
  if (id === INDEX) return { leaf: 'int', type: undefined };
  const t = btf.resolve(id);
  switch (t.kind) {
    case 'int':
      return { leaf: t.encoding & BTF_INT_BOOL ? 'bool' : 'int', type: t };
    case 'ptr':
      return { leaf: 'ptr', type: t };
    case 'enum':
    case 'enum64':
      return { leaf: 'enum', type: t };
    case 'float':
      return { leaf: 'float', type: t };
    case 'array': {
      const e = btf.resolve(t.type);
      // char[N] decodes as a string; unsigned char and __u8 arrays as numbers (not a label).
      const isChar = e.kind === 'int' && e.size === 1 && ((e.encoding & BTF_INT_CHAR) !== 0 || e.name === 'char');
      return { leaf: isChar ? 'string' : 'other', type: t };
    }
    default:
      return { leaf: 'other', type: t };
  }
}

/** The members of a struct or union as its decoded object has them (anonymous members' members inline). */
function membersOf(btf: Btf, t: BtfType): Map<string, number> {
  const out = new Map<string, number>();
  if (t.kind !== 'struct' && t.kind !== 'union') return out;
  for (const m of t.members) {
    if (m.name) out.set(m.name, m.type);
    else for (const [n, id] of membersOf(btf, btf.resolve(m.type))) out.set(n, id);
  }
  return out;
}

/** The BTF type id at `path` ("a.b") inside type `id`, or a message saying what is there instead. */
function fieldAt(btf: Btf, id: number, path: string): number | string {
  let at = id;
  for (const part of path.split('.')) {
    const t = at === INDEX ? undefined : btf.resolve(at);
    const members = t ? membersOf(btf, t) : new Map<string, number>();
    const next = members.get(part);
    if (next === undefined) {
      const what = !t ? 'an array index (a number)' : t.kind === 'struct' || t.kind === 'union' ? `struct ${t.name || '(anon)'} with members ${[...members.keys()].join(', ')}` : `a ${t.kind} ${(t as { name?: string }).name ?? ''}`.trimEnd();
      return `has no member ${part}: it is ${what}`;
    }
    at = next;
  }
  return at;
}

function getter(path: string | undefined): Getter {
  if (path === undefined) return (v) => v;
  const parts = path.split('.');
  return (v) => {
    let x = v;
    for (const p of parts) x = (x as Record<string, unknown>)[p];
    return x;
  };
}

function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  return Number.NaN;
}

/** One metric's compiled reader. */
export class MetricReader {
  readonly config: MetricConfig;
  readonly #map: ReadableMap;
  readonly #perCpu: boolean;
  readonly #labels: { name: string; get: Getter; text: (v: unknown) => string }[];
  readonly #value: Getter;
  readonly #bucket: Getter | undefined;

  constructor(config: MetricConfig, where: string, map: BtfTypedMap, def: MapDefinition, btf: Btf | undefined, symbols: () => KernelSymbols, file?: string) {
    this.config = config;
    const mismatch: (path: string, message: string) => never = (path, message) => {
      throw new ExporterConfigError('ObjectMismatch', `${where}${path}`, message, file);
    };
    if (!(map instanceof ArrayMap || map instanceof HashMap || map instanceof PerCpuArray || map instanceof PerCpuHashMap)) {
      mismatch('.map', `map ${config.map} is a ${mapTypeName(def.type)}: a metric reads a hash or array map (per-CPU and LRU too)`);
    }
    if (!btf) mismatch('.map', 'the object has no BTF: the exporter reads keys and values through it');
    this.#map = map;
    this.#perCpu = map instanceof PerCpuArray || map instanceof PerCpuHashMap;
    const keyId = map instanceof ArrayMap || map instanceof PerCpuArray ? INDEX : def.btfKeyTypeId!;
    const valueId = def.btfValueTypeId!;
    const keyIsStruct = keyId !== INDEX && ['struct', 'union'].includes(btf.resolve(keyId).kind);

    // The value: an integer, or the integer member `value` names.
    let valueType = valueId;
    if (config.value !== undefined) {
      const at = fieldAt(btf, valueId, config.value);
      if (typeof at === 'string') mismatch('.value', `the value of map ${config.map} ${at}`);
      valueType = at as number;
    }
    const valueLeaf = leafOf(btf, valueType).leaf;
    if (valueLeaf !== 'int' && valueLeaf !== 'float' && valueLeaf !== 'bool') {
      mismatch(config.value !== undefined ? '.value' : '.map', config.value !== undefined
        ? `member ${config.value} of map ${config.map}'s value is not a number`
        : `the value of map ${config.map} is not a number (${leafOf(btf, valueId).type?.kind ?? '?'}): name its member to read with value: <member>`);
    }
    this.#value = getter(config.value);

    // Labels: a key field each (the whole key when the key is a number).
    this.#labels = (config.labels ?? []).map((l: LabelConfig, i) => {
      const at = `.labels[${i}]`;
      let path = l.field;
      if (path === undefined && keyIsStruct) path = l.name;
      let id = keyId;
      if (path !== undefined) {
        const found = fieldAt(btf, keyId, path);
        if (typeof found === 'string') mismatch(`${at}.field`, `the key of map ${config.map} ${found}${l.field === undefined ? ` (the field defaults to the label's name; set field:)` : ''}`);
        id = found as number;
      }
      const { leaf } = leafOf(btf, id);
      const decode = l.decode ?? 'auto';
      if (leaf === 'other' || leaf === 'float') mismatch(`${at}.field`, `${path ?? 'the key'} is a ${leaf === 'float' ? 'float' : btf.resolve(id).kind}: a label takes a number, a char array, an enum or a bool${leaf === 'other' ? ' (name a member: a.b)' : ''}`);
      if (decode !== 'auto' && leaf !== 'int' && leaf !== 'ptr') mismatch(`${at}.decode`, `${decode} decodes numbers and addresses; ${path ?? 'the key'} is ${leaf === 'string' ? 'a char array' : `a${leaf === 'enum' ? 'n' : ''} ${leaf}`}`);
      const table = l.values;
      let text: (v: unknown) => string;
      if (decode === 'ksym') {
        // /proc/kallsyms is read at the first scrape that needs it (a second or so), not at start.
        text = (v) => {
          const addr = typeof v === 'bigint' ? v : BigInt(v as number);
          return symbols().resolve(addr)?.name ?? `0x${addr.toString(16)}`;
        };
      } else if (decode === 'hex') {
        text = (v) => `0x${(typeof v === 'bigint' ? v : BigInt(v as number)).toString(16)}`;
      } else {
        text = (v) => String(v);
      }
      if (table) {
        const raw = text;
        text = (v) => {
          const s = raw(v);
          return Object.hasOwn(table, s) ? table[s]! : s;
        };
      }
      return { name: l.name, get: getter(path), text };
    });

    if (config.type === 'histogram') {
      const b = config.bucket;
      let id = keyId;
      if (b.field !== undefined) {
        const found = fieldAt(btf, keyId, b.field);
        if (typeof found === 'string') mismatch('.bucket.field', `the key of map ${config.map} ${found}`);
        id = found as number;
      } else if (keyIsStruct) {
        mismatch('.bucket.field', `the key of map ${config.map} is a struct: name its member holding the bucket index (members: ${[...membersOf(btf, btf.resolve(keyId)).keys()].join(', ')})`);
      }
      if (leafOf(btf, id).leaf !== 'int') mismatch('.bucket.field', `${b.field ?? 'the key'} is not an integer: it must hold the bucket index`);
      if (b.field === undefined && (config.labels?.length ?? 0) > 0) mismatch('.labels', 'the whole key is the bucket index: there is nothing left to make labels of');
      this.#bucket = getter(b.field);
    }
  }

  /** `[labels, value]` of every entry (per-CPU values summed), in map order. */
  *#entries(): Generator<[Record<string, string>, number, unknown]> {
    for (const [key, raw] of this.#map.entries() as IterableIterator<[unknown, unknown]>) {
      let value = 0;
      if (this.#perCpu) for (const v of raw as unknown[]) value += toNumber(this.#value(v));
      else value = toNumber(this.#value(raw));
      const labels: Record<string, string> = {};
      for (const l of this.#labels) labels[l.name] = l.text(l.get(key));
      yield [labels, value, key];
    }
  }

  /** The samples of one scrape. */
  read(): Sample[] {
    const c = this.config;
    if (c.type !== 'histogram') {
      // Entries that give the same labels (fields left out, a values table) add up.
      const by = new Map<string, Sample>();
      for (const [labels, value] of this.#entries()) {
        const id = JSON.stringify(labels);
        const known = by.get(id);
        if (known) known.value += value;
        else by.set(id, { labels, value });
      }
      return [...by.values()];
    }
    const { min = 0, max, type } = c.bucket;
    const multiplier = c.bucket.multiplier ?? 1;
    const series = new Map<string, { labels: Record<string, string>; counts: Map<number, number> }>();
    for (const [labels, value, key] of this.#entries()) {
      const id = JSON.stringify(labels);
      let s = series.get(id);
      if (!s) series.set(id, (s = { labels, counts: new Map() }));
      const index = toNumber(this.#bucket!(key));
      s.counts.set(index, (s.counts.get(index) ?? 0) + value);
    }
    const bound = (i: number): number => (type === 'log2' ? 2 ** i : i) * multiplier;
    const out: Sample[] = [];
    for (const { labels, counts } of series.values()) {
      let cumulative = 0;
      for (let i = min; i <= max; i++) {
        cumulative += counts.get(i) ?? 0;
        out.push({ metricName: `${c.name}_bucket`, labels: { ...labels, le: String(bound(i)) }, value: cumulative });
      }
      out.push({ metricName: `${c.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: cumulative });
      out.push({ metricName: `${c.name}_sum`, labels, value: (counts.get(max + 1) ?? 0) * multiplier });
      out.push({ metricName: `${c.name}_count`, labels, value: cumulative });
    }
    return out;
  }
}
