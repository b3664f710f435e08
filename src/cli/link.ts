// tsbpf link list|show|detach: the BPF links in the kernel.
import { resolve } from 'node:path';
import { Command } from 'commander';
import type { LinkInfo } from '../index.js';
import { tsbpf, tsbpfSys } from './lib.js';
import { parseId } from './common.js';
import { CliError } from './errors.js';
import { fields, table, toJson, type Output } from './output.js';

/** What the link is attached to, in a few words (the fields its type has). */
function target(l: LinkInfo): string {
  const parts: string[] = [];
  if (l.ifindex !== undefined) parts.push(`ifindex ${l.ifindex}`);
  if (l.cgroupId !== undefined) parts.push(`cgroup ${l.cgroupId}`);
  if (l.netnsIno !== undefined) parts.push(`netns ${l.netnsIno}`);
  if (l.targetObjId !== undefined && l.targetObjId !== 0) parts.push(`obj ${l.targetObjId}`);
  if (l.targetBtfId !== undefined && l.targetBtfId !== 0) parts.push(`btf ${l.targetBtfId}`);
  if (l.mapId !== undefined) parts.push(`map ${l.mapId}`);
  if (l.pf !== undefined) parts.push(`pf ${l.pf} hook ${l.hooknum} prio ${l.priority}`);
  if (l.perfEventType !== undefined) parts.push(`perf event type ${l.perfEventType}`);
  if (l.count !== undefined) parts.push(`${l.count} targets`);
  if (l.pid !== undefined && l.pid !== 0) parts.push(`pid ${l.pid}`);
  return parts.join(', ') || '-';
}

function linkById(id: number): LinkInfo {
  const link = tsbpf().FdLink.fromId(id);
  try {
    return link.info();
  } finally {
    // close() lets go of this fd only; detach() would end the link.
    link.close();
  }
}

export function linkCommand(out: () => Output): Command {
  const cmd = new Command('link').description('BPF links in the kernel');
  cmd
    .command('list')
    .alias('ls')
    .description('list every link')
    .action(() => {
      const o = out();
      const links = [...tsbpf().loadedLinks()];
      if (o.json) return o.write(toJson(links));
      o.write(table(o, ['ID', 'TYPE', 'PROG', 'ATTACH', 'TARGET'], links.map((l) => [l.id, o.c.cyan(l.typeName), l.programId, l.attachTypeName ?? '-', target(l)])));
    });
  cmd
    .command('show')
    .description('show one link by id')
    .argument('<id>', 'link id', parseId)
    .action((id: number) => {
      const o = out();
      const l = linkById(id);
      if (o.json) return o.write(toJson(l));
      o.write(
        fields(o, [
          ['id', l.id],
          ['type', `${l.typeName} (${l.type})`],
          ['prog id', l.programId],
          ['attach type', l.attachTypeName],
          ['target', target(l)],
        ]),
      );
    });
  cmd
    .command('detach')
    .description('end a link (BPF_LINK_DETACH): its program stops running there, even if the link is pinned')
    .argument('<id>', 'link id', parseId)
    .action((id: number) => {
      const { FdLink, ProgramError } = tsbpf();
      const { Errno, linkDetach, SyscallError } = tsbpfSys();
      const link = FdLink.fromId(id);
      try {
        // BPF_LINK_DETACH itself, not FdLink.detach(): that one falls back to letting the
        // link end with its last fd, which here is someone else's.
        linkDetach(link.fd);
      } catch (err) {
        if (err instanceof SyscallError && (err.errno === Errno.EOPNOTSUPP || err.errno === Errno.EINVAL)) {
          const { typeName } = link.info();
          throw new CliError(`${typeName} link ${id} cannot be detached by id (${err.code}): it ends when the process holding it closes it, or when its pin is removed`, { cause: err });
        }
        throw ProgramError.fromSyscall(err, `detaching link ${id}`);
      } finally {
        link.close();
      }
    });
  cmd
    .command('pin')
    .description('pin a link on bpffs: the attachment stays while the pin exists')
    .argument('<id>', 'link id', parseId)
    .argument('<path>', 'where, on a bpf filesystem (/sys/fs/bpf/...)')
    .action((id: number, path: string) => {
      const link = tsbpf().FdLink.fromId(id);
      try {
        link.pin(resolve(path));
      } finally {
        // Closing this fd leaves the link to the pin (and to whoever else holds it).
        link.close();
      }
    });
  return cmd;
}
