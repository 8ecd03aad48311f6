import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../server/store/sqlite.ts';
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
