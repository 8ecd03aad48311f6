// The data folder: private modes, and one server at a time. A second `kickstand serve` on a held
// folder exits 1 with one line naming the holder's PID; the CLI keeps working beside the server;
// a crashed holder's lock is gone with its process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../server/config/load.ts';
import { lockDataDir, prepareDataDir } from '../server/data-dir.ts';
import { ConflictError } from '../server/errors.ts';
import { silentLogger } from '../server/log.ts';
import { startKickstand } from '../server/main.ts';

const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const mode = (p: string) => statSync(p).mode & 0o777;

test('the data folder is made 0700 (an existing one is tightened) and the database files 0600', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-datadir-'));
  try {
    const data = join(dir, 'var');
    assert.equal(prepareDataDir(data), false);
    assert.equal(mode(data), 0o700);
    chmodSync(data, 0o755);
    assert.equal(prepareDataDir(data), true);
    assert.equal(mode(data), 0o700);
    const config = loadConfig({ cwd: ROOT, isRoot: false, env: { KICKSTAND_DATA_DIR: join(dir, 'fresh'), KICKSTAND_ISOS_DIR: join(dir, 'isos'), KICKSTAND_HTTP__HOST: '127.0.0.1', KICKSTAND_HTTP__PORT: '0', KICKSTAND_TFTP__ENABLED: 'false' } });
    const running = await startKickstand(config, silentLogger());
    try {
      await running.lifecycle.store.createSystem({ name: 'ng', macs: ['00:16:3e:84:b5:99'], profile: 'centos44-hvm' }, 1);
      assert.equal(mode(join(dir, 'fresh')), 0o700);
      for (const f of ['kickstand.db', 'kickstand.db-wal', 'kickstand.db-shm', 'admin-token', 'serve.lock', 'serve.pid']) assert.equal(mode(join(dir, 'fresh', f)), 0o600, f);
    } finally {
      await running.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a second lock on a held data folder is a ConflictError naming the holder; released, it can be taken again', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-lock-'));
  try {
    const lock = lockDataDir(dir);
    assert.throws(() => lockDataDir(dir), (e: unknown) => e instanceof ConflictError && e.message === `data folder ${dir} is in use by another kickstand process (pid ${process.pid}); stop it first, or give this one another data_dir`);
    lock.release();
    lock.release();
    lockDataDir(dir).release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a lock held by a process that died is free again (the kernel drops it), whatever its PID file says', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-lock-'));
  try {
    const code = `const D = require(${JSON.stringify(join(ROOT, 'node_modules/better-sqlite3'))}); const db = new D(${JSON.stringify(join(dir, 'serve.lock'))}); db.exec('BEGIN EXCLUSIVE'); require('fs').writeFileSync(${JSON.stringify(join(dir, 'serve.pid'))}, process.pid + '\\n'); process.kill(process.pid, 'SIGKILL');`;
    spawnSync(process.execPath, ['-e', code]);
    lockDataDir(dir).release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kickstand serve on a held data folder exits 1 with one line naming the PID; the CLI works beside the server', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-lock-serve-'));
  const cfg = join(dir, 'kickstand.yaml');
  mkdirSync(join(dir, 'isos'));
  writeFileSync(cfg, JSON.stringify({ data_dir: join(dir, 'var'), isos_dir: join(dir, 'isos'), profiles_dir: join(ROOT, 'profiles'), templates_dir: join(ROOT, 'templates'), http: { host: '127.0.0.1', port: 0 }, tftp: { enabled: false } }));
  const running = await startKickstand(loadConfig({ file: cfg, isRoot: false }), silentLogger());
  try {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KICKSTAND_')));
    const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'server/cli/main.ts'), ...args, '--config', cfg], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
    const second = cli(['serve']);
    assert.equal(second.status, 1, second.stderr);
    assert.equal(second.stderr, `kickstand: data folder ${join(dir, 'var')} is in use by another kickstand process (pid ${process.pid}); stop it first, or give this one another data_dir\n`);
    const add = cli(['system', 'add', 'ng', '--mac', '00:16:3e:84:b5:99', '--profile', 'centos44-hvm']);
    assert.equal(add.status, 0, add.stderr);
    assert.equal((await running.lifecycle.store.getSystem('ng'))?.name, 'ng', 'the server sees what the CLI wrote');
  } finally {
    await running.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
