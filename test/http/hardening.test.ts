// The smaller hardening rules of issue 14: install trees never sniffed and sandboxed, bodies refused
// 413 only after the bearer token (and cleanly, not with a reset), no 500 from the login form,
// secrets masked in every API answer, and /metrics behind its own token or listener when asked.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { createHttpHandler } from '../../server/http/app.ts';
import { startMetricsListener } from '../../server/http/metrics-listener.ts';
import { Metrics } from '../../server/http/metrics.ts';
import { silentLogger } from '../../server/log.ts';
import { ADMIN, harness } from './harness.ts';
import { NG as DNG, csrfOf, dashboardHarness } from './dashboard-harness.ts';
import { serveOnLoopback } from './from-address.ts';

const NG = { name: 'ng', macs: ['00:16:3e:84:b5:99'], profile: 'centos44-hvm' };

describe('install trees', () => {
  test('every tree answer says nosniff and is sandboxed: ISO HTML runs no script on the dashboard origin', async () => {
    const h = harness();
    const app = createHttpHandler({
      lifecycle: h.lifecycle,
      registry: undefined as never,
      artifacts: undefined as never,
      adminToken: ADMIN,
      log: silentLogger(),
      trees: async (_req, res) => void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<script>alert(document.cookie)</script>'),
    });
    const r = await request(app).get('/trees/centos/RELEASE-NOTES-en.html');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.match(r.headers['content-security-policy']!, /^sandbox;/);
    assert.match(r.headers['content-security-policy']!, /default-src 'none'/);
    assert.doesNotMatch(r.headers['content-security-policy']!, /allow-scripts|script-src/);
  });
});

describe('bodies: auth first, then a clean 413', () => {
  test('an oversized API body without the token is 401; with it, 413 payload_too_large', async () => {
    const h = harness();
    const big = { ...NG, overrides: { pad: 'x'.repeat(300 * 1024) } };
    const anon = await request(h.app).post('/api/v1/systems').send(big);
    assert.equal(anon.status, 401);
    const authed = await request(h.app).post('/api/v1/systems').set(h.auth).send(big);
    assert.equal(authed.status, 413);
    assert.equal(authed.body.error.code, 'payload_too_large');
    const bad = await request(h.app).post('/api/v1/systems').set(h.auth).set('content-type', 'application/json').send('{"name":');
    assert.equal(bad.status, 400);
  });

  test('power routes and forms: 401 before any body is read, then 413; no machine is touched', async () => {
    const h = dashboardHarness();
    const auth = { Authorization: `Bearer ${ADMIN}` };
    await request(h.app).post('/api/v1/systems').set(auth).send({ ...DNG }).expect(201);
    await request(h.app).put(`/api/v1/systems/${DNG.name}/power`).set(auth).send({ driver: 'ipmi', address: '10.0.0.5' }).expect(200);
    const pad = 'x'.repeat(300 * 1024);
    const calls: Array<[string, string, object]> = [
      ['put', `/api/v1/systems/${DNG.name}/power`, { driver: 'ipmi', address: '10.0.0.6', pad }],
      ['post', `/api/v1/systems/${DNG.name}/power/cycle`, { pad }],
      ['post', `/api/v1/systems/${DNG.name}/rebuild`, { reboot: true, pad }],
      ['post', '/api/v1/rebuild', { systems: [DNG.name], reboot: true, pad }],
    ];
    for (const [method, path, body] of calls) {
      const anon = await request(h.app)[method as 'put' | 'post'](path).send(body);
      assert.equal(anon.status, 401, `${method} ${path} without the token`);
      const authed = await request(h.app)[method as 'put' | 'post'](path).set(auth).send(body);
      assert.equal(authed.status, 413, `${method} ${path} with the token`);
      assert.equal(authed.body.error.code, 'payload_too_large');
    }
    for (const path of [`/ui/systems/${DNG.name}/power/cycle`, `/ui/systems/${DNG.name}/power`, `/ui/systems/${DNG.name}/rebuild-reboot`]) {
      const r = await request(h.app).post(path).type('form').send(`_csrf=x&pad=${pad}`);
      assert.equal(r.status, 401, `${path} without a session`);
    }
    assert.deepEqual(h.machines.machine(DNG.name).calls, [], 'no power action ran');
    assert.equal((await h.store.getPowerSettings(DNG.name))!.address, '10.0.0.5', 'the settings are unchanged');
    assert.equal((await h.store.getSystem(DNG.name))!.build, false, 'nothing was armed');
  });

  test('a 2 MiB report body gets 413 on a real socket (declared or chunked), not a reset; nothing is recorded', async () => {
    const h = harness();
    await h.store.createSystem(NG, 1);
    const token = (await h.lifecycle.arm('ng', null)).token!;
    const lo = await serveOnLoopback(h.app);
    try {
      const guest = lo.from('127.0.0.1');
      assert.equal((await guest.get(`/ks/${token}`)).status, 200);
      const body = Buffer.alloc(2 * 1024 * 1024, 'x');
      const declared = await guest.post(`/events/${token}/failed`, body);
      assert.equal(declared.status, 413);
      assert.equal(declared.json.error!.code, 'payload_too_large');
      const chunked = await guest.post(`/events/${token}/failed`, body, { 'transfer-encoding': 'chunked' });
      assert.equal(chunked.status, 413);
      assert.equal((await h.store.getSystem('ng'))!.state, 'installing');
      // A report that cannot count is refused before its body is read (403 from another address).
      const other = await lo.from('127.0.0.9').post(`/events/${token}/failed`, body);
      assert.equal(other.status, 403);
    } finally {
      await lo.close();
    }
  });

  test('an oversized or many-field login form is 413, never a 500', async () => {
    const h = dashboardHarness();
    const agent = request.agent(h.app);
    const csrf = csrfOf((await agent.get('/ui/login')).text);
    const big = await agent.post('/ui/login').type('form').send({ _csrf: csrf, token: 'x'.repeat(100 * 1024) });
    assert.equal(big.status, 413);
    const many = await agent.post('/ui/login').type('form').send(Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`f${i}`, 'v'])));
    assert.equal(many.status, 413);
    assert.ok(!h.logs().some((l) => Number(l.level) >= 50), 'nothing logged as a server error');
    assert.doesNotMatch(big.text, /at .*\.ts:\d+/, 'no stack trace');
  });

  test('a dashboard POST without a session is 401 before its body is read', async () => {
    const h = dashboardHarness();
    const r = await request(h.app).post('/ui/register').type('form').send({ pad: 'x'.repeat(100 * 1024) });
    assert.equal(r.status, 401);
  });
});

describe('secrets in API answers', () => {
  test('override secrets are masked on create, get, list and patch; the stored value is untouched', async () => {
    const h = harness();
    const overrides = { root_password_hash: '$6$salt$hash', xen: { vnc: { password: 'hunter2' }, memory: 1024 } };
    const created = await request(h.app).post('/api/v1/systems').set(h.auth).send({ ...NG, overrides }).expect(201);
    const got = await request(h.app).get('/api/v1/systems/ng').set(h.auth).expect(200);
    const list = await request(h.app).get('/api/v1/systems').set(h.auth).expect(200);
    const patched = await request(h.app).patch('/api/v1/systems/ng').set(h.auth).send({ hostname: 'h' }).expect(200);
    for (const body of [created.body, got.body, list.body.systems[0], patched.body]) {
      assert.deepEqual(body.overrides, { root_password_hash: '********', xen: { vnc: { password: '********' }, memory: 1024 } });
      assert.doesNotMatch(JSON.stringify(body), /hunter2|\$6\$salt/);
    }
    assert.equal((await h.store.getSystem('ng'))!.overrides.root_password_hash, '$6$salt$hash');
  });
});

describe('/metrics access', () => {
  test('with metrics.token a scrape needs it (or the admin token)', async () => {
    const h = harness({ metricsRoute: { token: 'scraper-token-0123456789' } });
    // The plain harness has no Metrics: wire one the way main does.
    const withMetrics = createHttpHandler({ lifecycle: h.lifecycle, registry: undefined as never, artifacts: undefined as never, adminToken: ADMIN, log: silentLogger(), metrics: new Metrics(), metricsRoute: { token: 'scraper-token-0123456789' } });
    assert.equal((await request(withMetrics).get('/metrics')).status, 401);
    assert.equal((await request(withMetrics).get('/metrics').set('Authorization', 'Bearer wrong-token-000000000')).status, 401);
    assert.equal((await request(withMetrics).get('/metrics').set('Authorization', 'Bearer scraper-token-0123456789')).status, 200);
    assert.equal((await request(withMetrics).get('/metrics').set(h.auth)).status, 200);
    const open = createHttpHandler({ lifecycle: h.lifecycle, registry: undefined as never, artifacts: undefined as never, adminToken: ADMIN, log: silentLogger(), metrics: new Metrics() });
    assert.equal((await request(open).get('/metrics')).status, 200, 'open when no token is set');
    const elsewhere = createHttpHandler({ lifecycle: h.lifecycle, registry: undefined as never, artifacts: undefined as never, adminToken: ADMIN, log: silentLogger(), metrics: new Metrics(), metricsRoute: false });
    assert.equal((await request(elsewhere).get('/metrics')).status, 404, 'not on the main port when it has its own listener');
  });

  test('the metrics listener serves GET /metrics only, behind its token', async () => {
    const m = await startMetricsListener({ metrics: new Metrics(), host: '127.0.0.1', port: 0, token: 'scraper-token-0123456789', adminToken: ADMIN, log: silentLogger() });
    try {
      const base = `http://127.0.0.1:${m.port}`;
      assert.equal((await fetch(`${base}/metrics`)).status, 401);
      const ok = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer scraper-token-0123456789' } });
      assert.equal(ok.status, 200);
      assert.match(await ok.text(), /kickstand_trust_refusals_total/);
      assert.equal((await fetch(`${base}/api/v1/systems`, { headers: { authorization: `Bearer ${ADMIN}` } })).status, 404);
    } finally {
      await m.close();
    }
  });
});
