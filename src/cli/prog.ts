// tsbpf prog list|show: the programs loaded in the kernel.
import { resolve } from 'node:path';
import { Command } from 'commander';
import type { ProgramInfo } from '../index.js';
import { tsbpf } from './lib.js';
import { bootTimeToDate, formatDate, parseId } from './common.js';
import { fields, table, toJson, type Output } from './output.js';

/** The JSON form: the library's ProgramInfo with the load time as a date as well. */
function programJson(info: ProgramInfo): Record<string, unknown> {
  return { ...info, loadedAt: bootTimeToDate(info.loadTime)?.toISOString() };
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
  return cmd;
}
