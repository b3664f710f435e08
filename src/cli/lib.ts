// The library, loaded when a command runs rather than at startup: --help and usage
// errors answer without loading the addon and every module (about 0.2 s of 0.36 s).
import type * as Index from '../index.js';
import type * as Sys from '../sys/index.js';
import type * as KernelBtf from '../kernel-btf.js';
import type * as Elf from '../obj/elf.js';
import type * as Enums from '../sys/abi/enums.js';

interface Library {
  index: typeof Index;
  sys: typeof Sys;
  kernelBtf: typeof KernelBtf;
  elf: typeof Elf;
  enums: typeof Enums;
}

let library: Library | undefined;

/** Loads the library (once); the preAction hook calls it before any action runs. */
export async function loadLibrary(): Promise<void> {
  if (library) return;
  const [index, sys, kernelBtf, elf, enums] = await Promise.all([
    import('../index.js'),
    import('../sys/index.js'),
    import('../kernel-btf.js'),
    import('../obj/elf.js'),
    import('../sys/abi/enums.js'),
  ]);
  library = { index, sys, kernelBtf, elf, enums };
}

function loaded(): Library {
  if (!library) throw new Error('internal error: the library was used before loadLibrary()');
  return library;
}

/** The public surface ('tsbpf'). */
export const tsbpf = (): typeof Index => loaded().index;
/** The raw layer ('tsbpf/sys'). */
export const tsbpfSys = (): typeof Sys => loaded().sys;
/** Internals the public surface does not export. */
export const internals = (): Omit<Library, 'index' | 'sys'> => loaded();
