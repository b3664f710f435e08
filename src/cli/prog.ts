// tsbpf prog list|show: the programs loaded in the kernel.
import { openSync, statfsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import type { ProgramInfo } from '../index.js';
import { internals, tsbpf, tsbpfSys } from './lib.js';
import { CliError, UsageError } from './errors.js';
import { bootTimeToDate, formatDate, parseId } from './common.js';
import { fields, table, toJson, type Output } from './output.js';

/** The JSON form: the library's ProgramInfo with the load time as a date as well. */
function programJson(info: ProgramInfo): Record<string, unknown> {
  return { ...info, loadedAt: bootTimeToDate(info.loadTime)?.toISOString() };
}

const BPF_FS_MAGIC = 0xcafe4a11;

function isBpffs(path: string): boolean {
  try {
    return statfsSync(resolve(path)).type === BPF_FS_MAGIC;
  } catch {
    return false;
  }
}

/** An attach type by the kernel's name ('BPF_CGROUP_INET_INGRESS', 'cgroup_inet_ingress'). */
function attachTypeOf(text: string): number {
  const names = internals().enums.attachTypeNames;
  const wanted = text.toUpperCase().replace(/^(BPF_)?/, 'BPF_');
  const value = names.indexOf(wanted);
  if (value < 0) throw new UsageError(`unknown attach type ${text}: one of ${names.filter((n) => n).map((n) => n.slice(4).toLowerCase()).join(', ')}`);
  return value;
}

export function programById(id: number): ProgramInfo {
  const prog = tsbpf().programFromId(id);
  try {
    return prog.info();
  } finally {
    prog.close();
  }
}

export function progCommand(out: () => Output): Command {
  const cmd = new Command('prog').description('programs loaded in the kernel');
  cmd
    .command('list')
    .alias('ls')
    .description('list every loaded program')
    .action(() => {
      const o = out();
      const progs = [...tsbpf().loadedPrograms()];
      if (o.json) return o.write(toJson(progs.map(programJson)));
      o.write(
        table(
          o,
          ['ID', 'TYPE', 'NAME', 'TAG', 'LOADED', 'UID', 'XLATED', 'JITED', 'MAPS', 'BTF'],
          progs.map((p) => [p.id, o.c.cyan(p.typeName), p.name || '-', p.tag, formatDate(bootTimeToDate(p.loadTime)), p.createdByUid, p.xlatedLength, p.jitedLength, p.mapIds.join(',') || '-', p.btfId || '-']),
        ),
      );
    });
  cmd
    .command('show')
    .description('show one program by id')
    .argument('<id>', 'program id', parseId)
    .action((id: number) => {
      const o = out();
      const p = programById(id);
      if (o.json) return o.write(toJson(programJson(p)));
      o.write(
        fields(o, [
          ['id', p.id],
          ['name', p.name || '-'],
          ['type', `${p.typeName} (${p.type})`],
          ['tag', p.tag],
          ['gpl', p.gplCompatible],
          ['loaded at', formatDate(bootTimeToDate(p.loadTime))],
          ['uid', p.createdByUid],
          ['xlated', `${p.xlatedLength} bytes`],
          ['jited', `${p.jitedLength} bytes`],
          ['verified insns', p.verifiedInsns || undefined],
          ['map ids', p.mapIds.join(', ') || '-'],
          ['btf id', p.btfId || undefined],
          ['attach btf', p.attachBtfId ? `${p.attachBtfId} in btf object ${p.attachBtfObjId}` : undefined],
          ['run count', p.runCount ? p.runCount : undefined],
          ['run time', p.runTimeNs ? `${p.runTimeNs} ns` : undefined],
          ['recursion misses', p.recursionMisses ? p.recursionMisses : undefined],
          ['ifindex', p.ifindex || undefined],
        ]),
      );
    });
  cmd
    .command('pin')
    .description('pin a program on bpffs: it stays loaded while the pin exists')
    .argument('<id>', 'program id', parseId)
    .argument('<path>', 'where, on a bpf filesystem (/sys/fs/bpf/...)')
    .action((id: number, path: string) => {
      const prog = tsbpf().programFromId(id);
      try {
        prog.pin(resolve(path));
      } finally {
        prog.close();
      }
    });
  cmd
    .command('detach')
    .description('detach a program attached without a link (BPF_PROG_DETACH): from a cgroup, a network namespace, a sockmap')
    .argument('<id>', 'program id', parseId)
    .argument('<attach-type>', 'the kernel\'s name, with or without BPF_: cgroup_inet_ingress, sk_msg_verdict, flow_dissector, ...')
    .argument('<target>', 'a cgroup directory, a network namespace file (/proc/PID/ns/net), a map pinned on bpffs, or map:<id>')
    .action((id: number, typeText: string, target: string) => {
      const attachType = attachTypeOf(typeText);
      const { MapData } = tsbpf();
      const { kernel, progDetach } = tsbpfSys();
      const prog = tsbpf().programFromId(id);
      let map: { fd: number; close(): void } | undefined;
      let fd: number | undefined;
      try {
        if (/^map:\d+$/.test(target)) map = MapData.fromId(parseId(target.slice(4)));
        else if (isBpffs(target)) map = MapData.fromPin(resolve(target));
        else fd = openSync(target, 'r');
        try {
          progDetach(map?.fd ?? fd!, attachType, prog.fd);
        } catch (err) {
          if ((err as { code?: unknown }).code === 'ENOENT') throw new CliError(`program ${id} is not attached to ${target} as ${internals().enums.attachTypeNames[attachType]}`, { cause: err });
          throw err;
        }
      } finally {
        if (fd !== undefined) kernel.close(fd);
        map?.close();
        prog.close();
      }
    });
  return cmd;
}
