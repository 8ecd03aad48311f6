#!/usr/bin/env node
// Runs one suite with node's test runner through tsx: `unit` (Node alone), `system` (root, real
// peers, Debian packages), `e2e` (QEMU boots). Node 20's `--test` takes no globs, so files are listed here.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const suite = process.argv[2] ?? 'unit';
const root = new URL('..', import.meta.url).pathname;

/** Returns every *.test.ts below dir. */
function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const all = walk(join(root, 'test')).map((p) => relative(root, p)).sort();
const pick = {
  unit: all.filter((p) => !p.startsWith('test/system/') && !p.startsWith('test/e2e/')),
  system: all.filter((p) => p.startsWith('test/system/')),
  e2e: all.filter((p) => p.startsWith('test/e2e/')),
}[suite];
if (!pick) {
  console.error(`unknown suite ${JSON.stringify(suite)} (unit, system, e2e)`);
  process.exit(2);
}
if (suite === 'system') {
  // The system suite includes the end-to-end boots.
  pick.push(...all.filter((p) => p.startsWith('test/e2e/')));
}
if (pick.length === 0) {
  console.error(`no test files for suite ${suite}`);
  process.exit(1);
}
const args = ['--import', 'tsx', '--test', '--test-reporter=spec'];
if (suite !== 'unit') args.push('--test-concurrency=1');
const r = spawnSync(process.execPath, [...args, ...pick], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
