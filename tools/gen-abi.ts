// npm run gen:abi: writes the kernel ABI tsbpf uses (bpf_attr layouts and encoders, the
// bpf_*_info decoders, the kernel enums, and the addon's pointer rules) from the BTF in
// abi/bpf-abi.btf, read with tsbpf's own parser, so the output does not depend on the
// machine. `npm run gen:abi -- --refresh-btf /sys/kernel/btf/vmlinux` first replaces
// that file with the types below (and what they refer to) taken from a kernel's BTF.
// `--out DIR` writes the generated files under DIR instead of the repository.
//
// Adding a command, an info struct or an enum is one line in the lists below.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Btf, type BtfMember, type BtfType } from '../src/obj/btf.js';

// ---- what is generated ---------------------------------------------------------------

/** Kernel enums: the C name, the TypeScript name, the prefix its member names lose. */
const enums: { c: string; ts: string; prefix: string; names?: string }[] = [
  { c: 'bpf_cmd', ts: 'Cmd', prefix: 'BPF_', names: 'cmdNames' },
  { c: 'bpf_map_type', ts: 'MapType', prefix: 'BPF_MAP_TYPE_', names: 'mapTypeNames' },
  { c: 'bpf_prog_type', ts: 'ProgramType', prefix: 'BPF_PROG_TYPE_', names: 'programTypeNames' },
  { c: 'bpf_attach_type', ts: 'AttachType', prefix: 'BPF_', names: 'attachTypeNames' },
  { c: 'bpf_link_type', ts: 'LinkType', prefix: 'BPF_LINK_TYPE_', names: 'linkTypeNames' },
  { c: 'bpf_stats_type', ts: 'StatsType', prefix: 'BPF_STATS_', names: 'statsTypeNames' },
  { c: 'bpf_perf_event_type', ts: 'PerfEventType', prefix: 'BPF_PERF_EVENT_', names: 'perfEventTypeNames' },
  { c: 'perf_type_id', ts: 'PerfType', prefix: 'PERF_TYPE_' },
  { c: 'perf_hw_id', ts: 'HardwareEvent', prefix: 'PERF_COUNT_HW_' },
  { c: 'perf_sw_ids', ts: 'SoftwareEvent', prefix: 'PERF_COUNT_SW_' },
];

/**
 * Member names that do not follow the rule (PascalCase of the name without its prefix);
 * null drops an alias of another member's value. Names ending in _DEPRECATED yield to
 * the alias of the same value without the suffix.
 */
const renames: Record<string, string | null> = {
  BPF_PROG_RUN: null,
};

/** How long the buffer of a pointer member must be (enum need of native/bpf.c). */
type Need =
  | { need: 'ANY' | 'CSTR' | 'KEY' | 'VALUE' | 'CURSOR' | 'NEVER' }
  /** the product of one or two u32 fields, in bytes */
  | { need: 'U32'; a: string; b?: string }
  /** a count field of 8-byte instructions, u64s, u32s, keys or values; OUT_U32: bytes, nonzero when set */
  | { need: 'INSNS' | 'U64S' | 'U32S' | 'KEYS' | 'VALUES' | 'OUT_U32'; a: string };

const cstr: Need = { need: 'CSTR' };
const KEY: Need = { need: 'KEY' };
const VALUE: Need = { need: 'VALUE' };
const CURSOR: Need = { need: 'CURSOR' };
const NEVER: Need = { need: 'NEVER' };
const bytes = (a: string, b?: string): Need => (b ? { need: 'U32', a, b } : { need: 'U32', a });
const count = (need: 'INSNS' | 'U64S' | 'U32S' | 'KEYS' | 'VALUES' | 'OUT_U32', a: string): Need => ({ need, a });

interface Command {
  /** enum bpf_cmd member. */
  cmd: string;
  /** Name of the TypeScript layout (commands sharing a member of bpf_attr share it). */
  layout: string;
  /** The member of union bpf_attr: its name, or a field of the anonymous struct it is. */
  member: string;
  /** The attr length passed: the end of this field (default: the whole member). */
  through?: string;
  /** What the command returns: a new fd (a program's is not locked, see native/bpf.c). */
  result?: 'fd' | 'prog_fd';
  /** The field holding the map fd that sizes KEY/VALUE/CURSOR buffers. */
  mapFd?: string;
  /** The pointer is to a struct bpf_*_info (passed through a private copy). */
  info?: boolean;
  /** Pointer members and their length rules, by field name. */
  ptrs?: Record<string, Need>;
}

const elem = (cmd: string, ptrs: Record<string, Need>): Command => ({ cmd, layout: 'mapElem', member: 'map_fd', mapFd: 'map_fd', ptrs });
const batchCmd = (cmd: string): Command => ({
  cmd, layout: 'batch', member: 'batch', mapFd: 'batch.map_fd',
  ptrs: { 'batch.in_batch': CURSOR, 'batch.out_batch': CURSOR, 'batch.keys': count('KEYS', 'batch.count'), 'batch.values': count('VALUES', 'batch.count') },
});
const byId = (cmd: string, result?: 'fd' | 'prog_fd'): Command => ({ cmd, layout: 'getId', member: 'start_id', through: 'open_flags', ...(result ? { result } : {}) });

const commands: Command[] = [
  { cmd: 'BPF_MAP_CREATE', layout: 'mapCreate', member: 'map_type', through: 'map_extra', result: 'fd', ptrs: { excl_prog_hash: bytes('excl_prog_hash_size') } },
  elem('BPF_MAP_LOOKUP_ELEM', { key: KEY, value: VALUE }),
  elem('BPF_MAP_UPDATE_ELEM', { key: KEY, value: VALUE }),
  elem('BPF_MAP_DELETE_ELEM', { key: KEY }),
  elem('BPF_MAP_GET_NEXT_KEY', { key: KEY, next_key: KEY }),
  {
    cmd: 'BPF_PROG_LOAD', layout: 'progLoad', member: 'prog_type', through: 'log_true_size', result: 'prog_fd',
    ptrs: {
      insns: count('INSNS', 'insn_cnt'), license: cstr, log_buf: bytes('log_size'),
      func_info: bytes('func_info_rec_size', 'func_info_cnt'), line_info: bytes('line_info_rec_size', 'line_info_cnt'),
      // Without fd_array_cnt (6.14) the kernel reads the entries the program names, which no length here bounds.
      fd_array: count('U32S', 'fd_array_cnt'), core_relos: bytes('core_relo_cnt', 'core_relo_rec_size'),
      signature: bytes('signature_size'),
    },
  },
  { cmd: 'BPF_OBJ_PIN', layout: 'obj', member: 'pathname', through: 'file_flags', ptrs: { pathname: cstr } },
  { cmd: 'BPF_OBJ_GET', layout: 'obj', member: 'pathname', through: 'file_flags', result: 'fd', ptrs: { pathname: cstr } },
  { cmd: 'BPF_PROG_ATTACH', layout: 'progAttach', member: 'attach_bpf_fd', through: 'expected_revision' },
  { cmd: 'BPF_PROG_DETACH', layout: 'progAttach', member: 'attach_bpf_fd', through: 'expected_revision' },
  {
    cmd: 'BPF_PROG_TEST_RUN', layout: 'test', member: 'test',
    ptrs: { 'test.data_in': bytes('test.data_size_in'), 'test.data_out': count('OUT_U32', 'test.data_size_out'), 'test.ctx_in': bytes('test.ctx_size_in'), 'test.ctx_out': bytes('test.ctx_size_out') },
  },
  byId('BPF_PROG_GET_NEXT_ID'),
  byId('BPF_MAP_GET_NEXT_ID'),
  byId('BPF_PROG_GET_FD_BY_ID', 'prog_fd'),
  byId('BPF_MAP_GET_FD_BY_ID', 'fd'),
  { cmd: 'BPF_OBJ_GET_INFO_BY_FD', layout: 'info', member: 'info', info: true, ptrs: { 'info.info': bytes('info.info_len') } },
  {
    cmd: 'BPF_PROG_QUERY', layout: 'query', member: 'query',
    ptrs: { 'query.prog_ids': count('U32S', 'query.prog_cnt'), 'query.prog_attach_flags': count('U32S', 'query.prog_cnt'), 'query.link_ids': count('U32S', 'query.prog_cnt'), 'query.link_attach_flags': count('U32S', 'query.prog_cnt') },
  },
  { cmd: 'BPF_RAW_TRACEPOINT_OPEN', layout: 'rawTracepoint', member: 'raw_tracepoint', result: 'fd', ptrs: { 'raw_tracepoint.name': cstr } },
  { cmd: 'BPF_BTF_LOAD', layout: 'btfLoad', member: 'btf', through: 'btf_log_true_size', result: 'fd', ptrs: { btf: bytes('btf_size'), btf_log_buf: bytes('btf_log_size') } },
  { cmd: 'BPF_BTF_GET_FD_BY_ID', layout: 'getId', member: 'start_id', through: 'open_flags', result: 'fd' },
  { cmd: 'BPF_TASK_FD_QUERY', layout: 'taskFdQuery', member: 'task_fd_query', ptrs: { 'task_fd_query.buf': bytes('task_fd_query.buf_len') } },
  elem('BPF_MAP_LOOKUP_AND_DELETE_ELEM', { key: KEY, value: VALUE }),
  { cmd: 'BPF_MAP_FREEZE', layout: 'mapFreeze', member: 'map_fd', through: 'map_fd' },
  byId('BPF_BTF_GET_NEXT_ID'),
  batchCmd('BPF_MAP_LOOKUP_BATCH'),
  batchCmd('BPF_MAP_LOOKUP_AND_DELETE_BATCH'),
  batchCmd('BPF_MAP_UPDATE_BATCH'),
  batchCmd('BPF_MAP_DELETE_BATCH'),
  // The pointer members of LINK_CREATE depend on the attach type: see linkCreate below.
  { cmd: 'BPF_LINK_CREATE', layout: 'linkCreate', member: 'link_create', result: 'fd' },
  { cmd: 'BPF_LINK_UPDATE', layout: 'linkUpdate', member: 'link_update' },
  byId('BPF_LINK_GET_FD_BY_ID', 'fd'),
  byId('BPF_LINK_GET_NEXT_ID'),
  { cmd: 'BPF_ENABLE_STATS', layout: 'enableStats', member: 'enable_stats', result: 'fd' },
  { cmd: 'BPF_ITER_CREATE', layout: 'iterCreate', member: 'iter_create', result: 'fd' },
  { cmd: 'BPF_LINK_DETACH', layout: 'linkDetach', member: 'link_detach' },
  { cmd: 'BPF_PROG_BIND_MAP', layout: 'progBindMap', member: 'prog_bind_map' },
  { cmd: 'BPF_TOKEN_CREATE', layout: 'tokenCreate', member: 'token_create', result: 'fd' },
  { cmd: 'BPF_PROG_STREAM_READ_BY_FD', layout: 'progStreamRead', member: 'prog_stream_read', ptrs: { 'prog_stream_read.stream_buf': bytes('prog_stream_read.stream_buf_len') } },
];

/** LINK_CREATE rows by attach type: the pointer members of the union member it selects. */
const kprobeMulti = { 'link_create.kprobe_multi.syms': NEVER, 'link_create.kprobe_multi.addrs': count('U64S', 'link_create.kprobe_multi.cnt'), 'link_create.kprobe_multi.cookies': count('U64S', 'link_create.kprobe_multi.cnt') };
const uprobeMulti = {
  'link_create.uprobe_multi.path': cstr,
  'link_create.uprobe_multi.offsets': count('U64S', 'link_create.uprobe_multi.cnt'),
  'link_create.uprobe_multi.ref_ctr_offsets': count('U64S', 'link_create.uprobe_multi.cnt'),
  'link_create.uprobe_multi.cookies': count('U64S', 'link_create.uprobe_multi.cnt'),
};
const linkCreate: { attachType: string; ptrs: Record<string, Need> }[] = [
  { attachType: 'BPF_TRACE_ITER', ptrs: { 'link_create.iter_info': bytes('link_create.iter_info_len') } },
  { attachType: 'BPF_TRACE_KPROBE_MULTI', ptrs: kprobeMulti },
  { attachType: 'BPF_TRACE_KPROBE_SESSION', ptrs: kprobeMulti },
  { attachType: 'BPF_TRACE_UPROBE_MULTI', ptrs: uprobeMulti },
  { attachType: 'BPF_TRACE_UPROBE_SESSION', ptrs: uprobeMulti },
];

/** Info structs: the TypeScript name, and the members of its union decoded one by one. */
const infos: { c: string; ts: string; members?: string[] }[] = [
  { c: 'bpf_prog_info', ts: 'ProgInfo' },
  { c: 'bpf_map_info', ts: 'MapInfo' },
  { c: 'bpf_btf_info', ts: 'BtfInfo' },
  {
    c: 'bpf_link_info', ts: 'LinkInfo',
    members: ['tracing', 'cgroup', 'netns', 'xdp', 'struct_ops', 'netfilter', 'tcx', 'netkit', 'sockmap', 'perf_event', 'kprobe_multi', 'uprobe_multi'],
  },
];

/** Info fields the addon reads itself (native/fds.c), as C constants. */
const cOffsets: [string, string[]][] = [['bpf_map_info', ['type', 'key_size', 'value_size']]];

/** Arrays OBJ_GET_INFO_BY_FD fills through pointers in the info (nested_rules of native/bpf.c). */
const nested: { info: string; kind: 'KIND_PROG' | 'KIND_OTHER'; slot: number; ptr: string; count: string; elem: number }[] = [
  { info: 'bpf_prog_info', kind: 'KIND_PROG', slot: 0, ptr: 'map_ids', count: 'nr_map_ids', elem: 4 },
  { info: 'bpf_prog_info', kind: 'KIND_PROG', slot: 1, ptr: 'xlated_prog_insns', count: 'xlated_prog_len', elem: 1 },
  // In the info of a map or link these offsets hold fields the kernel only writes: harmless there.
  { info: 'bpf_btf_info', kind: 'KIND_OTHER', slot: 0, ptr: 'btf', count: 'btf_size', elem: 1 },
];

// ---- paths ---------------------------------------------------------------------------

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BTF_FILE = 'abi/bpf-abi.btf';
const SOURCE_FILE = 'abi/bpf-abi.json';
const outputs = {
  enums: 'src/sys/abi/enums.ts',
  attr: 'src/sys/abi/attr.ts',
  info: 'src/sys/abi/info.ts',
  header: 'native/abi.h',
};

// ---- BTF helpers ---------------------------------------------------------------------

type Aggregate = BtfType & { kind: 'struct' | 'union' };

function named<K extends BtfType['kind']>(btf: Btf, name: string, kind: K): BtfType & { kind: K } {
  const [t] = btf.byName(name, kind);
  if (!t) throw new Error(`${kind} ${name} is not in ${BTF_FILE}`);
  return t as BtfType & { kind: K };
}

function aggregate(btf: Btf, id: number): Aggregate | undefined {
  const t = btf.resolve(id);
  return t.kind === 'struct' || t.kind === 'union' ? t : undefined;
}

/** A scalar field, flattened: path of named members ('tcx.relative_fd'), byte offset, how it reads. */
interface Field {
  path: string;
  offset: number;
  size: number;
  type: 'u8' | 'u16' | 'u32' | 's32' | 'u64' | 's64' | 'char' | 'bytes' | 'bits';
  bitShift?: number;
  bits?: number;
}

/**
 * The scalar fields of an aggregate. Anonymous members are flattened in place; named
 * nested aggregates are flattened with their name as prefix when `nestedNamed`, else
 * skipped; unions are skipped unless `unions`.
 */
function fields(btf: Btf, t: Aggregate, opts: { unions: boolean; nestedNamed: boolean }, base = 0, prefix = ''): Field[] {
  const out: Field[] = [];
  for (const m of t.members) {
    if (m.bitOffset % 8 !== 0 && !m.bitfieldSize) throw new Error(`${t.name}.${m.name}: unaligned member`);
    const offset = base + Math.floor(m.bitOffset / 8);
    const inner = aggregate(btf, m.type);
    if (inner) {
      if (inner.kind === 'union' && !opts.unions) continue;
      if (m.name && !opts.nestedNamed) continue;
      out.push(...fields(btf, inner, opts, offset, m.name ? prefix + m.name + '.' : prefix));
      continue;
    }
    if (!m.name) continue; // padding
    out.push(scalar(btf, m, prefix + m.name, offset, base));
  }
  return out;
}

function scalar(btf: Btf, m: BtfMember, path: string, offset: number, base: number): Field {
  const t = btf.resolve(m.type);
  const size = btf.sizeof(m.type);
  if (m.bitfieldSize) {
    const word = base + Math.floor(m.bitOffset / 32) * 4;
    return { path, offset: word, size: 4, type: 'bits', bitShift: m.bitOffset % 32, bits: m.bitfieldSize };
  }
  if (t.kind === 'array') {
    const elem = btf.resolve(t.type);
    return { path, offset, size, type: elem.kind === 'int' && elem.name === 'char' ? 'char' : 'bytes' };
  }
  if (t.kind === 'int' || t.kind === 'enum') {
    const signed = t.kind === 'int' ? (t.encoding & 1) === 1 : t.signed;
    const type = ({ 1: 'u8', 2: 'u16', 4: signed ? 's32' : 'u32', 8: signed ? 's64' : 'u64' } as const)[size as 1 | 2 | 4 | 8];
    if (!type) throw new Error(`${path}: integer of ${size} bytes`);
    return { path, offset, size, type };
  }
  throw new Error(`${path}: ${t.kind} members are not supported`);
}

/** The member of union bpf_attr for a command. */
function attrMember(btf: Btf, name: string): { prefix: string; type: Aggregate } {
  const attr = named(btf, 'bpf_attr', 'union');
  for (const m of attr.members) {
    const t = aggregate(btf, m.type);
    if (!t) continue;
    if (m.name === name) return { prefix: m.name + '.', type: t };
    if (!m.name && fields(btf, t, { unions: true, nestedNamed: true }).some((f) => f.path === name)) return { prefix: '', type: t };
  }
  throw new Error(`union bpf_attr has no member ${name}`);
}

const camel = (path: string) => path.replace(/[._]([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const pascal = (s: string) => s.toLowerCase().replace(/(^|_)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase());

// ---- the trimmed BTF -----------------------------------------------------------------

/** The root types and everything they refer to, renumbered from 1, as a BTF blob. */
function trim(full: Btf): Uint8Array {
  const roots = [
    named(full, 'bpf_attr', 'union'),
    ...infos.map((i) => named(full, i.c, 'struct')),
    ...enums.map((e) => named(full, e.c, 'enum')),
  ];
  const order: number[] = [];
  const newId = new Map<number, number>([[0, 0]]);
  const visit = (id: number) => {
    if (newId.has(id)) return;
    newId.set(id, order.length + 1);
    order.push(id);
    for (const ref of refs(full.type(id))) visit(ref);
  };
  for (const r of roots) visit(r.id);
  const map = (id: number) => newId.get(id)!;
  const types: BtfType[] = [full.type(0)];
  for (const old of order) types.push(renumber(full.type(old), map(old), map));
  return Btf.fromTypes(types).marshal();
}

function refs(t: BtfType): number[] {
  switch (t.kind) {
    case 'struct': case 'union': return t.members.map((m) => m.type);
    case 'array': return [t.type, t.indexType];
    case 'ptr': case 'typedef': case 'volatile': case 'const': case 'restrict': case 'type_tag': return [t.type];
    case 'int': case 'enum': case 'enum64': case 'fwd': case 'float': return [];
    default: throw new Error(`type ${t.id}: ${t.kind} is not expected in the ABI types`);
  }
}

function renumber(t: BtfType, id: number, map: (id: number) => number): BtfType {
  switch (t.kind) {
    case 'struct': case 'union': return { ...t, id, members: t.members.map((m) => ({ ...m, type: map(m.type) })) };
    case 'array': return { ...t, id, type: map(t.type), indexType: map(t.indexType) };
    case 'ptr': case 'typedef': case 'volatile': case 'const': case 'restrict': case 'type_tag': return { ...t, id, type: map(t.type) } as BtfType;
    default: return { ...t, id } as BtfType;
  }
}

// ---- writers -------------------------------------------------------------------------

function header(source: { kernel: string }, comment: (s: string) => string): string {
  return comment(`Generated by \`npm run gen:abi\` from ${BTF_FILE} (Linux ${source.kernel}); do not edit.`) + '\n';
}

interface EnumMember { name: string; ts: string; value: number }

function enumMembers(btf: Btf, e: (typeof enums)[number]): EnumMember[] {
  const t = named(btf, e.c, 'enum');
  const values = t.values.filter((v) => !v.name.startsWith('__') && !v.name.endsWith('_MAX'));
  const out: EnumMember[] = [];
  for (const v of values) {
    const rename = renames[v.name];
    if (rename === null) continue;
    if (v.name.endsWith('_DEPRECATED') && values.some((w) => w.value === v.value && w.name === v.name.slice(0, -'_DEPRECATED'.length))) continue;
    if (!v.name.startsWith(e.prefix)) throw new Error(`${e.c}: ${v.name} lacks the prefix ${e.prefix}`);
    out.push({ name: v.name, ts: rename ?? pascal(v.name.slice(e.prefix.length)), value: Number(v.value) });
  }
  return out;
}

// Reverse lookups as a TypeScript numeric enum has them (`MapType[1]` is 'Hash'), while each
// constant keeps its literal type and Object.keys/values/entries still see the names alone.
const WITH_NAMES = `
/**
 * \`values\` with the name of each value under the value (the first name where several share
 * one), not enumerable: \`E[value]\` is a name or undefined, as for a TypeScript numeric enum.
 */
function withNames<const T extends Record<string, number>>(values: T): T & { readonly [value: number]: (keyof T & string) | undefined } {
  for (const [name, value] of Object.entries(values)) {
    if (!Object.hasOwn(values, value)) Object.defineProperty(values, value, { value: name, enumerable: false });
  }
  return values as T & { readonly [value: number]: (keyof T & string) | undefined };
}

/** Object.entries of a generated enum, typed without its reverse lookups (which are not enumerable). */
export function enumEntries<E extends object>(e: E): [keyof E & string, E[keyof E & string]][] {
  return Object.entries(e) as [keyof E & string, E[keyof E & string]][];
}

/** Object.values of a generated enum, typed without its reverse lookups (which are not enumerable). */
export function enumValues<E extends object>(e: E): E[keyof E & string][] {
  return Object.values(e) as E[keyof E & string][];
}
`;

function genEnums(btf: Btf, src: { kernel: string }): string {
  let s = header(src, (t) => `// ${t}`) + WITH_NAMES;
  for (const e of enums) {
    const members = enumMembers(btf, e);
    s += `\n/** enum ${e.c}, in PascalCase without ${e.prefix}; \`${e.ts}[value]\` is the name of a value (undefined for none). */\n`;
    s += `export const ${e.ts} = withNames({\n`;
    for (const m of members) s += `  ${m.ts}: ${m.value},\n`;
    s += `} as const);\n/** A value of enum ${e.c}: one of the numbers of the constant \`${e.ts}\`. */\n`;
    s += `export type ${e.ts} = (typeof ${e.ts})[keyof typeof ${e.ts} & string];\n`;
    if (!e.names) continue;
    const byValue: string[] = [];
    for (const m of members) byValue[m.value] ??= m.name;
    s += `\n/** The kernel's names of enum ${e.c}, by value. */\nexport const ${e.names}: readonly string[] = [\n`;
    for (let i = 0; i < byValue.length; i++) s += `  ${JSON.stringify(byValue[i] ?? '')},\n`;
    s += `];\n`;
  }
  return s;
}

/** A command's fields: those of its bpf_attr member, with the attr length it passes. */
function commandLayout(btf: Btf, c: Command): { fields: Field[]; size: number } {
  const { prefix, type } = attrMember(btf, c.member);
  const all = fields(btf, type, { unions: true, nestedNamed: true }).map((f) => ({ ...f, path: prefix + f.path }));
  let size = type.size;
  if (c.through) {
    const last = find(all, c.through, c.cmd);
    size = last.offset + last.size;
  }
  return { fields: all, size };
}

function find(fs: Field[], path: string, where: string): Field {
  const f = fs.find((x) => x.path === path) ?? fs.find((x) => x.path.endsWith('.' + path) || x.path === path);
  if (!f) throw new Error(`${where}: no field ${path}`);
  return f;
}

function tsType(f: Field, input: boolean): string {
  switch (f.type) {
    case 'u64': case 's64': return input ? 'number | bigint' : 'bigint';
    case 'char': return 'string';
    case 'bytes': return 'Uint8Array';
    default: return 'number';
  }
}

function genAttr(btf: Btf, src: { kernel: string }): string {
  let s = header(src, (t) => `// ${t}`);
  s += `// union bpf_attr, one layout per command member: byte offsets by field (camelCase,
// nested members prefixed), \`size\` the attr length tsbpf passes, and an encoder of
// the fields that are not pointers (pointer words are named to the addon by ptrMask).
import type { Attr } from '../attr.js';
`;
  const done = new Map<string, string>();
  for (const c of commands) {
    const { fields: fs, size } = commandLayout(btf, c);
    const key = JSON.stringify([c.member, size]);
    const prev = done.get(c.layout);
    if (prev !== undefined) {
      if (prev !== key) throw new Error(`layout ${c.layout} is used by commands with different members`);
      continue;
    }
    done.set(c.layout, key);
    const ptrNames = new Set(commands.filter((x) => x.layout === c.layout).flatMap((x) => Object.keys(x.ptrs ?? {})));
    if (c.layout === 'linkCreate') for (const l of linkCreate) for (const p of Object.keys(l.ptrs)) ptrNames.add(p);
    const ptrs = new Set([...ptrNames].map((p) => find(fs, p, c.cmd).path));
    const layoutName = `${c.layout}Layout`;
    const cmds = commands.filter((x) => x.layout === c.layout).map((x) => x.cmd).join(', ');
    s += `\n/** union bpf_attr of ${cmds}. */\nexport const ${layoutName} = {\n  size: ${size},\n`;
    const names = new Set<string>(['size']);
    for (const f of fs) {
      const n = camel(f.path.slice(prefixOf(f.path, c).length));
      if (names.has(n)) throw new Error(`${c.layout}: two fields named ${n}`);
      names.add(n);
      s += `  ${n}: ${f.offset},\n`;
    }
    s += `} as const;\n`;
    const type = `${c.layout[0]!.toUpperCase()}${c.layout.slice(1)}Fields`;
    s += `\n/** The fields of ${layoutName} inside its size that are not pointers. */\nexport interface ${type} {\n`;
    const enc: string[] = [];
    for (const f of fs) {
      if (ptrs.has(f.path) || f.offset + f.size > size) continue;
      const n = camel(f.path.slice(prefixOf(f.path, c).length));
      s += `  ${n}?: ${tsType(f, true)};\n`;
      enc.push(`  if (f.${n} !== undefined) ${write(f, `f.${n}`)};`);
    }
    s += `}\n\n/** Writes the fields given (into an attr the caller has zeroed). */\nexport function encode${type.slice(0, -'Fields'.length)}(a: Attr, f: ${type}): Attr {\n`;
    s += enc.join('\n') + `\n  return a;\n}\n`;
  }
  return s;
}

/** The prefix a command's own member adds to its field paths ('batch.' for batch). */
function prefixOf(path: string, c: Command): string {
  return path.startsWith(c.member + '.') ? c.member + '.' : '';
}

function write(f: Field, v: string): string {
  switch (f.type) {
    case 'u8': return `a.view.setUint8(${f.offset}, ${v})`;
    case 'u16': return `a.view.setUint16(${f.offset}, ${v}, true)`;
    case 'u32': case 's32': return `a.u32(${f.offset}, ${v} >>> 0)`;
    case 'u64': case 's64': return `a.u64(${f.offset}, ${v})`;
    case 'char': return `a.name(${f.offset}, ${f.size}, ${v})`;
    case 'bytes': return `a.bytes.set(${v}.subarray(0, ${f.size}), ${f.offset})`;
    case 'bits': throw new Error(`${f.path}: bitfields in bpf_attr are not supported`);
  }
}

function read(f: Field): string {
  switch (f.type) {
    case 'u8': return `v.getUint8(${f.offset})`;
    case 'u16': return `v.getUint16(${f.offset}, true)`;
    case 'u32': return `v.getUint32(${f.offset}, true)`;
    case 's32': return `v.getInt32(${f.offset}, true)`;
    case 'u64': return `v.getBigUint64(${f.offset}, true)`;
    case 's64': return `v.getBigInt64(${f.offset}, true)`;
    case 'char': return `readCString(b, ${f.offset}, ${f.size})`;
    case 'bytes': return `b.slice(${f.offset}, ${f.offset + f.size})`;
    case 'bits': return `(v.getUint32(${f.offset}, true) >>> ${f.bitShift}) & ${2 ** f.bits! - 1}`;
  }
}

function genInfo(btf: Btf, src: { kernel: string }): string {
  let s = header(src, (t) => `// ${t}`);
  s += `// struct bpf_*_info: byte offsets by field, \`size\` the struct's size in this kernel, and a
// decoder of a buffer of that size (older kernels fill a prefix and leave the rest zero).
import { readCString } from '../attr.js';
`;
  const decoder = (name: string, doc: string, fs: Field[], size: number, strip = '') => {
    const lower = 'bpf' + name;
    let t = `\n/** ${doc} */\nexport const ${lower}Layout = {\n  size: ${size},\n`;
    for (const f of fs) t += `  ${camel(f.path.slice(strip.length))}: ${f.offset},\n`;
    t += `} as const;\n\nexport interface Bpf${name} {\n`;
    for (const f of fs) t += `  ${camel(f.path.slice(strip.length))}: ${tsType(f, false)};\n`;
    const needsView = fs.some((f) => f.type !== 'char' && f.type !== 'bytes');
    t += `}\n\n/** Decodes ${doc.replace(/\.$/, '')}. */\nexport function decodeBpf${name}(b: Uint8Array): Bpf${name} {\n`;
    if (needsView) t += `  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);\n`;
    t += `  return {\n`;
    for (const f of fs) t += `    ${camel(f.path.slice(strip.length))}: ${read(f)},\n`;
    return t + `  };\n}\n`;
  };
  for (const i of infos) {
    const t = named(btf, i.c, 'struct');
    s += decoder(i.ts, `struct ${i.c}${i.members ? ' (its head; the union members below)' : ''}.`, fields(btf, t, { unions: false, nestedNamed: false }), t.size);
    for (const m of i.members ?? []) {
      const all = fields(btf, t, { unions: true, nestedNamed: true });
      const mine = all.filter((f) => f.path.startsWith(m + '.'));
      const member = t.members.flatMap((x) => aggregate(btf, x.type)?.members ?? []).find((x) => x.name === m);
      if (!mine.length || !member) throw new Error(`${i.c} has no union member ${m}`);
      // Nested unions of the member (perf_event's per-event structs) are left out.
      const direct = fields(btf, aggregate(btf, member.type)!, { unions: false, nestedNamed: false }).map((f) => f.path);
      s += decoder(i.ts + pascal(m), `struct ${i.c}, union member ${m}.`, mine.filter((f) => direct.includes(f.path.slice(m.length + 1))), t.size, m + '.');
    }
  }
  return s;
}

function genHeader(btf: Btf, src: { kernel: string }): string {
  let s = header(src, (t) => `/* ${t} */`);
  s += `/* The kernel ABI native/bpf.c checks: enum bpf_cmd, and per command the pointer words of
 * its bpf_attr member with the length rule of each (see enum need), the LINK_CREATE rows
 * by attach type, and the arrays OBJ_GET_INFO_BY_FD fills through pointers in the info.
 * The tables are for native/bpf.c, which defines TSBPF_ABI_TABLES and the types and
 * macros they use before including this file; the constants are for every file. */
#ifndef TSBPF_ABI_H
#define TSBPF_ABI_H
`;
  const cmdEnum = enumMembers(btf, enums[0]!);
  s += `\n/* enum bpf_cmd values. */\nenum {\n`;
  for (const m of cmdEnum) s += `  ${m.name.slice(4)} = ${m.value},\n`;
  s += `  CMD_COUNT = ${Math.max(...cmdEnum.map((m) => m.value)) + 1}\n};\n`;
  const attach = enumMembers(btf, enums[3]!);
  s += `\n/* The highest enum bpf_attach_type value. */\nenum { ATTACH_TYPE_MAX = ${Math.max(...attach.map((m) => m.value))} };\n`;
  s += `\n/* enum bpf_map_type values. */\nenum {\n`;
  for (const m of enumMembers(btf, enums[1]!)) s += `  ${m.name.slice(4)} = ${m.value},\n`;
  s += `};\n`;
  for (const [struct, names] of cOffsets) {
    const fs = fields(btf, named(btf, struct, 'struct'), { unions: false, nestedNamed: false });
    s += `\n/* struct ${struct} offsets. */\n`;
    for (const n of names) s += `#define ${struct.slice(4).toUpperCase()}_${n.toUpperCase()}_OFF ${find(fs, n, struct).offset}\n`;
  }
  s += `\n#ifdef TSBPF_ABI_TABLES\n`;

  const row = (c: Command, ptrs: Record<string, Need>, fs: Field[]): string => {
    const result = c.result === 'fd' ? 'RESULT_FD' : c.result === 'prog_fd' ? 'RESULT_PROG_FD' : 'RESULT_NONE';
    const entries = Object.entries(ptrs);
    if (!entries.length && c.mapFd === undefined && !c.info) return `NONE(${result})`;
    const mapFd = c.mapFd ? find(fs, c.mapFd, c.cmd).offset : -1;
    const p = entries.map(([name, n]) => {
      const f = find(fs, name, c.cmd);
      if (f.offset % 8 !== 0 || f.size !== 8) throw new Error(`${c.cmd}: ${name} is not a pointer word`);
      const a = 'a' in n ? find(fs, n.a, c.cmd).offset : 0;
      const b = 'b' in n && n.b ? find(fs, n.b, c.cmd).offset : 0;
      return `P(${f.offset / 8}, NEED_${n.need}, ${a}, ${b})`;
    });
    return `ROW(${result}, ${mapFd}, ${c.info ? 'true' : 'false'}, ${p.join(', ')})`;
  };
  const describe = (ptrs: Record<string, Need>) =>
    Object.entries(ptrs).map(([name, n]) => {
      const short = name.split('.').pop()!;
      switch (n.need) {
        case 'U32': return `${short} (${n.b ? `${n.a.split('.').pop()} x ${n.b.split('.').pop()}` : n.a.split('.').pop()} bytes)`;
        case 'INSNS': case 'U64S': case 'U32S': case 'KEYS': case 'VALUES': return `${short} (${n.a.split('.').pop()} ${n.need.toLowerCase()})`;
        case 'OUT_U32': return `${short} (${n.a.split('.').pop()} bytes, nonzero)`;
        default: return `${short} (${n.need.toLowerCase()})`;
      }
    }).join(', ');

  s += `\nstatic const struct cmd_rule rules[CMD_COUNT] = {\n`;
  for (const c of commands) {
    const { fields: fs } = commandLayout(btf, c);
    const ptrs = c.ptrs ?? {};
    if (Object.keys(ptrs).length) s += `  /* ${describe(ptrs)} */\n`;
    s += `  [${c.cmd.slice(4)}] = ${row(c, ptrs, fs)},\n`;
  }
  s += `};\n`;
  const lc = commands.find((c) => c.cmd === 'BPF_LINK_CREATE')!;
  const lcFields = commandLayout(btf, lc).fields;
  s += `\n/* LINK_CREATE: attach_type picks the member of the attr union. */\n`;
  s += `#define LINK_CREATE_ATTACH_TYPE_OFF ${find(lcFields, 'link_create.attach_type', lc.cmd).offset}\n`;
  s += `static const struct { uint32_t attach_type; struct cmd_rule rule; } link_rules[] = {\n`;
  for (const l of linkCreate) {
    const value = attach.find((m) => m.name === l.attachType);
    if (!value) throw new Error(`no attach type ${l.attachType}`);
    s += `  /* ${l.attachType}: ${describe(l.ptrs)} */\n  {${value.value}, ${row(lc, l.ptrs, lcFields)}},\n`;
  }
  s += `};\n`;
  s += `\nstatic const struct nested_rule nested_rules[] = {\n`;
  for (const n of nested) {
    const fs = fields(btf, named(btf, n.info, 'struct'), { unions: false, nestedNamed: false });
    const ptr = find(fs, n.ptr, n.info);
    const cnt = find(fs, n.count, n.info);
    s += `  {${n.kind}, ${n.slot}, ${ptr.offset}, ${cnt.offset}, ${n.elem}}, /* ${n.info}: ${n.ptr} (${n.count}${n.elem > 1 ? ` x ${n.elem}` : ''} bytes) */\n`;
  }
  s += `};\n`;
  s += `#endif\n\n#endif\n`;
  return s;
}

// ---- main ----------------------------------------------------------------------------

function main(argv: string[]): void {
  let outDir = root;
  let refresh: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') outDir = argv[++i]!;
    else if (argv[i] === '--refresh-btf') refresh = argv[++i]!;
    else throw new Error(`unknown option ${argv[i]} (--refresh-btf PATH, --out DIR)`);
  }
  // A refresh writes the BTF and its source under outDir too, and generates from them.
  const abiDir = refresh ? outDir : root;
  if (refresh) {
    const trimmed = trim(Btf.parse(new Uint8Array(readFileSync(refresh))));
    mkdirSync(join(outDir, dirname(BTF_FILE)), { recursive: true });
    writeFileSync(join(outDir, BTF_FILE), trimmed);
    // The running kernel's release: refresh from its own BTF (/sys/kernel/btf/vmlinux).
    const kernel = release().replace(/^(\d+\.\d+).*/, '$1');
    writeFileSync(join(outDir, SOURCE_FILE), JSON.stringify({ kernel, release: release(), from: refresh, bytes: trimmed.length }, null, 2) + '\n');
  }
  const btf = Btf.parse(new Uint8Array(readFileSync(join(abiDir, BTF_FILE))));
  const src = JSON.parse(readFileSync(join(abiDir, SOURCE_FILE), 'utf8')) as { kernel: string };
  const files: [string, string][] = [
    [outputs.enums, genEnums(btf, src)],
    [outputs.attr, genAttr(btf, src)],
    [outputs.info, genInfo(btf, src)],
    [outputs.header, genHeader(btf, src)],
  ];
  for (const [path, text] of files) {
    const to = join(outDir, path);
    mkdirSync(dirname(to), { recursive: true });
    writeFileSync(to, text);
  }
}

main(process.argv.slice(2));
