#!/usr/bin/env node
// Builds the native addons in native/ with node-gyp (run by `npm ci` as the package's install
// script; run it again by hand with `node native/build.mjs`). It needs python3, make and a C
// compiler; it uses the headers installed with Node (<prefix>/include/node) when they are there,
// so no download is needed, and lets node-gyp fetch them otherwise. native/tftpengine is optional:
// when it does not build, the install goes on and TFTP runs its JavaScript engine (tftp.engine auto).
import { existsSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

const here = dirname(new URL(import.meta.url).pathname);
const addons = ['netbind', 'tftpengine'];
/** Addons whose failure is a warning: the server has a fallback for them. */
const optional = new Set(['tftpengine']);
const prefix = resolve(process.execPath, '..', '..');
const nodedir = existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
// npm names its own node-gyp in npm_config_node_gyp for install scripts; by hand, use npm's copy.
const gyp = [process.env.npm_config_node_gyp, join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')].find((p) => p && existsSync(p));
const [cmd, pre] = gyp ? [process.execPath, [gyp]] : ['node-gyp', []];
for (const addon of addons) {
  const r = spawnSync(cmd, [...pre, 'rebuild', ...nodedir, `--directory=${join(here, addon)}`], { stdio: 'inherit' });
  if ((r.error || r.status !== 0) && optional.has(addon)) {
    // A half-built directory must not be loaded: the server finds the addon by its file.
    rmSync(join(here, addon, 'build'), { recursive: true, force: true });
    console.warn(`native/build.mjs: building native/${addon} failed (${r.error?.message ?? `exit ${r.status}`}); going on without it (TFTP serves with its JavaScript engine)`);
  } else if (r.error || r.status !== 0) {
    console.error(`native/build.mjs: building native/${addon} failed (${r.error?.message ?? `exit ${r.status}`}); it needs python3, make and a C compiler`);
    process.exit(1);
  }
}
