// Ebpf.typedMap: a loaded object's map as the typed class its type calls for, with key
// and value codecs derived from the object's BTF (the __type(key, ...) and
// __type(value, ...) of its definition; a global data section's DATASEC).
import { BtfError, MapError } from '../errors.js';
import { describeValue } from '../describe.js';
import { btfCodecOf, type BtfValue } from '../codec/btf.js';
import type { Codec } from '../codec/codec.js';
import type { Btf } from '../obj/btf.js';
import type { MapDefinition } from '../obj/spec.js';
import { ArrayMap } from '../maps/array.js';
import { ArrayOfMaps } from '../maps/array-of-maps.js';
import { BloomFilter } from '../maps/bloom-filter.js';
import { HashMap } from '../maps/hash-map.js';
import { HashOfMaps } from '../maps/hash-of-maps.js';
import { LpmTrie } from '../maps/lpm-trie.js';
import type { MapData } from '../maps/map-data.js';
import { MapType, mapTypeName } from '../maps/map-type.js';
import { PerCpuArray, PerCpuHashMap } from '../maps/per-cpu.js';
import { Queue, Stack } from '../maps/queue-stack.js';
import type { FromMapData } from '../maps/typed-map.js';

/**
 * What Ebpf.typedMap returns: the class of the map's type, its keys and values decoded
 * through the object's BTF (BtfValue: objects for structs, strings for char arrays,
 * enum names, bigint for 64 bits). Narrow with instanceof.
 */
export type BtfTypedMap =
  | ArrayMap<BtfValue>
  | HashMap<BtfValue, BtfValue>
  | PerCpuArray<BtfValue>
  | PerCpuHashMap<BtfValue, BtfValue>
  | ArrayOfMaps<BtfTypedMap | MapData>
  | HashOfMaps<BtfValue, BtfTypedMap | MapData>
  | Queue<BtfValue>
  | Stack<BtfValue>
  | BloomFilter<BtfValue>
  | LpmTrie<Uint8Array, BtfValue>;

/** The classes typedMap makes, and the map types they take. */
const CLASSES: readonly BtfMapClass[] = [ArrayMap, HashMap, PerCpuArray, PerCpuHashMap, ArrayOfMaps, HashOfMaps, Queue, Stack, BloomFilter, LpmTrie];
const KNOWN = CLASSES.flatMap((c) => c.mapTypes);

/** What `ebpf.typedMap(name, kind)` checks the map against: one of the classes BtfTypedMap lists. */
export type BtfMapClass =
  | typeof ArrayMap | typeof HashMap | typeof PerCpuArray | typeof PerCpuHashMap | typeof ArrayOfMaps
  | typeof HashOfMaps | typeof Queue | typeof Stack | typeof BloomFilter | typeof LpmTrie;

/**
 * The typed map `ebpf.typedMap(name, kind)` returns for class `C`. (The classes that
 * share a base are told apart most specific first: a HashMap's static side is not a
 * PerCpuHashMap's, but the converse may hold structurally.)
 */
export type BtfMapOf<C extends BtfMapClass> =
  C extends typeof LpmTrie ? LpmTrie<Uint8Array, BtfValue>
  : C extends typeof PerCpuArray ? PerCpuArray<BtfValue>
  : C extends typeof ArrayOfMaps ? ArrayOfMaps<BtfTypedMap | MapData>
  : C extends typeof ArrayMap ? ArrayMap<BtfValue>
  : C extends typeof PerCpuHashMap ? PerCpuHashMap<BtfValue, BtfValue>
  : C extends typeof HashOfMaps ? HashOfMaps<BtfValue, BtfTypedMap | MapData>
  : C extends typeof HashMap ? HashMap<BtfValue, BtfValue>
  : C extends typeof Queue ? Queue<BtfValue>
  : C extends typeof Stack ? Stack<BtfValue>
  : C extends typeof BloomFilter ? BloomFilter<BtfValue>
  : never;

/**
 * typedMapOf, checked to be a `kind`: MapError 'InvalidMapType' naming both when the
 * map's type makes another class, 'InvalidArgument' when `kind` is none of them.
 */
export function typedMapAs(def: MapDefinition, map: MapData, btf: Btf | undefined, kind?: BtfMapClass): BtfTypedMap {
  if (kind !== undefined && !(CLASSES as readonly unknown[]).includes(kind)) {
    throw new MapError('InvalidArgument', `typedMap(${def.name}): the class must be one of ${CLASSES.map((c) => c.name).join(', ')}, got ${describeValue(kind)}`);
  }
  if (kind !== undefined && !kind.mapTypes.includes(def.type as MapType)) {
    const made = CLASSES.find((c) => c.mapTypes.includes(def.type as MapType));
    throw new MapError('InvalidMapType', `typedMap(${def.name}, ${kind.name}): the map is a ${mapTypeName(def.type)}${made ? `, a ${made.name}` : ''}`, {
      mapType: def.type,
      expected: kind.mapTypes,
    });
  }
  return typedMapOf(def, map, btf);
}

/**
 * The typed map over `map`, which the object declares as `def`. `owned`: the result
 * closes `map` (inner maps, opened by get); false for the Ebpf's own maps (a view).
 * BtfError 'TypeNotFound' when the object has no BTF for the map's key or value;
 * MapError 'InvalidMapType' for a map type without a codec-based class here.
 */
export function typedMapOf(def: MapDefinition, map: MapData, btf: Btf | undefined, owned = false): BtfTypedMap {
  const name = def.name;
  if (!KNOWN.includes(def.type as MapType)) {
    throw new MapError('InvalidMapType', `map ${name} is a ${mapTypeName(def.type)}: typedMap knows arrays, hashes (LRU too), per-CPU arrays and hashes, maps of maps, queues, stacks, bloom filters and LPM tries; use ebpf.map(${JSON.stringify(name)}) and the map type's class`, {
      mapType: def.type,
      expected: KNOWN,
    });
  }
  const codec = (side: 'key' | 'value'): Codec<BtfValue> => {
    const id = side === 'key' ? def.btfKeyTypeId : def.btfValueTypeId;
    if (!btf || id === undefined || id === 0) {
      const why = !btf
        ? 'the object has no BTF (.BTF section)'
        : `its definition gives no BTF type for its ${side} (a legacy SEC("maps") map, or ${side}_size without __type(${side}, ...))`;
      throw new BtfError('TypeNotFound', `typedMap(${name}): no BTF for the map's ${side}: ${why}; use ebpf.map(${JSON.stringify(name)}) with the map type's class and codecs`);
    }
    const c = btfCodecOf<BtfValue>(btf, id);
    const size = side === 'key' ? map.keySize : map.valueSize;
    if (c.size !== size) {
      throw new MapError(side === 'key' ? 'InvalidKeySize' : 'InvalidValueSize', `typedMap(${name}): the map's ${side} size is ${size}, its BTF type's ${c.size} (resized with setValueSize?)`, { size, expected: c.size });
    }
    return c;
  };
  const options = { owned };
  const inner = (): FromMapData<BtfTypedMap | MapData> | undefined => {
    const innerDef = def.inner;
    if (!innerDef) return undefined; // no template in BTF: inner maps as MapData
    return (m) => typedMapOf({ ...innerDef, name: `${name} (inner)` }, m, btf, true);
  };
  switch (def.type) {
    case MapType.Array:
      return ArrayMap.tryFrom(map, codec('value'), options);
    case MapType.PercpuArray:
      return PerCpuArray.tryFrom(map, codec('value'), options);
    case MapType.Hash:
    case MapType.LruHash:
      return HashMap.tryFrom(map, codec('key'), codec('value'), options);
    case MapType.PercpuHash:
    case MapType.LruPercpuHash:
      return PerCpuHashMap.tryFrom(map, codec('key'), codec('value'), options);
    case MapType.ArrayOfMaps:
      return ArrayOfMaps.tryFrom(map, inner(), options);
    case MapType.HashOfMaps:
      return HashOfMaps.tryFrom(map, codec('key'), inner(), options);
    case MapType.Queue:
      return Queue.tryFrom(map, codec('value'), options);
    case MapType.Stack:
      return Stack.tryFrom(map, codec('value'), options);
    case MapType.LpmTrie:
      // The key's data is in network byte order by the kernel's definition: bytes, not
      // the host-order integers its BTF would read it as.
      return LpmTrie.tryFrom(map, map.keySize - 4, codec('value'), options);
    default:
      return BloomFilter.tryFrom(map, codec('value'), options);
  }
}
