// Where the dashboard's views and assets are on disk. They sit beside this file in the source tree
// and are copied to dist/http/dashboard/ by `npm run build`; the bundled CLI (dist/kickstand/)
// runs from another folder, so the folder is found by walking up to the one that holds it.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Returns the absolute path of the dashboard folder `name` (`views` or `assets`); throws when it is nowhere above this module. */
export function dashboardDir(name: 'views' | 'assets', from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    for (const candidate of [join(dir, name), join(dir, 'http', 'dashboard', name)]) {
      if (existsSync(candidate)) return candidate;
    }
    if (dirname(dir) === dir) throw new Error(`dashboard ${name} folder not found above ${from} (run npm run build)`);
  }
}
