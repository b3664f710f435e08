// What a kernel-dependent test needs: the kind of a program as the feature probe is
// asked about it (the loader asks the same), the NotSupported the loader raises where
// the kernel refuses that kind, and a branch that runs the behaviour where the kernel
// has the feature, the typed refusal where it does not, and says which ran.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { isProgramTypeSupported, loadKernelBtf, MapError, ObjectSpec, ProgramError } from '../src/index.js';
import { programFeatureName } from '../src/features.js';
import { findInModules } from '../src/kernel-btf.js';

/** A program of an object, as the probe sees it: type, expected attach type, vmlinux target. */
export interface ProgramKindOf {
  object: string;
  program: string;
  section: string;
  type: number;
  attachType?: number;
  /** The vmlinux BTF name a BTF-attached program loads against ('bpf_iter_task'). */
  attachTo?: string;
}

const specs = new Map<string, ObjectSpec>();

function spec(path: string): ObjectSpec {
  let s = specs.get(path);
  if (!s) specs.set(path, (s = ObjectSpec.parse(readFileSync(path))));
  return s;
}

/** The kind of program `name` of the object at `path`. */
export function kindOf(path: string, name: string): ProgramKindOf {
  const p = spec(path).programs.get(name);
  assert.ok(p, `${path} has a program ${name}`);
  const attachTo = p.target?.type === 'btf' && !p.target.module && p.kind !== 'Extension' ? p.target.btfName : undefined;
    // The spec has 0 for "none" (BPF_CGROUP_INET_INGRESS for cgroup_skb: the same load either way).
  return { object: path, program: name, section: p.section, type: p.type, attachType: p.expectedAttachType || undefined, attachTo };
}

/** True where this kernel loads programs of that kind (the probe, which a real load agrees with). */
export function loadsHere(k: ProgramKindOf): boolean {
  return isProgramTypeSupported(k.type, k.attachType, k.attachTo);
}

/** What ProgramError.feature names when the kernel refuses the kind: with the target only when other targets load. */
export function refusedFeature(k: ProgramKindOf): string {
  const kind = programFeatureName(k.type, k.attachType);
  return k.attachTo === undefined || !isProgramTypeSupported(k.type, k.attachType) ? kind : `${kind} ${k.attachTo}`;
}

/** Asserts `err` is the loader's NotSupported for program `k`. */
export function assertRefused(err: unknown, k: ProgramKindOf): void {
  assert.ok(err instanceof ProgramError, `expected ProgramError NotSupported for ${k.program}, got ${String(err)}`);
  assert.equal(err.kind, 'NotSupported', err.message);
  assert.equal(err.program, k.program);
  assert.equal(err.feature, refusedFeature(k));
  assert.equal(err.verifierLog, undefined);
  assert.ok(err.message.includes(refusedFeature(k)), err.message);
}

/** Asserts `err` is MapData.create's NotSupported naming map type `typeName`. */
export function assertMapRefused(err: unknown, typeName: string): void {
  assert.ok(err instanceof MapError, `expected MapError NotSupported, got ${String(err)}`);
  assert.equal(err.kind, 'NotSupported', err.message);
  assert.equal(err.feature, typeName);
}

interface Diagnosing {
  diagnostic(message: string): void;
}

/**
 * Runs `has` where the kernel has `feature`, `lacks` where it does not (or refuses it):
 * there the typed NotSupported, or the fallback the library takes instead. Reports the
 * branch in the test's output.
 */
export async function branch(t: Diagnosing, feature: string, present: boolean, has: () => unknown, lacks: () => unknown): Promise<void> {
  t.diagnostic(present ? `this kernel has ${feature}: its behaviour is asserted` : `this kernel lacks or refuses ${feature}: the typed error (or fallback) it gets instead is asserted`);
  await (present ? has() : lacks());
}

/**
 * Whether the kernel's struct bpf_link_info has `member` in its union (vmlinux BTF): the
 * link details it fills in (perf_event: 6.6+). Where it lacks it, those bytes are 0.
 */
export function linkInfoHas(member: string): boolean {
  const btf = loadKernelBtf();
  const info = btf.byName('bpf_link_info', 'struct')[0];
  return info?.kind === 'struct' && info.members.some((m) => {
    if (m.name === member) return true;
    const t = m.name === '' ? btf.resolve(m.type) : undefined;
    return t?.kind === 'union' && t.members.some((u) => u.name === member);
  });
}

/** Whether vmlinux or a loaded module's BTF has kfunc `name`. */
export function kfuncHere(name: string): boolean {
  return loadKernelBtf().byName(name, 'func').length > 0 || findInModules((b) => b.byName(name, 'func')[0]) !== undefined;
}
