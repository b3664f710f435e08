// Attaching every program of an object whose section names its target, as libbpf's
// skeleton __attach does (bpf_object__attach_skeleton: each program with an attach
// handler that can make a link from the section alone). The section table says which
// sections name a target (SectionMatch.autoAttach); each class's attach() with no
// arguments already attaches to the section's target, so this only walks, collects
// and rolls back.
import { ProgramError } from '../errors.js';
import { rolledBack, undoAll, type Link } from '../links/link.js';
import { sectionMatch } from '../obj/sections.js';
import type { Program } from './program.js';

/**
 * The links Ebpf.attachAll made, by program name (a Map: `links.get('count_exec')`,
 * `for (const [name, link] of links)`). The caller owns them: close() (or `using`)
 * ends every attachment that is not pinned; detach() ends them all.
 */
export class AttachedLinks extends Map<string, Link> implements Disposable {
  /** Closes every link (Link.close: a pinned one stays attached), then throws the first failure. */
  close(): void {
    undoAll([...this.values()].map((link) => () => link.close()));
  }

  /** Detaches every link, pinned or not, then throws the first failure. */
  detach(): void {
    undoAll([...this.values()].map((link) => () => link.detach()));
  }

  /** close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** What a class's attach() is called as: with no arguments, it attaches where the section says. */
type SectionAttach = { attach?: (this: Program) => Link };

/**
 * Attaches each loaded program of `programs` whose section names its target
 * (Ebpf.attachAll documents which). A failure detaches what was attached so far and
 * throws a ProgramError with the failing program's name in `program`.
 */
export function attachAll(programs: Iterable<Program>): AttachedLinks {
  const links = new AttachedLinks();
  for (const program of programs) {
    if (!program.loaded) continue;
    const match = sectionMatch(program.section);
    if (!match) continue;
    try {
      if (match.targetError !== undefined) {
        throw new ProgramError('UnknownTarget', `the section's target cannot be read: ${match.targetError}`, { program: program.name });
      }
      if (!match.autoAttach) continue;
      const attach = (program as SectionAttach).attach;
      if (typeof attach !== 'function') {
        const feature = match.kind === 'Usdt' ? 'USDT' : match.kind;
        throw new ProgramError('NotSupported', `tsbpf cannot attach ${feature} programs`, { program: program.name, feature });
      }
      links.set(program.name, attach.call(program));
    } catch (err) {
      throw rolledBack(namingProgram(program, err), [() => links.close()]);
    }
  }
  return links;
}

/** `err` as a ProgramError whose message and `program` name the program that failed. */
function namingProgram(program: Program, err: unknown): ProgramError {
  const what = `attachAll: program ${program.name} (section ${program.section})`;
  if (err instanceof ProgramError) {
    if (err.program === program.name && err.message.includes(program.name)) return err;
    return new ProgramError(err.kind, `${what}: ${err.message}`, { program: program.name, feature: err.feature, verifierLog: err.verifierLog, cause: err.cause ?? err });
  }
  return new ProgramError('AttachError', `${what}: ${err instanceof Error ? err.message : String(err)}`, { program: program.name, cause: err });
}
