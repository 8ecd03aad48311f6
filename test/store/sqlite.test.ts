import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../server/store/sqlite.ts';
import { StoreError } from '../../server/errors.ts';
import { MIGRATIONS } from '../../server/store/migrations.ts';
import { runStoreConformance } from './store.case.ts';

runStoreConformance('sqlite', () => openSqliteStore(':memory:'));

test('sqlite store persists across reopen, in WAL mode, at the latest schema version', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-store-'));
  try {
    const path = join(dir, 'kickstand.db');
    const a = openSqliteStore(path);
    await a.createSystem({ name: 'ng', macs: ['00:16:3e:84:b5:99'], profile: 'p' }, 1);
    await a.saveLeases([{ mac: '00:16:3e:84:b5:99', ip: '10.1.1.1', hostname: null, state: 'bound', expiresAt: 9, updatedAt: 1 }]);
    assert.equal(a.schemaVersion(), MIGRATIONS.length);
    await a.close();
    assert.ok(statSync(path).size > 0);
    const b = openSqliteStore(path);
    assert.equal((await b.getSystem('ng'))!.macs[0], '00:16:3e:84:b5:99');
    assert.equal((await b.loadLeases())[0]!.ip, '10.1.1.1');
    await b.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a database of schema 1 migrates: its systems are counted by state, its tokens unbound; files stay 0600', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-store-'));
  try {
    const path = join(dir, 'kickstand.db');
    const old = new Database(path);
    old.exec(MIGRATIONS[0]!);
    old.pragma('user_version = 1');
    const ins = old.prepare("INSERT INTO systems (name, state, created_at, updated_at, state_changed_at) VALUES (?, ?, 1, 1, 1)");
    for (const [name, state] of [['a', 'built'], ['b', 'built'], ['c', 'discovered']]) ins.run(name, state);
    old.prepare('INSERT INTO tokens (token, system, run, created_at, expires_at) VALUES (?, ?, 1, 1, 9)').run('t1', 'a');
    old.close();
    chmodSync(path, 0o644);
    const store = openSqliteStore(path);
    assert.equal(store.schemaVersion(), MIGRATIONS.length);
    assert.deepEqual((await store.countSystems(0)).byState, { registered: 0, build: 0, installing: 0, built: 2, failed: 0, discovered: 1 });
    assert.equal((await store.findToken('t1'))!.boundIp, null);
    assert.equal(statSync(path).mode & 0o777, 0o600, 'an older install\'s database is made private');
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a server reading through its cache sees what another connection (the CLI) wrote', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-store-'));
  try {
    const path = join(dir, 'kickstand.db');
    // recheckMs 0: look for the other connection's commits on every read, so the test needs no sleeps.
    const server = openSqliteStore(path, { recheckMs: 0 });
    const cli = openSqliteStore(path);
    await server.createSystem({ name: 'ng', macs: ['00:16:3e:84:b5:99'], profile: 'p' }, 1);
    assert.equal((await server.getSystem('ng'))!.build, false, 'now cached');
    await cli.transition('ng', 2, () => ({ patch: { build: true, state: 'build', token: 't1' }, issueToken: { token: 't1', run: 1, createdAt: 2, expiresAt: 9 } }));
    assert.equal((await server.getSystem('ng'))!.build, true, 'the other connection\'s commit is seen');
    assert.equal((await server.findToken('t1'))!.retiredAt, null);
    await cli.transition('ng', 3, () => ({ retireTokensAt: 3 }));
    assert.equal((await server.findToken('t1'))!.retiredAt, 3);
    // Own writes are seen at once too, and cached objects cannot be changed by callers.
    await server.updateSystem('ng', { hostname: 'h' }, 4);
    const s = (await server.getSystem('ng'))!;
    assert.equal(s.hostname, 'h');
    assert.throws(() => {
      (s.macs as string[]).push('x');
    }, TypeError);
    await server.close();
    await cli.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('with the default recheck interval, another connection\'s commit is seen within it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-store-'));
  try {
    const path = join(dir, 'kickstand.db');
    const server = openSqliteStore(path, { recheckMs: 30 });
    const cli = openSqliteStore(path);
    await server.createSystem({ name: 'ng', macs: ['00:16:3e:84:b5:99'], profile: 'p' }, 1);
    assert.equal((await server.getSystem('ng'))!.hostname, null);
    await cli.updateSystem('ng', { hostname: 'from-cli' }, 2);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal((await server.getSystem('ng'))!.hostname, 'from-cli');
    await server.close();
    await cli.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('migration 5 keys leases by address: where an address moved between clients the newest row stays', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-store-'));
  try {
    const path = join(dir, 'kickstand.db');
    // A database as kickstand left it before migration 5: leases keyed by MAC.
    const db = new Database(path);
    db.exec('BEGIN');
    for (const sql of MIGRATIONS.slice(0, 4)) db.exec(sql);
    db.exec('PRAGMA user_version = 4');
    const ins = db.prepare('INSERT INTO leases (mac, ip, hostname, state, expires_at, updated_at) VALUES (?, ?, NULL, ?, ?, ?)');
    ins.run('02:00:00:00:00:01', '10.0.0.5', 'bound', 100, 1);
    ins.run('02:00:00:00:00:02', '10.0.0.5', 'bound', 200, 2);
    ins.run('02:00:00:00:00:03', '10.0.0.6', 'released', 50, 3);
    db.exec('COMMIT');
    db.close();
    const store = openSqliteStore(path);
    assert.equal(store.schemaVersion(), MIGRATIONS.length);
    assert.deepEqual((await store.loadLeases()).map((l) => [l.ip, l.mac, l.state]), [['10.0.0.5', '02:00:00:00:00:02', 'bound'], ['10.0.0.6', '02:00:00:00:00:03', 'released']]);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a database written by a newer kickstand is refused with one clear StoreError, and left as it was', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-store-'));
  try {
    const path = join(dir, 'kickstand.db');
    const db = new Database(path);
    db.exec(`PRAGMA user_version = ${MIGRATIONS.length + 5}`);
    db.close();
    assert.throws(() => openSqliteStore(path), (e: unknown) => e instanceof StoreError && /schema version \d+ is newer than this kickstand knows/.test(e.message));
    const again = new Database(path);
    assert.equal(again.pragma('user_version', { simple: true }), MIGRATIONS.length + 5);
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
