// tsbpf btf dump <file|id>: the types of a BTF blob, an object file's .BTF, or a BTF
// object the kernel holds, as bpftool prints them ('raw') or as C declarations ('c').
import { readFileSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { Command, Option } from 'commander';
import type { Btf, BtfType } from '../index.js';
import { internals, tsbpf, tsbpfSys } from './lib.js';
import { UsageError } from './errors.js';
import { toJson, type Output } from './output.js';

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];

/** A BTF object of the kernel, by id: module BTF is split BTF over vmlinux's. */
function btfById(id: number): Btf {
  const { Btf, loadKernelBtf } = tsbpf();
  const { btfGetData, btfGetFdById, kernel } = tsbpfSys();
  const { btfObjects } = internals().kernelBtf;
  const fd = btfGetFdById(id);
  let bytes: Uint8Array;
  try {
    bytes = btfGetData(fd);
  } finally {
    kernel.close(fd);
  }
  const obj = btfObjects().find((b) => b.id === id);
  const isModule = obj?.kernel === true && bytes.length !== statSync('/sys/kernel/btf/vmlinux', { throwIfNoEntry: false })?.size;
  return Btf.parse(bytes, isModule ? loadKernelBtf() : undefined);
}

/** A file: an ELF object (its .BTF), or raw BTF (a module's in /sys/kernel/btf is split over vmlinux). */
function btfFromFile(path: string, basePath?: string): Btf {
  const { Btf, BtfError, loadKernelBtf } = tsbpf();
  const { ElfFile } = internals().elf;
  const bytes = new Uint8Array(readFileSync(path));
  if (ELF_MAGIC.every((b, i) => bytes[i] === b)) {
    // As the compiler wrote it (datasec sizes still 0): what the file holds, as bpftool shows it.
    const section = ElfFile.parse(bytes).section('.BTF');
    if (!section) throw new BtfError('InvalidArgument', `${path} has no .BTF section: compile it with clang -g`);
    return Btf.parse(section.data);
  }
  let base: Btf | undefined;
  if (basePath) base = Btf.parse(new Uint8Array(readFileSync(basePath)));
  else if (dirname(path) === '/sys/kernel/btf' && basename(path) !== 'vmlinux') base = loadKernelBtf();
  return Btf.parse(bytes, base);
}

export function loadBtf(source: string, basePath?: string): Btf {
  if (/^\d+$/.test(source)) return btfById(Number(source));
  return btfFromFile(source, basePath);
}

const INT_ENCODINGS: Record<number, string> = { 0: '(none)', 1: 'SIGNED', 2: 'CHAR', 4: 'BOOL' };
const FUNC_LINKAGE = ['static', 'global', 'extern'];
const VAR_LINKAGE = ['static', 'global', 'extern'];

const q = (name: string) => `'${name || '(anon)'}'`;

/** One type as bpftool's raw format prints it ("[3] STRUCT 'foo' size=8 vlen=2" and member lines). */
export function rawType(btf: Btf, t: BtfType): string {
  const head = `[${t.id}] ${t.kind.toUpperCase()}`;
  switch (t.kind) {
    case 'void':
      return `${head} '(anon)'`;
    case 'int':
      return `${head} ${q(t.name)} size=${t.size} bits_offset=${t.bitOffset} nr_bits=${t.bits} encoding=${INT_ENCODINGS[t.encoding] ?? t.encoding}`;
    case 'ptr':
      return `${head} '(anon)' type_id=${t.type}`;
    case 'array':
      return `${head} '(anon)' type_id=${t.type} index_type_id=${t.indexType} nr_elems=${t.nelems}`;
    case 'struct':
    case 'union':
      return [
        `${head} ${q(t.name)} size=${t.size} vlen=${t.members.length}`,
        ...t.members.map((m) => `\t${q(m.name)} type_id=${m.type} bits_offset=${m.bitOffset}${m.bitfieldSize ? ` bitfield_size=${m.bitfieldSize}` : ''}`),
      ].join('\n');
    case 'enum':
    case 'enum64':
      return [`${head} ${q(t.name)} encoding=${t.signed ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`, ...t.values.map((v) => `\t${q(v.name)} val=${v.value}${t.kind === 'enum64' ? (t.signed ? 'LL' : 'ULL') : ''}`)].join('\n');
    case 'fwd':
      return `${head} ${q(t.name)} fwd_kind=${t.union ? 'union' : 'struct'}`;
    case 'typedef':
    case 'volatile':
    case 'const':
    case 'restrict':
      return `${head} ${q(t.name)} type_id=${t.type}`;
    case 'type_tag':
      return `${head} ${q(t.name)} type_id=${t.type}${t.attr ? ' kflag=1' : ''}`;
    case 'func':
      return `${head} ${q(t.name)} type_id=${t.type} linkage=${FUNC_LINKAGE[t.linkage] ?? t.linkage}`;
    case 'func_proto':
      return [`${head} '(anon)' ret_type_id=${t.returnType} vlen=${t.params.length}`, ...t.params.map((p) => `\t${q(p.name)} type_id=${p.type}`)].join('\n');
    case 'var':
      return `${head} ${q(t.name)} type_id=${t.type}, linkage=${VAR_LINKAGE[t.linkage] ?? t.linkage}`;
    case 'datasec':
      return [
        `${head} ${q(t.name)} size=${t.size} vlen=${t.vars.length}`,
        ...t.vars.map((v) => {
          const target = btf.types[v.type];
          return `\ttype_id=${v.type} offset=${v.offset} size=${v.size}${target && 'name' in target ? ` (${target.kind.toUpperCase()} ${q(target.name)})` : ''}`;
        }),
      ].join('\n');
    case 'float':
      return `${head} ${q(t.name)} size=${t.size}`;
    case 'decl_tag':
      return `${head} ${q(t.name)} type_id=${t.type} component_idx=${t.componentIdx}${t.attr ? ' kflag=1' : ''}`;
  }
}

/**
 * C declarations, readable rather than compilable: every named struct, union, enum,
 * typedef, function and variable in id order (no forward declarations or reordering),
 * anonymous structs inline.
 */
export class CPrinter {
  readonly #btf: Btf;

  constructor(btf: Btf) {
    this.#btf = btf;
  }

  /** `name` declared with type `id` ("int (*name)[4]"). */
  decl(id: number, name: string, indent = ''): string {
    const t = this.#btf.type(id);
    const withName = (base: string) => (name ? `${base} ${name}` : base);
    switch (t.kind) {
      case 'void':
        return withName('void');
      case 'int':
      case 'float':
      case 'typedef':
        return withName(t.name);
      case 'struct':
      case 'union':
        return withName(t.name ? `${t.kind} ${t.name}` : this.body(t, indent));
      case 'enum':
      case 'enum64':
        return withName(t.name ? `enum ${t.name}` : this.body(t, indent));
      case 'fwd':
        return withName(`${t.union ? 'union' : 'struct'} ${t.name}`);
      case 'ptr': {
        const target = this.#btf.type(t.type);
        const wrap = target.kind === 'array' || target.kind === 'func_proto';
        return this.decl(t.type, wrap ? `(*${name})` : `*${name}`, indent);
      }
      case 'array':
        return this.decl(t.type, `${name}[${t.nelems}]`, indent);
      case 'const':
      case 'volatile':
      case 'restrict': {
        const target = this.#btf.type(t.type);
        if (target.kind === 'ptr') return this.decl(t.type, `${t.kind} ${name}`.trimEnd(), indent);
        return `${t.kind} ${this.decl(t.type, name, indent)}`;
      }
      case 'type_tag':
        return this.decl(t.type, name, indent);
      case 'func_proto': {
        const params = t.params.map((p) => (p.type === 0 ? '...' : this.decl(p.type, p.name, indent)));
        return this.decl(t.returnType, `${name}(${params.length ? params.join(', ') : 'void'})`, indent);
      }
      case 'func':
        return this.decl(t.type, name || t.name, indent);
      case 'var':
        return this.decl(t.type, name || t.name, indent);
      case 'datasec':
      case 'decl_tag':
        return withName(`/* ${t.kind} ${t.name} */`);
    }
  }

  /** The braces of a struct, union or enum. */
  body(t: BtfType, indent: string): string {
    const inner = `${indent}\t`;
    if (t.kind === 'struct' || t.kind === 'union') {
      const members = t.members.map((m) => `${inner}${this.decl(m.type, m.name, inner)}${m.bitfieldSize ? `: ${m.bitfieldSize}` : ''};`);
      return `${t.kind}${t.name ? ` ${t.name}` : ''} {\n${members.join('\n')}${members.length ? '\n' : ''}${indent}}`;
    }
    if (t.kind === 'enum' || t.kind === 'enum64') {
      const values = t.values.map((v) => `${inner}${v.name} = ${v.value},`);
      return `enum${t.name ? ` ${t.name}` : ''} {\n${values.join('\n')}${values.length ? '\n' : ''}${indent}}`;
    }
    return '';
  }

  /** The top-level declaration of `t`, or undefined for types that have none of their own. */
  declaration(t: BtfType): string | undefined {
    switch (t.kind) {
      case 'struct':
      case 'union':
      case 'enum':
      case 'enum64':
        return t.name ? `${this.body(t, '')};` : undefined;
      case 'fwd':
        return `${t.union ? 'union' : 'struct'} ${t.name};`;
      case 'typedef':
        return `typedef ${this.decl(t.type, t.name)};`;
      case 'func':
        return `${t.linkage === 0 ? 'static ' : t.linkage === 2 ? 'extern ' : ''}${this.decl(t.type, t.name)};`;
      case 'var':
        return `${t.linkage === 0 ? 'static ' : t.linkage === 2 ? 'extern ' : ''}${this.decl(t.type, t.name)};`;
      default:
        return undefined;
    }
  }
}

export function btfCommand(out: () => Output): Command {
  const cmd = new Command('btf').description('BTF type information');
  cmd
    .command('dump')
    .description('print the types of a BTF file (raw BTF, an object file\'s .BTF) or of a kernel BTF object by id')
    .argument('<source>', 'a path (an ELF object, /sys/kernel/btf/vmlinux, a module\'s file) or a BTF object id')
    .addOption(new Option('--format <format>', 'raw: as bpftool prints them; c: C declarations').choices(['raw', 'c']).default('raw'))
    .option('--type <name>', 'only types with this name')
    .option('--base <file>', 'base BTF of split BTF (default: vmlinux for /sys/kernel/btf modules)')
    .action((source: string, opts: { format: 'raw' | 'c'; type?: string; base?: string }) => {
      const o = out();
      if (!/^\d+$/.test(source) && !statSync(source, { throwIfNoEntry: false })) {
        throw new UsageError(`${source} is neither a file nor a BTF object id`);
      }
      const btf = loadBtf(source, opts.base);
      let types = btf.types.slice(btf.firstId);
      if (opts.type !== undefined) types = types.filter((t) => 'name' in t && t.name === opts.type);
      if (o.json) return o.write(toJson(types));
      const lines: string[] = [];
      if (opts.format === 'raw') {
        for (const t of types) lines.push(rawType(btf, t));
      } else {
        const printer = new CPrinter(btf);
        for (const t of types) {
          const d = printer.declaration(t);
          if (d !== undefined) lines.push(d);
        }
      }
      o.write(lines.join(opts.format === 'c' ? '\n\n' : '\n'));
    });
  return cmd;
}
