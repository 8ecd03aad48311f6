#!/usr/bin/env node
// The installed `kickstand` command: runs the compiled, bundled CLI (dist/kickstand/) with plain node.
// `npm run build` makes it; from a source checkout without a build, `npm run kickstand -- …` runs
// the TypeScript through tsx instead.
import { existsSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath } from 'node:url';

// Node 22.1 and later keep V8's compiled code between runs; Node 20 has no such cache and skips it.
module.enableCompileCache?.();

const entry = fileURLToPath(new URL('../dist/kickstand/main.js', import.meta.url));
if (!existsSync(entry)) {
  process.stderr.write(`kickstand: ${entry} is missing; run \`npm run build\` first\n`);
  process.exit(1);
}
const { main } = await import(entry);
main();
