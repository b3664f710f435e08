// tsbpf gen <object.bpf.o> [-o file.ts]: a typed TypeScript module for a BPF object
// (src/gen/generate.ts), as bpf2go and `bpftool gen skeleton` do for Go and C.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { tsbpf } from './lib.js';
import { CliError } from './errors.js';
import type { Output } from './output.js';
import { toJson } from './output.js';

interface GenOptions {
  output?: string;
  path?: string | boolean;
  embed?: boolean;
  importFrom: string;
}

/** The object path as the generated module refers to it: relative to the module's directory when it is written to a file. */
function objectReference(object: string, given: string | boolean | undefined, output: string | undefined): string {
  if (typeof given === 'string') return given;
  // Printed, the module's own location is unknown: the object's absolute path then.
  if (!output) return resolve(object);
  const rel = relative(dirname(resolve(output)), resolve(object));
  return rel.startsWith('.') ? rel : `./${rel}`;
}

export function genCommand(out: () => Output): Command {
  return new Command('gen')
    .description('generate a typed TypeScript module for a BPF object: its types from BTF, and load() with typed maps, programs and globals')
    .argument('<object>', 'the BPF object file (clang -g -target bpf: its BTF gives the types)')
    .option('-o, --output <file>', 'write the module to this file (default: standard output)')
    .addOption(new Option('--embed', 'embed the object in the module, base64 (the default): the module is all an application needs').conflicts('path'))
    .addOption(new Option('--path [path]', 'load the object from a path at run time instead; relative paths resolve against the module (default: the object, relative to the output file)'))
    .option('--import-from <module>', 'the module the generated code imports the library from', 'tsbpf')
    .addHelpText('after', '\nExample:\n  tsbpf gen bpf/counter.bpf.o -o src/counter.ts\n  # then: import { load } from \'./counter.js\'; using c = load(); c.maps.counts.get(0);')
    .action((object: string, opts: GenOptions) => {
      const o = out();
      const { ObjectSpec } = tsbpf();
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(readFileSync(object));
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'ENOENT') throw new CliError(`${object}: no such file`);
        if (e.code === 'EISDIR') throw new CliError(`${object} is a directory: give a BPF object file (.o)`);
        throw err;
      }
      const spec = ObjectSpec.parse(bytes);
      return import('../gen/index.js').then(({ generate }) => {
        const source = opts.path !== undefined && opts.path !== false ? 'path' : 'embed';
        const generated = generate(spec, bytes, {
          source,
          objectPath: source === 'path' ? objectReference(object, opts.path, opts.output) : undefined,
          importFrom: opts.importFrom,
          objectName: object.split('/').pop(),
        });
        const summary = {
          output: opts.output ?? null,
          source,
          maps: generated.maps.map((m) => ({ name: m.name, class: m.className })),
          programs: generated.programs.map((p) => ({ name: p.name, class: p.className })),
          variables: generated.variables.map((v) => v.name),
          types: [...generated.declarations.values()].map((d) => ({ c: d.cName, ts: d.name })),
        };
        if (!opts.output) {
          process.stdout.write(`${generated.code}\n`);
          return;
        }
        writeFileSync(opts.output, `${generated.code}\n`);
        if (o.json) return o.write(toJson(summary));
        o.write(
          `wrote ${opts.output}: ${summary.maps.length} maps, ${summary.programs.length} programs, ${summary.variables.length} globals, ${summary.types.length} types` +
            ` (${source === 'embed' ? `object embedded, ${bytes.length} bytes` : `object loaded from ${objectReference(object, opts.path, opts.output)}`})`,
        );
      });
    });
}
