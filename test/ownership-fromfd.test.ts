// One owner per descriptor number, whoever made the owner: MapData.fromFd takes over a
// number only when no live tsbpf object (map, typed map, program, link, statistics; in
// any thread) owns it; a number closed behind its owner's back and reused leaves the old
// owner closed rather than working on the new object; attachPerfEvent refuses an owned
// number.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  ArrayMap,
  AttachType,
  FdLink,
  LinkType,
  MapData,
  MapType,
  ProgramError,
  ProgramType,
  SkLookup,
  attachPerfEvent,
  enableStats,
  isLinkTypeSupported,
  isProgramTypeSupported,
  u32,
  u64,
} from '../src/index.js';
import * as sys from '../src/sys/index.js';
import { fdCount, isOpen, loadOnly, refusedBeforeSyscall, repoRoot, thrown } from './helpers.js';
import { gcUntilFdCount, isOpenMapFd } from './gc.js';

const SOAK_OBJECT = join(repoRoot, 'bpf/soak.o');
const fdsAtStart = fdCount();

/** A map descriptor nobody owns yet, as another library or a parent process would hand over. */
function rawMapFd(): number {
  return sys.mapCreate({ mapType: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 2 });
}

function assertOwnedRefusal(fd: number, what: string): void {
  const err = refusedBeforeSyscall(() => MapData.fromFd(fd), 'InvalidArgument');
  assert.match(err.message, /owned by another tsbpf object/, what);
  assert.ok(isOpen(fd), `${what}: the descriptor is left open`);
}

test('fromFd refuses the number of a live MapData or typed map; the owner keeps working', () => {
  const before = fdCount();
  using typed = ArrayMap.create(u32, { maxEntries: 2 });
  typed.set(0, 31);
  assertOwnedRefusal(typed.fd, 'typed map');
  assertOwnedRefusal(typed.map.fd, 'its MapData');
  using plain = MapData.create({ type: MapType.Hash, keySize: 4, valueSize: 4, maxEntries: 2 });
  assertOwnedRefusal(plain.fd, 'MapData');
  using reopened = MapData.fromId(typed.map.id);
  assertOwnedRefusal(reopened.fd, 'MapData.fromId');
  assert.equal(typed.get(0), 31);
  assert.equal(ArrayMap.tryFrom(reopened, u32).get(0), 31);
  typed.close();
  plain.close();
  reopened.close();
  assert.equal(fdCount(), before);
});

test('fromFd refuses the number of a program, a statistics handle and a BPF link', (t: TestContext) => {
  const before = fdCount();
  const ebpf = loadOnly(SOAK_OBJECT, 'soak_filter');
  try {
    const filter = ebpf.program('soak_filter');
    assertOwnedRefusal(filter.fd, 'program');
    filter.testRun({ data: new Uint8Array(64) });
    assert.equal(ArrayMap.tryFrom(ebpf.map('hits'), u64).get(0), 1n, 'the program is intact: it ran and counted');
    assertOwnedRefusal(ebpf.map('hits').fd, "a loader's map");

    const stats = enableStats('runTime');
    const statsFd = stats.fd;
    assertOwnedRefusal(statsFd, 'statistics');
    stats.close();
    assert.ok(!isOpen(statsFd));
  } finally {
    ebpf.close();
  }

  const ns = `tsbpf-own-${process.pid}`;
  const ip = (...args: string[]) => assert.equal(spawnSync('ip', args, { encoding: 'utf8' }).status, 0, `ip ${args.join(' ')}`);
  ip('netns', 'add', ns);
  t.after(() => ip('netns', 'del', ns));
  const attach = (): FdLink => {
    const loaded = loadOnly(SOAK_OBJECT, 'soak_lookup');
    t.after(() => loaded.close());
    return (loaded.program('soak_lookup') as SkLookup).attach(`/run/netns/${ns}`) as FdLink;
  };
  if (!(isProgramTypeSupported(ProgramType.SkLookup, AttachType.SkLookup) && isLinkTypeSupported(LinkType.Netns))) {
    t.diagnostic('branch: this kernel has no sk_lookup netns links: loading or attaching fails typed');
    assert.ok(thrown(attach) instanceof ProgramError);
    return;
  }
  t.diagnostic('branch: sk_lookup netns link');
  const link = attach();
  assertOwnedRefusal(link.fd, 'link');
  assert.equal(link.info().type, LinkType.Netns, 'the link is intact');
  link.detach();
  t.after(() => assert.equal(fdCount(), before));
});

test('fromFd takes over a number nobody owns, once; after close or GC of the owner the number is free again', async () => {
  const before = fdCount();
  const fd = rawMapFd();
  const owner = MapData.fromFd(fd);
  assert.equal(owner.fd, fd);
  assert.equal(owner.keySize, 4);
  assertOwnedRefusal(fd, 'adopted once already');
  owner.close();
  assert.ok(!isOpenMapFd(fd));

  // Linux hands out the lowest free number: the next raw map gets the same one.
  const again = rawMapFd();
  assert.equal(again, fd, 'the number was reused (precondition)');
  (function adoptAndDrop() {
    MapData.fromFd(again);
  })();
  assert.equal(await gcUntilFdCount(before), before, 'the collected owner closed its descriptor');
  const third = rawMapFd();
  assert.equal(third, fd, 'the number was reused (precondition)');
  const owner3 = MapData.fromFd(third);
  assert.equal(owner3.info().maxEntries, 2);
  owner3.close();
  assert.equal(fdCount(), before);
});

test('a number closed behind its owner and reused by a new owner: the old owner is closed and never touches it', async () => {
  const before = fdCount();
  const a = ArrayMap.create(u32, { maxEntries: 2 });
  const n = a.fd;
  sys.kernel.close(n); // not through tsbpf
  const b = ArrayMap.create(u32, { maxEntries: 2 });
  assert.equal(b.fd, n, 'the number was reused (precondition)');
  b.set(1, 77);

  assert.equal(a.map.closed, true);
  assert.equal(thrown(() => a.get(1)).kind, 'Closed');
  assert.equal(thrown(() => a.set(1, 1)).kind, 'Closed');
  a.close();
  assert.ok(isOpenMapFd(n), "the old owner's close left the new owner's descriptor open");
  assert.equal(b.get(1), 77);
  assertOwnedRefusal(n, 'the new owner');

  // Nor does the old owner's finalizer, once it is collected.
  let ref: WeakRef<object> | undefined;
  (function stale() {
    const c = ArrayMap.create(u32, { maxEntries: 2 });
    ref = new WeakRef(c);
    sys.kernel.close(c.fd);
  })();
  const d = ArrayMap.create(u32, { maxEntries: 2 });
  d.set(0, 5);
  await gcUntilFdCount(0, 5);
  assert.equal(ref!.deref(), undefined, 'the stale owner was collected');
  assert.equal(d.get(0), 5, 'its finalizer left the reused number alone');
  b.close();
  d.close();
  assert.equal(fdCount(), before);
});

test('an internal constructor handed an owned number (new FdLink(map.fd)) takes it over: the map acts closed, one owner remains', () => {
  const before = fdCount();
  const map = ArrayMap.create(u32, { maxEntries: 2 });
  const n = map.fd;
  const link = new FdLink(n, 'not really a link');
  assert.equal(map.map.closed, true, 'the older owner gave the number up');
  assert.equal(thrown(() => map.get(0)).kind, 'Closed');
  map.close();
  assert.ok(isOpenMapFd(n), "the older owner's close left the number to the link");
  assertOwnedRefusal(n, 'the link');
  link.close();
  assert.ok(!isOpenMapFd(n));
  assert.equal(fdCount(), before);
});

test('a map owned in another thread is refused by fromFd here, and ours there', async (t) => {
  using mine = ArrayMap.create(u32, { maxEntries: 2 });
  mine.set(0, 1);
  const worker = new Worker(new URL('./ownership-worker.js', import.meta.url), { workerData: { mainFd: mine.fd } });
  t.after(() => worker.terminate().then(() => undefined));
  const [first] = (await once(worker, 'message')) as [{ takeOver: { kind?: string; message: string }; workerFd: number }];
  assert.equal(first.takeOver.kind, 'InvalidArgument', first.takeOver.message);
  assert.match(first.takeOver.message, /owned by another tsbpf object/);
  assert.equal(mine.get(0), 1, 'our map is intact');

  assertOwnedRefusal(first.workerFd, "the worker's map");
  worker.postMessage('close');
  const [second] = (await once(worker, 'message')) as [{ value: number }];
  assert.equal(second.value, 4242, "the worker's map was intact");
  // Closed there: the number is no longer owned (and no longer open).
  const err = thrown(() => MapData.fromFd(first.workerFd));
  assert.doesNotMatch(err.message, /owned by another/);
});

test('attachPerfEvent refuses a number a tsbpf object owns and leaves it open', () => {
  using m = ArrayMap.create(u32, { maxEntries: 2 });
  m.set(0, 9);
  const err = thrown(() => attachPerfEvent({ fd: m.fd, name: 'p' }, m.fd, 'a borrowed descriptor'));
  assert.ok(err instanceof ProgramError, String(err));
  assert.equal(err.kind, 'AttachError');
  assert.match(err.message, /owned by another tsbpf object/);
  assert.equal(m.get(0), 9);
  assert.ok(isOpenMapFd(m.fd));
});

test('no file descriptor leaked by this file', async () => {
  assert.equal(await gcUntilFdCount(fdsAtStart), fdsAtStart);
});
