// tsbpf map list|show|dump (and lookup|update|delete): the maps in the kernel.
import { resolve } from 'node:path';
import { Command } from 'commander';
import type { MapData, MapInfo } from '../index.js';
import { tsbpf } from './lib.js';
import { parseHex, parseId } from './common.js';
import { CliError, UsageError } from './errors.js';
import { fields, hexBytes, table, toJson, type Output } from './output.js';

/** MapFlags bits by name ('BPF_F_NO_PREALLOC|BPF_F_RDONLY_PROG'), unknown bits in hex. */
export function mapFlagNames(flags: number): string {
  if (flags === 0) return '0';
  const names: string[] = [];
  let rest = flags;
  for (const [name, bit] of Object.entries(tsbpf().MapFlags)) {
    if (flags & bit) {
      names.push(name);
      rest &= ~bit;
    }
  }
  if (rest) names.push(`0x${rest.toString(16)}`);
  return names.join('|');
}

function mapJson(info: MapInfo): Record<string, unknown> {
  return { ...info, typeName: tsbpf().mapTypeName(info.type), flagNames: mapFlagNames(info.flags) };
}

function withMap<T>(id: number, fn: (map: MapData) => T): T {
  const map = tsbpf().MapData.fromId(id);
  try {
    return fn(map);
  } finally {
    map.close();
  }
}

/**
 * How dump and lookup show an element. The default shows bytes in hex; a formatter that
 * knows the map's BTF key and value types (pretty-printing) registers here and is asked
 * first: it returns undefined for maps it cannot describe.
 */
export interface EntryFormatter {
  /** Text for one key or value. */
  text(bytes: Uint8Array, part: 'key' | 'value'): string;
  /** The JSON form of one key or value. */
  json(bytes: Uint8Array, part: 'key' | 'value'): unknown;
}

export type EntryFormatterFactory = (map: MapData, info: MapInfo) => EntryFormatter | undefined;

const formatterFactories: EntryFormatterFactory[] = [];

/** Adds a formatter (tried before those added earlier, and before hex). */
export function registerEntryFormatter(factory: EntryFormatterFactory): void {
  formatterFactories.unshift(factory);
}

const hexFormatter: EntryFormatter = { text: hexBytes, json: hexBytes };

function formatterFor(map: MapData, info: MapInfo): EntryFormatter {
  for (const factory of formatterFactories) {
    const f = factory(map, info);
    if (f) return f;
  }
  return hexFormatter;
}

/** One element as the dump and lookup commands print it (per-CPU values split by CPU). */
function describeEntry(o: Output, f: EntryFormatter, info: MapInfo, key: Uint8Array, value: Uint8Array): { text: string; json: unknown } {
  const perCpu = tsbpf().mapTypeInfo(info.type)?.perCpu === true;
  if (!perCpu) {
    const k = f.text(key, 'key');
    return {
      text: info.keySize === 0 ? `${o.c.dim('value:')} ${f.text(value, 'value')}` : `${o.c.dim('key:')} ${k}  ${o.c.dim('value:')} ${f.text(value, 'value')}`,
      json: { key: f.json(key, 'key'), value: f.json(value, 'value') },
    };
  }
  const stride = Math.ceil(info.valueSize / 8) * 8;
  const cpus = tsbpf().possibleCpus();
  const values = Array.from({ length: cpus }, (_, cpu) => value.subarray(cpu * stride, cpu * stride + info.valueSize));
  return {
    text: [`${o.c.dim('key:')} ${f.text(key, 'key')}`, ...values.map((v, cpu) => `  ${o.c.dim(`cpu ${cpu}:`)} ${f.text(v, 'value')}`)].join('\n'),
    json: { key: f.json(key, 'key'), values: values.map((v, cpu) => ({ cpu, value: f.json(v, 'value') })) },
  };
}

function keyArg(map: MapData, text: string): Uint8Array {
  const key = parseHex(text, 'the key');
  if (key.length !== map.keySize) throw new UsageError(`the key must be ${map.keySize} bytes (the map's key size), got ${key.length}`);
  return key;
}

export function mapCommand(out: () => Output): Command {
  const cmd = new Command('map').description('maps in the kernel');
  cmd
    .command('list')
    .alias('ls')
    .description('list every map')
    .action(() => {
      const o = out();
      const { loadedMaps, mapTypeName } = tsbpf();
      const maps = [...loadedMaps()];
      if (o.json) return o.write(toJson(maps.map(mapJson)));
      o.write(
        table(
          o,
          ['ID', 'TYPE', 'NAME', 'KEY', 'VALUE', 'MAX', 'FLAGS', 'BTF'],
          maps.map((m) => [m.id, o.c.cyan(mapTypeName(m.type)), m.name || '-', m.keySize, m.valueSize, m.maxEntries, m.flags ? `0x${m.flags.toString(16)}` : '0', m.btfId || '-']),
        ),
      );
    });
  cmd
    .command('show')
    .description('show one map by id')
    .argument('<id>', 'map id', parseId)
    .action((id: number) => {
      const o = out();
      const m = withMap(id, (map) => map.info());
      if (o.json) return o.write(toJson(mapJson(m)));
      o.write(
        fields(o, [
          ['id', m.id],
          ['name', m.name || '-'],
          ['type', `${tsbpf().mapTypeName(m.type)} (${m.type})`],
          ['key', `${m.keySize} bytes`],
          ['value', `${m.valueSize} bytes`],
          ['max entries', m.maxEntries],
          ['flags', mapFlagNames(m.flags)],
          ['btf id', m.btfId || undefined],
          ['map extra', m.mapExtra ? `0x${m.mapExtra.toString(16)}` : undefined],
        ]),
      );
    });
  cmd
    .command('dump')
    .description('print every element (keys and values as hex bytes)')
    .argument('<id>', 'map id', parseId)
    .action((id: number) => {
      const o = out();
      withMap(id, (map) => {
        const info = map.info();
        const f = formatterFor(map, info);
        const entries: { text: string; json: unknown }[] = [];
        const typeName = tsbpf().mapTypeName(info.type);
        if (info.keySize === 0) {
          throw new CliError(`${typeName} map ${id} has no keys: its elements cannot be listed without taking them out`);
        }
        try {
          for (const key of map.keys()) {
            // Deleted between the key walk and the lookup: skipped, as bpftool does.
            const value = map.lookup(key);
            if (value !== undefined) entries.push(describeEntry(o, f, info, key, value));
          }
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          if (code === 'ENOTSUPP' || code === 'EOPNOTSUPP') {
            throw new CliError(`${typeName} map ${id} cannot be dumped: the kernel does not let user space walk or read its elements (${code})`, { cause: err });
          }
          throw err;
        }
        if (o.json) return o.write(toJson(entries.map((e) => e.json)));
        o.write([...entries.map((e) => e.text), o.c.dim(`${entries.length} element${entries.length === 1 ? '' : 's'}`)].join('\n'));
      });
    });
  cmd
    .command('lookup')
    .description('print the value of one key')
    .argument('<id>', 'map id', parseId)
    .argument('<key>', 'the key as hex bytes ("01 00 00 00")')
    .action((id: number, keyText: string) => {
      const o = out();
      withMap(id, (map) => {
        const info = map.info();
        const key = keyArg(map, keyText);
        const value = map.lookup(key);
        if (value === undefined) throw new CliError(`map ${id} has no key ${hexBytes(key)}`);
        const e = describeEntry(o, formatterFor(map, info), info, key, value);
        o.write(o.json ? toJson(e.json) : e.text);
      });
    });
  cmd
    .command('update')
    .description('create or replace one element')
    .argument('<id>', 'map id', parseId)
    .argument('<key>', 'the key as hex bytes ("01 00 00 00")')
    .argument('<value>', 'the value as hex bytes (per-CPU maps: every CPU\'s slot, each rounded up to 8 bytes)')
    .action((id: number, keyText: string, valueText: string) => {
      withMap(id, (map) => {
        const key = keyArg(map, keyText);
        const value = parseHex(valueText, 'the value');
        if (value.length !== map.valueBytes) throw new UsageError(`the value must be ${map.valueBytes} bytes, got ${value.length}`);
        map.update(key, value);
      });
    });
  cmd
    .command('delete')
    .description('delete one element')
    .argument('<id>', 'map id', parseId)
    .argument('<key>', 'the key as hex bytes ("01 00 00 00")')
    .action((id: number, keyText: string) => {
      withMap(id, (map) => {
        const key = keyArg(map, keyText);
        if (!map.delete(key)) throw new CliError(`map ${id} has no key ${hexBytes(key)}`);
      });
    });
  cmd
    .command('pin')
    .description('pin a map on bpffs: it stays while the pin exists')
    .argument('<id>', 'map id', parseId)
    .argument('<path>', 'where, on a bpf filesystem (/sys/fs/bpf/...)')
    .action((id: number, path: string) => {
      withMap(id, (map) => map.pin(resolve(path)));
    });
  return cmd;
}
