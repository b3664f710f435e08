// npm run example:array-of-maps: create an ArrayOfMaps, fill it with inner arrays, and print what the
// kernel holds, read back through the outer map.
import { ArrayMap, ArrayOfMaps, MapType, u32 } from '../src/index.js';

// The template every inner map must match: an ARRAY of 4 u32 values.
using outer = ArrayOfMaps.create(
  ArrayMap.fromMapData(u32), // get() returns an ArrayMap<number> owning a new fd
  { maxEntries: 4, name: 'example_outer', innerMap: { type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 4 } },
);

for (let slot = 0; slot < 3; slot++) {
  using inner = ArrayMap.create(u32, { maxEntries: 4, name: `example_in${slot}` });
  for (let i = 0; i < 4; i++) inner.set(i, (slot + 1) * 100 + i);
  outer.set(slot, inner); // the outer map keeps the inner map alive after `inner` closes
}

console.log(`outer map id ${outer.map.id}, ${outer.len()} slots`);
for (const [slot, id] of outer) {
  using inner = outer.get(slot);
  console.log(`slot ${slot}: inner map id ${id} (${inner.map.name}) holds [${[...inner].map(([, v]) => v).join(', ')}]`);
}
try {
  outer.get(3);
} catch (err) {
  console.log(`slot 3: ${(err as Error).message}`);
}
