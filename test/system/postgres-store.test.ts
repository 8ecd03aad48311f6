// The PostgreSQL store against a real PostgreSQL (Debian's package, started for this file): the
// shared conformance suite, then what only several instances on one database can show — one
// transition from concurrent reports on two instances, leases claimed once, caches and live views
// told of the other instance's writes within a second, and a database lost and found again.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { isRoot } from './lib/apt.ts';
import { startPostgres, type TestPostgres } from './lib/postgres.ts';
import { openPgStore, type PgStore } from '../../server/store/postgres.ts';
import { LEASE_POOL_SIZE } from '../../server/store/pg-base.ts';
import { runStoreConformance } from '../store/store.case.ts';
import { StoreError } from '../../server/errors.ts';
import type { RemoteChange } from '../../server/store/types.ts';
import { PG_MIGRATIONS } from '../../server/store/pg-migrations.ts';

// Under CI a test that cannot run must fail, not skip.
const skip = isRoot() || process.env.CI === 'true' ? false : 'needs root to run PostgreSQL as its own user';
let pg: TestPostgres | null = null;
let url = '';
const opened: PgStore[] = [];

/** Opens a store on the test database (closed at the end of the file). */
async function open(options: Partial<Parameters<typeof openPgStore>[0]> = {}): Promise<PgStore> {
  const s = await openPgStore({ url, feedRetryMs: 100, retryAfterMs: 200, ...options });
  opened.push(s);
  return s;
}

/** Empties the test database: the next store migrates it from scratch. */
async function reset(): Promise<void> {
  await pg!.sql('DROP SCHEMA public CASCADE; CREATE SCHEMA public', 'kickstand');
}

/** Waits until check() holds, polling every 20 ms, for at most ms. */
async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return Date.now() - t0;
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

before(async () => {
  if (skip) return;
  pg = await startPostgres();
  url = await pg.createDatabase('kickstand');
});

after(async () => {
  for (const s of opened) await s.close().catch(() => undefined);
  await pg?.stop();
});

runStoreConformance(
  'postgres',
  async () => {
    await reset();
    return open();
  },
  { skip },
);

describe('postgres store: several instances on one database', { skip }, () => {
  test('migrates a fresh database to the latest version, and a second instance finds it done', async () => {
    await reset();
    const [a, b] = await Promise.all([open(), open()]);
    assert.equal(a.schemaVersion(), PG_MIGRATIONS.length);
    assert.equal(b.schemaVersion(), PG_MIGRATIONS.length);
    const r = await pg!.sql('SELECT version FROM kickstand_schema', 'kickstand');
    assert.deepEqual(r.rows, [{ version: PG_MIGRATIONS.length }]);
  });

  test('the same built report on two instances at once makes one transition and one event', async () => {
    await reset();
    const [a, b] = await Promise.all([open(), open()]);
    await a.createSystem({ name: 'ng', macs: ['52:54:00:00:00:01'], profile: 'p' }, 1);
    await a.transition('ng', 2, () => ({ patch: { build: true, state: 'installing', run: 1 } }));
    const built = (store: PgStore, t: number) =>
      store.transition('ng', t, (s) => (s.state === 'built' ? null : { patch: { build: false, state: 'built' }, event: { run: s.run, time: t, stage: 'built', message: null, source: null, log: null } }));
    const results = await Promise.all([built(a, 3), built(b, 4), built(a, 5), built(b, 6), built(b, 7), built(a, 8)]);
    assert.equal(results.filter((r) => r.changed).length, 1);
    assert.deepEqual((await b.listEvents('ng')).map((e) => e.stage), ['built']);
  });

  test('two instances claiming the same addresses for different clients: each address goes to one', async () => {
    await reset();
    const [a, b] = await Promise.all([open(), open()]);
    const ips = Array.from({ length: 200 }, (_, i) => `10.9.${i >> 8}.${i & 255}`);
    // Client i of side x wants address i: both sides race for every address.
    const mac = (side: number, i: number) => `02:00:00:0${side}:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
    const claim = (store: PgStore, side: number) => Promise.all(ips.map((ip, i) => store.claimLeases([{ mac: mac(side, i), ip, hostname: null, state: 'offered', expiresAt: 10_000, updatedAt: 1 }], 5)));
    const [ra, rb] = await Promise.all([claim(a, 0xa), claim(b, 0xb)]);
    ips.forEach((ip, i) => assert.equal(ra[i]!.length + rb[i]!.length, 1, `${ip} refused to exactly one of the two`));
    const rows = await a.loadLeases();
    assert.equal(rows.length, ips.length);
    const winners = new Map(rows.map((l) => [l.ip, l.mac]));
    ips.forEach((ip, i) => assert.equal(winners.get(ip), ra[i]!.length === 0 ? mac(0xa, i) : mac(0xb, i)));
  });

  test('a lease claim prepared while the table was empty still finds a client by its MAC index once the table is full', async () => {
    // A named statement gets a generic plan after five runs; one made on an empty leases table
    // scans the whole table to release the client's other leases, and was kept as the table grew
    // (the PostgreSQL DHCP figure collapsed at 1,000/s). The store plans each run for its table.
    await reset();
    const s = await open({ poolSize: 1 });
    const lease = (i: number, state: 'offered' | 'bound') => ({ mac: `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, ip: `10.8.${i >> 8}.${i & 255}`, hostname: null, state, expiresAt: 10_000, updatedAt: 1 });
    for (let i = 0; i < 12; i++) assert.deepEqual(await s.claimLeases([lease(i, 'offered')], 5), []);
    await pg!.sql(`INSERT INTO leases (ip, mac, state, expires_at, updated_at) SELECT '10.7.' || (n / 256) || '.' || (n % 256), 'mac-' || n, 'bound', 10000, 1 FROM generate_series(0, 29999) n`, 'kickstand');
    const args = [`ARRAY['10.8.0.1']`, `ARRAY['02:00:00:00:00:01']`, `ARRAY[NULL]::text[]`, `ARRAY['bound']`, `ARRAY[10000]::bigint[]`, `ARRAY[1]::bigint[]`, '5'];
    // Claims run on DHCP's own connections (leasePool, LEASE_POOL_SIZE of them): explain it on each, as any may have prepared it.
    const held = await Promise.all(Array.from({ length: LEASE_POOL_SIZE }, () => s.leasePool.connect()));
    const plans = await Promise.all(held.map((c) => c.query(`EXPLAIN (FORMAT TEXT) EXECUTE ks_claim(${args.join(', ')})`).catch((e: Error) => ({ rows: [{ 'QUERY PLAN': `(not prepared here: ${e.message})` }] }))));
    for (const c of held) c.release();
    const plan = { rows: plans.flatMap((p) => p.rows) };
    assert.ok(plan.rows.some((r: Record<string, string>) => /Insert on leases/.test(r['QUERY PLAN']!)), 'the claim was prepared on a lease connection');
    const text = plan.rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');
    assert.doesNotMatch(text, /Seq Scan on leases/, `the claim reads the whole leases table:\n${text}`);
    assert.deepEqual(await s.claimLeases([lease(1, 'bound')], 5), []);
  });

  test('lease claims have connections of their own: an OFFER does not wait while every pooled connection is busy', async () => {
    await reset();
    const s = await open({ poolSize: 2 });
    // Two transactions hold the whole main pool (a storm's step reports, say); a third would queue.
    const busy = await Promise.all([s.pool.connect(), s.pool.connect()]);
    try {
      await busy[0]!.query('BEGIN');
      const t0 = performance.now();
      const refused = await s.claimLeases([{ mac: '02:00:00:00:09:01', ip: '10.9.0.1', hostname: null, state: 'offered', expiresAt: 10_000, updatedAt: 1 }], 5);
      assert.deepEqual(refused, []);
      assert.deepEqual((await s.findLeases(['02:00:00:00:09:01'])).map((l) => l.ip), ['10.9.0.1']);
      assert.ok(performance.now() - t0 < 5000, 'the claim and lookup did not wait for the main pool');
      assert.equal(s.pool.waitingCount, 0);
      await busy[0]!.query('ROLLBACK');
    } finally {
      for (const c of busy) c.release();
    }
  });

  test("an instance's cache and change feed learn of another instance's writes within a second", async () => {
    await reset();
    const [a, b] = await Promise.all([open(), open()]);
    await until(() => a.cacheTrusted && b.cacheTrusted, 5000, 'both feeds listening');
    await b.createSystem({ name: 'ng', macs: ['52:54:00:00:00:02'], profile: 'p' }, 1);
    // A caches the system, a MAC lookup, an address lookup and a token.
    await b.transition('ng', 2, () => ({ issueToken: { token: 'tok', run: 1, createdAt: 2, expiresAt: 99 }, patch: { build: true, state: 'build', token: 'tok' } }));
    assert.equal((await a.getSystem('ng'))!.state, 'build');
    assert.equal((await a.findSystemsByMacs(['52:54:00:00:00:02']))[0]!.state, 'build');
    assert.equal((await a.findToken('tok'))!.retiredAt, null);
    assert.equal(await a.findSystemByIp('10.0.0.9'), null);
    const seen: RemoteChange[] = [];
    a.onRemoteChange((c) => seen.push(c));
    await b.transition('ng', 3, (s) => ({
      retireTokensAt: 3,
      patch: { build: false, state: 'built', ip: '10.0.0.9' },
      event: { run: s.run, time: 3, stage: 'built', message: 'done', source: '10.0.0.9', log: 'a long log' },
    }));
    const ms = await until(async () => (await a.getSystem('ng'))!.state === 'built', 1000, 'A sees the system built');
    assert.ok(ms < 1000);
    assert.equal((await a.findSystemsByMacs(['52:54:00:00:00:02']))[0]!.state, 'built');
    assert.equal((await a.findToken('tok'))!.retiredAt, 3);
    assert.equal((await a.findSystemByIp('10.0.0.9'))!.name, 'ng', 'a "none found" answer is dropped when a system changes');
    await until(() => seen.length > 0, 1000, 'A hears of the event');
    assert.deepEqual(seen[0]!.systems, ['ng']);
    assert.equal(seen[0]!.events[0]!.stage, 'built');
    assert.equal(seen[0]!.events[0]!.log, null, 'installer logs stay out of NOTIFY');
  });

  test("one's own writes are seen at once, and cached objects cannot be changed by callers", async () => {
    await reset();
    const a = await open();
    await a.createSystem({ name: 'ng', macs: ['52:54:00:00:00:03'], profile: 'p' }, 1);
    assert.equal((await a.getSystem('ng'))!.hostname, null);
    await a.updateSystem('ng', { hostname: 'h' }, 2);
    const s = (await a.getSystem('ng'))!;
    assert.equal(s.hostname, 'h');
    assert.throws(() => (s.macs as string[]).push('x'), TypeError);
  });

  test('heartbeats: each instance sees the others with their age by the database clock', async () => {
    await reset();
    const [a, b] = await Promise.all([open(), open()]);
    await a.heartbeat('ks-a');
    await new Promise((r) => setTimeout(r, 150));
    const seen = await b.heartbeat('ks-b');
    const byName = new Map(seen.map((x) => [x.name, x.ageMs]));
    assert.equal(byName.get('ks-b'), 0);
    assert.ok(byName.get('ks-a')! >= 140 && byName.get('ks-a')! < 2000, `ks-a is ${byName.get('ks-a')} ms old`);
  });
});

describe('postgres store: bad databases and a database lost while running', { skip }, () => {
  test('a database with a newer schema is refused with one clear message', async () => {
    await reset();
    const a = await open();
    await a.close();
    await pg!.sql('UPDATE kickstand_schema SET version = 999', 'kickstand');
    await assert.rejects(open(), (e: unknown) => e instanceof StoreError && /schema version 999, newer than this kickstand knows/.test(e.message));
  });

  test('a read-only database is refused at start', async () => {
    await reset();
    await pg!.sql(`ALTER DATABASE kickstand SET default_transaction_read_only = on`);
    try {
      await assert.rejects(open(), (e: unknown) => e instanceof StoreError && /read-only/.test(e.message) && !/password/.test(e.message));
    } finally {
      await pg!.sql(`ALTER DATABASE kickstand SET default_transaction_read_only = off`);
    }
  });

  test('an unreachable server or a missing database is refused at start with the URL (password hidden)', async () => {
    const dead = `postgres://kick:s3cret@127.0.0.1:${pg!.port + 1}/kickstand`;
    await assert.rejects(openPgStore({ url: dead, connectTimeoutMs: 1000 }), (e: unknown) => e instanceof StoreError && /cannot connect/.test(e.message) && !e.message.includes('s3cret') && e.message.includes('***'));
    await assert.rejects(openPgStore({ url: pg!.url('nosuchdb') }), (e: unknown) => e instanceof StoreError && /nosuchdb/.test(e.message));
  });

  test('database lost: writes fail cleanly, cached reads still answer, and it recovers without a restart', async () => {
    await reset();
    const a = await open({ queryTimeoutMs: 2000, connectTimeoutMs: 1000 });
    await a.createSystem({ name: 'ng', macs: ['52:54:00:00:00:04'], profile: 'p' }, 1);
    await a.transition('ng', 2, () => ({ issueToken: { token: 'tk', run: 1, createdAt: 2, expiresAt: 99 }, patch: { build: true, state: 'build', token: 'tk' } }));
    await until(() => a.cacheTrusted, 5000, 'feed listening');
    assert.equal((await a.getSystem('ng'))!.build, true);
    assert.equal((await a.findToken('tk'))!.system, 'ng');
    assert.equal((await a.findSystemsByMacs(['52:54:00:00:00:04'])).length, 1);

    await pg!.pause();
    await until(() => !a.cacheTrusted, 10_000, 'feed notices the loss');
    await assert.rejects(
      a.transition('ng', 3, () => ({ patch: { state: 'installing' } })),
      (e: unknown) => e instanceof StoreError && e.code === 'unavailable',
    );
    await assert.rejects(a.claimLeases([{ mac: '52:54:00:00:00:04', ip: '10.1.1.1', hostname: null, state: 'bound', expiresAt: 9, updatedAt: 1 }], 3), StoreError);
    // What the boot path reads is still answered from the cache.
    assert.equal((await a.getSystem('ng'))!.build, true);
    assert.equal((await a.findToken('tk'))!.system, 'ng');
    assert.equal((await a.findSystemsByMacs(['52:54:00:00:00:04']))[0]!.name, 'ng');
    await assert.rejects(a.listSystems(), StoreError);

    await pg!.start();
    await until(() => a.cacheTrusted, 10_000, 'feed back');
    const r = await a.transition('ng', 4, () => ({ patch: { state: 'installing' } }));
    assert.equal(r.system.state, 'installing');
    assert.equal((await a.getSystem('ng'))!.state, 'installing');
    assert.equal((await a.listEvents('ng')).length, 0, 'the failed transition left nothing behind');
  });
});
