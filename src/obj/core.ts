// CO-RE (Compile Once, Run Everywhere) relocation engine. Pure: no system calls.
//
// Given a program's instructions and its CO-RE relocation records (.BTF.ext), the
// object's own ("local") BTF and a target BTF (the running kernel's, or one the user
// supplies), computes for every relocation the value the program would have had if it
// had been compiled against the target's types, and patches the instruction. The
// semantics are libbpf's (tools/lib/bpf/relo_core.c and the candidate search of
// libbpf.c), described next to each step below. Where this engine deliberately differs
// from libbpf the comment says so.
//
// Outline, per relocation:
//   1. Parse the access string against the local type into a "spec": the low-level
//      path (raw indices, through anonymous members) and the high-level accessors
//      (named members and array indices), plus the bit offset it denotes.
//   2. Find candidates in the target: types of a compatible kind whose name equals the
//      local type's name up to a "___flavour" suffix on either side.
//   3. Match the local spec against every candidate (member names, array bounds,
//      type compatibility). Every matching candidate must give the same result, or the
//      relocation is ambiguous (an error).
//   4. Compute the local ("original") and target ("new") values, check the
//      instruction holds the original one, and write the new one. When nothing
//      matched, existence checks become 0 and other relocations poison the
//      instruction: a call to the non-existent helper 0xbad2310, which the verifier
//      rejects only if the instruction is reachable.
import { BtfError } from '../errors.js';
import { BTF_INT_SIGNED, type Btf, type BtfType } from './btf.js';
import { CoreReloKind, coreReloKindName, type CoreRelo } from './btf-ext.js';
import { BPF_ALU, BPF_ALU64, BPF_K, BPF_LD, BPF_LDX, BPF_ST, BPF_STX, CALL, INSN_SIZE, LD_IMM64 } from './insn.js';

/** The helper id libbpf calls in a poisoned instruction ("bad relo"): 195896080. */
export const CORE_POISON_HELPER = 0xbad2310;

/** Result of one relocation, for diagnostics. */
export interface CoreResult {
  /** Instruction index the relocation applies to (in the instructions given). */
  insnOff: number;
  /** A CoreReloKind. */
  kind: number;
  accessStr: string;
  /** The local root type, as libbpf prints it: "[11] struct task_struct". */
  localType: string;
  /**
   * false: the relocation is an error libbpf would refuse to load the object for
   * (ambiguous candidates, an instruction that does not hold the expected value, a
   * malformed access string, ...). Such instructions are poisoned too, so that a
   * loader that goes on anyway cannot run a wrongly relocated program.
   * true: resolved, possibly by poisoning (see `poisoned`), as libbpf would.
   */
  ok: boolean;
  /** The instruction (both slots of an ld_imm64) became a call to helper 0xbad2310. */
  poisoned: boolean;
  /** The value written (offset, size, id, enum value, 0/1 ...); absent when poisoned. */
  newValue?: number | bigint;
  /** The value computed from the local BTF, that the instruction was expected to hold. */
  localValue?: number | bigint;
  /** The target type the relocation resolved against, "[1234] struct task_struct". */
  targetType?: string;
  /** Why the relocation failed, was poisoned, or found nothing (existence checks = 0). */
  reason?: string;
}

export interface CoreOptions {
  /**
   * Candidate cache keyed by local type id. libbpf keeps one per object and prunes a
   * type's candidates to those that matched each relocation, which later relocations
   * of the same type then see. Pass the same Map for every program of one object
   * (and the same local and target BTF) to get the same pruning; by default each call
   * has its own.
   */
  candidateCache?: Map<number, number[]>;
}

// ---- instruction encoding ------------------------------------------------------------

const SIZE_BYTES: Record<number, number> = { 0x18: 8, 0x00: 4, 0x08: 2, 0x10: 1 }; // BPF_DW, BPF_W, BPF_H, BPF_B
const BYTES_SIZE: Record<number, number> = { 8: 0x18, 4: 0x00, 2: 0x08, 1: 0x10 };

/** libbpf's BPF_CORE_SPEC_MAX_LEN: accessors per access string. */
const SPEC_MAX_LEN = 64;
/** Recursion limit of bpf_core_types_are_compat / bpf_core_types_match (libbpf: 32). */
const MAX_LEVEL = 32;

// ---- errors ----------------------------------------------------------------------------

/** A relocation libbpf would fail on (its negative error codes). */
class ReloError extends Error {}

function fail(message: string): never {
  throw new ReloError(message);
}

// ---- BTF helpers -----------------------------------------------------------------------

function nameOf(t: BtfType): string {
  return 'name' in t ? t.name : '';
}

function isComposite(t: BtfType): t is BtfType & { kind: 'struct' | 'union' } {
  return t.kind === 'struct' || t.kind === 'union';
}

function isAnyEnum(t: BtfType): t is BtfType & { kind: 'enum' | 'enum64' } {
  return t.kind === 'enum' || t.kind === 'enum64';
}

/** libbpf's btf_kind_core_compat: the same kind, or enum and enum64. */
function kindCoreCompat(a: BtfType, b: BtfType): boolean {
  return a.kind === b.kind || (isAnyEnum(a) && isAnyEnum(b));
}

/** libbpf's skip_mods_and_typedefs: typedef, const, volatile, restrict, type_tag. */
function skip(btf: Btf, id: number): BtfType {
  return btf.resolve(id);
}

function size(btf: Btf, id: number): number {
  return btf.sizeof(id);
}

/** The number of characters of `name` before a "___flavour" suffix (X___Y, X and Y not '_'). */
export function coreEssentialNameLength(name: string): number {
  for (let i = name.length - 5; i >= 0; i--) {
    if (name[i] !== '_' && name[i + 1] === '_' && name[i + 2] === '_' && name[i + 3] === '_' && name[i + 4] !== '_') return i + 1;
  }
  return name.length;
}

/** `name` without its flavour suffix: "task_struct___pre514" → "task_struct". */
export function coreEssentialName(name: string): string {
  return name.slice(0, coreEssentialNameLength(name));
}

function describe(btf: Btf, id: number): string {
  let t: BtfType;
  try {
    t = btf.type(id);
  } catch {
    return `[${id}] <no such type>`;
  }
  const name = nameOf(t);
  return `[${id}] ${t.kind}${name ? ` ${name}` : ' <anon>'}`;
}

// ---- candidate search ------------------------------------------------------------------

const candidateCaches = new WeakMap<Btf, Map<string, number[]>>();

/**
 * Target type ids whose essential name is `essential` (cached per Btf and name): the
 * types named so or with a flavour, looked up by name (Btf.namedWithFlavours) rather than
 * every type indexed, since the kernel's BTF has about 130,000 types and a load asks for a
 * few.
 */
function candidatesNamed(btf: Btf, essential: string): number[] {
  let cache = candidateCaches.get(btf);
  if (!cache) candidateCaches.set(btf, (cache = new Map()));
  let ids = cache.get(essential);
  if (!ids) {
    ids = btf.namedWithFlavours(essential).filter((t) => coreEssentialName(nameOf(t)) === essential).map((t) => t.id);
    cache.set(essential, ids);
  }
  return ids;
}

/**
 * libbpf's bpf_core_find_cands: target types of a core-compatible kind whose essential
 * name equals the local type's. For split BTF (a module's), the base's types are
 * searched first and the module's own only when the base has none, as libbpf searches
 * vmlinux before module BTFs.
 */
function findCandidates(local: Btf, localId: number, target: Btf): number[] {
  const localT = local.type(localId);
  const name = nameOf(localT);
  if (name === '') fail(`${describe(local, localId)}: relocations of anonymous types are not supported`);
  const ids = candidatesNamed(target, coreEssentialName(name));
  const compatible = ids.filter((id) => kindCoreCompat(target.type(id), localT));
  if (!target.base) return compatible;
  const inBase = compatible.filter((id) => id < target.firstId);
  return inBase.length > 0 ? inBase : compatible.filter((id) => id >= target.firstId);
}

// ---- specs -----------------------------------------------------------------------------

/** A high-level accessor: a named member (name set) or an array index. */
interface Accessor {
  /** The composite holding the member, or the array element type (modifiers skipped). */
  typeId: number;
  idx: number;
  name?: string;
}

interface Spec {
  btf: Btf;
  rootId: number;
  kind: number;
  /** Low-level indices, anonymous members included. */
  raw: number[];
  acc: Accessor[];
  /** Bit offset of the access from the root. */
  bitOffset: number;
}

function isFieldBased(kind: number): boolean {
  return kind <= CoreReloKind.FieldRShiftU64;
}

function isTypeBased(kind: number): boolean {
  return kind === CoreReloKind.TypeIdLocal || kind === CoreReloKind.TypeIdTarget || kind === CoreReloKind.TypeExists ||
    kind === CoreReloKind.TypeSize || kind === CoreReloKind.TypeMatches;
}

function isEnumvalBased(kind: number): boolean {
  return kind === CoreReloKind.EnumvalExists || kind === CoreReloKind.EnumvalValue;
}

/** libbpf's is_flex_arr: a zero-length array that is the last member of its struct. */
function isFlexArray(btf: Btf, acc: Accessor | undefined, nelems: number): boolean {
  if (!acc || acc.name === undefined || nelems > 0) return false;
  const t = btf.type(acc.typeId);
  return isComposite(t) && acc.idx === t.members.length - 1;
}

/** libbpf's bpf_core_parse_spec: the access string walked over the local type. */
function parseSpec(btf: Btf, relo: CoreRelo): Spec {
  const str = relo.accessStr;
  const spec: Spec = { btf, rootId: relo.typeId, kind: relo.kind, raw: [], acc: [], bitOffset: 0 };
  if (isTypeBased(relo.kind)) {
    if (str !== '0') fail(`type relocation with access string '${str}' (must be "0")`);
    return spec;
  }
  if (!/^\d+(:\d+)*$/.test(str)) fail(`malformed access string '${str}'`);
  const raw = str.split(':').map(Number);
  if (raw.length > SPEC_MAX_LEN) fail(`access string '${str}' is longer than ${SPEC_MAX_LEN} accessors`);
  if (raw.some((n) => n > 0x7fffffff)) fail(`access string '${str}' has an index out of range`);
  spec.raw = raw;

  let t = skip(btf, relo.typeId);
  let id = t.id;
  spec.acc.push({ typeId: id, idx: raw[0]! });

  if (isEnumvalBased(relo.kind)) {
    if (!isAnyEnum(t)) fail(`enum value relocation on ${describe(btf, id)}, not an enum`);
    if (raw.length > 1 || raw[0]! >= t.values.length) fail(`enum value relocation with access string '${str}' on ${describe(btf, id)} (${t.values.length} values)`);
    spec.acc[0]!.name = t.values[raw[0]!]!.name;
    return spec;
  }
  if (!isFieldBased(relo.kind)) fail(`unknown relocation kind ${relo.kind}`);

  spec.bitOffset = raw[0]! * size(btf, id) * 8;
  for (let i = 1; i < raw.length; i++) {
    t = skip(btf, id);
    id = t.id;
    const idx = raw[i]!;
    if (isComposite(t)) {
      const m = t.members[idx];
      if (!m) fail(`access string '${str}': ${describe(btf, id)} has no member #${idx}`);
      spec.bitOffset += m.bitOffset;
      if (m.name !== '') spec.acc.push({ typeId: id, idx, name: m.name });
      id = m.type;
    } else if (t.kind === 'array') {
      const elem = skip(btf, t.type);
      const flex = isFlexArray(btf, spec.acc[spec.acc.length - 1], t.nelems);
      if (!flex && idx >= t.nelems) fail(`access string '${str}': index ${idx} is out of the bounds of ${describe(btf, id)} (${t.nelems} elements)`);
      id = elem.id;
      spec.acc.push({ typeId: id, idx });
      spec.bitOffset += idx * size(btf, id) * 8;
    } else {
      fail(`access string '${str}': accessor #${i} reaches ${describe(btf, id)}, which is neither a struct, a union nor an array`);
    }
  }
  return spec;
}

/** libbpf's bpf_core_format_spec, e.g. "task_struct.pid (0:5 @ offset 1264)". */
function formatSpec(spec: Spec): string {
  const root = spec.btf.type(spec.rootId);
  let s = nameOf(root) || '<anon>';
  if (isTypeBased(spec.kind)) return `${root.kind} ${s}`;
  if (isEnumvalBased(spec.kind)) {
    const t = skip(spec.btf, spec.rootId);
    const v = isAnyEnum(t) ? t.values[spec.raw[0] ?? spec.acc[0]!.idx] : undefined;
    return `${s}::${v?.name ?? '?'} = ${v?.value ?? '?'}`;
  }
  spec.acc.forEach((a, i) => {
    if (a.name !== undefined) s += `.${a.name}`;
    else if (i > 0 || a.idx > 0) s += `[${a.idx}]`;
  });
  const off = spec.bitOffset % 8 ? `${Math.floor(spec.bitOffset / 8)}.${spec.bitOffset % 8}` : `${spec.bitOffset / 8}`;
  return `${s} (${spec.raw.join(':')} @ offset ${off})`;
}

// ---- type compatibility ----------------------------------------------------------------

/**
 * libbpf's __bpf_core_types_are_compat (type-based relocations): modifiers and typedefs
 * skipped, kinds must agree (enum ~ enum64); structs, unions, enums, fwds are
 * compatible whatever their members; ints unless they are old-style bitfield ints;
 * pointers and arrays by their targets; function prototypes by arity, parameters and
 * return type. 1, 0, or -1 for an error (too deep).
 */
function typesAreCompat(lb: Btf, lid: number, tb: Btf, tid: number, level: number): number {
  if (!kindCoreCompat(lb.type(lid), tb.type(tid))) return 0;
  for (let depth = 32; ; ) {
    if (--depth < 0) return -1;
    const lt = skip(lb, lid);
    const tt = skip(tb, tid);
    lid = lt.id;
    tid = tt.id;
    if (!kindCoreCompat(lt, tt)) return 0;
    switch (lt.kind) {
      case 'void': case 'struct': case 'union': case 'enum': case 'enum64': case 'fwd':
        return 1;
      case 'int':
        return lt.bitOffset === 0 && (tt as typeof lt).bitOffset === 0 ? 1 : 0;
      case 'ptr':
        lid = lt.type;
        tid = (tt as typeof lt).type;
        continue;
      case 'array':
        lid = lt.type;
        tid = (tt as typeof lt).type;
        continue;
      case 'func_proto': {
        const tp = tt as typeof lt;
        if (lt.params.length !== tp.params.length) return 0;
        for (let i = 0; i < lt.params.length; i++) {
          if (level <= 0) return -1;
          const r = typesAreCompat(lb, skip(lb, lt.params[i]!.type).id, tb, skip(tb, tp.params[i]!.type).id, level - 1);
          if (r <= 0) return r;
        }
        lid = skip(lb, lt.returnType).id;
        tid = skip(tb, tp.returnType).id;
        continue;
      }
      default:
        return 0;
    }
  }
}

function namesMatch(local: string, targ: string): boolean {
  if (targ === '') return local === '';
  return coreEssentialName(local) === coreEssentialName(targ);
}

/**
 * libbpf's bpf_core_fields_are_compat (the member types of a field access): structs
 * and unions mix freely, pointers and floats always match, fwd/enum by essential name
 * (or either anonymous), ints unless old-style bitfield ints, arrays by element.
 */
function fieldsAreCompat(lb: Btf, lid: number, tb: Btf, tid: number): boolean {
  for (let depth = 0; depth < 1024; depth++) {
    const lt = skip(lb, lid);
    const tt = skip(tb, tid);
    if (isComposite(lt) && isComposite(tt)) return true;
    if (!kindCoreCompat(lt, tt)) return false;
    switch (lt.kind) {
      case 'ptr': case 'float':
        return true;
      case 'fwd': case 'enum': case 'enum64': {
        const ln = coreEssentialName(nameOf(lt));
        const tn = coreEssentialName(nameOf(tt));
        return ln === '' || tn === '' || ln === tn;
      }
      case 'int':
        return lt.bitOffset === 0 && (tt as typeof lt).bitOffset === 0;
      case 'array':
        lid = lt.type;
        tid = (tt as typeof lt).type;
        continue;
      default:
        return false;
    }
  }
  fail('array types nest too deeply');
}

/** libbpf's bpf_core_enums_match: same size, every local enumerator named in the target. */
function enumsMatch(lt: BtfType & { kind: 'enum' | 'enum64' }, tt: BtfType & { kind: 'enum' | 'enum64' }): number {
  if (lt.size !== tt.size) return 0;
  if (lt.values.length > tt.values.length) return 0;
  for (const lv of lt.values) {
    if (!tt.values.some((tv) => namesMatch(lv.name, tv.name))) return 0;
  }
  return 1;
}

/** libbpf's bpf_core_composites_match: every local member has a same-named matching target member. */
function compositesMatch(lb: Btf, lt: BtfType & { kind: 'struct' | 'union' }, tb: Btf, tt: BtfType & { kind: 'struct' | 'union' }, behindPtr: boolean, level: number): number {
  if (lt.members.length > tt.members.length) return 0;
  for (const lm of lt.members) {
    let matched = false;
    for (const tm of tt.members) {
      if (!namesMatch(lm.name, tm.name)) continue;
      const r = typesMatch(lb, lm.type, tb, tm.type, behindPtr, level - 1);
      if (r < 0) return r;
      if (r > 0) {
        matched = true;
        break;
      }
    }
    if (!matched) return 0;
  }
  return 1;
}

/**
 * libbpf's __bpf_core_types_match (TypeMatches, bpf_core_type_matches()): stricter
 * than compatibility. Names must match (after modifiers and typedefs); kinds must be
 * the same, except that a struct/union behind a pointer matches a fwd of the same
 * flavour and enum matches enum64; ints by size and signedness; arrays by length and
 * element; pointers by target; structs/unions by members (recursively unless behind
 * a pointer); enums by size and enumerator names; function prototypes by parameters
 * and return type. Floats are not handled by libbpf, so never match.
 */
function typesMatch(lb: Btf, lid: number, tb: Btf, tid: number, behindPtr: boolean, level: number): number {
  if (level <= 0) return -1;
  for (let depth = 32; ; ) {
    if (--depth < 0) return -1;
    const lt = skip(lb, lid);
    const tt = skip(tb, tid);
    lid = lt.id;
    tid = tt.id;
    if (!namesMatch(nameOf(lt), nameOf(tt))) return 0;
    switch (lt.kind) {
      case 'void':
        return tt.kind === 'void' ? 1 : 0;
      case 'fwd':
        if (behindPtr) {
          if (tt.kind === 'fwd') return lt.union === tt.union ? 1 : 0;
          return (tt.kind === 'struct' && !lt.union) || (tt.kind === 'union' && lt.union) ? 1 : 0;
        }
        return tt.kind === 'fwd' && lt.union === tt.union ? 1 : 0;
      case 'enum': case 'enum64':
        return isAnyEnum(tt) ? enumsMatch(lt, tt) : 0;
      case 'struct': case 'union':
        if (behindPtr) {
          if (lt.kind === tt.kind) return 1;
          if (tt.kind !== 'fwd') return 0;
          return (lt.kind === 'union') === tt.union ? 1 : 0;
        }
        if (lt.kind !== tt.kind) return 0;
        return compositesMatch(lb, lt, tb, tt as typeof lt, behindPtr, level);
      case 'int':
        if (tt.kind !== 'int') return 0;
        return lt.size === tt.size && (lt.encoding & BTF_INT_SIGNED) === (tt.encoding & BTF_INT_SIGNED) ? 1 : 0;
      case 'ptr':
        if (tt.kind !== 'ptr') return 0;
        behindPtr = true;
        lid = lt.type;
        tid = tt.type;
        continue;
      case 'array':
        if (tt.kind !== 'array' || lt.nelems !== tt.nelems) return 0;
        lid = lt.type;
        tid = tt.type;
        continue;
      case 'func_proto': {
        if (tt.kind !== 'func_proto' || lt.params.length !== tt.params.length) return 0;
        for (let i = 0; i < lt.params.length; i++) {
          const r = typesMatch(lb, lt.params[i]!.type, tb, tt.params[i]!.type, behindPtr, level - 1);
          if (r <= 0) return r;
        }
        lid = lt.returnType;
        tid = tt.returnType;
        continue;
      }
      default:
        return 0;
    }
  }
}

// ---- matching a spec against a candidate ------------------------------------------------

/**
 * libbpf's bpf_core_match_member: finds the local named member in the target
 * composite `targId`, descending into anonymous members, extending `spec` on the way.
 * 1 found (and compatible), 0 not; `next.id` is the member's type.
 */
function matchMember(local: Btf, localAcc: Accessor, targ: Btf, targId: number, spec: Spec, next: { id: number }, why: Why): number {
  const tt = skip(targ, targId);
  targId = tt.id;
  if (!isComposite(tt)) return 0;
  const lt = local.type(localAcc.typeId) as BtfType & { kind: 'struct' | 'union' };
  const lm = lt.members[localAcc.idx]!;
  for (let i = 0; i < tt.members.length; i++) {
    const m = tt.members[i]!;
    if (spec.raw.length === SPEC_MAX_LEN) fail(`target ${describe(targ, targId)} nests too deeply`);
    spec.bitOffset += m.bitOffset;
    spec.raw.push(i);
    if (m.name === '') {
      const found = matchMember(local, localAcc, targ, m.type, spec, next, why);
      if (found) return found;
    } else if (m.name === lm.name) {
      spec.acc.push({ typeId: targId, idx: i, name: m.name });
      next.id = m.type;
      if (fieldsAreCompat(local, lm.type, targ, m.type)) return 1;
      why.reason = `member ${m.name} of ${describe(targ, targId)} is ${describe(targ, skip(targ, m.type).id)}, incompatible with the local ${describe(local, skip(local, lm.type).id)}`;
      spec.acc.pop();
      return 0;
    }
    spec.bitOffset -= m.bitOffset;
    spec.raw.pop();
  }
  return 0;
}

/** Why a candidate did not match, for messages. */
interface Why {
  reason?: string;
}

/** libbpf's bpf_core_spec_match: the target spec for candidate `targId`, or undefined (and `why`). */
function specMatch(localSpec: Spec, targ: Btf, targId: number, why: Why = {}): Spec | undefined {
  const ts: Spec = { btf: targ, rootId: targId, kind: localSpec.kind, raw: [], acc: [], bitOffset: 0 };
  const kind = localSpec.kind;
  if (isTypeBased(kind)) {
    const r = kind === CoreReloKind.TypeMatches
      ? typesMatch(localSpec.btf, localSpec.rootId, targ, targId, false, MAX_LEVEL)
      : typesAreCompat(localSpec.btf, localSpec.rootId, targ, targId, MAX_LEVEL);
    if (r < 0) fail(`comparing with ${describe(targ, targId)}: types nest too deeply`);
    if (r === 0) why.reason = `${describe(targ, targId)} ${kind === CoreReloKind.TypeMatches ? 'does not match' : 'is not compatible'}`;
    return r > 0 ? ts : undefined;
  }

  const la0 = localSpec.acc[0]!;
  if (isEnumvalBased(kind)) {
    const tt = skip(targ, targId);
    if (!isAnyEnum(tt)) {
      why.reason = `${describe(targ, targId)} is not an enum`;
      return undefined;
    }
    const want = coreEssentialName(la0.name!);
    const i = tt.values.findIndex((v) => coreEssentialName(v.name) === want);
    if (i < 0) {
      why.reason = `${describe(targ, tt.id)} has no enumerator ${want}`;
      return undefined;
    }
    ts.acc.push({ typeId: tt.id, idx: i, name: tt.values[i]!.name });
    ts.raw.push(i);
    return ts;
  }

  let id = targId;
  for (let i = 0; i < localSpec.acc.length; i++) {
    const la = localSpec.acc[i]!;
    let tt = skip(targ, id);
    id = tt.id;
    if (la.name !== undefined) {
      const next = { id };
      if (matchMember(localSpec.btf, la, targ, id, ts, next, why) <= 0) {
        why.reason ??= isComposite(tt) ? `${describe(targ, id)} has no member ${la.name}` : `${describe(targ, id)} is not a struct or union (looking for member ${la.name})`;
        return undefined;
      }
      id = next.id;
      continue;
    }
    // An array index. The first accessor indexes the root as if it were an array.
    if (i > 0) {
      if (tt.kind !== 'array') {
        why.reason = `${describe(targ, id)} is not an array (indexing [${la.idx}])`;
        return undefined;
      }
      const flex = isFlexArray(targ, ts.acc[ts.acc.length - 1], tt.nelems);
      if (!flex && la.idx >= tt.nelems) {
        why.reason = `index ${la.idx} is out of the bounds of ${describe(targ, id)} (${tt.nelems} elements)`;
        return undefined;
      }
      tt = skip(targ, tt.type);
      id = tt.id;
    }
    if (ts.raw.length === SPEC_MAX_LEN) fail(`target ${describe(targ, targId)} nests too deeply`);
    ts.acc.push({ typeId: id, idx: la.idx });
    ts.raw.push(la.idx);
    ts.bitOffset += la.idx * size(targ, id) * 8;
  }
  return ts;
}

// ---- values ------------------------------------------------------------------------------

interface Res {
  orig: bigint;
  new: bigint;
  poison: boolean;
  /** Check the instruction holds `orig` before patching. */
  validate: boolean;
  /** The load/store size must change and cannot safely (LDX/ST/STX are then poisoned). */
  failMemszAdjust: boolean;
  origSz: number;
  newSz: number;
}

interface FieldValue {
  val: bigint;
  /** Memory size for a load/store of the field (0: not a plain field). */
  sz: number;
  typeId: number;
  validate: boolean;
}

const POISON = Symbol('poison');

/** libbpf's bpf_core_calc_field_relo for one spec (undefined: nothing matched). */
function calcField(kind: number, spec: Spec | undefined): FieldValue | typeof POISON {
  if (kind === CoreReloKind.FieldExists) return { val: spec ? 1n : 0n, sz: 0, typeId: 0, validate: true };
  if (!spec) return POISON;
  const btf = spec.btf;
  const acc = spec.acc[spec.acc.length - 1]!;

  if (acc.name === undefined) {
    // An array element (or the root itself): only its offset and size make sense.
    const sz = size(btf, acc.typeId);
    if (kind === CoreReloKind.FieldByteOffset) return { val: BigInt(Math.floor(spec.bitOffset / 8)), sz, typeId: acc.typeId, validate: true };
    if (kind === CoreReloKind.FieldByteSize) return { val: BigInt(sz), sz: 0, typeId: 0, validate: true };
    fail(`${coreReloKindName(kind)} cannot be applied to an array element access`);
  }

  const t = btf.type(acc.typeId) as BtfType & { kind: 'struct' | 'union' };
  const m = t.members[acc.idx]!;
  const mt = skip(btf, m.type);
  const bitOff = spec.bitOffset;
  let bitSz = m.bitfieldSize;
  const bitfield = bitSz > 0;
  let byteSz: number;
  let byteOff: number;
  if (bitfield) {
    if (!('size' in mt)) fail(`bitfield of ${describe(btf, mt.id)}, which has no size`);
    byteSz = mt.size;
    if (byteSz === 0) fail(`bitfield of zero-sized ${describe(btf, mt.id)}`);
    byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    // The smallest naturally aligned load that covers the bitfield.
    while (bitOff + bitSz - byteOff * 8 > byteSz * 8) {
      if (byteSz >= 8) fail(`bitfield ${m.name} cannot be read with one 64-bit load`);
      byteSz *= 2;
      byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    }
  } else {
    byteSz = size(btf, mt.id);
    byteOff = Math.floor(bitOff / 8);
    bitSz = byteSz * 8;
  }
  // For bitfields the compiler's choices of offset and size may differ from ours:
  // only signedness and the right shift are checked.
  let validate = !bitfield;
  let val: bigint;
  let sz = 0;
  let typeId = 0;
  switch (kind) {
    case CoreReloKind.FieldByteOffset:
      val = BigInt(byteOff);
      if (!bitfield) {
        sz = byteSz;
        typeId = mt.id;
      }
      break;
    case CoreReloKind.FieldByteSize:
      val = BigInt(byteSz);
      break;
    case CoreReloKind.FieldSigned:
      val = (isAnyEnum(mt) && mt.signed) || (mt.kind === 'int' && (mt.encoding & BTF_INT_SIGNED) !== 0) ? 1n : 0n;
      validate = true;
      break;
    case CoreReloKind.FieldLShiftU64:
      val = BigInt(64 - (bitOff + bitSz - byteOff * 8)); // little endian
      break;
    case CoreReloKind.FieldRShiftU64:
      val = BigInt(64 - bitSz);
      validate = true;
      break;
    default:
      fail(`unknown field relocation kind ${kind}`);
  }
  return { val, sz, typeId, validate };
}

/** libbpf's bpf_core_calc_relo: original and new values of one relocation for one target spec. */
function calcRelo(kind: number, local: Spec, targ: Spec | undefined): Res {
  const res: Res = { orig: 0n, new: 0n, poison: false, validate: true, failMemszAdjust: false, origSz: 0, newSz: 0 };
  if (isFieldBased(kind)) {
    const o = calcField(kind, local);
    if (o === POISON) fail('local field not found'); // unreachable: the local spec exists
    const n = calcField(kind, targ);
    res.orig = o.val;
    res.validate = o.validate;
    res.origSz = o.sz;
    if (n === POISON) {
      res.poison = true;
      return res;
    }
    res.new = n.val;
    res.newSz = n.sz;
    if (o.sz !== n.sz) {
      // Changing the size of a load/store is only safe for pointers (a 32-bit kernel
      // pointer read as a zero-extended u64) and unsigned integers.
      const ot = local.btf.type(o.typeId);
      const nt = targ!.btf.type(n.typeId);
      const safe = (ot.kind === 'ptr' && nt.kind === 'ptr') ||
        (ot.kind === 'int' && nt.kind === 'int' && ot.encoding !== BTF_INT_SIGNED && nt.encoding !== BTF_INT_SIGNED);
      res.failMemszAdjust = !safe;
    }
  } else if (isTypeBased(kind)) {
    res.orig = typeValue(kind, local);
    res.new = targ ? typeValue(kind, targ) : 0n; // type relocations give 0 when nothing matched
    // A type id may change when objects are linked: not worth checking.
    res.validate = kind !== CoreReloKind.TypeIdTarget;
  } else if (isEnumvalBased(kind)) {
    res.orig = enumValue(kind, local);
    if (targ) res.new = enumValue(kind, targ);
    else if (kind === CoreReloKind.EnumvalExists) res.new = 0n;
    else res.poison = true;
  } else {
    fail(`unknown relocation kind ${kind}`);
  }
  return res;
}

function typeValue(kind: number, spec: Spec): bigint {
  switch (kind) {
    case CoreReloKind.TypeIdTarget:
      return BigInt(spec.rootId);
    case CoreReloKind.TypeExists:
    case CoreReloKind.TypeMatches:
      return 1n;
    case CoreReloKind.TypeSize:
      return BigInt(size(spec.btf, spec.rootId));
    default:
      return fail(`unknown type relocation kind ${kind}`);
  }
}

/**
 * The enumerator's value. libbpf sign-extends every 32-bit enumerator (its struct
 * btf_enum holds an s32); this engine extends by the enum's signedness (kind_flag),
 * so an unsigned enumerator >= 2^31 keeps its value in a 64-bit load, as clang
 * compiles it. For ALU immediates both readings are accepted (see patchInsn).
 */
function enumValue(kind: number, spec: Spec): bigint {
  if (kind === CoreReloKind.EnumvalExists) return 1n;
  const acc = spec.acc[0]!;
  const t = spec.btf.type(acc.typeId);
  if (!isAnyEnum(t)) fail(`${describe(spec.btf, acc.typeId)} is not an enum`);
  return t.values[acc.idx]!.value;
}

// ---- resolving one relocation -------------------------------------------------------------

interface Resolution {
  res: Res;
  localSpec: Spec;
  targSpec?: Spec;
  /** Candidates searched, for messages. */
  candidates: number[];
  /** Why each non-matching candidate did not match. */
  misses: string[];
}

/** libbpf's bpf_core_resolve_relo + bpf_core_calc_relo_insn. */
function resolve(relo: CoreRelo, local: Btf, target: Btf, cache: Map<number, number[]>): Resolution {
  local.type(relo.typeId); // exists
  let cands: number[] | undefined;
  if (relo.kind !== CoreReloKind.TypeIdLocal) {
    cands = cache.get(relo.typeId);
    if (!cands) {
      cands = findCandidates(local, relo.typeId, target);
      cache.set(relo.typeId, cands);
    }
  }
  const localSpec = parseSpec(local, relo);
  if (relo.kind === CoreReloKind.TypeIdLocal) {
    const id = BigInt(relo.typeId);
    return { res: { orig: id, new: id, poison: false, validate: false, failMemszAdjust: false, origSz: 0, newSz: 0 }, localSpec, candidates: [], misses: [] };
  }
  cands = cands!;
  let best: { res: Res; spec: Spec } | undefined;
  const kept: number[] = [];
  const misses: string[] = [];
  for (const cand of cands) {
    const why: Why = {};
    const spec = specMatch(localSpec, target, cand, why);
    if (!spec) {
      misses.push(why.reason ?? `${describe(target, cand)} does not match`);
      continue;
    }
    const res = calcRelo(relo.kind, localSpec, spec);
    if (!best) {
      best = { res, spec };
    } else if (spec.bitOffset !== best.spec.bitOffset) {
      fail(`field offset ambiguity: ${describe(target, best.spec.rootId)} gives ${formatSpec(best.spec)} but ${describe(target, cand)} gives ${formatSpec(spec)}`);
    } else if (res.poison !== best.res.poison || res.new !== best.res.new) {
      const say = (r: Res): string => (r.poison ? 'failure' : `${r.new}`);
      fail(`relocation decision ambiguity: ${describe(target, best.spec.rootId)} gives ${say(best.res)} but ${describe(target, cand)} gives ${say(res)}`);
    }
    kept.push(cand);
  }
  // Prune the candidates of this local type to those that matched (libbpf does the
  // same: later relocations of the type only consider them).
  if (kept.length > 0) cache.set(relo.typeId, kept);
  if (best) return { res: best.res, localSpec, targSpec: best.spec, candidates: cands, misses };
  return { res: calcRelo(relo.kind, localSpec, undefined), localSpec, candidates: cands, misses };
}

// ---- patching ----------------------------------------------------------------------------------

function poisonAt(view: DataView, idx: number): void {
  const p = idx * INSN_SIZE;
  view.setUint8(p, CALL);
  view.setUint8(p + 1, 0);
  view.setInt16(p + 2, 0, true);
  view.setInt32(p + 4, CORE_POISON_HELPER, true);
}

/** Poisons instruction `idx` (and the second slot of an ld_imm64) as libbpf does. */
function poison(view: DataView, count: number, idx: number): void {
  if (view.getUint8(idx * INSN_SIZE) === LD_IMM64 && idx + 1 < count) poisonAt(view, idx + 1);
  poisonAt(view, idx);
}

const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);

/**
 * libbpf's bpf_core_patch_insn for a non-poisoned result: ALU/ALU64 with an immediate
 * operand, LDX/ST/STX offsets (and access size), ld_imm64. Returns 'poison' when the
 * load/store size would have to change unsafely (libbpf poisons then too).
 */
function patchInsn(view: DataView, count: number, idx: number, res: Res): 'ok' | 'poison' {
  const p = idx * INSN_SIZE;
  const code = view.getUint8(p);
  const cls = code & 0x07;
  const orig = res.orig;
  const nv = res.new;
  switch (cls) {
    case BPF_ALU:
    case BPF_ALU64: {
      if ((code & 0x08) !== BPF_K) fail(`instruction #${idx} (ALU) has a register operand, not an immediate`);
      const imm = view.getInt32(p + 4, true);
      // libbpf compares the sign-extended immediate; a 32-bit unsigned reading is
      // accepted too (unsigned enumerators, see enumValue).
      if (res.validate && U64(BigInt(imm)) !== U64(orig) && BigInt(imm >>> 0) !== U64(orig)) {
        fail(`unexpected value in instruction #${idx} (ALU/ALU64): got ${imm}, expected ${orig} -> ${nv}`);
      }
      // libbpf truncates silently; a value that does not fit is refused here.
      if (nv < -0x80000000n || nv > 0xffffffffn) fail(`instruction #${idx} (ALU/ALU64): value ${nv} does not fit in a 32-bit immediate`);
      view.setInt32(p + 4, Number(BigInt.asIntN(32, nv)), true);
      return 'ok';
    }
    case BPF_LDX:
    case BPF_ST:
    case BPF_STX: {
      const off = view.getInt16(p + 2, true);
      if (res.validate && U64(BigInt(off)) !== U64(orig)) {
        fail(`unexpected value in instruction #${idx} (LDX/ST/STX): got offset ${off}, expected ${orig} -> ${nv}`);
      }
      if (nv > 0x7fffn || nv < -0x8000n) fail(`instruction #${idx} (LDX/ST/STX): offset ${nv} is too big`);
      if (res.failMemszAdjust) return 'poison';
      view.setInt16(p + 2, Number(nv), true);
      if (res.newSz !== res.origSz) {
        const bytes = SIZE_BYTES[code & 0x18]!;
        if (bytes !== res.origSz) fail(`instruction #${idx} (LDX/ST/STX): unexpected memory size: got ${bytes}, expected ${res.origSz}`);
        const sz = BYTES_SIZE[res.newSz];
        if (sz === undefined) fail(`instruction #${idx} (LDX/ST/STX): invalid new memory size ${res.newSz}`);
        view.setUint8(p, (code & 0xe0) | sz | cls);
      }
      return 'ok';
    }
    case BPF_LD: {
      if (code !== LD_IMM64 || idx + 1 >= count || view.getUint8(p + 1) >> 4 !== 0 || view.getInt16(p + 2, true) !== 0 ||
        view.getUint8(p + 8) !== 0 || view.getUint8(p + 9) !== 0 || view.getInt16(p + 10, true) !== 0) {
        fail(`instruction #${idx} (LDIMM64) has an unexpected form`);
      }
      const imm = (BigInt(view.getUint32(p + 12, true)) << 32n) | BigInt(view.getUint32(p + 4, true));
      if (res.validate && imm !== U64(orig)) fail(`unexpected value in instruction #${idx} (LDIMM64): got ${imm}, expected ${U64(orig)} -> ${U64(nv)}`);
      const u = U64(nv);
      view.setUint32(p + 4, Number(u & 0xffffffffn), true);
      view.setUint32(p + 12, Number(u >> 32n), true);
      return 'ok';
    }
    default:
      fail(`cannot relocate instruction #${idx} (code 0x${code.toString(16)})`);
  }
}

function num(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

// ---- entry point -------------------------------------------------------------------------------

/**
 * Applies every CO-RE relocation of `relos` to a copy of `insns` (returned), resolving
 * against `target` (the running kernel's BTF, or a BTF given by the user). Does not
 * throw for unsatisfiable or malformed relocations (only for arguments that are not
 * instructions): unsatisfiable ones poison the instruction exactly as libbpf does (a
 * call to helper 0xbad2310, so the verifier rejects it only if it is reached; both
 * slots of an ld_imm64), errors libbpf would refuse the object for are poisoned too
 * and reported with ok: false, and every relocation has a CoreResult (same order as
 * `relos`) naming what happened. A loader should refuse the program when any result
 * has ok: false, and name the poisoned results when the verifier reports a call to
 * unknown#195896080.
 */
export function applyCoreRelocations(
  insns: Uint8Array,
  relos: readonly CoreRelo[],
  local: Btf,
  target: Btf,
  options: CoreOptions = {},
): { instructions: Uint8Array; results: CoreResult[] } {
  if (!(insns instanceof Uint8Array)) throw new TypeError('applyCoreRelocations: insns must be a Uint8Array');
  if (insns.length % INSN_SIZE !== 0) throw new TypeError(`applyCoreRelocations: ${insns.length} bytes is not a whole number of instructions`);
  const out = insns.slice();
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const count = out.length / INSN_SIZE;
  const cache = options.candidateCache ?? new Map<number, number[]>();
  const results: CoreResult[] = [];

  for (const relo of relos) {
    const kindName = coreReloKindName(relo.kind) ?? `kind ${relo.kind}`;
    const result: CoreResult = {
      insnOff: relo.insnOff,
      kind: relo.kind,
      accessStr: relo.accessStr,
      localType: describe(local, relo.typeId),
      ok: true,
      poisoned: false,
    };
    results.push(result);
    const idx = relo.insnOff;
    const inRange = Number.isInteger(idx) && idx >= 0 && idx < count;
    let what = `${kindName} ${result.localType} '${relo.accessStr}'`;
    try {
      if (!inRange) fail(`instruction #${idx} is outside the program (${count} instructions)`);
      const r = resolve(relo, local, target, cache);
      what = `${kindName} ${formatSpec(r.localSpec)}`;
      result.localValue = num(r.res.orig);
      if (r.targSpec) result.targetType = describe(target, r.targSpec.rootId);
      const missing = (): string =>
        r.candidates.length === 0
          ? `no type named ${coreEssentialName(nameOf(local.type(relo.typeId)))} (of a compatible kind) in the target BTF`
          : r.misses.slice(0, 3).join('; ') + (r.misses.length > 3 ? `; and ${r.misses.length - 3} more candidate(s)` : '');
      if (r.res.poison) {
        poison(view, count, idx);
        result.poisoned = true;
        result.reason = `${what}: ${missing()}; instruction #${idx} poisoned`;
        continue;
      }
      if (patchInsn(view, count, idx, r.res) === 'poison') {
        poison(view, count, idx);
        result.poisoned = true;
        result.reason = `${what}: the field's type changed from a ${r.res.origSz}-byte to a ${r.res.newSz}-byte one that cannot be ` +
          `loaded or stored with an adjusted access size (only pointers and unsigned integers can); instruction #${idx} poisoned`;
        continue;
      }
      result.newValue = num(r.res.new);
      if (!r.targSpec && relo.kind !== CoreReloKind.TypeIdLocal) result.reason = `${what}: ${missing()}`;
    } catch (err) {
      if (!(err instanceof ReloError) && !(err instanceof BtfError)) throw err;
      result.ok = false;
      result.reason = `${what}: ${err.message}`;
      if (inRange) {
        poison(view, count, idx);
        result.poisoned = true;
      }
    }
  }
  return { instructions: out, results };
}

/** One line per error or poisoned relocation ("insn #61: FieldByteOffset ...: ..."), for a loader's message. */
export function formatCoreResults(results: readonly CoreResult[]): string {
  return results
    .filter((r) => !r.ok || r.poisoned)
    .map((r) => `insn #${r.insnOff}: ${r.ok ? '' : 'error: '}${r.reason ?? ''}`)
    .join('\n');
}
