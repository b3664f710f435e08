import { bytes, type Codec } from '../codec/codec.js';
import { mapLookupAndDeleteElem } from '../sys/bpf.js';
import type { MapData } from './map-data.js';
import { MapType } from './map-type.js';
import { checkCodec, codecError, createMap, rethrow, tryFromMap, TypedMap, type MapCreateOptions, type MapKind, type Shape, type TryFromOptions, type ValueCodec, type MapTyping, type CodecValue } from './typed-map.js';

/** The key side of the maps without keys (queue, stack, bloom filter): key_size 0. @internal */
export const noKey: Codec<Uint8Array> = bytes(0);

/** What Queue and Stack share: push, pop, peek and drain of values with no key. */
export abstract class ValueStore<V> extends TypedMap {
  readonly #value: ValueCodec<V>;

  /** @internal */
  protected constructor(map: MapData, owned: boolean, kind: { name: string }, shape: Shape) {
    super(map, owned, kind);
    this.#value = shape.value;
  }

  /**
   * Adds `value` (BPF_MAP_UPDATE_ELEM with no key). When the map is full the kernel
   * answers E2BIG (MapError 'SyscallError'), unless `flags` is BPF_EXIST (ElemFlags),
   * which drops the oldest value to make room.
   */
  push(value: V, flags: number = 0): void {
    try {
      this.#value.encode(this.io.value, 0, value);
    } catch (err) {
      throw codecError(err, 'value');
    }
    this.updateElem(flags);
  }

  /**
   * Removes and returns the next value (BPF_MAP_LOOKUP_AND_DELETE_ELEM with no key), or
   * null when the map is empty: emptiness is the normal end of draining, not an error
   * (aya answers MapError::ElementNotFound, cilium ErrKeyNotExist).
   */
  pop(): V | null {
    const fd = this.map.fd;
    let found: boolean;
    try {
      found = mapLookupAndDeleteElem(fd, null, this.io.value.bytes);
    } catch (err) {
      rethrow(err);
    }
    return found ? this.#value.decode(this.io.value, 0) : null;
  }

  /** The next value without removing it (BPF_MAP_LOOKUP_ELEM with no key), or null when the map is empty. */
  peek(): V | null {
    return this.lookupElem(0) ? this.#value.decode(this.io.value, 0) : null;
  }

  /** Pops values until the map is empty. */
  *drain(): IterableIterator<V> {
    for (let v = this.pop(); v !== null; v = this.pop()) yield v;
  }
}

function storeKind<M>(name: string, type: MapType, make: (map: MapData, owned: boolean, shape: Shape) => M): MapKind<[value: Codec<unknown>], M> {
  return { name, types: [type], shape: (value) => ({ key: noKey, value: checkCodec(value, 'value codec') }), make };
}

/** @internal Queue's instance for the shape arguments of Ebpf.map (see MapTyping). */
export interface QueueTyping extends MapTyping {
  readonly instance: Queue<CodecValue<this['shape'][0]>>;
}

/**
 * A BPF_MAP_TYPE_QUEUE (4.20): first in, first out. BPF programs use
 * bpf_map_push_elem / bpf_map_pop_elem / bpf_map_peek_elem; user space `push`, `pop`, `peek`.
 */
export class Queue<V> extends ValueStore<V> {
  static readonly mapTypes: readonly MapType[] = [MapType.Queue];
  /** @internal */
  static readonly kind: MapKind<[value: Codec<unknown>], Queue<unknown>> = storeKind('Queue', MapType.Queue, (map, owned, shape) => new Queue(map, owned, Queue.kind, shape));

  /** @internal How Ebpf.map types the shape arguments (MapTyping). */
  declare static readonly typing?: QueueTyping;

  /**
   * A typed view of an existing map: MapError `InvalidMapType` for a map of another type, `InvalidKeySize`
   * / `InvalidValueSize` when the codecs do not fit, `Closed` for a closed MapData. `owned: true` hands
   * the MapData over.
   */
  static tryFrom<V>(map: MapData, value: Codec<V>, options?: TryFromOptions): Queue<V> {
    return tryFromMap(Queue.kind, map, [value], options) as Queue<V>;
  }

  /** Creates a queue of at most `options.maxEntries` values; the returned Queue owns it. */
  static create<V>(value: Codec<V>, options: MapCreateOptions): Queue<V> {
    return createMap(Queue.kind, [value], options) as Queue<V>;
  }
}

/** @internal Stack's instance for the shape arguments of Ebpf.map (see MapTyping). */
export interface StackTyping extends MapTyping {
  readonly instance: Stack<CodecValue<this['shape'][0]>>;
}

/** A BPF_MAP_TYPE_STACK (4.20): last in, first out; otherwise as Queue. */
export class Stack<V> extends ValueStore<V> {
  static readonly mapTypes: readonly MapType[] = [MapType.Stack];
  /** @internal */
  static readonly kind: MapKind<[value: Codec<unknown>], Stack<unknown>> = storeKind('Stack', MapType.Stack, (map, owned, shape) => new Stack(map, owned, Stack.kind, shape));

  /** @internal How Ebpf.map types the shape arguments (MapTyping). */
  declare static readonly typing?: StackTyping;

  /**
   * A typed view of an existing map: MapError `InvalidMapType` for a map of another type, `InvalidKeySize`
   * / `InvalidValueSize` when the codecs do not fit, `Closed` for a closed MapData. `owned: true` hands
   * the MapData over.
   */
  static tryFrom<V>(map: MapData, value: Codec<V>, options?: TryFromOptions): Stack<V> {
    return tryFromMap(Stack.kind, map, [value], options) as Stack<V>;
  }

  /** Creates a stack of at most `options.maxEntries` values; the returned Stack owns it. */
  static create<V>(value: Codec<V>, options: MapCreateOptions): Stack<V> {
    return createMap(Stack.kind, [value], options) as Stack<V>;
  }
}
