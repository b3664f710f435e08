// The buffer codecs read and write: bytes with a little-endian view over the same
// memory. The element commands' one-buffer I/O (sys ElemIo) hands out these too, so a
// codec encodes straight into what the kernel reads.

/** A buffer and a DataView over the same bytes. */
export interface Scratch {
  readonly bytes: Uint8Array;
  readonly view: DataView;
}

/** A zeroed Scratch of `size` bytes. */
export function scratch(size: number): Scratch {
  const bytes = new Uint8Array(size);
  return { bytes, view: new DataView(bytes.buffer) };
}

/** The Scratch over `size` bytes of `buffer` from `offset`. */
export function scratchAt(buffer: Uint8Array, offset: number, size: number): Scratch {
  return { bytes: buffer.subarray(offset, offset + size), view: new DataView(buffer.buffer, buffer.byteOffset + offset, size) };
}
