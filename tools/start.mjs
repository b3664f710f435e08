// npm start: the syscall-top demo (examples/syscall-top.ts), run from the built tree;
// nothing is compiled here. Plain JavaScript so that it runs before any build.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/examples/syscall-top.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('npm start: the demo is not built yet: run `npm run build` (or `npm ci`), then `npm start`');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
