// Where the package is installed: the nearest directory above a module that holds a
// package.json. A module of tsc's output sits in dist/src/<folder>/, one of the bundle in
// dist/bundle/, a source module in src/<folder>/: counting levels would hold for one
// layout only. The native addon (build/Release, prebuilds/) and package.json are found here.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's root directory, found upwards from the module at `moduleUrl` (its import.meta.url). */
export function packageRoot(moduleUrl: string): string {
  const start = dirname(fileURLToPath(moduleUrl));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return start;
  }
}
