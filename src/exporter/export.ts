// exportMetrics: what cloudflare/ebpf_exporter does, on a prom-client Registry. The
// object is loaded and its programs attached once; each metric is a collector that walks
// its map when the registry is scraped (nothing is copied between scrapes).
import { readFileSync } from 'node:fs';
import type { Registry } from 'prom-client';
import { Ebpf, EbpfLoader } from '../loader/load.js';
import { ObjectSpec } from '../obj/spec.js';
import { attachAll, AttachedLinks } from '../programs/attach-all.js';
import { KernelSymbols } from '../symbols.js';
import { checkExporterConfig, ExporterConfigError, loadExporterConfig, type ExporterConfig } from './config.js';
import { MetricReader, type Sample } from './collect.js';

/** What prom-client's Registry reads from a metric (its Metric's get(), name, help, type). */
interface Collector {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  aggregator: 'sum';
  get(): Promise<{ name: string; help: string; type: string; aggregator: 'sum'; values: Sample[] }>;
  reset(): void;
}

/**
 * A running export (exportMetrics' result): the loaded object, its links and the
 * collectors registered. close() (or `using`) unregisters the metrics, detaches the
 * programs and closes the object; a second close() does nothing.
 */
export class MetricsExporter implements Disposable {
  /** The loaded object (its maps are read at each scrape). */
  readonly ebpf: Ebpf;
  /** The links of the programs attached, by program name. */
  readonly links: AttachedLinks;
  /** The names of the metrics registered, in the configuration's order. */
  readonly metricNames: readonly string[];
  readonly #registry: Registry;
  readonly #collectors: Collector[];
  #closed = false;

  /** @internal */
  constructor(ebpf: Ebpf, links: AttachedLinks, registry: Registry, collectors: Collector[]) {
    this.ebpf = ebpf;
    this.links = links;
    this.#registry = registry;
    this.#collectors = collectors;
    this.metricNames = collectors.map((c) => c.name);
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of this.#collectors) {
      // Only ours: the registry may have got another metric of that name since.
      if (this.#registry.getSingleMetric(c.name) === (c as unknown)) this.#registry.removeSingleMetric(c.name);
    }
    try {
      this.links.close();
    } finally {
      this.ebpf.close();
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Loads the object `config` names, attaches its programs and registers a collector per
 * metric on `registry` (a prom-client Registry, or prom-client's default `register`),
 * each reading its map when the registry is scraped. `config` is an ExporterConfig or
 * the path of a YAML file of one (see the README's exporter section for the format).
 *
 * With `programs` listed, only those programs are loaded (the object's others are not)
 * and each must attach from its section alone (tracepoint/..., raw_tp/..., ...); without
 * it, every program loads and those whose section names a target attach (attachAll).
 *
 * Throws ExporterConfigError: 'InvalidConfig' for a malformed configuration,
 * 'ObjectMismatch' for a map, program, key or value field the object does not have (or
 * not of a kind a metric can read), its `path` saying where ('metrics[2].labels[0].field').
 * Loading and attaching fail as Ebpf.load and attachAll do (ProgramError, MapError, ...).
 * A metric name the registry has already fails as prom-client's registerMetric does.
 * All or nothing: on any failure what was made is closed again.
 */
export function exportMetrics(registry: Registry, config: ExporterConfig | string): MetricsExporter {
  let file: string | undefined;
  let checked: ExporterConfig;
  if (typeof config === 'string') {
    file = config;
    checked = loadExporterConfig(config);
  } else {
    checked = checkExporterConfig(config);
  }
  const bytes = typeof checked.object === 'string' ? readObject(checked.object, file) : checked.object;
  let spec: ObjectSpec;
  try {
    spec = ObjectSpec.parse(bytes);
  } catch (err) {
    throw new ExporterConfigError('ObjectMismatch', 'object', `cannot read the object: ${(err as Error).message}`, file);
  }
  const programs = checked.programs;
  const loader = new EbpfLoader();
  if (programs) {
    const have = [...spec.programs.keys()];
    programs.forEach((name, i) => {
      if (!spec.programs.has(name)) throw new ExporterConfigError('ObjectMismatch', `programs[${i}]`, `the object has no program ${name} (programs: ${have.join(', ') || 'none'})`, file);
    });
    for (const name of have) if (!programs.includes(name)) loader.deferProgram(name);
  }
  // Names first: a misspelt map is reported before the object loads.
  checked.metrics.forEach((m, i) => {
    if (!spec.maps.has(m.map)) {
      const maps = [...spec.maps.values()].filter((d) => !d.name.startsWith('.')).map((d) => d.name).sort();
      throw new ExporterConfigError('ObjectMismatch', `metrics[${i}].map`, `the object has no map ${m.map} (maps: ${maps.join(', ') || 'none'})`, file);
    }
  });

  const ebpf = loader.load(bytes);
  const registered: Collector[] = [];
  let links = new AttachedLinks();
  try {
    let symbols: KernelSymbols | undefined;
    const readers = checked.metrics.map((m, i) => {
      let typed;
      try {
        typed = ebpf.typedMap(m.map);
      } catch (err) {
        // A map type without a typed class (ring buffers, ...), a map without BTF.
        throw new ExporterConfigError('ObjectMismatch', `metrics[${i}].map`, `a metric reads a hash or array map through its BTF: ${(err as Error).message}`, file);
      }
      return new MetricReader(m, `metrics[${i}]`, typed, spec.maps.get(m.map)!, spec.btf, () => (symbols ??= KernelSymbols.load()), file);
    });
    if (programs) {
      links = attachAll(programs.map((name) => ebpf.program(name)));
      const missed = programs.filter((p) => !links.has(p));
      if (missed.length) {
        const i = programs.indexOf(missed[0]!);
        throw new ExporterConfigError('ObjectMismatch', `programs[${i}]`, `program ${missed[0]} (section ${ebpf.program(missed[0]!).section}) does not name where to attach: attach it yourself and leave it out of programs`, file);
      }
    } else {
      links = ebpf.attachAll();
    }
    for (const reader of readers) {
      const c = reader.config;
      const help = c.help ?? `${c.map} from ${typeof checked.object === 'string' ? checked.object : 'the object'}`;
      const collector: Collector = {
        name: c.name,
        help,
        type: c.type,
        aggregator: 'sum',
        get: async () => ({ name: c.name, help, type: c.type, aggregator: 'sum', values: reader.read() }),
        reset() {},
      };
      // prom-client types registerMetric for its own classes; it reads only what Collector has.
      registry.registerMetric(collector as unknown as Parameters<Registry['registerMetric']>[0]);
      registered.push(collector);
    }
    return new MetricsExporter(ebpf, links, registry, registered);
  } catch (err) {
    for (const c of registered) registry.removeSingleMetric(c.name);
    try {
      links.close();
    } finally {
      ebpf.close();
    }
    throw err;
  }
}

function readObject(path: string, file: string | undefined): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ExporterConfigError('ObjectMismatch', 'object', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, file);
  }
}
