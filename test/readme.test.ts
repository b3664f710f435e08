// README.md's examples compile against the current API: every ```ts block is type-checked
// (test/readme-snippets.ts says how), so an example that stops matching the library fails
// here with the README line to fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkSnippets, fencedBlocks, readmeSnippets, ROOT } from './readme-snippets.js';

// Blocks with known faults, checked in the same compiler run: the check can fail, and
// names the line.
const FIXTURE = [
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
  '<!-- declare const ebpf: Ebpf; -->',
  '```ts',
  "ebpf.program('x').attach();   // declared names, and the check sees Program has no attach",
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

test('README: every TypeScript block type-checks against the built package', () => {
  const snippets = readmeSnippets();
  assert.ok(snippets.length >= 30, `README has ${snippets.length} TypeScript blocks`);
  const unchecked = snippets.filter((s) => s.noCheck);
  // The exemption is for pseudo-code and fragments: a few, not a way out.
  assert.ok(unchecked.length <= 8, `${unchecked.length} blocks marked no-check (lines ${unchecked.map((s) => s.line).join(', ')})`);

  const fixture = fencedBlocks(FIXTURE).filter((b) => b.lang === 'ts').map((b) => ({ ...b, source: 'fixture' }));
  assert.deepEqual(fixture.map((b) => [b.line, b.noCheck, b.declare]), [
    [2, false, undefined], [8, false, undefined], [12, false, undefined], [18, false, 'declare const ebpf: Ebpf;'], [23, true, undefined],
  ]);
  const errors = checkSnippets([...snippets, ...fixture]);

  const planted = errors.filter((e) => e.source === 'fixture');
  assert.deepEqual(planted.map((e) => e.line), [5, 14, 19], planted.map((e) => e.message).join('\n'));
  assert.match(planted[0]!.message, /TS2345: Argument of type 'string' is not assignable to parameter of type 'number'/);
  assert.match(planted[1]!.message, /TS2304: Cannot find name 'ArrayMap'/);
  assert.match(planted[2]!.message, /TS2339: Property 'attach' does not exist on type 'Program'/);

  const readme = errors.filter((e) => e.source !== 'fixture');
  assert.equal(
    readme.length,
    0,
    `README.md TypeScript blocks that do not compile:\n${readme.map((e) => `  ${e.source || '?'}:${e.line}: ${e.message.split('\n').join('\n      ')}`).join('\n')}`,
  );
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
function slugs(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fence = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) fence = !fence;
    const h = !fence && /^#{1,6}\s+(.*)$/.exec(line);
    if (!h) continue;
    const base = h[1]!.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

test('README: every link to a section of it names a heading', () => {
  const md = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const anchors = slugs(md);
  const broken = [...md.matchAll(/\]\(#([^)\s]+)\)/g)].map((m) => m[1]!).filter((a) => !anchors.has(a));
  assert.deepEqual(broken, [], `links to no heading: ${broken.join(', ')}`);
  assert.ok(anchors.has('compared-with-libbpf-aya-and-ciliumebpf') && anchors.has('the-raw-layer-tsbpfsys'));
});
