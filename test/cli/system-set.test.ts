// Adopting a machine that PXE-booted unknown: `kickstand system set` gives the discovered record a
// profile and a name (its discovery event stays in its history, its MAC with it) and the install
// can then be armed; the API's PATCH and the dashboard's form do the same through one rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { openSqliteStore } from '../../server/store/sqlite.ts';
import { Lifecycle } from '../../server/boot/lifecycle.ts';
import { silentLogger } from '../../server/log.ts';
import { csrfOf, dashboardHarness, loggedIn } from '../http/dashboard-harness.ts';

const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');

function cli(dir: string, ...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'server/cli/main.ts'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, KICKSTAND_DATA_DIR: join(dir, 'var'), KICKSTAND_ISOS_DIR: join(dir, 'isos'), KICKSTAND_CONFIG: '' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('system set turns a discovered machine into a registered system that keeps its discovery, then it can be armed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-set-'));
  try {
    // A machine PXE-boots unknown: recorded the way the boot paths record it.
    const store = openSqliteStore(join(dir, 'var', 'kickstand.db'));
    await new Lifecycle({ store, log: silentLogger() }).discovered('52:54:00:12:34:56', '10.0.0.77');
    await store.close();
    const discovered = 'discovered-525400123456';
    assert.match(cli(dir, 'system', 'rebuild', discovered).err, /has no profile/);

    assert.match(cli(dir, 'system', 'set', discovered).err, /system set needs something to change/);
    assert.match(cli(dir, 'system', 'set', discovered, '--profile', 'nope').err, /profile: no profile named "nope"/);
    assert.match(cli(dir, 'system', 'set', discovered, '--profile', 'el9-kvm', '--name', 'Bad Name').err, /name: expected a lowercase name/);

    const r = cli(dir, 'system', 'set', discovered, '--profile', 'el9-kvm', '--name', 'rack1-node7', '--hostname', 'node7');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /rack1-node7 \(was discovered-525400123456\): registered, profile el9-kvm/);
    const show = JSON.parse(cli(dir, 'system', 'show', 'rack1-node7', '--json').out) as { state: string; macs: string[]; hostname: string; profile: string };
    assert.deepEqual([show.state, show.macs, show.hostname, show.profile], ['registered', ['52:54:00:12:34:56'], 'node7', 'el9-kvm']);
    const events = cli(dir, 'system', 'events', 'rack1-node7');
    assert.match(events.out, /pxe\s+unknown MAC \(10\.0\.0\.77\)/, 'the discovery event stays in its history');
    assert.equal(cli(dir, 'system', 'show', discovered).code, 1, 'the old name is gone');
    assert.equal(cli(dir, 'system', 'rebuild', 'rack1-node7').code, 0);
    assert.match(cli(dir, 'system', 'set', 'rack1-node7', '--name', 'other').err, /armed or installing; disarm it before renaming/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the API PATCH and the dashboard form register a discovered machine; a clash shows the form again with the reason', async () => {
  const h = dashboardHarness();
  await h.lifecycle.discovered('52:54:00:aa:bb:01', '10.0.0.5');
  await h.lifecycle.discovered('52:54:00:aa:bb:02', '10.0.0.6');
  const auth = { Authorization: 'Bearer test-admin-token-0123456789abcdef' };
  const patched = await request(h.app).patch('/api/v1/systems/discovered-525400aabb01').set(auth).send({ name: 'api-node', profile: 'el9-kvm' });
  assert.equal(patched.status, 200, patched.text);
  assert.equal(patched.body.name, 'api-node');
  assert.equal(patched.body.state, 'registered');

  const { agent } = await loggedIn(h.app);
  const page = await agent.get('/ui/systems/discovered-525400aabb02');
  assert.match(page.text, /Register this machine/);
  const csrf = csrfOf(page.text);
  const clash = await agent.post('/ui/systems/discovered-525400aabb02/set').type('form').send({ _csrf: csrf, name: 'api-node', profile: 'el9-kvm' });
  assert.equal(clash.status, 409);
  assert.match(clash.text, /a system named &quot;api-node&quot; exists/);
  assert.equal((await h.store.getSystem('discovered-525400aabb02'))!.state, 'discovered', 'the refused change changed nothing');
  const ok = await agent.post('/ui/systems/discovered-525400aabb02/set').type('form').send({ _csrf: csrf, name: 'ui-node', profile: 'centos44-hvm', hostname: 'ui' });
  assert.equal(ok.status, 303);
  assert.equal(ok.headers.location, '/ui/systems/ui-node');
  const s = (await h.store.getSystem('ui-node'))!;
  assert.deepEqual([s.state, s.profile, s.hostname, s.macs], ['registered', 'centos44-hvm', 'ui', ['52:54:00:aa:bb:02']]);
  assert.ok((await h.store.listEvents('ui-node')).some((e) => e.stage === 'pxe' && e.message === 'unknown MAC' && e.source === '10.0.0.6'), 'the discovery event went with the new name');
  assert.doesNotMatch((await agent.get('/ui/systems/ui-node')).text, /Register this machine/);
});
