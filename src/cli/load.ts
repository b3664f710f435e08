// tsbpf load <object> [--pin dir] [--attach]: load an object's maps and programs (and
// attach those whose section names a target). With --pin they are pinned on bpffs and
// outlive the command, as `bpftool prog loadall OBJ DIR pinmaps DIR/maps autoattach`
// leaves them: programs at DIR/<name>, maps at DIR/maps/<name>, links at
// DIR/links/<name>. Without --pin the command holds them until SIGINT or SIGTERM
// (Ctrl-C), then releases everything: handy to run a tracer for a while.
import { existsSync, mkdirSync, rmdirSync, rmSync, statfsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import type { AttachedLinks, Ebpf } from '../index.js';
import { internals, tsbpf } from './lib.js';
import { CliError } from './errors.js';
import { table, toJson, type Output } from './output.js';

const BPF_FS_MAGIC = 0xcafe4a11;

interface LoadOptions {
  pin?: string;
  attach?: boolean;
}

interface Row {
  kind: 'prog' | 'map' | 'link';
  name: string;
  type: string;
  id: number | null;
  pinned: string | null;
}

/** bpffs refuses names with a dot (EPERM): '.bss' is pinned as '_bss', as libbpf does. */
const pinName = (name: string): string => name.replace(/\./g, '_');

/** The directory, created on bpffs where missing; CliError when it is not on bpffs. */
function bpffsDirectory(dir: string): string[] {
  let existing = dir;
  const missing: string[] = [];
  while (!existsSync(existing)) {
    missing.unshift(existing);
    existing = dirname(existing);
  }
  let onBpffs = false;
  try {
    onBpffs = statfsSync(existing).type === BPF_FS_MAGIC;
  } catch {
    onBpffs = false;
  }
  if (!onBpffs) {
    throw new CliError(`${dir} is not on a bpf filesystem: pin under /sys/fs/bpf (mount it with \`mount -t bpf bpf /sys/fs/bpf\` if it is missing)`);
  }
  for (const d of missing) mkdirSync(d);
  return missing;
}

export function loadCommand(out: () => Output): Command {
  return new Command('load')
    .description('load a BPF object\'s maps and programs; pin them (--pin) or hold them until Ctrl-C')
    .argument('<object>', 'the BPF object file')
    .option('--pin <dir>', 'pin on bpffs and exit: programs at DIR/NAME, maps at DIR/maps/NAME, links at DIR/links/NAME (dots in names become _)')
    .option('--attach', 'attach every program whose section names its target (tracepoint/..., kprobe/..., uprobe/..., fentry/..., ...)')
    .addHelpText(
      'after',
      '\nWithout --pin the command keeps everything loaded (and attached) until SIGINT or SIGTERM, then unloads it.\n' +
        'With --pin it exits at once; remove the pins (rm -r DIR) to unload.\n\nExamples:\n' +
        '  tsbpf load counter.bpf.o --pin /sys/fs/bpf/counter --attach\n  tsbpf load tracer.bpf.o --attach   # until Ctrl-C',
    )
    .action(async (object: string, opts: LoadOptions) => {
      const o = out();
      const { EbpfLoader, mapTypeName } = tsbpf();
      if (!existsSync(object)) throw new CliError(`${object}: no such file`);
      const dir = opts.pin === undefined ? undefined : resolve(opts.pin);
      // Checked before loading: a bad directory costs no load.
      const madeDirs = dir ? bpffsDirectory(dir) : [];
      const pins: string[] = [];
      let ebpf: Ebpf | undefined;
      let links: AttachedLinks | undefined;
      const release = (): void => {
        links?.close();
        ebpf?.close();
      };
      const rows: Row[] = [];
      try {
        ebpf = new EbpfLoader().load(object);
        if (opts.attach) links = ebpf.attachAll();
        const pin = (what: { pin(path: string): void }, sub: string, name: string): string | null => {
          if (!dir) return null;
          if (!sub && (name === 'maps' || name === 'links')) throw new CliError(`program ${name} would be pinned where the ${name} directory goes: load it with the library and pin it yourself`);
          const where = sub ? join(dir, sub) : dir;
          if (!existsSync(where)) {
            mkdirSync(where);
            madeDirs.push(where);
          }
          const path = join(where, pinName(name));
          if (existsSync(path)) throw new CliError(`${path} exists already: remove it (rm ${path}) or pin under another directory`);
          what.pin(path);
          pins.push(path);
          return path;
        };
        for (const [name, program] of ebpf.programs()) {
          if (!program.loaded) continue;
          const info = program.info();
          rows.push({ kind: 'prog', name, type: info.typeName.replace(/^BPF_PROG_TYPE_/, '').toLowerCase(), id: info.id, pinned: pin(program, '', name) });
        }
        for (const [name, map] of ebpf.maps()) {
          rows.push({ kind: 'map', name, type: mapTypeName(map.type).replace(/^BPF_MAP_TYPE_/, '').toLowerCase(), id: map.id, pinned: pin(map, 'maps', name) });
        }
        for (const [name, link] of links ?? []) {
          let id: number | null = null;
          let type = link.constructor.name;
          try {
            const info = link.info();
            id = info.id;
            type = (internals().enums.linkTypeNames[info.type] ?? info.typeName).replace(/^BPF_LINK_TYPE_/, '').toLowerCase();
          } catch {
            // not a BPF link (a perf event attached by ioctl, a netlink XDP attachment): no id
          }
          let pinned: string | null = null;
          try {
            pinned = pin(link, 'links', name);
          } catch (err) {
            if ((err as { kind?: string }).kind !== 'NotSupported') throw err;
            throw new CliError(`program ${name} is attached by ${link.description}, which is not a BPF link and cannot be pinned: run without --pin to hold it until Ctrl-C`, { cause: err });
          }
          rows.push({ kind: 'link', name, type, id, pinned });
        }
      } catch (err) {
        // All or nothing: what this command pinned goes, and what it loaded.
        for (const p of pins.reverse()) rmSync(p, { force: true });
        for (const d of madeDirs.reverse()) {
          try {
            rmdirSync(d);
          } catch {
            // not empty: something else was put there meanwhile
          }
        }
        try {
          release();
        } catch {
          // the load's own error is the one to report
        }
        throw err;
      }

      if (o.json) o.write(toJson({ object, pinned: dir ?? null, programs: rows.filter((r) => r.kind === 'prog'), maps: rows.filter((r) => r.kind === 'map'), links: rows.filter((r) => r.kind === 'link') }));
      else o.write(table(o, ['KIND', 'NAME', 'TYPE', 'ID', 'PINNED'], rows.map((r) => [r.kind, r.name, o.c.cyan(r.type), r.id ?? '-', r.pinned ?? '-'])));

      if (dir) {
        // The pins hold everything (a pinned link stays attached when closed).
        release();
        return;
      }
      await new Promise<void>((done) => {
        // A signal listener does not keep the process alive: the interval does.
        const keepAlive = setInterval(() => {}, 1 << 30);
        const stop = (): void => {
          clearInterval(keepAlive);
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          done();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
        // Said once the handlers are in place: a signal sent on reading this is not the default's kill.
        process.stderr.write(`tsbpf: ${object} loaded${links?.size ? `, ${links.size} program(s) attached` : ''}: press Ctrl-C to unload\n`);
      });
      release();
      process.stderr.write('tsbpf: unloaded\n');
    });
}
