import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { Views } from '../../server/http/dashboard/render.ts';
import { SessionStore, readCookies } from '../../server/http/dashboard/session.ts';
import { NG, dashboardHarness, loggedIn } from './dashboard-harness.ts';

/** Registers NG and arms it; returns its token. */
async function armed(h: ReturnType<typeof dashboardHarness>): Promise<string> {
  await h.store.createSystem({ ...NG }, h.clock.now);
  const s = await h.lifecycle.arm(NG.name, null);
  return s.token!;
}

describe('dashboard pages', () => {
  test('a system page shows the timeline with step durations, the failure log, every artifact and copy buttons', async () => {
    const h = dashboardHarness();
    const token = await armed(h);
    h.clock.now += 5000;
    await request(h.app).get(`/ks/${token}`).expect(200);
    h.clock.now += 65_000;
    await request(h.app).post(`/events/${token}/partitioned`).send('disks ready').expect(200);
    h.clock.now += 2000;
    await request(h.app).post(`/events/${token}/failed`).send('anaconda: no space left on device').expect(200);
    const { agent } = await loggedIn(h.app);
    const r = await agent.get('/ui/systems/ngtest-hvm');
    assert.equal(r.status, 200);
    assert.match(r.text, /badge-failed" data-badge>failed</);
    const steps = [...r.text.matchAll(/class="stage stage-[a-z-]+">([a-z-]+)</g)].map((m) => m[1]);
    assert.deepEqual(steps, ['armed', 'kickstart', 'partitioned', 'failed']);
    const after = [...r.text.matchAll(/data-label="After" class="mono">([^<]*)</g)].map((m) => m[1]);
    assert.deepEqual(after, ['', '+5 s', '+1m 05s', '+2 s']);
    assert.match(r.text, /<pre class="log" id="failure-log-0">anaconda: no space left on device<\/pre>/);
    for (const kind of ['kickstart', 'rescue', 'install', 'prepare', 'xen', 'xl', 'libvirt', 'pxelinux', 'ipxe']) {
      assert.match(r.text, new RegExp(`data-copy="art-${kind}">Copy</button><pre id="art-${kind}">`), kind);
    }
    assert.ok(!r.text.includes('rescue-one-liner'), 'no one-liner once the token is retired');
  });

  test('an armed system shows its rescue one-liner with a copy button', async () => {
    const h = dashboardHarness();
    const token = await armed(h);
    const { agent } = await loggedIn(h.app);
    const r = await agent.get('/ui/systems/ngtest-hvm');
    assert.match(r.text, new RegExp(`<pre class="wrap" id="rescue-one-liner">wget -q -O /tmp/rescue.sh http://127.0.0.1:\\d+/scripts/${token}/rescue.sh &amp;&amp; sh /tmp/rescue.sh</pre>`));
    assert.match(r.text, /data-copy="rescue-one-liner"/);
  });

  test('earlier runs stay reachable with ?run=', async () => {
    const h = dashboardHarness();
    const token = await armed(h);
    await request(h.app).post(`/events/${token}/built`).expect(200);
    await h.lifecycle.arm(NG.name, null);
    const { agent } = await loggedIn(h.app);
    const now = await agent.get('/ui/systems/ngtest-hvm');
    assert.match(now.text, /Timeline <small>run 2</);
    const old = await agent.get('/ui/systems/ngtest-hvm?run=1');
    assert.match(old.text, /run 1 \(an earlier run\)/);
    assert.match(old.text, /stage-built">built</);
  });

  test('the list shows installing with the current step, then stalled once quiet for the stall time', async () => {
    const h = dashboardHarness({ stallMs: 600_000 });
    const token = await armed(h);
    await request(h.app).post(`/events/${token}/partitioned`).expect(200);
    const { agent } = await loggedIn(h.app);
    assert.match((await agent.get('/ui/')).text, /badge-installing" data-badge>installing: partitioned</);
    h.clock.now += 600_001;
    assert.match((await agent.get('/ui/')).text, /badge-stalled" data-badge>stalled at partitioned</);
  });

  test('hostile values from guests, leases and ISO names are escaped everywhere', async () => {
    const evil = '<script>alert(1)</script>';
    const h = dashboardHarness({ isoStatus: () => [{ iso: `"><img src=x onerror=alert(2)>.iso`, reason: evil }] });
    const token = await armed(h);
    await request(h.app).post(`/events/${token}/partitioned`).send(evil).expect(200);
    await request(h.app).post(`/events/${token}/failed`).send(`</pre>${evil}<pre>`).expect(200);
    await h.store.saveLeases([{ mac: '00:16:3e:84:b5:99', ip: '10.0.0.50', hostname: `${evil}"'`, state: 'bound', expiresAt: h.clock.now + 60_000, updatedAt: h.clock.now }]);
    const { agent } = await loggedIn(h.app);
    for (const path of ['/ui/systems/ngtest-hvm', '/ui/leases', '/ui/distros']) {
      const r = await agent.get(path);
      assert.equal(r.status, 200);
      assert.ok(!r.text.includes('<script>alert'), path);
      assert.ok(!r.text.includes('<img'), path);
      assert.match(r.text, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/, path);
    }
    const lease = await agent.get('/ui/leases');
    assert.match(lease.text, /&lt;script&gt;alert\(1\)&lt;\/script&gt;&quot;&#x27;/);
    assert.match(lease.text, /<a href="\/ui\/systems\/ngtest-hvm">ngtest-hvm<\/a>/);
  });

  test('pages carry a strict content security policy and refuse framing', async () => {
    const { agent } = await loggedIn(dashboardHarness().app);
    const r = await agent.get('/ui/');
    assert.match(r.headers['content-security-policy']!, /default-src 'none'; script-src 'self'; style-src 'self'/);
    assert.match(r.headers['content-security-policy']!, /frame-ancestors 'none'/);
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.equal(r.headers['x-frame-options'], 'DENY');
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.ok(!/<script>|style="/.test(r.text), 'no inline script or style for the policy to block');
  });

  test('/ redirects to /ui/ and the assets load without a login and revalidate by ETag', async () => {
    const app = dashboardHarness().app;
    const root = await request(app).get('/');
    assert.equal(root.status, 303);
    assert.equal(root.headers.location, '/ui/');
    const css = await request(app).get('/ui/assets/app.css');
    assert.equal(css.status, 200);
    assert.match(css.headers['content-type']!, /^text\/css/);
    assert.match(css.text, /@media \(max-width: 720px\)/);
    const js = await request(app).get('/ui/assets/live.js');
    assert.match(js.headers['content-type']!, /^text\/javascript/);
    assert.equal((await request(app).get('/ui/assets/live.js').set('If-None-Match', js.headers.etag!)).status, 304);
    assert.equal((await request(app).get('/ui/assets/secret.txt')).status, 303, 'unknown assets fall through to the login gate');
  });

  test('distros and leases pages list what the registry and the store hold', async () => {
    const h = dashboardHarness();
    await h.store.saveLeases([{ mac: '00:16:3e:00:00:01', ip: '10.0.0.60', hostname: null, state: 'offered', expiresAt: h.clock.now - 1, updatedAt: h.clock.now }]);
    const { agent } = await loggedIn(h.app);
    const d = await agent.get('/ui/distros');
    assert.match(d.text, /<td class="name">centos-4\.4-i386<\/td>/);
    assert.match(d.text, /<td class="name">centos44-hvm<\/td>/);
    const l = await agent.get('/ui/leases');
    assert.match(l.text, /<tr class="expired">/);
    assert.match(l.text, /10\.0\.0\.60/);
  });

  test('an unknown system or page is a 404 page for a logged-in operator', async () => {
    const { agent } = await loggedIn(dashboardHarness().app);
    assert.equal((await agent.get('/ui/systems/nope')).status, 404);
    assert.equal((await agent.get('/ui/nothing')).status, 404);
  });
});

describe('dashboard views', () => {
  test('a view with unescaped output is refused at load time', () => {
    for (const src of ['<p>{{{x}}}</p>', '<p>{{& x}}</p>', '<p>{{~& x}}</p>']) {
      const dir = mkdtempSync(join(tmpdir(), 'ks-views-'));
      writeFileSync(join(dir, 'page.hbs'), src);
      assert.throws(() => new Views(dir), /unescaped output/, src);
    }
  });

  test('a missing field is an error, not an empty string', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-views-'));
    writeFileSync(join(dir, 'page.hbs'), '<p>{{present}} {{missing}}</p>');
    const v = new Views(dir);
    assert.throws(() => v.render('page', { present: 1 }), /missing/);
    assert.equal(new Views(dir).render('page', { present: '<b>', missing: '&' }), '<p>&lt;b&gt; &amp;</p>');
  });

  test('a syntax error stops loading', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-views-'));
    writeFileSync(join(dir, 'page.hbs'), '<p>{{#if x}}</p>');
    assert.throws(() => new Views(dir), /dashboard view page\.hbs/);
  });
});

describe('dashboard sessions', () => {
  test('a session lives until its expiry, then is gone; the oldest is dropped past the limit', () => {
    const clock = { now: 1000 };
    const store = new SessionStore({ ttlMs: 100, max: 2, clock: () => clock.now });
    const a = store.create();
    assert.match(a.id, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a.id, a.csrf);
    assert.equal(store.get(a.id), a);
    clock.now += 99;
    assert.equal(store.get(a.id), a);
    clock.now += 1;
    assert.equal(store.get(a.id), null);
    const b = store.create();
    const c = store.create();
    store.create();
    assert.equal(store.get(b.id), null, 'the oldest went');
    assert.equal(store.get(c.id), c);
    assert.equal(store.size, 2);
    assert.equal(store.get(undefined), null);
  });

  test('cookies are read by name, first one wins, and bad encodings are skipped', () => {
    const req = { headers: { cookie: 'a=1; kickstand_session=x%20y; a=2; bad=%E0%A4%A; =v' } } as never;
    assert.deepEqual(readCookies(req), { a: '1', kickstand_session: 'x y' });
  });
});
