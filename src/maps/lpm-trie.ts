import { bytes, type Codec } from '../codec/codec.js';
import { MapError } from '../errors.js';
import { describeValue } from '../describe.js';
import type { Scratch } from '../sys/scratch.js';
import { MapFlags, type MapData } from './map-data.js';
import { MapType } from './map-type.js';
import { checkCodec, createMap, KeyedMap, tryFromMap, type FromMapData, type MapCreateOptions, type MapKind, type TryFromOptions, type MapTyping, type CodecValue } from './typed-map.js';

/** A key of an LPM trie: the first `prefixLen` bits of `data` (struct bpf_lpm_trie_key_u8). */
export interface LpmKey<D> {
  /** How many leading bits of `data` the key is: 0 to 8 x the data's bytes. */
  prefixLen: number;
  /** The address (or other bit string), compared from its first byte's most significant bit. */
  data: D;
}

/** The kernel's bound on an LPM trie's data (LPM_DATA_SIZE_MAX). */
const LPM_DATA_SIZE_MAX = 256;

/**
 * The key codec of an LPM trie: a host-order u32 prefix length, then the data, which the
 * trie compares bit by bit from the first byte's most significant bit (so addresses go
 * in network order: bytes(4) for IPv4, bytes(16) for IPv6). @internal
 */
export function lpmKey<D>(data: Codec<D>): Codec<LpmKey<D>> {
  const size = data.size;
  const bits = size * 8;
  return Object.freeze({
    size: 4 + size,
    align: 4,
    encode(s: Scratch, offset: number, key: LpmKey<D>) {
      if (typeof key !== 'object' || key === null) throw new TypeError(`an LPM trie key must be { prefixLen, data }, got ${describeValue(key)}`);
      const n = key.prefixLen;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > bits) throw new RangeError(`prefixLen must be an integer from 0 to ${bits} (the data's bits), got ${describeValue(n)}`);
      s.view.setUint32(offset, n, true);
      data.encode(s, offset + 4, key.data);
    },
    decode(s: Scratch, offset: number) {
      return { prefixLen: s.view.getUint32(offset, true), data: data.decode(s, offset + 4) };
    },
  });
}

/** @internal LpmTrie's instance for the shape arguments of Ebpf.map (see MapTyping). */
export interface LpmTrieTyping extends MapTyping {
  readonly instance: LpmTrie<CodecValue<this['shape'][0], Uint8Array>, CodecValue<this['shape'][1]>>;
}

/**
 * A BPF_MAP_TYPE_LPM_TRIE (4.11): longest-prefix match. Keys are `{ prefixLen, data }`;
 * `get` of a key with the full length (say a /32 address) returns the value of the
 * longest stored prefix that contains it, KeyNotFound when none does. `data` is a codec
 * or a byte count (bytes(n)), 1 to 256 bytes. Created with BPF_F_NO_PREALLOC, which the
 * kernel requires. Key iteration from 4.16.
 */
export class LpmTrie<D, V> extends KeyedMap<LpmKey<D>, V> {
  static readonly mapTypes: readonly MapType[] = [MapType.LpmTrie];
  /** @internal */
  static readonly kind: MapKind<[data: Codec<unknown> | number, value: Codec<unknown>], LpmTrie<unknown, unknown>> = {
    name: 'LpmTrie',
    types: LpmTrie.mapTypes,
    shape: (data, value) => ({ key: lpmKey(dataCodec(data)), value: checkCodec(value, 'value codec') }),
    // A flags value that is not a u32 is left for MapData.create to refuse.
    createSpec: ({ flags = 0 }: MapCreateOptions) => ({ flags: isU32(flags) ? (flags | MapFlags.BPF_F_NO_PREALLOC) >>> 0 : flags }),
    make: (map, owned, shape) => new LpmTrie(map, owned, LpmTrie.kind, shape),
  };

  /** @internal How Ebpf.map types the shape arguments (MapTyping). */
  declare static readonly typing?: LpmTrieTyping;

  /** Wraps `map`: `data` is the key data's codec or byte count (key_size - 4). */
  static tryFrom<D = Uint8Array, V = unknown>(map: MapData, data: Codec<D> | number, value: Codec<V>, options?: TryFromOptions): LpmTrie<D, V> {
    return tryFromMap(LpmTrie.kind, map, [data, value], options) as LpmTrie<D, V>;
  }

  /** Creates an LPM trie of at most `options.maxEntries` prefixes (BPF_F_NO_PREALLOC is added to the flags). */
  static create<D = Uint8Array, V = unknown>(data: Codec<D> | number, value: Codec<V>, options: MapCreateOptions): LpmTrie<D, V> {
    return createMap(LpmTrie.kind, [data, value], options) as LpmTrie<D, V>;
  }

  /** A converter for maps of maps: views each inner MapData as this class with these codecs. */
  static fromMapData<D, V>(data: Codec<D> | number, value: Codec<V>): FromMapData<LpmTrie<D, V>> {
    return (map) => LpmTrie.tryFrom(map, data, value, { owned: true });
  }
}

const isU32 = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffff_ffff;

function dataCodec<D>(data: Codec<D> | number): Codec<D> {
  const codec = (typeof data === 'number' ? (Number.isInteger(data) && data > 0 ? bytes(data) : undefined) : checkCodec(data, 'LpmTrie data codec')) as Codec<D> | undefined;
  if (codec === undefined || codec.size < 1 || codec.size > LPM_DATA_SIZE_MAX) {
    throw new MapError('InvalidArgument', `LpmTrie: the key data must be 1 to ${LPM_DATA_SIZE_MAX} bytes (a codec or a byte count), got ${describeValue(typeof data === 'number' ? data : codec?.size)}`);
  }
  return codec;
}
