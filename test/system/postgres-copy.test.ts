// `kickstand store copy` moves a SQLite installation to PostgreSQL as an operator runs it: every
// system, MAC, token, event and lease arrives unchanged, ids continue after the copied ones, and a
// target that is not empty or a column with nowhere to go stops the copy with nothing written.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { isRoot } from './lib/apt.ts';
import { startPostgres, type TestPostgres } from './lib/postgres.ts';
import { openSqliteStore } from '../../server/store/sqlite.ts';
import { openPgStore } from '../../server/store/postgres.ts';
import { ROOT } from '../../bench/lib/kickstand.ts';
import type { Store } from '../../server/store/types.ts';

const skip = isRoot() || process.env.CI === 'true' ? false : 'needs root to run PostgreSQL as its own user';
let pg: TestPostgres | null = null;
let dir = '';

before(async () => {
  if (skip) return;
  pg = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'ks-pgcopy-'));
});

after(async () => {
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs the kickstand CLI; returns exit code, stdout and stderr. */
function cli(...args: string[]) {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KICKSTAND_')) env[k] = v;
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'server/cli/main.ts', ...args], { cwd: ROOT, env: { ...env, KICKSTAND_DATA_DIR: join(dir, 'unused') }, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Fills a SQLite store the way a running installation would have. */
async function fill(store: Store): Promise<void> {
  await store.createSystem({ name: 'ng', displayName: 'NG', macs: ['00:16:3e:84:b5:99', '00:16:3e:84:b5:9a'], ip: '10.0.0.5', hostname: 'ngtest', profile: 'centos44-hvm', overrides: { xen: { vcpus: 4, memory: 512 }, a: [1, 'two'] } }, 1000);
  await store.createSystem({ name: 'discovered-525400000001', macs: ['52:54:00:00:00:01'], profile: null, state: 'discovered' }, 1001);
  for (let run = 1; run <= 3; run++) {
    await store.transition('ng', 1000 + run * 10, (s) => ({
      retireTokensAt: 1000 + run * 10,
      issueToken: { token: `tok-${run}`, run, createdAt: 1000 + run * 10, expiresAt: 99_999 },
      patch: { build: true, state: 'build', run, token: `tok-${run}`, tokenExpiresAt: 99_999 },
      event: { run, time: 1000 + run * 10, stage: 'armed', message: `run ${run}`, source: '127.0.0.1', log: null },
    }));
    await store.transition('ng', 1001 + run * 10, (s) => ({ event: { run: s.run, time: 1001 + run * 10, stage: 'failed', message: 'disk', source: '10.0.0.5', log: 'line 1\nline 2 ünïcode' } }));
  }
  await store.transition('ng', 2000, () => ({ patch: { build: false, state: 'built', stage: 'built', lastEventAt: 2000 } }));
  await store.setPowerSettings({ system: 'ng', driver: 'ipmi', address: '10.0.0.9', user: 'admin', secret: 'v1:sealed', options: { port: 623, uefi: true } }, 2100);
  await store.saveLeases([
    { mac: '00:16:3e:84:b5:99', ip: '10.0.0.5', hostname: 'ngtest', state: 'bound', expiresAt: 9_999_999, updatedAt: 5 },
    { mac: '52:54:00:00:00:01', ip: '10.0.0.100', hostname: null, state: 'released', expiresAt: 6, updatedAt: 6 },
  ]);
}

/** Returns everything a store holds, for comparing two stores. */
async function dump(store: Store) {
  const systems = await store.listSystems();
  const events = await Promise.all(systems.map((s) => store.listEvents(s.name)));
  const tokens = await Promise.all(['tok-1', 'tok-2', 'tok-3'].map((t) => store.findToken(t)));
  return { systems: systems.map((s) => ({ ...s })), events, tokens: tokens.map((t) => ({ ...t })), leases: await store.loadLeases(), power: await store.listPowerSettings() };
}

describe('kickstand store copy', { skip }, () => {
  test('copies every system, token, event and lease unchanged and says what it copied; new ids continue after the copied ones', async () => {
    const from = join(dir, 'full.db');
    const source = openSqliteStore(from);
    await fill(source);
    const expected = await dump(source);
    await source.close();
    const url = await pg!.createDatabase('copy_full');
    const r = cli('store', 'copy', '--from', from, '--to', url.replace('postgres@', 'postgres:pw@'));
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^copied .*full\.db to postgres:\/\/postgres:\*\*\*@\/copy_full.*: 17 rows$/m);
    assert.match(r.out, /^ {2}systems\s+2$/m);
    assert.match(r.out, /^ {2}system_macs\s+3$/m);
    assert.match(r.out, /^ {2}tokens\s+3$/m);
    assert.match(r.out, /^ {2}events\s+6$/m);
    assert.match(r.out, /^ {2}leases\s+2$/m);
    assert.match(r.out, /^ {2}power_settings\s+1$/m);
    assert.ok(!r.out.includes(':pw@'), 'no password printed');
    const target = await openPgStore({ url, listen: false });
    try {
      assert.deepEqual(await dump(target), expected);
      const next = await target.transition('ng', 3000, (s) => ({ event: { run: s.run, time: 3000, stage: 'booted', message: null, source: null, log: null } }));
      assert.equal(next.event!.id, Math.max(...expected.events.flat().map((e) => e.id)) + 1);
    } finally {
      await target.close();
    }
    const again = cli('store', 'copy', '--from', from, '--to', url);
    assert.equal(again.code, 1);
    assert.match(again.err, /^kickstand: store copy: .* already holds 2 rows in systems; copy needs an empty database \(nothing was copied\)$/m);
  });

  test('a SQLite column with no PostgreSQL equivalent stops the copy before anything is written', async () => {
    const from = join(dir, 'extra.db');
    const source = openSqliteStore(from);
    await fill(source);
    await source.close();
    const db = new Database(from);
    db.exec('ALTER TABLE systems ADD COLUMN colour TEXT');
    db.close();
    const url = await pg!.createDatabase('copy_extra');
    const r = cli('store', 'copy', '--from', from, '--to', url);
    assert.equal(r.code, 1);
    assert.match(r.err, /column systems\.colour has no PostgreSQL equivalent in this kickstand; nothing was copied/);
    assert.equal(r.err.trim().split('\n').length, 1);
    const n = await pg!.sql('SELECT count(*)::int AS n FROM systems', 'copy_extra');
    assert.equal(n.rows[0].n, 0);
  });

  test('bad usage and a missing source are one line each', () => {
    assert.match(cli('store', 'copy', '--from', join(dir, 'nope.db'), '--to', pg!.url('x')).err, /^kickstand: store copy: no SQLite database at .*nope\.db\n$/);
    const usage = cli('store', 'copy', '--from', 'x.db', '--to', 'mysql://h/db');
    assert.equal(usage.code, 2);
    assert.match(usage.err, /--to must be a PostgreSQL URL/);
    assert.equal(cli('store', 'copy', '--from', 'x.db').code, 2);
  });
});
