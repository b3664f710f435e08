// The command's tables (src/cli/output.ts): columns aligned by what a terminal shows,
// colour codes taking no room, wide characters two columns, a cell of several lines
// making its row that high; the layout cli-table3 gave before it was dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { displayWidth, makeOutput, table } from '../src/cli/output.js';

test('cli table: columns two spaces apart, aligned by display width, lines trimmed', () => {
  const plain = makeOutput(false, false);
  assert.equal(table(plain, ['ID', 'NAME', 'X'], [[1, 'long_name', ''], [12345n, 'a', 'z']]), 'ID     NAME       X\n1      long_name\n12345  a          z');
  assert.equal(table(plain, ['ID', 'NAME'], []), 'ID  NAME');
  assert.equal(table(plain, ['A', 'B'], [['日本', 'x'], ['ab\ncd', 'y']]), 'A     B\n日本  x\nab    y\ncd');
  const color = makeOutput(false, true);
  assert.equal(table(color, ['K', 'V'], [[color.c.cyan('cyan'), 'v']]), '\u001b[1mK\u001b[22m     \u001b[1mV\u001b[22m\n\u001b[36mcyan\u001b[39m  v');
  assert.deepEqual(['abc', '\u001b[36mab\u001b[39m', '日本', 'é', 'e\u0301', '😀', ''].map(displayWidth), [3, 2, 4, 1, 1, 2, 0]);
});
