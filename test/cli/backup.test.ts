// `kickstand backup` while a real server takes a steady write load (systems registered, kickstarts
// fetched, steps reported over HTTP), then `kickstand restore`: refused while the server holds the
// data folder, accepted once it stopped, and the restored database passes PRAGMA integrity_check
// and holds exactly the systems and events of the backup, which a restarted server then serves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { loadConfig } from '../../server/config/load.ts';
import { silentLogger } from '../../server/log.ts';
import { startKickstand } from '../../server/main.ts';

const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');
const TOKEN = 'backup-test-admin-token-0123456789';

/** Runs the CLI (TypeScript through tsx) without blocking this process's event loop (the server runs on it). */
function cli(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server/cli/main.ts'), ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

/** Every row of the tables a restore must bring back, in a stable order. */
function rows(file: string): Record<string, unknown[]> {
  const db = new Database(file, { readonly: true });
  try {
    const out: Record<string, unknown[]> = {};
    for (const t of ['systems', 'system_macs', 'tokens', 'events']) out[t] = db.prepare(`SELECT * FROM ${t} ORDER BY rowid`).all();
    return out;
  } finally {
    db.close();
  }
}

function integrity(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    return (db.pragma('integrity_check') as Array<{ integrity_check: string }>).map((r) => r.integrity_check).join('; ');
  } finally {
    db.close();
  }
}

test('backup during a write load, restore refused while serving, restored database identical to the backup', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-backup-'));
  const env = { KICKSTAND_DATA_DIR: join(dir, 'var'), KICKSTAND_ISOS_DIR: join(dir, 'isos'), KICKSTAND_AUTH__ADMIN_TOKEN: TOKEN, KICKSTAND_HTTP__HOST: '127.0.0.1', KICKSTAND_HTTP__PORT: '0', KICKSTAND_TFTP__ENABLED: 'false', KICKSTAND_CONFIG: '' };
  const config = () => loadConfig({ cwd: ROOT, isRoot: false, env });
  const backup = join(dir, 'backup.db');
  let running = await startKickstand(config(), silentLogger());
  try {
    const base = `http://127.0.0.1:${running.httpPort}`;
    const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    let stop = false;
    let made = 0;
    // Four writers: each registers an armed system, fetches its kickstart and reports a step.
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const mac = `52:54:00:${w.toString(16).padStart(2, '0')}:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
        const r = await fetch(`${base}/api/v1/systems`, { method: 'POST', headers, body: JSON.stringify({ name: `load-${w}-${i}`, macs: [mac], profile: 'el9-kvm', build: true }) });
        assert.equal(r.status, 201, await r.clone().text());
        const token = String(((await r.json()) as { urls: { kickstart: string } }).urls.kickstart).split('/ks/')[1]!;
        assert.equal((await fetch(`${base}/ks/${token}`)).status, 200);
        assert.equal((await fetch(`${base}/events/${token}/partitioned`, { method: 'POST' })).status, 200);
        made++;
      }
    };
    const writers = [0, 1, 2, 3].map(writer);
    while (made < 20) await new Promise((r) => setTimeout(r, 20));
    const atStart = made;
    const b = await cli(env, 'backup', backup);
    const atEnd = made;
    stop = true;
    await Promise.all(writers);
    assert.equal(b.code, 0, b.err);
    assert.match(b.out, /integrity ok/);
    assert.ok(atEnd > atStart, 'the writers kept writing while the backup ran');

    assert.equal(integrity(backup), 'ok');
    const saved = rows(backup);
    assert.ok(saved.systems!.length >= atStart && saved.systems!.length <= made, `${saved.systems!.length} systems in the backup, ${atStart}…${made} written around it`);
    // Consistent: every event's and token's system is in it, and every system has its token.
    const names = new Set(saved.systems!.map((s) => (s as { name: string }).name));
    for (const e of saved.events!) assert.ok(names.has((e as { system: string }).system));
    for (const t of saved.tokens!) assert.ok(names.has((t as { system: string }).system));
    // Registering an armed system is two commits (the system, then arming it): a backup may fall
    // between them for the one registration each writer has in flight, never for more.
    const tokened = new Set(saved.tokens!.map((t) => (t as { system: string }).system));
    const unarmed = saved.systems!.filter((s) => !tokened.has((s as { name: string }).name));
    assert.ok(unarmed.length <= 4, `${unarmed.length} systems without their token in the backup`);
    for (const s of unarmed) assert.equal((s as { state: string }).state, 'registered');
    assert.ok(!existsSync(`${backup}-wal`), 'the backup is one file');
    assert.equal(statSync(backup).mode & 0o777, 0o600, 'the backup holds tokens and secrets: private like the data folder');

    const refused = await cli(env, 'restore', backup);
    assert.equal(refused.code, 1);
    assert.match(refused.err, new RegExp(`in use by another kickstand process \\(pid ${process.pid}\\)`));
    assert.equal(rows(join(dir, 'var', 'kickstand.db')).systems!.length, made, 'the refused restore changed nothing');

    await running.close();
    const restored = await cli(env, 'restore', backup);
    assert.equal(restored.code, 0, restored.err);
    assert.match(restored.out, new RegExp(`restored ${saved.systems!.length} systems and ${saved.events!.length} events`));
    const db = join(dir, 'var', 'kickstand.db');
    assert.equal(integrity(db), 'ok');
    assert.deepEqual(rows(db), saved);
    const kept = readdirSync(join(dir, 'var')).filter((f) => f.startsWith('kickstand.db.before-restore-'));
    assert.equal(kept.length, 1, 'the replaced database is kept');
    assert.equal(rows(join(dir, 'var', kept[0]!)).systems!.length, made);

    running = await startKickstand(config(), silentLogger());
    // Every page of the listing (a busy run writes more systems than one page holds).
    const listed = new Set<string>();
    for (let cursor: string | null = ''; cursor !== null; ) {
      const url = `http://127.0.0.1:${running.httpPort}/api/v1/systems${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = (await (await fetch(url, { headers })).json()) as { systems: Array<{ name: string }>; next_cursor: string | null };
      for (const s of page.systems) listed.add(s.name);
      cursor = page.next_cursor;
    }
    assert.deepEqual(listed, names);
  } finally {
    await running.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('restore refuses a file that is not a sound kickstand database and changes nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-restore-'));
  try {
    const env = { KICKSTAND_DATA_DIR: join(dir, 'var'), KICKSTAND_CONFIG: '' };
    const junk = join(dir, 'junk.db');
    const other = new Database(junk);
    other.exec('CREATE TABLE t (x)');
    other.close();
    const r = await cli(env, 'restore', junk);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /junk\.db: schema version 0 is not one this kickstand knows/);
    const missing = await cli(env, 'restore', join(dir, 'nope.db'));
    assert.match(missing.err, /nope\.db: no such file/);
    assert.ok(!existsSync(join(dir, 'var', 'kickstand.db')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('backup and restore refuse a PostgreSQL store (store.url) and name it, touching nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-backup-pg-'));
  try {
    const env = { KICKSTAND_DATA_DIR: join(dir, 'var'), KICKSTAND_CONFIG: '', KICKSTAND_STORE__URL: 'postgres://kickstand@127.0.0.1:1/kickstand' };
    for (const args of [['backup', join(dir, 'b.db')], ['restore', join(dir, 'b.db')]]) {
      const r = await cli(env, ...args);
      assert.notEqual(r.code, 0, args[0]);
      assert.match(r.err, new RegExp(`${args[0]}: store\\.url is set: the database is PostgreSQL`));
    }
    assert.ok(!existsSync(join(dir, 'b.db')));
    assert.ok(!existsSync(join(dir, 'var', 'kickstand.db')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
