// Which engine runs the TFTP data path: `auto` is native when the addon is built and JavaScript
// otherwise, `native` without the addon is a ConfigError naming tftp.engine, the server says in one
// line which it runs; the addon is found from the package root wherever the code runs (server/
// through tsx, dist/ and the bundled dist/kickstand/); and an addon that does not compile leaves
// `npm install` (native/build.mjs) green, with the other addon built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../server/errors.ts';
import { findAddon, loadAddon, nativeAddon } from '../../server/tftp/native-engine.ts';
import { engineFor } from '../../server/tftp/settings.ts';
import { startServer } from './harness.ts';

const root = new URL('../..', import.meta.url).pathname;

test('auto runs the native engine when the addon is built and the JavaScript one when not; native without it is a ConfigError', () => {
  assert.equal(engineFor('auto', true), 'native');
  assert.equal(engineFor('auto', false), 'js');
  assert.equal(engineFor('js', true), 'js');
  assert.throws(
    () => engineFor('native', false, () => 'native/tftpengine/build/Release/tftpengine.node is not built'),
    (err: unknown) => err instanceof ConfigError && err.field === 'tftp.engine' && /not built/.test(err.message),
  );
});

test('the server says in one line which engine runs and why', async () => {
  const js = await startServer({ engine: 'js' });
  try {
    const lines = js.lines().filter((l) => /^tftp engine: /.test(String(l.msg)));
    assert.equal(lines.length, 1);
    assert.match(String(lines[0]!.msg), /^tftp engine: js .*\(tftp\.engine is js\)$/);
  } finally {
    await js.close();
  }
  if (!nativeAddon()) return; // workers.test.ts and the build tests need it built; this line is for auto
  const auto = await startServer({ engine: 'auto' });
  try {
    assert.ok(auto.lines().some((l) => /^tftp engine: native \(C over epoll, \d+ threads\)$/.test(String(l.msg))));
  } finally {
    await auto.close();
  }
});

test('the addon is found walking up from the module (dist/kickstand/ of a package), and a missing or broken one is null with the reason', () => {
  const pkg = mkdtempSync(join(tmpdir(), 'ks-engine-'));
  try {
    const rel = join('native', 'tftpengine', 'build', 'Release', 'tftpengine.node');
    mkdirSync(join(pkg, 'dist', 'kickstand'), { recursive: true });
    assert.equal(findAddon(join(pkg, 'dist', 'kickstand')), null);
    mkdirSync(join(pkg, rel, '..'), { recursive: true });
    writeFileSync(join(pkg, rel), 'not an ELF file');
    assert.equal(findAddon(join(pkg, 'dist', 'kickstand')), join(pkg, rel));
    const broken = loadAddon(join(pkg, rel));
    assert.equal(broken.addon, null);
    assert.match(broken.why, /does not load/);
    assert.match(loadAddon(null).why, /is not built/);
  } finally {
    rmSync(pkg, { recursive: true, force: true });
  }
});

test('a tftpengine that does not compile leaves native/build.mjs green, netbind built and no half-built tftpengine', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-native-build-'));
  try {
    for (const a of ['netbind', 'tftpengine']) cpSync(join(root, 'native', a), join(dir, a), { recursive: true, filter: (src) => !src.includes('/build') });
    cpSync(join(root, 'native', 'build.mjs'), join(dir, 'build.mjs'));
    appendFileSync(join(dir, 'tftpengine', 'loop.c'), '\n#error this engine does not compile here\n');
    const r = spawnSync(process.execPath, [join(dir, 'build.mjs')], { encoding: 'utf8', timeout: 290_000 });
    assert.equal(r.status, 0, `build.mjs failed:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /building native\/tftpengine failed .*JavaScript engine/);
    assert.ok(existsSync(join(dir, 'netbind', 'build', 'Release', 'netbind.node')), 'netbind built');
    assert.equal(existsSync(join(dir, 'tftpengine', 'build')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
