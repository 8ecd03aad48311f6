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

test('a write to one system keeps the others cached; MAC owners follow creates, MAC edits, renames and deletes', async () => {
  const store = openSqliteStore(':memory:');
  const a = 'aa:00:00:00:00:01';
  const b = 'aa:00:00:00:00:02';
  await store.createSystem({ name: 'one', macs: [a], profile: 'p' }, 1);
  await store.createSystem({ name: 'two', macs: [b], profile: 'p' }, 1);
  await store.transition('two', 2, () => ({ patch: { build: true, state: 'build', token: 't2', run: 1 }, issueToken: { token: 't2', run: 1, createdAt: 2, expiresAt: 99 } }));
  const one = (await store.getSystem('one'))!;
  const tok2 = (await store.findToken('t2'))!;
  const [byMac] = await store.findSystemsByMacs([a]);
  assert.equal(byMac, one, 'the MAC lookup answers with the cached system');
  // A boot storm's writes to other systems must not evict this one (its render is found by identity).
  await store.transition('two', 3, () => ({ patch: { stage: 'pxe' }, event: { run: 1, time: 3, stage: 'pxe', message: null, source: null, log: null } }));
  assert.equal(await store.getSystem('one'), one, 'a write to another system keeps this one cached');
  assert.equal((await store.getSystem('two'))!.stage, 'pxe', 'the written system is read anew');
  assert.equal(await store.findToken('t2'), tok2, 'a write that leaves the tokens alone keeps them cached');
  await store.transition('two', 4, () => ({ retireTokensAt: 4, patch: { build: false, state: 'built', token: null } }));
  assert.equal((await store.findToken('t2'))!.retiredAt, 4, 'retiring a system\'s tokens drops them from the cache');
  // MAC owners: an unknown MAC is remembered as nobody's until a system takes it.
  const c = 'aa:00:00:00:00:03';
  assert.deepEqual(await store.findSystemsByMacs([c]), []);
  await store.createSystem({ name: 'three', macs: [c], profile: 'p' }, 5);
  assert.equal((await store.findSystemsByMacs([c]))[0]!.name, 'three', 'a new system\'s MAC is found');
  await store.updateSystem('three', { macs: ['aa:00:00:00:00:04'] }, 6);
  assert.deepEqual(await store.findSystemsByMacs([c]), [], 'a MAC taken off a system is nobody\'s');
  await store.renameSystem('one', 'uno', 7);
  assert.equal((await store.findSystemsByMacs([a]))[0]!.name, 'uno', 'a renamed system keeps its MAC');
  await store.deleteSystem('uno');
  assert.deepEqual(await store.findSystemsByMacs([a]), [], 'a deleted system\'s MAC is nobody\'s');
  await store.close();
});

test('transitions asked for together commit together; one that throws is rolled back alone', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-store-'));
  try {
    const path = join(dir, 'kickstand.db');
    const store = openSqliteStore(path);
    for (const n of ['a', 'b', 'c']) await store.createSystem({ name: n, macs: [], profile: 'p', ip: n === 'a' ? '10.0.0.1' : null }, 1);
    const ev = (stage: string) => ({ run: 0, time: 2, stage, message: null, source: null, log: null });
    const a = store.transition('a', 2, () => ({ patch: { stage: 'pxe' }, event: ev('pxe') }));
    const b = store.transition('b', 2, () => {
      throw new Error('b refuses');
    });
    const c = store.transition('c', 2, () => ({ patch: { stage: 'pxe', hostname: 'x'.repeat(3) }, event: ev('pxe'), issueToken: { token: 'dup', run: 1, createdAt: 2, expiresAt: 9 } }));
    // The second c issues a token, then clashes on a's address: its token must not survive.
    const c2 = store.transition('c', 2, () => ({ issueToken: { token: 'c2', run: 2, createdAt: 2, expiresAt: 9 }, patch: { ip: '10.0.0.1' }, event: ev('late') }));
    const [ra, rb, rc, rc2] = await Promise.allSettled([a, b, c, c2]);
    assert.equal(ra.status, 'fulfilled');
    assert.equal(rb.status, 'rejected');
    assert.match(String((rb as PromiseRejectedResult).reason), /b refuses/);
    assert.equal(rc.status, 'fulfilled', 'c issued the token first');
    assert.equal(rc2.status, 'rejected', 'the second c clashes on the address: only it is undone');
    assert.equal(await store.findToken('c2'), null);
    assert.deepEqual((await store.listEvents('c')).map((e) => e.stage), ['pxe']);
    assert.deepEqual((await store.listEvents('a')).map((e) => e.stage), ['pxe']);
    assert.equal((await store.getSystem('b'))!.stage, null);
    // Queued and not yet run when the store closes: written before it closes.
    const late = store.transition('a', 3, () => ({ event: ev('closing') }));
    await store.close();
    await late;
    const again = openSqliteStore(path);
    assert.deepEqual((await again.listEvents('a')).map((e) => e.stage), ['pxe', 'closing']);
    await again.close();
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
