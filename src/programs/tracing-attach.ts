// BTF tracing programs (tp_btf, fentry, fexit, fmod_ret, lsm, freplace): their kernel
// targets in vmlinux BTF, and their attachment: LINK_CREATE with the program's attach
// type where the kernel has tracing links (5.10+; target_fd/target_btf_id for freplace
// into another program, a cookie from 5.19), else BPF_RAW_TRACEPOINT_OPEN with no name,
// which attaches to the target given at load.
import { checkCookie, checkOptions } from './options.js';
import { ProgramError } from '../errors.js';
import { isLinkTypeSupported } from '../features.js';
import { linkCreate, rawTracepointOpen } from '../sys/link.js';
import { attachError, FdLink, LinkType } from '../links/link.js';
import { AttachType } from './program-type.js';
import { Program } from './program.js';

/** Options of an fentry/fexit/fmod_ret/lsm attach (trampolines, 5.5+): the BPF cookie. */
export interface TracingAttachOptions {
  /** bpf_get_attach_cookie() in the program (tracing links, 5.19+). */
  cookie?: bigint;
}

/** Where a tracing link goes: the load-time target (0, 0) or, for freplace, another program's function. */
export interface TracingTarget {
  targetFd?: number;
  targetBtfId?: number;
}

/** LINK_CREATE ('link', tracing links) or BPF_RAW_TRACEPOINT_OPEN with no name ('rawTracepoint'). */
export type TracingAttachMechanism = 'link' | 'rawTracepoint';

/**
 * How attachTracing attaches `attachType` on this kernel. tp_btf always takes
 * RAW_TRACEPOINT_OPEN: it makes the same raw_tp link from 5.5 on, while LINK_CREATE
 * takes BPF_TRACE_RAW_TP only from 6.10 (EINVAL before, where libbpf falls back).
 */
export function tracingAttachMechanism(attachType: number): TracingAttachMechanism {
  if (attachType === AttachType.TraceRawTp) return 'rawTracepoint';
  return isLinkTypeSupported(LinkType.Tracing) ? 'link' : 'rawTracepoint';
}

/** Attaches a loaded BTF tracing program; `attachType` is its expected attach type. */
export function attachTracing(
  program: { fd: number; name: string },
  attachType: number,
  description: string,
  options: TracingAttachOptions = {},
  target: TracingTarget = {},
  mechanism: TracingAttachMechanism = tracingAttachMechanism(attachType),
): FdLink {
  const progFd = program.fd;
  options = checkOptions(program.name, options) ?? {};
  checkCookie(options.cookie);
  if (mechanism === 'rawTracepoint') {
    // This path attaches to the load-time target, and passes a cookie only for tp_btf (6.10+).
    const unsupported = target.targetFd !== undefined ? 'attaching to another target than the load-time one'
      : options.cookie !== undefined && attachType !== AttachType.TraceRawTp ? 'a bpf_cookie' : undefined;
    if (unsupported) throw new ProgramError('NotSupported', `${program.name}: ${unsupported} needs BPF tracing links`, { program: program.name, feature: 'BPF_LINK_TYPE_TRACING' });
  }
  try {
    const fd = mechanism === 'link'
      ? linkCreate({ progFd, target: target.targetFd ?? 0, attachType, extra: { kind: 'tracing', targetBtfId: target.targetBtfId ?? 0, cookie: options.cookie } })
      : rawTracepointOpen(progFd, undefined, options.cookie ?? 0n);
    return new FdLink(fd, description);
  } catch (err) {
    throw attachError(program.name, description, err);
  }
}

/** Programs attached by BTF id fixed at load (fentry, fexit, fmod_ret, lsm, tp_btf). */
export abstract class BtfTracingProgram extends Program {
  /** BPF_TRACE_FENTRY, BPF_LSM_MAC, ...: what LINK_CREATE is asked for. */
  protected abstract readonly attachType: number;

  /** Attaches to the kernel function (or hook, or tracepoint) the section names. */
  attach(options: TracingAttachOptions = {}): FdLink {
    const what = this.section.slice(0, this.section.indexOf('/')) || this.kind;
    return attachTracing(this, this.attachType, `${what} ${this.section.slice(this.section.indexOf('/') + 1)}`, options);
  }
}
