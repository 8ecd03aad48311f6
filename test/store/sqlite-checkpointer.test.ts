// WAL checkpoints on a worker: the server's connection never checkpoints (its automatic
// checkpoint is off), yet the database file catches up with the WAL, and stopping the worker
// gives checkpoints back to the connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../../server/store/sqlite.ts';
import { BackgroundCheckpointer } from '../../server/store/sqlite-checkpointer.ts';

const lease = (i: number) => ({ mac: `52:54:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, ip: `10.1.${(i >> 8) & 255}.${i & 255}`, hostname: null, state: 'bound' as const, expiresAt: 1, updatedAt: 1 });

async function until(pred: () => boolean, what: string, limitMs = 5000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('with backgroundCheckpoint the connection never checkpoints, and the worker moves the WAL into the database file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-ckpt-'));
  const path = join(dir, 'k.db');
  const errors: string[] = [];
  const store = openSqliteStore(path, { backgroundCheckpoint: true, onError: (m) => errors.push(m) });
  try {
    assert.equal((store as unknown as { db: Database.Database }).db.pragma('wal_autocheckpoint', { simple: true }), 0);
    const before = statSync(path).size;
    for (let b = 0; b < 20; b++) await store.saveLeases(Array.from({ length: 200 }, (_, i) => lease(b * 200 + i)));
    assert.ok(statSync(`${path}-wal`).size > 200 * 1024, 'the writes went to the WAL');
    await until(() => statSync(path).size > before + 100 * 1024, 'the database file to take in the WAL');
    assert.deepEqual(errors, []);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stop() ends the worker and turns the automatic checkpoint back on', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-ckpt-'));
  const db = new Database(join(dir, 'k.db'));
  try {
    db.pragma('journal_mode = WAL');
    const c = new BackgroundCheckpointer(db, join(dir, 'k.db'));
    assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 0);
    await c.stop();
    assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 1000);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the worker does not keep the process alive: a script that never closes the store still exits', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-ckpt-'));
  try {
    const store = new URL('../../server/store/sqlite.ts', import.meta.url).pathname;
    const script = join(dir, 'open.mts');
    writeFileSync(script, `import { openSqliteStore } from ${JSON.stringify(store)};\nconst s = openSqliteStore(${JSON.stringify(join(dir, 'k.db'))}, { backgroundCheckpoint: true });\nawait s.saveLeases([]);\nconsole.log('opened');\n`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.signal, null, 'killed by the timeout: the worker held the process');
    assert.equal(r.stdout.trim(), 'opened', r.stderr);
    assert.equal(r.status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
