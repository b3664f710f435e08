// perf_event programs: run on each sample of a perf event (a software clock, a
// hardware counter overflow, ...). One event per CPU for a system-wide scope.
import { boolOption, checkCookie, intOption, invalidOption, u32Option, u64Option } from './options.js';
import { readdirSync, readFileSync } from 'node:fs';
import { ProgramError } from '../errors.js';
import { Errno, SyscallError } from '../sys/errors.js';
import { PerfType, perfEventOpen } from '../sys/perf.js';
import { onlineCpus } from '../sys/cpus.js';
import { attachError, Link, rolledBack } from '../links/link.js';
import { PerfEventLinks } from '../links/perf-event.js';
import { attachOpenedPerfEvent } from './perf-attach.js';
import { Program } from './program.js';
import type { ProgramKind } from '../obj/sections.js';

/** The perf event kinds a perf_event program attaches to by name. */
export type PerfEventTypeName = 'hardware' | 'software' | 'tracepoint' | 'hwCache' | 'raw' | 'breakpoint';
const TYPES: Readonly<Record<PerfEventTypeName, number>> = { hardware: PerfType.Hardware, software: PerfType.Software, tracepoint: PerfType.Tracepoint, hwCache: PerfType.HwCache, raw: PerfType.Raw, breakpoint: PerfType.Breakpoint };

/** Options of a perf_event attach (4.9+): the event, its period or frequency, CPU and process. */
export interface PerfEventAttachOptions {
  /** The event's PMU: a name or a PERF_TYPE_* / dynamic PMU type number. */
  type: PerfEventTypeName | number;
  /** The event within the type (SoftwareEvent.CpuClock, HardwareEvent.CpuCycles, ...). */
  config: number | bigint;
  /** Run the program every `samplePeriod` events (ns for the clocks). */
  samplePeriod?: number | bigint;
  /** Or about `sampleFrequency` times a second (the kernel adjusts the period). */
  sampleFrequency?: number;
  /** Which tasks and CPUs: a process (on any CPU), a CPU (every process), both, or every online CPU. */
  scope: { pid?: number; cpu?: number } | 'allCpus';
  /** Count the children the process creates from now on too. */
  inherit?: boolean;
  /** bpf_get_attach_cookie (needs perf_event links, 5.15). */
  cookie?: bigint;
}

/** True when a PMU handles PERF_TYPE_RAW, i.e. the CPU's own counters are there (a VM may have none). */
function hasCpuPmu(): boolean {
  try {
    return readdirSync('/sys/bus/event_source/devices').some((d) => {
      try {
        return readFileSync(`/sys/bus/event_source/devices/${d}/type`, 'utf8').trim() === String(PerfType.Raw);
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/**
 * PerfEvent programs (sections "perf_event").
 * Kernel 4.9+ (BPF_PROG_TYPE_PERF_EVENT).
 */
export class PerfEvent extends Program {
  static override readonly programKind: ProgramKind = 'PerfEvent';

  /**
   * Opens the event (one per online CPU for 'allCpus') and attaches the program to it.
   * ProgramError 'NotSupported' when the event does not exist on this machine (feature
   * 'hardware perf events' where there is no CPU PMU, as in most VMs: perf_event_open
   * answers ENOENT), 'AttachError' for other refusals.
   */
  attach(options: PerfEventAttachOptions): Link {
    void this.fd;
    if (typeof options !== 'object' || options === null) invalidOption(this.name, 'the perf event options', 'an object ({ type, config, samplePeriod or sampleFrequency, scope })', options);
    if (typeof options.config !== 'number' && typeof options.config !== 'bigint') invalidOption(this.name, 'config', 'a number or bigint', options.config);
    u64Option(this.name, options.config, 'config');
    u64Option(this.name, options.samplePeriod, 'samplePeriod');
    u32Option(this.name, options.sampleFrequency, 'sampleFrequency');
    boolOption(this.name, options.inherit, 'inherit');
    if (options.scope !== 'allCpus') {
      if (typeof options.scope !== 'object' || options.scope === null) invalidOption(this.name, 'scope', "'allCpus' or { pid, cpu }", options.scope);
      intOption(this.name, options.scope.pid, 'scope.pid', -1, 0x7fffffff);
      intOption(this.name, options.scope.cpu, 'scope.cpu', -1, 0x7fffffff);
    }
    const type = typeof options.type === 'number' ? options.type : TYPES[options.type];
    if (type === undefined || !Number.isInteger(type) || type < 0 || type > 0xffff_ffff) invalidOption(this.name, 'type', `one of ${Object.keys(TYPES).join(', ')} or a PMU type number`, options.type);
    if ((options.samplePeriod === undefined) === (options.sampleFrequency === undefined)) {
      throw new ProgramError('InvalidArgument', `${this.name}: give exactly one of samplePeriod and sampleFrequency`);
    }
    checkCookie(options.cookie);
    const scope = options.scope;
    let targets: { pid: number; cpu: number }[];
    if (scope === 'allCpus') {
      targets = onlineCpus().map((cpu) => ({ pid: -1, cpu }));
    } else {
      const pid = scope.pid ?? -1;
      const cpu = scope.cpu ?? -1;
      if (pid === -1 && cpu === -1) throw new ProgramError('InvalidArgument', `${this.name}: a perf event needs a pid, a cpu or 'allCpus'`);
      targets = [{ pid, cpu }];
    }
    const attr = {
      type,
      config: options.config,
      sample: options.samplePeriod ?? options.sampleFrequency!,
      freq: options.sampleFrequency !== undefined,
      inherit: options.inherit ?? false,
      disabled: true, // enabled once the program is attached
    };
    const name = typeof options.type === 'number' ? `type ${type}` : options.type;
    const what = (t: { pid: number; cpu: number }) => `perf event ${name}:${options.config}${t.pid !== -1 ? ` pid ${t.pid}` : ''}${t.cpu !== -1 ? ` cpu ${t.cpu}` : ''}`;
    const links: Link[] = [];
    try {
      for (const t of targets) {
        let fd: number;
        try {
          fd = perfEventOpen(attr, t);
        } catch (err) {
          throw this.#openError(err, type, name, options.config, what(t));
        }
        links.push(attachOpenedPerfEvent(this, fd, what(t), options.cookie));
      }
    } catch (err) {
      throw rolledBack(err, links.map((l) => () => l.detach()));
    }
    if (links.length === 1) return links[0]!;
    return new PerfEventLinks(links, `perf event ${name}:${options.config} on ${links.length} CPUs`);
  }

  #openError(err: unknown, type: number, name: string, config: number | bigint, what: string): unknown {
    if (!(err instanceof SyscallError) || (err.errno !== Errno.ENOENT && err.errno !== Errno.EOPNOTSUPP)) return attachError(this.name, what, err);
    const cpuEvent = type === PerfType.Hardware || type === PerfType.HwCache || type === PerfType.Raw;
    if (cpuEvent && !hasCpuPmu()) {
      return new ProgramError('NotSupported', `${this.name}: ${what}: this machine has no hardware PMU (perf_event_open: ${err.code})`, { program: this.name, feature: 'hardware perf events', cause: err });
    }
    return new ProgramError('NotSupported', `${this.name}: ${what}: no such event here (perf_event_open: ${err.code})`, { program: this.name, feature: `perf event ${name}:${config}`, cause: err });
  }
}
