// perf_event_open(2) and the perf event ioctls tsbpf uses. struct perf_event_attr is
// encoded here and nowhere else (include/uapi/linux/perf_event.h); failures are
// SyscallErrors named 'perf_event_open' / 'ioctl(PERF_EVENT_IOC_...)'.
import { Attr, cString } from './attr.js';
import { Errno, fail } from './errors.js';
import { retrying } from './retry.js';
import { kernel } from './native.js';
import { HardwareEvent, PerfType, SoftwareEvent } from './abi/enums.js';

// enum perf_type_id, perf_hw_id (config of PerfType.Hardware) and perf_sw_ids (config of
// PerfType.Software), generated from the kernel's BTF.
export { HardwareEvent, PerfType, SoftwareEvent };

/** The fields of struct perf_event_attr tsbpf sets; everything else is zero. */
export interface PerfEventAttr {
  type: number;
  config?: number | bigint;
  /** sample_period, or sample_freq when `freq` is set. */
  sample?: number | bigint;
  /** Interpret `sample` as a frequency in Hz. */
  freq?: boolean;
  sampleType?: number | bigint;
  /** Start disabled (enable with PERF_EVENT_IOC_ENABLE). */
  disabled?: boolean;
  /** Children of the task count too. */
  inherit?: boolean;
  excludeUser?: boolean;
  excludeKernel?: boolean;
  excludeHv?: boolean;
  /** wakeup_events; with `watermark`, wakeup_watermark (bytes). */
  wakeupEvents?: number;
  /** Wake readers of the ring when wakeupEvents bytes are waiting, not after wakeupEvents samples. */
  watermark?: boolean;
  /** kprobe/uprobe PMUs: replaced by the address of `name` when perfEventOpen gets one. */
  config1?: number | bigint;
  /** kprobe/uprobe PMUs: the probe offset (or a kernel address). */
  config2?: number | bigint;
}

/** PERF_ATTR_SIZE_VER8 (6.3); older kernels accept it as long as the tail is zero. */
export const PERF_ATTR_SIZE = 136;
/** perf_event_open(2) flag: the descriptor is close-on-exec. */
export const PERF_FLAG_FD_CLOEXEC = 1 << 3;

const FLAG = {
  disabled: 1n << 0n,
  inherit: 1n << 1n,
  excludeUser: 1n << 4n,
  excludeKernel: 1n << 5n,
  excludeHv: 1n << 6n,
  freq: 1n << 10n,
  watermark: 1n << 14n,
} as const;

const attrBuf = new Attr(PERF_ATTR_SIZE);

/** Encodes struct perf_event_attr (the buffer is reused: copy it to keep it). */
export function encodePerfEventAttr(a: PerfEventAttr): Uint8Array {
  let flags = 0n;
  for (const [field, bit] of Object.entries(FLAG)) if (a[field as keyof typeof FLAG]) flags |= bit;
  return attrBuf.reset()
    .u32(0, a.type).u32(4, PERF_ATTR_SIZE).u64(8, a.config ?? 0)
    .u64(16, a.sample ?? 0).u64(24, a.sampleType ?? 0).u64(40, flags)
    .u32(48, a.wakeupEvents ?? 0).u64(56, a.config1 ?? 0).u64(64, a.config2 ?? 0).bytes;
}

/** Where perf_event_open(2) opens an event: process, CPU, group. */
export interface PerfEventOpenOptions {
  /** -1: every process (needs a cpu); 0: this one. */
  pid: number;
  /** -1: any CPU (needs a pid). */
  cpu: number;
  groupFd?: number;
  /** PERF_FLAG_*; PERF_FLAG_FD_CLOEXEC is always added. */
  flags?: number;
  /** kprobe function name or uprobe path: its address goes into config1. */
  name?: string;
}

/** perf_event_open(2) → the event's fd. Throws SyscallError 'perf_event_open'. */
export function perfEventOpen(attr: PerfEventAttr, o: PerfEventOpenOptions): number {
  const encoded = encodePerfEventAttr(attr);
  const name = o.name === undefined ? undefined : cString(o.name);
  const r = retrying(Errno.EINTR, () => kernel.perf_event_open(encoded, o.pid, o.cpu, o.groupFd ?? -1, (o.flags ?? 0) | PERF_FLAG_FD_CLOEXEC, name));
  if (r < 0) fail('perf_event_open', r, `type ${attr.type} config ${attr.config ?? 0}${o.name ? ` (${o.name})` : ''}`);
  return r;
}

/** The perf event ioctls (argument-checked in native/addon.c). */
export const PerfIoctl = {
  Enable: 0x2400,
  Disable: 0x2401,
  SetBpf: 0x40042408,
} as const;

const ioctlNames: Record<number, string> = { [PerfIoctl.Enable]: 'PERF_EVENT_IOC_ENABLE', [PerfIoctl.Disable]: 'PERF_EVENT_IOC_DISABLE', [PerfIoctl.SetBpf]: 'PERF_EVENT_IOC_SET_BPF' };

/** ioctl on a perf event fd with an integer argument. Throws SyscallError 'ioctl(PERF_EVENT_IOC_...)'. */
export function perfEventIoctl(fd: number, request: number, arg = 0): void {
  const r = kernel.ioctl(fd, request, arg);
  if (r < 0) fail(`ioctl(${ioctlNames[request] ?? `0x${request.toString(16)}`})`, r);
}
