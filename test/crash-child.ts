// The crash-consistency child (test/crash.ts): performs operations seq, seq+1, ... of
// test/crash-ops.ts on the maps pinned in a directory, and after each one writes an
// acknowledgement to fd 3 before starting the next, until it is killed.
// argv: <pin directory> <first seq> <'links' or ''>
import { renameSync, rmSync, writeSync } from 'node:fs';
import { ArrayMap, ArrayOfMaps, HashMap, MapData, TracePoint, u32, u64, type FdLink } from '../src/index.js';
import { ackLine, opAt, SLOTS } from './crash-ops.js';

const [dir, first, withLinks] = process.argv.slice(2) as [string, string, string];
const links = withLinks === 'links';

// A replacement that was cut short: the parent has seen it; start it again.
rmSync(`${dir}/gen-next`, { force: true });
rmSync(`${dir}/link-next`, { force: true });

const counters = ArrayMap.tryFrom(MapData.fromPin(`${dir}/counters`), u64, { owned: true });
const table = HashMap.tryFrom(MapData.fromPin(`${dir}/table`), u32, u64, { owned: true });
const outer = ArrayOfMaps.tryFrom(MapData.fromPin(`${dir}/outer`), undefined, { owned: true });
const inners = Array.from({ length: SLOTS }, (_, i) => MapData.fromPin(`${dir}/inner${i}`));
const program = links ? TracePoint.fromPin(`${dir}/program`) : undefined;

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Attaches `program` to tracepoint `name`. A link whose last pin went (replaced by a
 * rename, or removed) is freed by the kernel after an RCU grace period and a work item;
 * until then the program is still on its tracepoint and a new link there is EEXIST.
 */
function attachWhenFree(name: string): FdLink {
  for (let waitedMs = 0; ; waitedMs += 2) {
    try {
      return program!.attach('syscalls', name) as FdLink;
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST' || waitedMs > 20_000) throw err;
      Atomics.wait(sleeper, 0, 0, 2);
    }
  }
}

/** Writes the whole line; the pipe is non-blocking, so a full one is retried. */
function ack(seq: number, id: number): void {
  const bytes = Buffer.from(ackLine(seq, id));
  let done = 0;
  while (done < bytes.length) {
    try {
      done += writeSync(3, bytes, done);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    }
  }
}

for (let seq = Number(first); ; seq++) {
  const op = opAt(seq, links);
  let id = 0;
  switch (op.kind) {
    case 'counter':
      counters.set(op.index, op.value);
      break;
    case 'insert':
      table.insert(op.key, op.value);
      break;
    case 'remove':
      try {
        table.remove(op.key);
      } catch (err) {
        if ((err as { kind?: string }).kind !== 'KeyNotFound') throw err;
      }
      break;
    case 'slot':
      outer.set(op.slot, inners[op.inner]!);
      break;
    case 'gen': {
      const m = ArrayMap.create(u64, { maxEntries: 2 });
      m.set(0, op.value);
      id = m.map.id;
      m.pin(`${dir}/gen-next`); // consumes m: the pin holds the map
      renameSync(`${dir}/gen-next`, `${dir}/gen`);
      break;
    }
    case 'pin': {
      const path = `${dir}/p${op.index}`;
      rmSync(path, { force: true });
      const m = HashMap.create(u32, u64, { maxEntries: 8 });
      m.insert(1, op.value);
      m.pin(path);
      break;
    }
    case 'link': {
      // The kernel refuses a program twice on one tracepoint (EEXIST): the new link goes
      // on the other tracepoint than the one it replaces.
      const link = attachWhenFree(op.tracepoint);
      id = link.info().id;
      link.pin(`${dir}/link-next`);
      link.close(); // pinned: stays attached
      renameSync(`${dir}/link-next`, `${dir}/link`);
      break;
    }
  }
  ack(seq, id);
}
