import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../server/config/load.ts';
import { ConfigError } from '../../server/errors.ts';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'ks-config-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const PG = 'postgres://kick:pw@db.example:5432/kickstand';

test('store: SQLite by default; KICKSTAND_STORE__URL selects PostgreSQL with a pool of 10', () => {
  withDir((dir) => {
    const c = loadConfig({ env: {}, cwd: dir, isRoot: false });
    assert.equal(c.store.url, undefined);
    const pg = loadConfig({ env: { KICKSTAND_STORE__URL: PG, KICKSTAND_STORE__POOL_SIZE: '4' }, cwd: dir, isRoot: false });
    assert.equal(pg.store.url, PG);
    assert.equal(pg.store.pool_size, 4);
    assert.equal(loadConfig({ env: { KICKSTAND_STORE__URL: PG }, cwd: dir, isRoot: false }).store.pool_size, 10);
  });
});

test('store: a URL that is not PostgreSQL names the variable and the key, and never echoes the password', () => {
  withDir((dir) => {
    assert.throws(
      () => loadConfig({ env: { KICKSTAND_STORE__URL: 'mysql://kick:secretpw@db/kickstand' }, cwd: dir, isRoot: false }),
      (e: unknown) => e instanceof ConfigError && /^environment KICKSTAND_STORE__URL: store\.url: expected postgres:\/\//.test(e.message) && !e.message.includes('secretpw'),
    );
    writeFileSync(join(dir, 'kickstand.yaml'), 'store:\n  url: postgres://x@h/db\n  pool: 3\n');
    assert.throws(() => loadConfig({ env: {}, cwd: dir, isRoot: false }), /kickstand\.yaml: store\.pool: unknown key "pool"/);
  });
});

test('dhcp.load_balancing: this_server among distinct peers, PostgreSQL required, takeover delay over two heartbeats', () => {
  withDir((dir) => {
    const base = { mode: 'proxy', interface: 'eth1', server_ip: '10.0.0.1', load_balancing: { this_server: 'a', peers: ['a', 'b'] } };
    const load = (dhcp: unknown, store: unknown = { url: PG }) => {
      writeFileSync(join(dir, 'kickstand.yaml'), JSON.stringify({ dhcp, store }));
      return loadConfig({ env: {}, cwd: dir, isRoot: false });
    };
    const ok = load(base);
    assert.deepEqual(ok.dhcp.load_balancing, { this_server: 'a', peers: ['a', 'b'], heartbeat_ms: 1000, max_response_delay_ms: 5000 });
    assert.throws(() => load({ ...base, load_balancing: { this_server: 'c', peers: ['a', 'b'] } }), /dhcp\.load_balancing\.this_server: "c" is not one of peers \(a, b\)/);
    assert.throws(() => load({ ...base, load_balancing: { this_server: 'a', peers: ['a', 'a'] } }), /dhcp\.load_balancing\.peers: each peer must be named once/);
    assert.throws(() => load({ ...base, load_balancing: { this_server: 'a', peers: ['a'] } }), /dhcp\.load_balancing\.peers/);
    assert.throws(() => load(base, {}), /dhcp\.load_balancing: needs store\.url/);
    assert.throws(() => load({ ...base, load_balancing: { this_server: 'a', peers: ['a', 'b'], heartbeat_ms: 1000, max_response_delay_ms: 2000 } }), /max_response_delay_ms: must be over twice heartbeat_ms/);
    assert.throws(() => load({ ...base, load_balancing: { this_server: 'a b', peers: ['a b', 'c'] } }), /this_server: expected a name/);
  });
});
