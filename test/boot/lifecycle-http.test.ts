// Whole installs over HTTP as a guest and an operator would drive them: PXE menu → kickstart →
// steps → built → local boot → rebuild → install again, plus expiry, header matching and races.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { harness, type Harness } from '../http/harness.ts';
import { openSqliteStore } from '../../server/store/sqlite.ts';

const MAC = '00:16:3e:84:b5:99';
const NG = { name: 'ngtest-hvm', macs: [MAC, '00:16:3e:84:b5:9a'], hostname: 'ngtest', profile: 'centos44-hvm' };

async function register(h: Harness, build = true): Promise<string> {
  const r = await request(h.app).post('/api/v1/systems').set(h.auth).send({ ...NG, build });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return build ? String(r.body.urls.kickstart).split('/ks/')[1]! : '';
}
const stages = async (h: Harness) => (await h.store.listEvents('ngtest-hvm')).map((e) => `${e.run}:${e.stage}`);

for (const [label, make] of [
  ['memory store', () => harness()],
  ['sqlite store', () => harness({ store: openSqliteStore(':memory:') })],
] as const) {
  describe(`lifecycle over HTTP (${label})`, () => {
    test('a whole install: menu → kickstart → steps → built → local boot → rebuild → install again', async () => {
      const h = make();
      const token = await register(h);
      let menu = await request(h.app).get(`/ipxe/${MAC}`);
      assert.match(menu.text, new RegExp(`ipxe install ngtest-hvm .*/ks/${token}`));
      const ks = await request(h.app).get(`/ks/${token}`);
      assert.equal(ks.status, 200);
      assert.match(ks.text, /^# kickstart for ngtest-hvm/);
      assert.equal((await h.store.getSystem('ngtest-hvm'))!.state, 'installing');
      for (const stage of ['partitioned', 'formatted', 'kernel-installed', 'bootloader-installed']) {
        h.clock.now += 1000;
        assert.equal((await request(h.app).get(`/events/${token}/${stage}`)).status, 200);
      }
      const sys = await request(h.app).get('/api/v1/systems/ngtest-hvm').set(h.auth);
      assert.equal(sys.body.state, 'installing');
      assert.equal(sys.body.stage, 'bootloader-installed');
      h.clock.now += 1000;
      const built = await request(h.app).post(`/events/${token}/built`).send('all done');
      assert.equal(built.status, 200);
      assert.equal(built.body.state, 'built');
      // At built: local boot at once, artifacts no longer served, token retired.
      menu = await request(h.app).get(`/ipxe/${MAC}`);
      assert.equal(menu.text, 'ipxe localboot ngtest-hvm\n');
      assert.equal((await request(h.app).get(`/ks/${token}`)).status, 404);
      assert.equal((await request(h.app).get(`/scripts/${token}/rescue.sh`)).status, 404);
      // The installed system's first boot still reports with the retired token.
      assert.equal((await request(h.app).get(`/events/${token}/booted`)).status, 200);
      // A step report from the finished run is refused.
      assert.equal((await request(h.app).get(`/events/${token}/formatted`)).status, 404);
      // Re-install: fresh token, new run, history kept.
      const again = await request(h.app).post('/api/v1/systems/ngtest-hvm/rebuild').set(h.auth);
      const token2 = String(again.body.urls.kickstart).split('/ks/')[1]!;
      assert.notEqual(token2, token);
      assert.equal((await request(h.app).get(`/ks/${token}`)).status, 404);
      assert.equal((await request(h.app).get(`/scripts/${token2}/install.sh`)).status, 200);
      await request(h.app).get(`/events/${token2}/built`).expect(200);
      assert.deepEqual(await stages(h), [
        '1:armed', '1:pxe', '1:kickstart', '1:partitioned', '1:formatted', '1:kernel-installed', '1:bootloader-installed', '1:built', '1:booted',
        '2:armed', '2:script', '2:built',
      ]);
      const timeline = await request(h.app).get('/api/v1/systems/ngtest-hvm/events').set(h.auth);
      const step = timeline.body.events.find((e: { stage: string }) => e.stage === 'formatted');
      assert.equal(step.sincePreviousMs, 1000);
    });

    test('failed carries the installer log, turns build mode off and serves local boot', async () => {
      const h = make();
      const token = await register(h);
      await request(h.app).get(`/ks/${token}`).expect(200);
      const log = 'anaconda: no space left on device\n'.repeat(10);
      await request(h.app).post(`/events/${token}/failed`).type('text/plain').send(log).expect(200);
      const s = (await h.store.getSystem('ngtest-hvm'))!;
      assert.equal(s.state, 'failed');
      assert.equal(s.build, false);
      const ev = await h.store.listEvents('ngtest-hvm');
      assert.equal(ev[ev.length - 1]!.log, log);
      assert.equal((await request(h.app).get(`/ipxe/${MAC}`)).text, 'ipxe localboot ngtest-hvm\n');
    });

    test('an installer log over the limit is 413 and records nothing', async () => {
      const h = harness({ maxLogBytes: 2048 });
      const token = await register(h);
      await request(h.app).get(`/ks/${token}`).expect(200);
      const r = await request(h.app).post(`/events/${token}/failed`).type('text/plain').send('x'.repeat(3000));
      assert.equal(r.status, 413);
      assert.equal(r.body.error.code, 'payload_too_large');
      assert.equal((await h.store.getSystem('ngtest-hvm'))!.state, 'installing');
    });

    test('token expiry stops serving artifacts but a late built report is still recorded', async () => {
      const h = make();
      const token = await register(h);
      await request(h.app).get(`/ks/${token}`).expect(200);
      h.clock.now += 25 * 3600_000;
      assert.equal((await request(h.app).get(`/ks/${token}`)).status, 404);
      await request(h.app).get(`/events/${token}/kernel-installed`).expect(200);
      const r = await request(h.app).get(`/events/${token}/built`);
      assert.equal(r.status, 200);
      assert.equal(r.body.state, 'built');
      assert.equal((await request(h.app).get(`/ipxe/${MAC}`)).text, 'ipxe localboot ngtest-hvm\n');
    });

    test('unknown tokens are 404 with no detail; unknown stages are 400', async () => {
      const h = make();
      const token = await register(h);
      for (const path of ['/ks/nope', '/scripts/nope/install.sh', '/events/nope/built']) {
        const r = await request(h.app).get(path);
        assert.equal(r.status, 404);
        assert.deepEqual(r.body, { error: { code: 'not_found', message: 'unknown or retired token' } });
      }
      const bad = await request(h.app).get(`/events/${token}/rebooting`);
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.field, 'stage');
      assert.equal((await request(h.app).get(`/scripts/${token}/other.sh`)).status, 404);
    });

    test('two built reports for one run record one transition', async () => {
      const h = make();
      const token = await register(h);
      await request(h.app).get(`/scripts/${token}/install.sh`).expect(200);
      const [a, b] = await Promise.all([request(h.app).get(`/events/${token}/built`), request(h.app).get(`/events/${token}/built`)]);
      assert.equal(a.status, 200);
      assert.equal(b.status, 200);
      assert.deepEqual([a.body.recorded, b.body.recorded].sort(), [false, true]);
      assert.equal((await stages(h)).filter((s) => s.endsWith(':built')).length, 1);
    });

    test('a rebuild during an install starts a new run cleanly', async () => {
      const h = make();
      const token = await register(h);
      await request(h.app).get(`/ks/${token}`).expect(200);
      await request(h.app).get(`/events/${token}/partitioned`).expect(200);
      const r = await request(h.app).post('/api/v1/systems/ngtest-hvm/rebuild').set(h.auth);
      const token2 = String(r.body.urls.kickstart).split('/ks/')[1]!;
      assert.equal((await request(h.app).get(`/events/${token}/formatted`)).status, 404);
      // A late failure of the old run is recorded but does not touch the new run.
      await request(h.app).get(`/events/${token}/failed`).expect(200);
      const s = (await h.store.getSystem('ngtest-hvm'))!;
      assert.equal(s.state, 'build');
      assert.equal(s.run, 2);
      assert.equal(s.token, token2);
    });

    test('kickstart by X-RHN-Provisioning-MAC headers: gaps, case and several NICs', async () => {
      // Header parsing alone: with match_by_mac any, a MAC is enough (trust rules: trust-http.test.ts).
      const h = harness({ store: label === 'sqlite store' ? openSqliteStore(':memory:') : undefined, trust: { matchByMac: 'any' } });
      await register(h);
      const r = await request(h.app)
        .get('/ks')
        .set('X-RHN-Provisioning-MAC-0', 'eth0 52:54:00:00:00:01')
        .set('X-RHN-Provisioning-MAC-3', 'eth3 00:16:3E:84:B5:9A');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.match(r.text, /kickstart for ngtest-hvm/);
      const lower = await request(h.app).get('/ks').set('x-rhn-provisioning-mac-7', 'eth1 00:16:3e:84:b5:99');
      assert.equal(lower.status, 200);
      const none = await request(h.app).get('/ks').set('X-RHN-Provisioning-MAC-0', 'eth0 52:54:00:00:00:02');
      assert.equal(none.status, 404);
      assert.equal((await request(h.app).get(`/ks?mac=00-16-3e-84-b5-99`)).status, 200);
    });

    test('headers matching two systems are 409; a system not armed is 404', async () => {
      const h = make();
      await register(h, false);
      await request(h.app).post('/api/v1/systems').set(h.auth).send({ ...NG, name: 'other', macs: ['52:54:00:00:00:09'] }).expect(201);
      const two = await request(h.app).get('/ks').set('X-RHN-Provisioning-MAC-0', `eth0 ${MAC}`).set('X-RHN-Provisioning-MAC-1', 'eth1 52:54:00:00:00:09');
      assert.equal(two.status, 409);
      const notArmed = await request(h.app).get('/ks').set('X-RHN-Provisioning-MAC-0', `eth0 ${MAC}`);
      assert.equal(notArmed.status, 404);
    });

    test('an unknown MAC gets the local boot menu and is recorded as discovered', async () => {
      const h = make();
      const r = await request(h.app).get('/ipxe/52-54-00-12-34-56');
      assert.equal(r.text, 'ipxe localboot default\n');
      await request(h.app).get('/ipxe/52:54:00:12:34:56').expect(200);
      const all = await h.store.listSystems();
      assert.deepEqual(all.map((s) => [s.name, s.state]), [['discovered-525400123456', 'discovered']]);
      assert.equal((await request(h.app).get('/ipxe/zz')).status, 400);
    });

    test('an installing system with no event for the stall time shows as stalled', async () => {
      const h = harness({ stallMs: 60_000 });
      const token = await register(h);
      await request(h.app).get(`/ks/${token}`).expect(200);
      h.clock.now += 61_000;
      assert.equal((await request(h.app).get('/api/v1/systems/ngtest-hvm').set(h.auth)).body.state, 'stalled');
      await request(h.app).get(`/events/${token}/formatted`).expect(200);
      assert.equal((await request(h.app).get('/api/v1/systems/ngtest-hvm').set(h.auth)).body.state, 'installing');
    });

    test('renders are cached per system state: a boot storm renders once', async () => {
      const h = make();
      const token = await register(h);
      // supertest listens on a new port per request, so pin the Host the base URL comes from.
      for (let i = 0; i < 20; i++) await request(h.app).head(`/ks/${token}`).set('Host', 'ks.test:8080').expect(200);
      assert.equal(h.renderer.calls, 1);
    });
  });
}
