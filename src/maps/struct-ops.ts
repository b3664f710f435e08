// struct_ops maps (BPF_MAP_TYPE_STRUCT_OPS, 5.6+): a kernel struct of callbacks
// (tcp_congestion_ops, sched_ext_ops, ...) implemented by BPF programs. The object
// declares the struct with its own (partial) layout; the kernel wants its
// `struct bpf_struct_ops_<name>` value, with the struct at the value's `data` member,
// data members copied by name and each function pointer holding a program fd.
//
// Registration: a map without BPF_F_LINK is registered by writing its value and
// unregistered by deleting key 0 (closing the fd does not unregister: the registration
// holds its own reference). A BPF_F_LINK map's value only prepares it; BPF_LINK_CREATE
// with attach type BPF_STRUCT_OPS registers it, and closing the link unregisters.
import { MapError } from '../errors.js';
import { Errno } from '../sys/errors.js';
import { BPF_F_LINK } from '../obj/spec.js';
import type { MapData } from './map-data.js';
import type { FdLink } from '../links/link.js';
import { attachStructOps } from '../links/struct-ops.js';

/**
 * A struct_ops map of a loaded object, with its kernel value ready. `register()` /
 * `unregister()` for maps without BPF_F_LINK; a BPF_F_LINK map was written at load
 * and waits for a link (BPF_LINK_CREATE with `map.fd`, attach type BPF_STRUCT_OPS).
 * A view: the Ebpf owns the map and unregisters it when closed.
 * Kernel 5.6+ (BPF_MAP_TYPE_STRUCT_OPS; BPF_F_LINK 6.4+).
 */
export class StructOpsMap {
  readonly name: string;
  readonly map: MapData;
  /** The kernel struct implemented: 'tcp_congestion_ops', ... */
  readonly typeName: string;
  /** BPF_F_LINK: registered through a link, not by register(). */
  readonly link: boolean;
  readonly #value: () => Uint8Array;
  #registered = false;

  /** @internal the loader makes these; `value` builds the kernel value from the programs' current fds. */
  constructor(name: string, map: MapData, typeName: string, value: () => Uint8Array) {
    this.name = name;
    this.map = map;
    this.typeName = typeName;
    this.link = (map.flags & BPF_F_LINK) !== 0;
    this.#value = value;
  }

  /** The kernel value (`struct bpf_struct_ops_<typeName>`): data members, program fds. */
  get value(): Uint8Array {
    return this.#value();
  }

  get registered(): boolean {
    return this.#registered;
  }

  /**
   * Registers the struct with the kernel subsystem (one map update). Not for BPF_F_LINK
   * maps. Once per map: the kernel refuses a second value (MapError, EBUSY), even after
   * unregister(); load the object again to register again.
   */
  register(): void {
    if (this.link) {
      throw new MapError('InvalidArgument', `struct_ops map ${this.name} has BPF_F_LINK: it is registered by creating a link (BPF_LINK_CREATE, attach type BPF_STRUCT_OPS), not by register()`);
    }
    if (this.#registered) return;
    this.map.update(new Uint8Array(4), this.value);
    this.#registered = true;
  }

  /**
   * Registers a BPF_F_LINK map through a link (BPF_LINK_CREATE, attach type
   * BPF_STRUCT_OPS, 6.4+): the registration lasts as long as the link (detach, close
   * or, when pinned, unpin).
   */
  attach(): FdLink {
    if (!this.link) {
      throw new MapError('InvalidArgument', `struct_ops map ${this.name} has no BPF_F_LINK: it is registered by register(), not by a link`);
    }
    return attachStructOps(this.map, this.name, this.typeName);
  }

  /**
   * Unregisters (deletes key 0); harmless when not registered. When the kernel refuses
   * (MapError), the map stays registered and unregister() may be called again.
   */
  unregister(): void {
    if (!this.#registered) return;
    try {
      this.map.delete(new Uint8Array(4)); // false (ENOENT): not registered any more
    } catch (err) {
      // EINPROGRESS: being unregistered already (by someone else through the map's id).
      if (!(err instanceof MapError && err.errno === Errno.EINPROGRESS)) throw err;
    }
    this.#registered = false;
  }
}
