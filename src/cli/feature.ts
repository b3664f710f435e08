// tsbpf feature: what this kernel supports, from the library's probes (each loads or
// creates the smallest object of its kind, as bpftool feature probe does).
import { Command } from 'commander';
import { internals, tsbpf } from './lib.js';
import { CliError, UsageError } from './errors.js';
import { table, toJson, type Output } from './output.js';

interface Probed {
  name: string;
  value: number;
  supported: boolean | null;
  /** Why the probe gave no answer (no privilege, ...). */
  error?: string;
}

function probe(values: object, nameOf: (v: number) => string, supported: (v: number) => boolean): Probed[] {
  // The enum's values: its reverse lookups (MapType[1] === 'Hash') are not enumerable.
  return (Object.values(values) as number[])
    .filter((v) => v !== 0) // *_UNSPEC
    .sort((a, b) => a - b)
    .map((value) => {
      try {
        return { name: nameOf(value), value, supported: supported(value) };
      } catch (err) {
        return { name: nameOf(value), value, supported: null, error: (err as Error).message };
      }
    });
}

/** enum bpf_func_id from the kernel's BTF: the helpers this kernel knows by name. */
function helperIds(): { name: string; id: number }[] {
  const e = tsbpf().loadKernelBtf().byName('bpf_func_id', 'enum')[0];
  if (!e) throw new CliError('the kernel BTF has no enum bpf_func_id: helper names are unknown');
  return e.values
    .filter((v) => v.name.startsWith('BPF_FUNC_') && v.value > 0n)
    .map((v) => ({ name: `bpf_${v.name.slice('BPF_FUNC_'.length)}`, id: Number(v.value) }));
}

/** The program types `--helpers` names ('xdp,kprobe', 'all'): values of ProgramType. */
function helperProgramTypes(arg: string): number[] {
  const { isProgramTypeSupported, programTypeName, ProgramType } = tsbpf();
  const all = (Object.values(ProgramType) as number[]).filter((v) => v !== 0);
  if (arg === 'all') return all.filter((t) => isProgramTypeSupported(t));
  return arg.split(',').map((name) => {
    const wanted = name.trim().toLowerCase().replace(/^bpf_prog_type_/, '');
    const t = all.find((v) => programTypeName(v).toLowerCase().replace(/^bpf_prog_type_/, '') === wanted);
    if (t === undefined) throw new UsageError(`unknown program type ${name}: one of ${all.map((v) => programTypeName(v).replace(/^BPF_PROG_TYPE_/, '').toLowerCase()).join(', ')}`);
    return t;
  });
}

export function featureCommand(out: () => Output): Command {
  return new Command('feature')
    .description('program, map and link types this kernel supports, and the helpers each program type may call')
    .option('--helpers <types>', 'helpers of these program types only, e.g. xdp,kprobe (default: every supported type)')
    .option('--no-helpers', 'program, map and link types only')
    .action((opts: { helpers?: string | boolean }) => {
      const o = out();
      const { isHelperSupported, isLinkTypeSupported, isMapTypeSupported, isProgramTypeSupported, LinkType, mapTypeName, MapType, programTypeName, ProgramType } = tsbpf();
      const { linkTypeNames } = internals().enums;
      const programTypes = probe(ProgramType, programTypeName, (t) => isProgramTypeSupported(t));
      const mapTypes = probe(MapType, mapTypeName, isMapTypeSupported);
      // The kernel's names, as for program and map types (LinkInfo.typeName is the short form).
      const linkName = (v: number) => linkTypeNames[v] ?? `link type ${v}`;
      const linkTypes = probe(LinkType, linkName, isLinkTypeSupported);
      let helpers: Record<string, string[]> | undefined;
      // Helpers whose probe got no answer (an errno the probe does not expect), per program type.
      let unprobed: Record<string, { name: string; error: string }[]> | undefined;
      if (opts.helpers !== false) {
        const types = helperProgramTypes(opts.helpers === undefined || opts.helpers === true ? 'all' : opts.helpers);
        const ids = helperIds();
        helpers = {};
        unprobed = {};
        for (const t of types) {
          const yes: string[] = [];
          const unknown: { name: string; error: string }[] = [];
          for (const h of ids) {
            try {
              if (isHelperSupported(t, h.id)) yes.push(h.name);
            } catch (err) {
              unknown.push({ name: h.name, error: (err as Error).message });
            }
          }
          helpers[programTypeName(t)] = yes;
          if (unknown.length) unprobed[programTypeName(t)] = unknown;
        }
      }
      const helperJson = helpers ? { helpers, ...(Object.keys(unprobed!).length ? { helpersUnprobed: unprobed } : {}) } : {};
      if (o.json) return o.write(toJson({ programTypes, mapTypes, linkTypes, ...helperJson }));
      const mark = (p: Probed) => (p.supported === null ? o.c.yellow(`unknown: ${p.error}`) : p.supported ? o.c.green('yes') : o.c.red('no'));
      const section = (title: string, rows: Probed[]) => table(o, [title, 'SUPPORTED'], rows.map((p) => [p.name, mark(p)]));
      const parts = [section('PROGRAM TYPE', programTypes), section('MAP TYPE', mapTypes), section('LINK TYPE', linkTypes)];
      if (helpers) {
        for (const [type, names] of Object.entries(helpers)) {
          const unknown = unprobed![type] ?? [];
          const tail = unknown.length ? `\n  ${o.c.yellow(`not probed (${unknown.length}):`)} ${unknown.map((u) => u.name).join(', ')}` : '';
          parts.push(`${o.c.bold(`Helpers for ${type}`)} (${names.length}):\n${names.map((n) => `  ${n}`).join('\n')}${tail}`);
        }
      }
      o.write(parts.join('\n\n'));
    });
}
