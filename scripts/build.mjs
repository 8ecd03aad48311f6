#!/usr/bin/env node
// `npm run build`: compiles server/ to dist/ with tsc (one .js per .ts, relative imports rewritten
// to .js), copies the files the code reads beside itself (dashboard views and assets), then bundles
// the CLI into dist/kickstand/ with esbuild so `kickstand` loads a few files instead of hundreds:
// module resolution, not our code, was most of a short command's start-up. Each command stays a
// separate chunk, loaded only when it runs. Native and worker-loaded packages stay external.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
// `--out DIR` builds somewhere else (the build test); dist/ by default.
const outAt = process.argv.indexOf('--out');
const dist = outAt > 0 ? resolve(process.argv[outAt + 1]) : join(root, 'dist');
const entry = join(dist, 'kickstand', 'main.js');

/** Returns the files below dir, sorted by path: what staleness and the build id are computed from. */
function filesBelow(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((e) => (e.isDirectory() ? filesBelow(join(dir, e.name)) : [join(dir, e.name)]));
}
const sourceFiles = [...filesBelow(join(root, 'server')), join(root, 'package-lock.json')];

// `--if-stale` (npm's prestart): build only when there is no build or a source is newer than it.
if (process.argv.includes('--if-stale') && existsSync(entry)) {
  const built = statSync(entry).mtimeMs;
  const sources = Math.max(...sourceFiles.map((p) => statSync(p).mtimeMs));
  if (sources <= built) process.exit(0);
}

rmSync(dist, { recursive: true, force: true });
// `--no-check` emits without type-checking (the build test: `npm test` type-checks already).
const check = process.argv.includes('--no-check') ? ['--noCheck'] : [];
const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', dist, ...check], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

for (const dir of ['views', 'assets']) {
  cpSync(join(root, 'server/http/dashboard', dir), join(dist, 'http/dashboard', dir), { recursive: true });
}

// The build id names this build's code (server/ and the lockfile): caches of derived data (the
// resolved profile set, server/build-id.ts) are valid only under the build that wrote them.
const buildId = (() => {
  const h = createHash('sha256');
  for (const p of sourceFiles) h.update(`${p.slice(root.length)}\0`).update(readFileSync(p)).update('\0');
  return h.digest('hex').slice(0, 32);
})();

await build({
  // The TFTP transfer worker is loaded by URL (./transfer-worker.js beside the chunk that spawns it),
  // so it is an entry point of its own under that name.
  entryPoints: [
    { in: join(dist, 'cli/main.js'), out: 'main' },
    { in: join(dist, 'tftp/transfer-worker.js'), out: 'transfer-worker' },
  ],
  outdir: join(dist, 'kickstand'),
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // better-sqlite3 loads a native addon; pino-pretty and thread-stream resolve files of their own.
  external: ['better-sqlite3', 'pino-pretty', 'thread-stream'],
  // Bundled CommonJS packages call require() for Node's built-ins; ESM has none, so give them one.
  banner: { js: "import { createRequire as __kickstandRequire } from 'node:module'; const require = __kickstandRequire(import.meta.url);" },
  legalComments: 'none',
  define: { __KICKSTAND_BUILD_ID__: JSON.stringify(buildId) },
  // Packages come from this checkout's node_modules also when --out builds elsewhere.
  nodePaths: [join(root, 'node_modules')],
  logLevel: 'warning',
});
console.log(`built ${dist} (compiled modules) and ${join(dist, 'kickstand')} (bundled CLI)`);
