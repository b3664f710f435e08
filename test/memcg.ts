// Memory cgroups for tests that could make the kernel allocate much: the child process
// runs in a fresh cgroup with a memory limit, so BPF map memory (charged to the memcg)
// cannot take the machine's. cgroup v1's memory controller if mounted, else cgroup v2.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface MemoryCgroup {
  /** The cgroup directory; undefined when none could be made (then `text` says why). */
  path?: string;
  /** Where it is and its limit, or why there is none: for the test's output. */
  text: string;
  /** The most memory its processes used at once (bytes), undefined when unknown. */
  peak(): number | undefined;
  /** Removes it (its processes must have exited). */
  remove(): void;
}

/** A fresh memory cgroup limited to `mib` MiB. */
export function makeMemoryCgroup(mib: number, label = 'test'): MemoryCgroup {
  const name = `tsbpf-${label}-${process.pid}-${Date.now()}`;
  const tries: [string, string][] = [
    ['/sys/fs/cgroup/memory', 'memory.limit_in_bytes'],
    ['/sys/fs/cgroup', 'memory.max'],
  ];
  const why: string[] = [];
  for (const [root] of tries) removeStale(root, label);
  for (const [root, limitFile] of tries) {
    const path = join(root, name);
    try {
      mkdirSync(path);
    } catch (err) {
      why.push(`${root}: ${(err as Error).message}`);
      continue;
    }
    try {
      writeFileSync(join(path, limitFile), String(mib * 2 ** 20));
      const peakFile = join(path, limitFile === 'memory.max' ? 'memory.peak' : 'memory.max_usage_in_bytes');
      const peak = (): number | undefined => {
        try {
          return Number(readFileSync(peakFile, 'utf8').trim());
        } catch {
          return undefined;
        }
      };
      return { path, text: `${path} (${limitFile} ${mib} MiB)`, peak, remove: () => removeCgroup(path) };
    } catch (err) {
      why.push(`${path}/${limitFile}: ${(err as Error).message}`);
      removeCgroup(path);
    }
  }
  return { text: `none (${why.join('; ')})`, peak: () => undefined, remove: () => {} };
}

/** Cgroups of this label left by runs that were killed (their pid is gone): empty once their children ended. */
function removeStale(root: string, label: string): void {
  const prefix = `tsbpf-${label}-`;
  let names: string[];
  try {
    names = readdirSync(root).filter((d) => d.startsWith(prefix));
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (pid === process.pid || existsSync(`/proc/${pid}`)) continue;
    try {
      rmdirSync(join(root, name));
    } catch {
      // still has a process: leave it
    }
  }
}

function removeCgroup(path: string): void {
  // Empty once the processes have exited; the kernel may take a moment to let go of it.
  for (let i = 0; i < 50; i++) {
    try {
      rmdirSync(path);
      return;
    } catch {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

/** Moves this process into `cgroup` (a child's first act, before it makes any map). */
export function enterCgroup(cgroup: string | undefined): void {
  if (cgroup) writeFileSync(join(cgroup, 'cgroup.procs'), String(process.pid));
}

/**
 * Runs an ES module source text in a child node process inside a fresh memory cgroup of
 * `mib` MiB (entered before the script's own imports run) and returns what it printed.
 * Throws when no cgroup can be made: the caller must not run such a script unconfined.
 */
export function runInMemoryCgroup(script: string, mib: number, timeoutMs: number): { stdout: string; stderr: string; status: number | null; cgroup: string } {
  const cgroup = makeMemoryCgroup(mib);
  if (!cgroup.path) throw new Error(`no memory cgroup for the child: ${cgroup.text}`);
  try {
    const prelude = `import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(join(cgroup.path, 'cgroup.procs'))}, String(process.pid));\n`;
    // Dynamic imports in the script run after the prelude (static ones would be hoisted before it).
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', prelude + script], { encoding: 'utf8', timeout: timeoutMs });
    return { stdout: r.stdout, stderr: r.stderr, status: r.status, cgroup: cgroup.text };
  } finally {
    cgroup.remove();
  }
}
