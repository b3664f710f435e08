// What a load error says about the verifier's log: its last meaningful line and where
// (the source line the kernel printed from line info, and the instruction), so the
// message leads with the reason; the whole log stays on the error as verifierLog.

export interface VerifierSummary {
  /** The verifier's complaint: the last line that is not statistics. */
  reason: string;
  /** 'file.c:13': the last source location before the complaint, when the object has line info. */
  source?: string;
  /** That line of source, when the object carries it. */
  sourceText?: string;
  /** The last instruction before the complaint: '7: (61) r0 = *(u32 *)(r0 +0)'. */
  instruction?: string;
  /** The number of lines of the log. */
  lines: number;
}

/** Lines the verifier adds after its verdict: statistics, not reasons. */
const TRAILER = /^(processed \d+ insns|verification time|stack depth|max_states_per_insn|mark_read|-- END PROG LOAD LOG --)/;
/** "; <source text> @ <file>:<line>", what the kernel prints from line info. */
const SOURCE = /^; (.*) @ (\S+:\d+)$/;
/** "<index>: (<opcode>) <instruction>", an instruction being verified. */
const INSTRUCTION = /^\d+: \([0-9a-f]{2}\) /;
/** The longest reason a message carries (a line can be a dump of registers). */
const REASON_MAX = 300;

function cap(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 3)}...`;
}

/** The summary of a verifier log; undefined for an empty one. */
export function summariseVerifierLog(log: string): VerifierSummary | undefined {
  const lines = log.split('\n').map((l) => l.trimEnd()).filter((l) => l !== '');
  let end = lines.length;
  while (end > 0 && TRAILER.test(lines[end - 1]!)) end--;
  if (end === 0) return undefined;
  let reason = lines[end - 1]!.trim();
  // A BTF complaint names a member on a tab-indented line under its type: keep the type.
  if (lines[end - 1]!.startsWith('\t') && end >= 2) reason = `${lines[end - 2]!.trim()}: ${reason}`;
  const summary: VerifierSummary = { reason: cap(reason, REASON_MAX), lines: lines.length };
  for (let i = end - 2; i >= 0; i--) {
    const line = lines[i]!;
    if (summary.instruction === undefined && INSTRUCTION.test(line)) {
      // The verifier appends the register state after a ';': not part of the instruction.
      summary.instruction = cap(line.replace(/\s+;.*$/, ''), 120);
    }
    const m = SOURCE.exec(line);
    if (m) {
      summary.source = m[2];
      if (m[1]!.trim()) summary.sourceText = cap(m[1]!.trim(), 120);
      break;
    }
  }
  return summary;
}

/** The message of a rejected load: the reason, where, and where the rest is. */
export function verifierMessage(what: string, s: VerifierSummary, code: string, truncated: boolean): string {
  let message = `${what}: ${s.reason}`;
  if (s.source) message += ` at ${s.source}`;
  const details: string[] = [];
  if (s.instruction) details.push(`instruction ${s.instruction}`);
  if (s.sourceText) details.push(`source: ${s.sourceText}`);
  if (details.length) message += `\n  ${details.join('\n  ')}`;
  message += `\n  (${code}; the verifier's log, ${s.lines} lines${truncated ? ', its end only (too long to keep whole)' : ''}, is in verifierLog)`;
  return message;
}
