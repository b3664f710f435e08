// struct_ops maps against the real kernel: bpf/struct_ops.o implements
// tcp_congestion_ops without BPF_F_LINK (tsbpf_cc), bpf/struct_ops_link.o with it
// (tsbpf_cc_link, struct_ops links: 6.4+). The tests ask the probes and assert the
// typed NotSupported where the kernel lacks what they need.
// This kernel loads BPF_PROG_TYPE_STRUCT_OPS programs for tcp_congestion_ops (unlike
// fentry/lsm), so registration is observable in /proc/sys/net/ipv4.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Btf, EbpfLoader, isLinkTypeSupported, isMapTypeSupported, isProgramTypeSupported, LinkType, loadKernelBtf, MapData, MapError, MapType, ObjectSpec, ProgramError, ProgramType, StructOpsMap } from '../src/index.js';
import * as sys from '../src/sys/index.js';
import { findStructOpsTarget, structOpsMember, structOpsValue } from '../src/obj/struct-ops.js';
import { corpusDir, fdCount, thrown } from './helpers.js';
import { branch } from './kernel-features.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const object = resolve(root, 'bpf/struct_ops.o');
const linkObject = resolve(root, 'bpf/struct_ops_link.o');
const corpus = corpusDir;
const available = () => readFileSync('/proc/sys/net/ipv4/tcp_available_congestion_control', 'utf8').trim().split(/\s+/);
const allowed = () => readFileSync('/proc/sys/net/ipv4/tcp_allowed_congestion_control', 'utf8').trim().split(/\s+/);

// A registration outlives its process: one left by a run that crashed mid-test is
// removed through the map's id before the tests look at the list.
for (let id = sys.mapGetNextId(0); id !== undefined; id = sys.mapGetNextId(id)) {
  try {
    using m = MapData.fromId(id);
    if (m.type === MapType.StructOps && m.name === 'tsbpf_cc') m.delete(new Uint8Array(4));
  } catch {
    // Gone meanwhile, or not registered.
  }
}

/**
 * Runs `has` where the kernel has struct_ops maps and programs (the probes' tcp_congestion_ops
 * member and value) and, for struct_ops_link.o, struct_ops links; else asserts that
 * loading the object is NotSupported.
 */
async function structOpsHere(t: { diagnostic(m: string): void }, has: () => void, path = object): Promise<void> {
  const links = path === linkObject;
  const present = isProgramTypeSupported(ProgramType.StructOps) && isMapTypeSupported(MapType.StructOps) && (!links || isLinkTypeSupported(LinkType.StructOps));
  await branch(t, `struct_ops programs and maps (tcp_congestion_ops)${links ? ' and struct_ops links' : ''}`, present, has, () => {
    const err = thrown(() => new EbpfLoader().load(path));
    assert.ok((err instanceof MapError || err instanceof ProgramError) && err.kind === 'NotSupported', String(err));
  });
}

// Offsets in the kernel value (struct bpf_struct_ops_tcp_congestion_ops), from vmlinux BTF.
function layout() {
  const target = findStructOpsTarget('tcp_congestion_ops', loadKernelBtf())!;
  const at = (name: string) => target.dataOffset + target.struct.members.find((m) => m.name === name)!.bitOffset / 8;
  return { target, at };
}

test('struct_ops.o: tcp_congestion_ops maps and programs load; register() lists tsbpf_cc, close() unregisters', (t) => structOpsHere(t, () => {
  const before = fdCount();
  assert.ok(!available().includes('tsbpf_cc'));
  const ebpf = new EbpfLoader().load(object);
  try {
    for (const [name, p] of ebpf.programs()) {
      assert.equal(p.kind, 'StructOps', name);
      assert.ok(p.loaded, `${name} loaded`);
    }
    const cc = ebpf.structOps('tsbpf_cc');
    assert.ok(cc instanceof StructOpsMap);
    assert.equal(cc.typeName, 'tcp_congestion_ops');
    assert.equal(cc.link, false);
    assert.equal(cc.map.type, MapType.StructOps);
    assert.equal(cc.map.valueSize, layout().target.valueType.size);
    assert.ok(!available().includes('tsbpf_cc'), 'loading registers nothing');
    cc.register();
    assert.ok(cc.registered);
    assert.ok(available().includes('tsbpf_cc'), 'registered as a congestion control');
    assert.ok(allowed().includes('tsbpf_cc'), '.flags = TCP_CONG_NON_RESTRICTED reached the kernel');
  } finally {
    ebpf.close();
  }
  assert.ok(!available().includes('tsbpf_cc'), 'close() unregisters');
  assert.equal(fdCount(), before);
}));

test('struct_ops.o: unregister() removes the registration; the kernel allows one value per map (EBUSY after)', (t) => structOpsHere(t, () => {
  using ebpf = new EbpfLoader().load(object);
  const cc = ebpf.structOps('tsbpf_cc');
  cc.register();
  cc.unregister();
  assert.ok(!cc.registered);
  assert.ok(!available().includes('tsbpf_cc'), 'unregister() removes it');
  const err = thrown(() => cc.register());
  assert.ok(err instanceof MapError && err.code === 'EBUSY', String(err));
}));

test('struct_ops.o: the kernel value holds the data members and the programs\' fds at the kernel\'s offsets', (t) => structOpsHere(t, () => {
  using ebpf = new EbpfLoader().load(object);
  const { at } = layout();
  const value = ebpf.structOps('tsbpf_cc').value;
  const view = new DataView(value.buffer);
  assert.equal(view.getBigUint64(at('ssthresh'), true), BigInt(ebpf.program('cc_ssthresh').fd));
  assert.equal(view.getBigUint64(at('cong_avoid'), true), BigInt(ebpf.program('cc_cong_avoid').fd));
  assert.equal(view.getBigUint64(at('undo_cwnd'), true), BigInt(ebpf.program('cc_undo_cwnd').fd));
  assert.equal(view.getBigUint64(at('init'), true), 0n, 'a member the object leaves out stays NULL');
  assert.equal(view.getUint32(at('flags'), true), 1);
  assert.equal(new TextDecoder().decode(value.subarray(at('name'), at('name') + 8)), 'tsbpf_cc');
  assert.equal(view.getUint32(0, true), 0, 'the common header (refcnt, state) is the kernel\'s');
}));

test('struct_ops_link.o: a BPF_F_LINK map is written at load (state READY) and waits for a link; register() refuses it', (t) => structOpsHere(t, () => {
  using linked = new EbpfLoader().load(linkObject);
  using ebpf = new EbpfLoader().load(object);
  const link = linked.structOps('tsbpf_cc_link');
  assert.equal(link.link, true);
  assert.equal(link.map.flags & (1 << 13), 1 << 13, 'BPF_F_LINK');
  const held = new DataView(link.map.lookup(new Uint8Array(4))!.buffer);
  assert.equal(held.getUint32(4, true), 3, 'BPF_STRUCT_OPS_STATE_READY');
  assert.ok(!available().includes('tsbpf_cc_link'), 'a link map is not registered by its value');
  assert.equal(thrown(() => link.register()).kind, 'InvalidArgument');
  // The non-link map is not written at load: its state is still INIT.
  const cc = new DataView(ebpf.map('tsbpf_cc').lookup(new Uint8Array(4))!.buffer);
  assert.equal(cc.getUint32(4, true), 0, 'BPF_STRUCT_OPS_STATE_INIT');
}, linkObject));

test('struct_ops_link.o: attach() registers a BPF_F_LINK map through a link; detach unregisters; register-style maps refuse attach()', (t) => structOpsHere(t, () => {
  using linked = new EbpfLoader().load(linkObject);
  using ebpf = new EbpfLoader().load(object);
  const ops = linked.structOps('tsbpf_cc_link');
  const link = ops.attach();
  try {
    assert.ok(available().includes('tsbpf_cc_link'), 'registered while the link lives');
    const info = link.info();
    assert.equal(info.typeName, 'StructOps');
    assert.equal(info.mapId, ops.map.info().id);
  } finally {
    link.detach();
  }
  assert.ok(!available().includes('tsbpf_cc_link'), 'unregistered by detach');
  link.detach(); // harmless
  assert.equal(thrown(() => ebpf.structOps('tsbpf_cc').attach()).kind, 'InvalidArgument');
}, linkObject));

test('struct_ops: each program gets the member index as expected_attach_type; value rules follow libbpf', () => {
  const spec = ObjectSpec.parse(readFileSync(object));
  const def = spec.maps.get('tsbpf_cc')!;
  assert.deepEqual(def.structOps, {
    typeName: 'tcp_congestion_ops',
    programs: [{ offset: 0, program: 'cc_ssthresh' }, { offset: 8, program: 'cc_cong_avoid' }, { offset: 16, program: 'cc_undo_cwnd' }],
  });
  const { target, at } = layout();
  const local = spec.btf!;
  assert.deepEqual(structOpsMember(local, def.btfValueTypeId!, 0, target), { name: 'ssthresh', index: 0 });
  assert.deepEqual(structOpsMember(local, def.btfValueTypeId!, 8, target), { name: 'cong_avoid', index: 1 });
  assert.deepEqual(structOpsMember(local, def.btfValueTypeId!, 16, target), { name: 'undo_cwnd', index: 8 });
  const value = structOpsValue(local, def.btfValueTypeId!, def.data!, target, [{ offset: 8, fd: 42 }]);
  assert.equal(new DataView(value.buffer).getBigUint64(at('cong_avoid'), true), 42n);

  // A member the kernel lacks: fine while zero, an error once set.
  const renamed = Btf.fromTypes(local.types.map((t) => (t.id === def.btfValueTypeId && t.kind === 'struct' ? { ...t, members: t.members.map((m) => (m.name === 'flags' ? { ...m, name: 'tsbpf_nope' } : m)) } : t)));
  const err = thrown(() => structOpsValue(renamed, def.btfValueTypeId!, def.data!, target, []));
  assert.ok(err instanceof MapError && err.kind === 'InvalidArgument' && /tsbpf_nope/.test(err.message), err.message);
  const zeroed = def.data!.slice();
  zeroed.fill(0, 24, 28);
  structOpsValue(renamed, def.btfValueTypeId!, zeroed, target, []);
});

test('struct_ops of kernel structs the kernel lacks (sched_ext_ops without sched_ext, bpf_testmod_ops without bpf_testmod): MapError NotSupported naming the struct', (t) => {
  const before = fdCount();
  const vmlinux = loadKernelBtf();
  for (const [file, struct] of [['testdata/struct_ops-el.elf', 'bpf_testmod_ops'], ['examples/sched_ext/bpf_bpfel.o', 'sched_ext_ops']]) {
    // vmlinux, or a module's BTF (bpf_testmod's), defines the struct's value type.
    const defined = vmlinux.byName(`bpf_struct_ops_${struct}`, 'struct').length > 0 || (struct === 'bpf_testmod_ops' && existsSync('/sys/kernel/btf/bpf_testmod'));
    t.diagnostic(`${struct}: ${defined ? 'the kernel defines it: no NotSupported naming it' : 'the kernel lacks it: NotSupported asserted'}`);
    let err: unknown;
    try {
      new EbpfLoader().load(resolve(corpus, file)).close();
    } catch (e) {
      err = e;
    }
    if (defined) {
      assert.ok(!(err instanceof MapError && err.kind === 'NotSupported' && new RegExp(`no struct ${struct}`).test(err.message)), String(err));
    } else {
      assert.ok(err instanceof MapError && err.kind === 'NotSupported', `${file}: ${err}`);
      assert.match(err.message, new RegExp(`no struct ${struct}`), file);
    }
  }
  assert.equal(fdCount(), before);
});
