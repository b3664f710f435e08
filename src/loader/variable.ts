// A global variable of a loaded object (Ebpf.variable): read and written in place in
// its data section's memory-mapped map (.data, .bss and their named kinds), typed from
// the object's BTF. .rodata is frozen at load and mapped by the kernel only read-only,
// which JavaScript cannot have (V8 has no read-only ArrayBuffer): it is read with a
// lookup of the section (a system call) and cannot be written.
import { MapError } from '../errors.js';
import { btfCodec, encodeGlobal, type BtfCodec, type GlobalData, type GlobalValue } from '../global-value.js';
import type { Btf } from '../obj/btf.js';
import type { VariableSpec } from '../obj/spec.js';
import type { MapData } from '../maps/map-data.js';
import { scratchAt, type Scratch } from '../sys/scratch.js';

const KEY_ZERO = new Uint8Array(4);

/**
 * A global of a loaded object. `get()` / `set(v)` decode and encode through its BTF
 * type (numbers, bigint for 64-bit integers, booleans, strings for char arrays,
 * arrays, objects for structs); `bytes` is the variable's memory. On .data / .bss
 * they touch the mapped memory only (no system call): a program sees a write at once,
 * and JS its writes; values wider than 8 bytes are not read or written atomically.
 * .rodata: read through a lookup, and `set` is MapError 'NotSupported'. A section
 * map without BPF_F_MMAPABLE (`mapped` false) is read by lookup and written by update.
 * Valid while the Ebpf that made it is open (MapError 'Closed' after).
 */
export class GlobalVariable<T = GlobalData> {
  /** The variable's name. */
  readonly name: string;
  /** Its data section ('.data', '.bss', '.rodata', '.data.custom', ...). */
  readonly section: string;
  /** Offset in the section, and size. */
  readonly offset: number;
  readonly size: number;
  /** True for a .rodata variable: frozen at load, read by lookup, never written. */
  readonly readOnly: boolean;
  readonly #spec: VariableSpec;
  readonly #btf: Btf | undefined;
  readonly #codec: BtfCodec | undefined;
  readonly #map: MapData;
  /** The section's memory (mapped), or a copy read by lookup (.rodata). */
  readonly #s: Scratch;
  readonly #mapped: boolean;
  #tmp: Scratch | undefined;

  /** @internal made by Ebpf.variable. */
  constructor(spec: VariableSpec, map: MapData, btf: Btf | undefined, readOnly: boolean) {
    this.name = spec.name;
    this.section = spec.map;
    this.offset = spec.offset;
    this.size = spec.size;
    this.readOnly = readOnly;
    this.#spec = spec;
    this.#btf = btf;
    const codec = btf && spec.typeId !== undefined ? btfCodec(btf, spec.typeId) : undefined;
    this.#codec = codec?.size === spec.size ? codec : undefined;
    this.#map = map;
    let memory: Scratch | undefined;
    if (!readOnly) {
      try {
        memory = map.memory().scratch();
      } catch (err) {
        // A section map made without BPF_F_MMAPABLE (a pinned map from elsewhere, a
        // kernel before 5.5): read and written through lookups and updates instead.
        if (!(err instanceof MapError && err.kind === 'NotSupported')) throw err;
      }
    }
    this.#s = memory ?? scratchAt(new Uint8Array(map.valueSize), 0, map.valueSize);
    this.#mapped = memory !== undefined;
  }

  /** True when the variable is read and written in mapped memory (no system call per access). */
  get mapped(): boolean {
    return this.#mapped;
  }

  /** True when get() decodes through the BTF type; false: get() returns the bytes (a copy). */
  get typed(): boolean {
    return this.#codec !== undefined;
  }

  /** The section memory, current: the mapping, or a fresh lookup for .rodata. */
  #read(): Scratch {
    if (this.#mapped) {
      if (this.#map.closed) throw new MapError('Closed', `global ${this.name}: its object is closed`);
    } else {
      const value = this.#map.lookup(KEY_ZERO);
      if (value === undefined) throw new MapError('KeyNotFound', `global ${this.name}: its section ${this.section} has no value`);
      this.#s.bytes.set(value);
    }
    return this.#s;
  }

  /** The value, decoded from its BTF type (the bytes, a copy, when the type is not one get() decodes). */
  get(): T {
    const s = this.#read();
    if (this.#codec) return this.#codec.decode(s, this.offset) as T;
    return s.bytes.slice(this.offset, this.offset + this.size) as T;
  }

  /**
   * Writes the value: what get() returns, or any typed array of the variable's exact
   * size, or what setGlobal takes. MapError 'InvalidArgument' / 'InvalidValueSize' for
   * a value that does not fit (nothing written), 'NotSupported' for .rodata.
   */
  set(value: T | GlobalValue): void {
    if (this.readOnly) throw new MapError('NotSupported', `global ${this.name} is in ${this.section}, frozen at load: the kernel lets nothing write it (set it before load with EbpfLoader.setGlobal)`);
    const s = this.#read();
    const codec = this.#codec;
    if (codec && !ArrayBuffer.isView(value)) {
      try {
        if (!codec.composite) codec.encode(s, this.offset, value);
        else {
          // A struct or array whole or not at all: a member that does not fit writes nothing.
          const tmp = (this.#tmp ??= scratchAt(new Uint8Array(this.size), 0, this.size));
          codec.encode(tmp, 0, value);
          s.bytes.set(tmp.bytes, this.offset);
        }
      } catch (err) {
        if (err instanceof TypeError || err instanceof RangeError) throw new MapError('InvalidArgument', `global ${this.name}: ${err.message}`);
        throw err;
      }
    } else {
      s.bytes.set(encodeGlobal(this.#spec, value as GlobalValue, this.#btf), this.offset);
    }
    // Not mapped: the section read just now, written back whole (a program's writes to
    // its other variables in between are lost: map the section where the kernel can).
    if (!this.#mapped) this.#map.update(KEY_ZERO, s.bytes);
  }

  /**
   * The variable's bytes: a view of the mapped memory for .data / .bss (writes go to
   * the map), a copy for .rodata.
   */
  get bytes(): Uint8Array {
    const s = this.#read();
    return this.#mapped ? s.bytes.subarray(this.offset, this.offset + this.size) : s.bytes.slice(this.offset, this.offset + this.size);
  }

  /** The variable as the object names it, with its section. */
  toString(): string {
    return `GlobalVariable(${this.name} in ${this.section}, ${this.size} bytes)`;
  }
}
