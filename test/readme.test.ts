// README.md's examples compile against the current API: every ```ts block is type-checked
// (test/readme-snippets.ts says how), so an example that stops matching the library fails
// here with the README line to fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSnippets, fencedBlocks, readmeSnippets } from './readme-snippets.js';

test('README: every TypeScript block type-checks against the built package', () => {
  const snippets = readmeSnippets();
  assert.ok(snippets.length >= 30, `README has ${snippets.length} TypeScript blocks`);
  const unchecked = snippets.filter((s) => s.noCheck);
  // The exemption is for pseudo-code and fragments: a few, not a way out.
  assert.ok(unchecked.length <= 8, `${unchecked.length} blocks marked no-check (lines ${unchecked.map((s) => s.line).join(', ')})`);
  const errors = checkSnippets(snippets);
  assert.equal(
    errors.length,
    0,
    `README.md TypeScript blocks that do not compile:\n${errors.map((e) => `  README.md:${e.line}: ${e.message.split('\n').join('\n      ')}`).join('\n')}`,
  );
});

test('README check: a wrong call fails and names its README line', () => {
  const md = [
    'text',
    '```ts',
    "import { ArrayMap, u32 } from 'tsbpf';",
    'using m = ArrayMap.create(u32, { maxEntries: 4 });',
    "m.set(0, 'not a number');",
    '```',
    '',
    '```ts',
    'u32.size;           // no import: every export of tsbpf is in scope',
    '```',
    '',
    '```ts',
    "import { u32 } from 'tsbpf';",
    'ArrayMap.create(u32, { maxEntries: 1 }); // imports its own names: ArrayMap is missing',
    '```',
    '',
    '<!-- no-check -->',
    '```ts',
    'X.tryFrom(map, ...shape)',
    '```',
    '```sh',
    'not typescript',
    '```',
  ].join('\n');
  const blocks = fencedBlocks(md).filter((b) => b.lang === 'ts');
  assert.deepEqual(blocks.map((b) => [b.line, b.noCheck]), [[2, false], [8, false], [12, false], [18, true]]);
  const errors = checkSnippets(blocks);
  assert.deepEqual(errors.map((e) => e.line), [5, 14]);
  assert.match(errors[0]!.message, /TS2345: Argument of type 'string' is not assignable to parameter of type 'number'/);
  assert.match(errors[1]!.message, /TS2304: Cannot find name 'ArrayMap'/);
});
