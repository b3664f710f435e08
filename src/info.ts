// Introspection: the programs, maps and links loaded in the kernel (by any process),
// and run-time statistics. Each walk is GET_NEXT_ID + GET_FD_BY_ID + OBJ_GET_INFO_BY_FD
// per object, the fd closed before the info is yielded; an object that goes away
// between the id and the fd (ENOENT) is skipped, as bpftool does.
import { MapError, ProgramError } from './errors.js';
import { MapData, type MapInfo } from './maps/map-data.js';
import { linkInfoByFd, type LinkInfo } from './links/link.js';
import { programInfoByFd, type ProgramInfo } from './programs/program-info.js';
import { linkGetFdById, linkGetNextId, mapGetNextId, progGetFdById, progGetNextId } from './sys/bpf.js';
import { Errno, SyscallError } from './sys/errors.js';
import { FdOwner } from './sys/fd.js';
import { enableStats as bpfEnableStats } from './sys/link.js';
import { kernel } from './sys/native.js';

/** The errno of a failed open by id, whichever error type carries it. */
function errnoOf(err: unknown): number | undefined {
  return err instanceof SyscallError || err instanceof MapError ? err.errno : undefined;
}

/**
 * Walks ids with `next`, opening each with `open` and reading it with `read`; vanished
 * ids are skipped. Kernel failures are ProgramError 'SyscallError' naming `what`.
 */
function* walk<T>(what: string, next: (id: number) => number | undefined, open: (id: number) => number, read: (fd: number) => T): Generator<T> {
  const typed = <R>(fn: () => R): R => {
    try {
      return fn();
    } catch (err) {
      throw ProgramError.fromSyscall(err, `listing ${what}`);
    }
  };
  for (let id = typed(() => next(0)); id !== undefined; id = typed(() => next(id!))) {
    let fd: number;
    try {
      fd = open(id);
    } catch (err) {
      if (errnoOf(err) === Errno.ENOENT) continue;
      throw ProgramError.fromSyscall(err, `listing ${what}`);
    }
    let info: T;
    try {
      info = typed(() => read(fd));
    } finally {
      kernel.close(fd);
    }
    yield info;
  }
}

/** Every program loaded in the kernel, with its info (needs CAP_SYS_ADMIN). */
export function loadedPrograms(): Generator<ProgramInfo> {
  return walk('programs', progGetNextId, (id) => progGetFdById(id), programInfoByFd);
}

/** Every map in the kernel, with its info. */
export function* loadedMaps(): Generator<MapInfo> {
  const next = (id: number) => {
    try {
      return mapGetNextId(id);
    } catch (err) {
      throw MapError.fromSyscall(err, 'SyscallError', 'listing maps');
    }
  };
  for (let id = next(0); id !== undefined; id = next(id)) {
    let map: MapData;
    try {
      map = MapData.fromId(id);
    } catch (err) {
      if (errnoOf(err) === Errno.ENOENT) continue;
      throw err;
    }
    let info: MapInfo;
    try {
      info = map.info();
    } finally {
      map.close();
    }
    yield info;
  }
}

/** Every BPF link in the kernel, with its info. */
export function loadedLinks(): Generator<LinkInfo> {
  return walk('links', linkGetNextId, linkGetFdById, linkInfoByFd);
}

/** What `enableStats` turns on (BPF_ENABLE_STATS, 5.8+): run time and run count of every program. */
export type StatsType = 'runTime';
/** enum bpf_stats_type */
const statsTypes: Readonly<Record<StatsType, number>> = { runTime: 0 };

/**
 * Statistics switched on by enableStats; close() (or `using`) switches them off again.
 * The kernel counts holders: statistics stay on while any process holds such an fd or
 * the sysctl kernel.bpf_stats_enabled is 1.
 */
export class Stats extends FdOwner {
  readonly type: StatsType;

  /** @internal */
  constructor(fd: number, type: StatsType) {
    super(fd);
    this.type = type;
  }

  protected closedError(): Error {
    return new ProgramError('NotSupported', `statistics (${this.type}) are closed`);
  }
}

/**
 * Turns on the kernel's per-program statistics (BPF_ENABLE_STATS, 5.8+): every program
 * run then counts in its info's runCount and runTimeNs, at a cost of two clock reads per
 * run. 'runTime' is the only type the kernel has.
 */
export function enableStats(type: StatsType): Stats {
  if (!Object.hasOwn(statsTypes, type)) throw new ProgramError('InvalidArgument', `unknown statistics type ${String(type)} (only 'runTime')`);
  try {
    return new Stats(bpfEnableStats(statsTypes[type]), type);
  } catch (err) {
    if (err instanceof SyscallError && err.errno === Errno.EINVAL) {
      throw new ProgramError('NotSupported', `the kernel cannot turn on BPF statistics: ${err.message}`, { feature: 'BPF_ENABLE_STATS', cause: err });
    }
    throw ProgramError.fromSyscall(err, 'turning on BPF statistics');
  }
}
