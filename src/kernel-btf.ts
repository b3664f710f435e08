// The running kernel's BTF: vmlinux's (loadKernelBtf), and that of loaded modules.
//
// Kernel module BTF: a kfunc, ksym, struct_ops struct or attach target that vmlinux
// does not have may be in a loaded module's BTF, split BTF on top of vmlinux. The
// kernel names such a BTF object by fd: kfunc calls through fd_array (insn.off is the
// index), ksym variables in the second half of their ld_imm64, attach targets as
// attach_btf_obj_fd.
//
// Which BTF objects are the kernel's comes from BPF_BTF_GET_NEXT_ID / GET_FD_BY_ID /
// OBJ_GET_INFO_BY_FD (kernel_btf, 5.11+). Their names and raw bytes need the nested
// pointers of struct bpf_btf_info, which the addon does not pass (it zeroes info
// buffers), so the bytes are read from /sys/kernel/btf/<module> and the module's BTF
// object is found among the kernel ones by its size.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { btfGetFdById, btfGetNextId, objGetInfoByFd } from './sys/bpf.js';
import { bpfBtfInfoLayout, decodeBpfBtfInfo } from './sys/abi/info.js';
import { Errno, SyscallError } from './sys/errors.js';
import { kernel } from './sys/native.js';
import { BtfError } from './errors.js';
import { MAX_OBJECT_FILE, readRegularFile } from './file.js';
import { Btf } from './obj/btf.js';

const SYSFS = '/sys/kernel/btf';

const kernelBtfCache = new Map<string, Btf>();

const VMLINUX_BTF = `${SYSFS}/vmlinux`;

/**
 * Parses the running kernel's BTF (cached per path), lazily: the headers of its records
 * are walked at once, and a type is decoded and checked when first asked for (type(),
 * byName(); `types` decodes them all). BtfError if it cannot be read:
 * kind 'NotSupported' when the kernel publishes none (no /sys/kernel/btf/vmlinux),
 * 'ReadError' for any other failure.
 */
export function loadKernelBtf(path = VMLINUX_BTF): Btf {
  if (typeof path !== 'string') throw new BtfError('InvalidArgument', 'loadKernelBtf takes the path of a BTF file');
  let btf = kernelBtfCache.get(path);
  if (!btf) {
    let bytes: Uint8Array;
    try {
      bytes = readRegularFile(path, 'a BTF file', MAX_OBJECT_FILE);
    } catch (err) {
      const absent = path === VMLINUX_BTF && (err as { code?: unknown }).code === 'ENOENT';
      throw new BtfError(absent ? 'NotSupported' : 'ReadError', `cannot read kernel BTF from ${path}: ${(err as Error).message}`, {
        cause: err,
        feature: absent ? 'vmlinux BTF (CONFIG_DEBUG_INFO_BTF)' : undefined,
      });
    }
    // Decoded type by type as loads ask (a load needs a few hundred of vmlinux's ~130,000).
    btf = Btf.parseLazy(bytes);
    kernelBtfCache.set(path, btf);
  }
  return btf;
}

/** A BTF object the kernel holds: its id, size and whether it is the kernel's (vmlinux or a module's). */
export interface BtfObjectInfo {
  id: number;
  size: number;
  kernel: boolean;
}

/** Every BTF object of the running kernel, by id (needs CAP_SYS_ADMIN). */
export function btfObjects(): BtfObjectInfo[] {
  const out: BtfObjectInfo[] = [];
  for (let id = btfGetNextId(0); id !== undefined; id = btfGetNextId(id)) {
    let fd: number;
    try {
      fd = btfGetFdById(id);
    } catch (err) {
      // Freed between the two calls.
      if (err instanceof SyscallError && err.errno === Errno.ENOENT) continue;
      throw err;
    }
    try {
      out.push({ ...btfInfo(fd), id });
    } finally {
      kernel.close(fd);
    }
  }
  return out;
}

/** struct bpf_btf_info without its pointers (btf and name stay NULL). */
function btfInfo(fd: number): { size: number; kernel: boolean } {
  const info = new Uint8Array(bpfBtfInfoLayout.size);
  objGetInfoByFd(fd, info);
  const k = decodeBpfBtfInfo(info);
  return { size: k.btfSize, kernel: k.kernelBtf !== 0 };
}

/** A loaded kernel module's BTF. */
export interface ModuleBtf {
  name: string;
  /** Parsed as split BTF on vmlinux (on first use). */
  readonly btf: Btf;
  /** A new fd for the module's BTF object (the caller closes it). */
  openFd(): number;
}

let modules: ModuleBtf[] | undefined;

/** The BTF of every loaded module (those in /sys/kernel/btf besides vmlinux), cached per process. */
export function moduleBtfs(): ModuleBtf[] {
  if (modules) return modules;
  let names: string[] = [];
  try {
    names = readdirSync(SYSFS).filter((n) => n !== 'vmlinux').sort();
  } catch {
    // No sysfs BTF: no module BTF either.
  }
  modules = names.map((name) => {
    let btf: Btf | undefined;
    return {
      name,
      get btf(): Btf {
        btf ??= Btf.parseLazy(readFileSync(`${SYSFS}/${name}`), loadKernelBtf());
        return btf;
      },
      openFd: () => openModuleFd(name),
    };
  });
  return modules;
}

/** The first module whose BTF `find` answers for, with the answer. */
export function findInModules<T>(find: (btf: Btf) => T | undefined): { module: ModuleBtf; found: T } | undefined {
  for (const module of moduleBtfs()) {
    const found = find(module.btf);
    if (found !== undefined) return { module, found };
  }
  return undefined;
}

function openModuleFd(name: string): number {
  const size = statSync(`${SYSFS}/${name}`).size;
  const vmlinuxSize = statSync(`${SYSFS}/vmlinux`).size;
  const ids = btfObjects().filter((o) => o.kernel && o.size === size && o.size !== vmlinuxSize);
  if (ids.length !== 1) {
    throw new SyscallError('bpf_btf_get_fd_by_id', Errno.ENOENT, `${ids.length} kernel BTF objects have the ${size} bytes of module ${name}'s BTF`);
  }
  return btfGetFdById(ids[0]!.id);
}

/** The names of the loaded modules with BTF, for messages. */
export function moduleNames(): string {
  const names = moduleBtfs().map((m) => m.name);
  return names.length ? names.join(', ') : 'none loaded';
}
