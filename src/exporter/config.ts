// The exporter's configuration: which object to load, which of its programs to attach,
// and for each metric the map it reads and how a key becomes labels. A small cousin of
// cloudflare/ebpf_exporter's format (the same bucket semantics), with BTF doing what its
// per-label `size` and `decoders` lists do by hand.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';

/** The whole configuration (a YAML file, or this object). */
export interface ExporterConfig {
  /** The BPF object: a path (relative to the config file's directory for a file) or its bytes. */
  object: string | Uint8Array;
  /**
   * The programs to attach, by name, each at the target its section names (see
   * Ebpf.attachAll). Omitted: every program whose section names a target; `[]`: none
   * (something else attaches them, or the maps are filled otherwise).
   */
  programs?: string[];
  metrics: MetricConfig[];
}

/** How a map becomes one metric. */
export type MetricConfig = CounterConfig | GaugeConfig | HistogramConfig;

/** What every metric has (CounterConfig, GaugeConfig and HistogramConfig add their type). */
export interface MetricBaseConfig {
  /** The metric's name ([a-zA-Z_:][a-zA-Z0-9_:]*). Counters conventionally end in `_total`. */
  name: string;
  /** Its HELP text (default: "<map> from <object>"). */
  help?: string;
  /** The map to read at each scrape: a hash or array map, per-CPU or not (per-CPU values are summed). */
  map: string;
  /**
   * The value's member to read when the map's value is a struct ("bytes",
   * "stats.bytes"); omitted when the value is an integer.
   */
  value?: string;
  /** How the key becomes labels, one entry per label. */
  labels?: LabelConfig[];
}

/** A counter: one sample per map entry (a map entry per label set). */
export interface CounterConfig extends MetricBaseConfig {
  type: 'counter';
}

/** A gauge: as a counter, for values that go down too. */
export interface GaugeConfig extends MetricBaseConfig {
  type: 'gauge';
}

/** A histogram from a map whose key holds a bucket index and whose value is that bucket's count. */
export interface HistogramConfig extends MetricBaseConfig {
  type: 'histogram';
  bucket: BucketConfig;
}

/**
 * A bucket map's layout, as ebpf_exporter's `bucket_type`, `bucket_min`, `bucket_max`,
 * `bucket_multiplier`: entry `i` of the key's bucket field counts the values at or below
 * `2^i * multiplier` (log2) or `i * multiplier` (linear) and above the previous bound.
 * Buckets min..max are reported (missing entries as 0); entry max + 1, when present,
 * holds the sum of the values (times multiplier is the histogram's _sum; 0 without it).
 */
export interface BucketConfig {
  /** The key's member holding the bucket index (omitted: the key is the index itself). */
  field?: string;
  type: 'log2' | 'linear';
  /** The first bucket index reported (default 0). */
  min?: number;
  /** The last bucket index reported; the BPF program clamps larger values to it. */
  max: number;
  /** Scales each bound and the sum (0.000001 for microseconds to seconds); default 1. */
  multiplier?: number;
}

/** One label, from one field of the map's key. */
export interface LabelConfig {
  /** The label's name ([a-zA-Z_][a-zA-Z0-9_]*). */
  name: string;
  /**
   * The key's member to read ("comm", "flow.dport"); default: the label's name when the
   * key is a struct, the whole key when it is a number (an array map's index).
   */
  field?: string;
  /**
   * How the field's value becomes text. `auto` (default): numbers in decimal, char[N] as
   * the string, enums as the name of the value, bool as true/false. `ksym`: a kernel
   * address as the name of the function it is in (/proc/kallsyms; hex when unknown).
   * `hex`: a number as 0x... .
   */
  decode?: 'auto' | 'ksym' | 'hex';
  /** A fixed table from the decoded text to the label's value (`values: { "6": tcp, "17": udp }`); text not in it is kept. */
  values?: Record<string, string>;
}

/** What is wrong with an exporter configuration: its shape, or what it names in the object. */
export type ExporterConfigErrorKind =
  /** The configuration's shape is wrong: a missing or misspelt key, a value of the wrong type. */
  | 'InvalidConfig'
  /** The configuration names something the object does not have (a map, a program, a key or value field). */
  | 'ObjectMismatch';

const brand = Symbol.for('tsbpf.ExporterConfigError');

/** A configuration the exporter cannot use; `path` says where (`metrics[1].bucket.max`). */
export class ExporterConfigError extends Error {
  override readonly name = 'ExporterConfigError';
  readonly kind: ExporterConfigErrorKind;
  /** Where in the configuration ('metrics[0].labels[1].field'; '' for the whole). */
  readonly path: string;
  /** The file it came from, when it came from one. */
  readonly file?: string;

  constructor(kind: ExporterConfigErrorKind, path: string, message: string, file?: string) {
    super(`${file ? `${file}: ` : ''}${path ? `${path}: ` : ''}${message}`);
    this.kind = kind;
    this.path = path;
    this.file = file;
  }

  get [brand](): true {
    return true;
  }

  static override [Symbol.hasInstance] = (v: unknown): boolean => typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[brand] === true;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FIELD = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return 'a list';
  if (v === null || v === undefined) return 'nothing';
  if (v instanceof Uint8Array) return 'bytes';
  return typeof v === 'object' ? 'a mapping' : String(v);
}

/** Checks a configuration's shape (not yet against an object); returns a normalised copy. */
export function checkExporterConfig(input: unknown, file?: string): ExporterConfig {
  const fail: (path: string, message: string) => never = (path, message) => {
    throw new ExporterConfigError('InvalidConfig', path, message, file);
  };
  const mapping = (v: unknown, path: string, keys: readonly string[]): Record<string, unknown> => {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) fail(path, `must be a mapping (${keys.join(', ')}), got ${show(v)}`);
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (!keys.includes(k)) {
        const near = keys.find((known) => known.toLowerCase().replace(/_/g, '') === k.toLowerCase().replace(/_/g, '') || known.startsWith(k) || k.startsWith(known));
        fail(path ? `${path}.${k}` : k, `unknown key${near ? ` (did you mean ${near}?)` : ''}; known keys here: ${keys.join(', ')}`);
      }
    }
    return o;
  };
  const string = (v: unknown, path: string, what: string, re?: RegExp): string => {
    if (typeof v !== 'string' || v === '') fail(path, `must be ${what}, got ${show(v)}`);
    if (re && !re.test(v as string)) fail(path, `${show(v)} is not ${what}`);
    return v as string;
  };
  const list = (v: unknown, path: string, what: string): unknown[] => {
    if (!Array.isArray(v)) fail(path, `must be a list of ${what}, got ${show(v)}`);
    return v as unknown[];
  };

  const top = mapping(input, '', ['object', 'programs', 'metrics']);
  if (top.object === undefined) fail('object', 'missing: the path of the BPF object (.o) to load');
  const object = top.object instanceof Uint8Array ? top.object : string(top.object, 'object', 'the path of a BPF object (.o)');
  let programs: string[] | undefined;
  if (top.programs !== undefined && top.programs !== null) {
    programs = list(top.programs, 'programs', 'program names').map((p, i) => string(p, `programs[${i}]`, 'a program name'));
  }
  if (top.metrics === undefined) fail('metrics', 'missing: a list of metrics (name, type, map, labels)');
  const names = new Set<string>();
  const metrics = list(top.metrics, 'metrics', 'metrics').map((m, i): MetricConfig => {
    const at = `metrics[${i}]`;
    const o = mapping(m, at, ['name', 'help', 'type', 'map', 'value', 'labels', 'bucket']);
    const name = string(o.name, `${at}.name`, 'a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)', METRIC_NAME);
    if (names.has(name)) fail(`${at}.name`, `${name} is used by an earlier metric`);
    names.add(name);
    const type = o.type;
    if (type !== 'counter' && type !== 'gauge' && type !== 'histogram') fail(`${at}.type`, `must be counter, gauge or histogram, got ${show(type)}`);
    const base: MetricBaseConfig = { name, map: string(o.map, `${at}.map`, 'the name of a map in the object') };
    if (o.help !== undefined) base.help = string(o.help, `${at}.help`, 'text');
    if (o.value !== undefined) base.value = string(o.value, `${at}.value`, 'a member of the map\'s value ("bytes", "stats.bytes")', FIELD);
    const labelNames = new Set<string>();
    if (o.labels !== undefined && o.labels !== null) {
      base.labels = list(o.labels, `${at}.labels`, 'labels').map((l, j): LabelConfig => {
        const lat = `${at}.labels[${j}]`;
        const lo = mapping(l, lat, ['name', 'field', 'decode', 'values']);
        const label: LabelConfig = { name: string(lo.name, `${lat}.name`, 'a label name ([a-zA-Z_][a-zA-Z0-9_]*)', LABEL_NAME) };
        if (label.name.startsWith('__')) fail(`${lat}.name`, 'label names starting with __ are reserved by Prometheus');
        if (type === 'histogram' && label.name === 'le') fail(`${lat}.name`, 'a histogram cannot have a label named le (Prometheus uses it for the bucket bound)');
        if (labelNames.has(label.name)) fail(`${lat}.name`, `${label.name} is used by an earlier label of this metric`);
        labelNames.add(label.name);
        if (lo.field !== undefined) label.field = string(lo.field, `${lat}.field`, 'a member of the map\'s key ("comm", "flow.dport")', FIELD);
        if (lo.decode !== undefined) {
          if (lo.decode !== 'auto' && lo.decode !== 'ksym' && lo.decode !== 'hex') fail(`${lat}.decode`, `must be auto, ksym or hex, got ${show(lo.decode)}`);
          label.decode = lo.decode as LabelConfig['decode'];
        }
        if (lo.values !== undefined) {
          if (typeof lo.values !== 'object' || lo.values === null || Array.isArray(lo.values)) fail(`${lat}.values`, `must be a mapping from the field's text to the label's (values: { OP_WRITE: write }), got ${show(lo.values)}`);
          const table = lo.values as Record<string, unknown>;
          label.values = Object.fromEntries(Object.entries(table).map(([k, v]) => {
            if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') fail(`${lat}.values.${k}`, `must be the label's text, got ${show(v)}`);
            return [k, String(v)];
          }));
        }
        return label;
      });
    }
    if (type !== 'histogram') {
      if (o.bucket !== undefined) fail(`${at}.bucket`, `only histograms have buckets (this metric's type is ${type})`);
      return { ...base, type };
    }
    if (o.bucket === undefined) fail(`${at}.bucket`, 'missing: a histogram needs bucket: { type: log2|linear, min, max, field? }');
    const b = mapping(o.bucket, `${at}.bucket`, ['field', 'type', 'min', 'max', 'multiplier']);
    if (b.type !== 'log2' && b.type !== 'linear') fail(`${at}.bucket.type`, `must be log2 or linear, got ${show(b.type)}`);
    const int = (v: unknown, key: string): number => {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${at}.bucket.${key}`, `must be a bucket index (an integer >= 0), got ${show(v)}`);
      return v as number;
    };
    const min = int(b.min ?? 0, 'min');
    const max = int(b.max, 'max');
    if (max < min) fail(`${at}.bucket.max`, `must be at least min (${min}), got ${max}`);
    if (max - min > 4096) fail(`${at}.bucket.max`, `${max - min + 1} buckets is more than the 4097 a histogram may have`);
    const bucket: BucketConfig = { type: b.type as BucketConfig['type'], min, max };
    if (b.field !== undefined) bucket.field = string(b.field, `${at}.bucket.field`, 'a member of the map\'s key', FIELD);
    if (b.multiplier !== undefined) {
      if (typeof b.multiplier !== 'number' || !(b.multiplier > 0) || !Number.isFinite(b.multiplier)) fail(`${at}.bucket.multiplier`, `must be a number > 0, got ${show(b.multiplier)}`);
      bucket.multiplier = b.multiplier as number;
    }
    if (bucket.field && base.labels?.some((l) => (l.field ?? l.name) === bucket.field)) {
      fail(`${at}.labels`, `the bucket field ${bucket.field} cannot also be a label (each bucket is a series of the histogram already)`);
    }
    return { ...base, type, bucket };
  });
  if (metrics.length === 0) fail('metrics', 'is empty: name at least one metric');
  return { object, ...(programs ? { programs } : {}), metrics };
}

/** YAML text (or JSON, which is YAML) as a configuration; `file` names it in errors and is where a relative `object` path starts. */
export function parseExporterConfig(text: string, file?: string): ExporterConfig {
  const yaml = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  let doc: unknown;
  try {
    doc = yaml.parse(text);
  } catch (err) {
    throw new ExporterConfigError('InvalidConfig', '', `not valid YAML: ${(err as Error).message}`, file);
  }
  const config = checkExporterConfig(doc, file);
  if (file && typeof config.object === 'string') config.object = resolve(dirname(file), config.object);
  return config;
}

/** Reads and checks the configuration file at `path` (YAML). */
export function loadExporterConfig(path: string): ExporterConfig {
  return parseExporterConfig(readFileSync(path, 'utf8'), path);
}
