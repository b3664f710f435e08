import { attachAt, openTarget } from './attach-point.js';
import type { Link } from '../links/link.js';
import { Program } from './program.js';
import { AttachType } from './program-type.js';
import type { ProgramKind } from '../obj/sections.js';

/**
 * LircMode2 programs (section "lirc_mode2"): decode infrared pulses of a LIRC device
 * (CONFIG_BPF_LIRC_MODE2; this kernel has it off, see isProgramTypeSupported).
 * Kernel 4.18+ (BPF_PROG_TYPE_LIRC_MODE2).
 */
export class LircMode2 extends Program {
  static override readonly programKind: ProgramKind = 'LircMode2';

  /** Attaches to a LIRC device (path like /dev/lirc0, or fd) with PROG_ATTACH (BPF_LIRC_MODE2). */
  attach(device: string | number): Link {
    this.fd; // NotLoaded before opening anything
    const target = openTarget(device, 'LIRC device', this.name);
    return attachAt({ program: this, target, attachType: AttachType.LircMode2, description: `lirc_mode2 on ${String(device)}`, link: false });
  }
}
