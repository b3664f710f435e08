// The api-shapes sweeps (test/api-shapes.ts) of the fd-valued maps, the local storages
// and Arena: each entry point with arguments of the wrong shape in turn.
import { closeSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  Arena,
  CgroupArray,
  CgrpStorage,
  CpuMap,
  DevMap,
  DevMapHash,
  EbpfLoader,
  InodeStorage,
  MapBatchCursor,
  MapData,
  MapType,
  ObjectSpec,
  openPidfd,
  Pidfd,
  ProgramArray,
  ReusePortSockArray,
  SkStorage,
  TaskStorage,
  XskMap,
  u64,
} from '../src/index.js';
import { kernel } from '../src/sys/native.js';
import { cgroup2Root } from './helpers.js';

type Sweep = (label: string, defaults: unknown[], fn: (...args: unknown[]) => unknown) => void;

/** The classes whose public methods the sweeps must all drive. */
export const specialMapClasses = { ProgramArray, DevMap, DevMapHash, CpuMap, XskMap, CgroupArray, ReusePortSockArray, SkStorage, TaskStorage, InodeStorage, CgrpStorage, Arena, Pidfd };

/** Runs `fn` on a new map made by `make`, closed after. */
function within<M extends { close(): void }, T>(make: () => M, fn: (m: M) => T): T {
  const m = make();
  try {
    return fn(m);
  } finally {
    m.close();
  }
}

export function sweepSpecialMaps(sweep: Sweep, pinPath: string): void {
  const object = fileURLToPath(new URL('../../bpf/special_maps.o', import.meta.url));
  const loader = new EbpfLoader();
  for (const name of ObjectSpec.parse(readFileSync(object)).programs.keys()) if (name !== 'tail_a') loader.deferProgram(name);
  const ebpf = loader.load(object);
  const program = ebpf.program('tail_a');
  const udp = kernel.socket(2, 2, 0);
  const reuse = kernel.socket(2, 2, 0);
  kernel.setsockopt(reuse, 1, 15 /* SO_REUSEPORT */, 1);
  kernel.bind(reuse, new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
  const xsk = kernel.socket(44 /* AF_XDP */, 3, 0);
  const file = openSync('/dev/null', 'r');
  const cgroup = cgroup2Root();
  const other = (fn: (m: MapData) => unknown) => within(() => MapData.create({ type: MapType.Hash, keySize: 4, valueSize: 4, maxEntries: 1 }), fn);
  try {
    const indexed = <M extends { close(): void; pin(p: string): void }>(name: string, make: (o: object) => M, tryFrom: (m: MapData, o: unknown) => unknown, methods: Record<string, [unknown[], (m: M, ...a: unknown[]) => unknown]>) => {
      sweep(`${name}.create`, [{ maxEntries: 2 }], (o) => make(o as object));
      sweep(`${name}.tryFrom`, [undefined, {}], (m, o) => other((map) => tryFrom((m ?? map) as MapData, o)));
      sweep(`${name}.pin`, [pinPath], (p) => within(() => make({ maxEntries: 2 }), (m) => m.pin(p as string)));
      for (const [method, [defaults, call]] of Object.entries(methods)) {
        sweep(`${name}.${method}`, defaults, (...a) => within(() => make({ maxEntries: 2 }), (m) => call(m, ...a)));
      }
    };
    type Verb = [unknown[], (m: any, ...a: unknown[]) => unknown];
    // The batch verbs every typed map has from the shared contract (the kernel may refuse them: NotSupported).
    const batchVerbs = (key: unknown, value: unknown, keyed: boolean): Record<string, Verb> => ({
      getBatch: [[undefined, 4, 0], (m, c, n, f) => m.getBatch(c ?? new MapBatchCursor(), n, f)],
      insertBatch: [[[key], [value], 0], (m, k, v, f) => m.insertBatch(k, v, f)],
      ...(keyed
        ? {
            getAndRemoveBatch: [[undefined, 4, 0], (m, c, n, f) => m.getAndRemoveBatch(c ?? new MapBatchCursor(), n, f)] as Verb,
            removeBatch: [[[key]], (m, k) => m.removeBatch(k)] as Verb,
          }
        : {}),
    });
    const arrayVerbs = (value: unknown, withGet = true) => ({
      ...batchVerbs(0, value, false),
      set: [[0, value, 0], (m: any, i: unknown, v: unknown, f: unknown) => m.set(i, v ?? value, f)] as [unknown[], (m: any, ...a: unknown[]) => unknown],
      ...(withGet ? { get: [[0, 0], (m: any, i: unknown, f: unknown) => (m.set(0, value), m.get(i, f))] as [unknown[], (m: any, ...a: unknown[]) => unknown] } : {}),
      remove: [[0], (m: any, i: unknown) => m.remove(i)] as [unknown[], (m: any, ...a: unknown[]) => unknown],
    });
    indexed('ProgramArray', (o) => ProgramArray.create(o as never), (m, o) => ProgramArray.tryFrom(m, o as never), arrayVerbs(program));
    indexed('DevMap', (o) => DevMap.create(o as never), (m, o) => DevMap.tryFrom(m, o as never), arrayVerbs(1));
    indexed('CpuMap', (o) => CpuMap.create(o as never), (m, o) => CpuMap.tryFrom(m, o as never), arrayVerbs(16));
    indexed('XskMap', (o) => XskMap.create(o as never), (m, o) => XskMap.tryFrom(m, o as never), arrayVerbs(xsk));
    indexed('CgroupArray', (o) => CgroupArray.create(o as never), (m, o) => CgroupArray.tryFrom(m, o as never), arrayVerbs(cgroup));
    indexed('ReusePortSockArray', (o) => ReusePortSockArray.create(o as never), (m, o) => ReusePortSockArray.tryFrom(m, o as never), arrayVerbs(reuse));
    indexed('DevMapHash', (o) => DevMapHash.create(o as never), (m, o) => DevMapHash.tryFrom(m, o as never), {
      insert: [[7, 1, 0], (m, k, v, f) => m.insert(k as number, v as number, f as number)],
      get: [[7, 0], (m, k, f) => (m.insert(7, 1), m.get(k as number, f as number))],
      remove: [[7], (m, k) => m.remove(k as number)],
      ...batchVerbs(7, 1, true),
    });
    const storages: [string, { create(v: unknown, o?: unknown): any; tryFrom(m: MapData, v: unknown, o?: unknown): unknown }, unknown][] = [
      ['SkStorage', SkStorage, udp],
      ['TaskStorage', TaskStorage, file],
      ['InodeStorage', InodeStorage, file],
      ['CgrpStorage', CgrpStorage, cgroup],
    ];
    for (const [name, Kind, key] of storages) {
      sweep(`${name}.create`, [u64, {}], (v, o) => Kind.create(v, o));
      sweep(`${name}.tryFrom`, [undefined, u64, {}], (m, v, o) => other((map) => Kind.tryFrom((m ?? map) as MapData, v, o)));
      sweep(`${name}.insert`, [key, 1n, 0], (k, v, f) => within(() => Kind.create(u64), (m) => m.insert(k, v, f)));
      sweep(`${name}.get`, [key, 0], (k, f) => within(() => Kind.create(u64), (m) => m.get(k, f)));
      sweep(`${name}.remove`, [key], (k) => within(() => Kind.create(u64), (m) => m.remove(k)));
      sweep(`${name}.pin`, [pinPath], (p) => within(() => Kind.create(u64), (m) => m.pin(p as string)));
      for (const [method, [defaults, call]] of Object.entries(batchVerbs(key, 1n, true))) {
        sweep(`${name}.${method}`, defaults, (...a) => within(() => Kind.create(u64), (m) => call(m, ...a)));
      }
    }
    // TaskStorage keys opened for one call, and the pidfds that key it.
    sweep('TaskStorage.get/pid', [{ pid: process.pid }, 0], (k, f) => within(() => TaskStorage.create(u64), (m) => m.get(k as never, f as number)));
    sweep('Pidfd.open', [process.pid], (pid) => openPidfd(pid as number));
    sweep('Arena.create', [{ pages: 1 }], (o) => Arena.create(o as never));
    sweep('Arena.tryFrom', [undefined, {}], (m, o) => other((map) => Arena.tryFrom((m ?? map) as MapData, o as never)));
    sweep('Arena.pin', [pinPath], (p) => within(() => Arena.create({ pages: 1 }), (m) => m.pin(p as string)));
  } finally {
    for (const fd of [udp, reuse, xsk]) kernel.close(fd);
    closeSync(file);
    ebpf.close();
  }
}
