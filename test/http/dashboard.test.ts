import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { Artifacts } from '../../server/boot/artifacts.ts';
import { createHttpHandler } from '../../server/http/app.ts';
import { silentLogger } from '../../server/log.ts';
import { ProfileRegistry } from '../../server/profiles/registry.ts';
import { fakeRenderer } from '../fakes/renderer.ts';
import { PROFILES_DIR } from './harness.ts';
import { safeNext } from '../../server/http/dashboard/actions.ts';
import { ADMIN, NG, csrfOf, dashboardHarness, loggedIn } from './dashboard-harness.ts';

const cookiesOf = (r: { headers: Record<string, unknown> }): string[] => {
  const c = r.headers['set-cookie'];
  return Array.isArray(c) ? (c as string[]) : typeof c === 'string' ? [c] : [];
};
const cookieNamed = (r: { headers: Record<string, unknown> }, name: string) => cookiesOf(r).find((c) => c.startsWith(`${name}=`));

/** Registers NG and arms it; returns its token. */
async function armed(h: ReturnType<typeof dashboardHarness>): Promise<string> {
  await h.store.createSystem({ ...NG }, h.clock.now);
  const s = await h.lifecycle.arm(NG.name, null);
  return s.token!;
}

describe('dashboard login', () => {
  test('the login form sets a SameSite=Strict HttpOnly CSRF cookie and is built for phones', async () => {
    const r = await request(dashboardHarness().app).get('/ui/login');
    assert.equal(r.status, 200);
    assert.match(r.text, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
    const c = cookieNamed(r, 'kickstand_login');
    assert.ok(c, 'login CSRF cookie set');
    assert.match(c, /; HttpOnly/);
    assert.match(c, /; SameSite=Strict/);
    assert.match(c, /; Path=\//);
    assert.equal(c.split(';')[0]!.slice('kickstand_login='.length), csrfOf(r.text));
  });

  test('the right token starts a session: HttpOnly, SameSite=Strict, Path=/ cookie with an expiry, and a redirect to next', async () => {
    const h = dashboardHarness({ sessionTtlMs: 3600_000 });
    const agent = request.agent(h.app);
    const form = await agent.get('/ui/login');
    const r = await agent.post('/ui/login').type('form').send({ _csrf: csrfOf(form.text), token: ADMIN, next: '/ui/leases' });
    assert.equal(r.status, 303);
    assert.equal(r.headers.location, '/ui/leases');
    const c = cookieNamed(r, 'kickstand_session')!;
    assert.match(c, /^kickstand_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=3600$/);
    assert.match(cookieNamed(r, 'kickstand_login')!, /Max-Age=0/, 'the login CSRF cookie is cleared');
    assert.equal((await agent.get('/ui/leases')).status, 200);
  });

  test('cookies are Secure when the public URL is https', async () => {
    const h = dashboardHarness();
    const registry = new ProfileRegistry(PROFILES_DIR, silentLogger());
    const app = createHttpHandler({ lifecycle: h.lifecycle, registry, artifacts: new Artifacts(registry, fakeRenderer()), adminToken: ADMIN, log: silentLogger(), publicUrl: 'https://ks.example.test' });
    const r = await request(app).get('/ui/login');
    assert.match(cookieNamed(r, 'kickstand_login')!, /; Secure$/);
  });

  test('a wrong token is 401, starts no session and never logs the token', async () => {
    const h = dashboardHarness();
    const agent = request.agent(h.app);
    const form = await agent.get('/ui/login');
    const r = await agent.post('/ui/login').type('form').send({ _csrf: csrfOf(form.text), token: `${ADMIN}x` });
    assert.equal(r.status, 401);
    assert.match(r.text, /not the admin token/);
    assert.equal(cookieNamed(r, 'kickstand_session'), undefined);
    assert.equal((await agent.get('/ui/')).status, 303);
    assert.ok(!JSON.stringify(h.logs()).includes(ADMIN));
    assert.ok(h.logs().some((l) => l.msg === 'dashboard login refused: wrong admin token'));
  });

  test('wrong tokens from one address slow its attempts down (doubling waits, capped); the right token waits at most the cap', async () => {
    const h = dashboardHarness({ loginFailures: 3 });
    let agent = request.agent(h.app);
    const attempt = async (token: string) => {
      const form = await agent.get('/ui/login');
      return agent.post('/ui/login').type('form').send({ _csrf: csrfOf(form.text), token });
    };
    for (let i = 0; i < 3; i++) assert.equal((await attempt('wrong')).status, 401);
    // Inside the wait an attempt is refused unchecked: even the right token learns nothing yet.
    const early = await attempt(ADMIN);
    assert.equal(early.status, 429);
    assert.equal(early.headers['retry-after'], '1');
    assert.equal(cookieNamed(early, 'kickstand_session'), undefined);
    // A guesser keeps failing after each wait: the waits double (1, 2, 4 … s) up to 30 s.
    const waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      const blocked = await attempt('wrong');
      assert.equal(blocked.status, 429);
      const wait = Number(blocked.headers['retry-after']);
      waits.push(wait);
      h.clock.now += wait * 1000;
      assert.equal((await attempt('wrong')).status, 401);
    }
    assert.deepEqual(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
    // The right token, after at most the capped wait, logs in and clears the count.
    const blocked = await attempt(ADMIN);
    assert.equal(blocked.status, 429);
    assert.ok(Number(blocked.headers['retry-after']) <= 30);
    h.clock.now += 30_000;
    assert.equal((await attempt(ADMIN)).status, 303);
    agent = request.agent(h.app); // another browser at the same address
    assert.equal((await attempt('wrong')).status, 401, 'a good login forgets the failures');
  });

  test('a login without the form CSRF token, or with another one, is 403 even with the right admin token', async () => {
    const h = dashboardHarness();
    const agent = request.agent(h.app);
    await agent.get('/ui/login');
    const none = await agent.post('/ui/login').type('form').send({ token: ADMIN });
    assert.equal(none.status, 403);
    const other = await agent.post('/ui/login').type('form').send({ token: ADMIN, _csrf: 'x'.repeat(43) });
    assert.equal(other.status, 403);
    const noCookie = await request(h.app).post('/ui/login').type('form').send({ token: ADMIN, _csrf: csrfOf((await request(h.app).get('/ui/login')).text) });
    assert.equal(noCookie.status, 403, 'the token must match this browser\'s cookie');
    assert.equal(cookieNamed(none, 'kickstand_session'), undefined);
  });

  test('next only redirects inside the dashboard', () => {
    assert.equal(safeNext('/ui/systems/a?run=2'), '/ui/systems/a?run=2');
    for (const bad of ['//evil.example/', 'https://evil.example/', '/ui/\\evil', '/api/v1/systems', 'javascript:alert(1)', '']) assert.equal(safeNext(bad), '/ui/', bad);
  });

  test('logout ends the session: the old cookie no longer opens pages', async () => {
    const h = dashboardHarness();
    const form = await request(h.app).get('/ui/login');
    const login = await request(h.app)
      .post('/ui/login')
      .set('Cookie', cookieNamed(form, 'kickstand_login')!.split(';')[0]!)
      .type('form')
      .send({ _csrf: csrfOf(form.text), token: ADMIN });
    const sid = cookieNamed(login, 'kickstand_session')!.split(';')[0]!;
    const page = await request(h.app).get('/ui/').set('Cookie', sid);
    assert.equal(page.status, 200);
    const r = await request(h.app).post('/ui/logout').set('Cookie', sid).type('form').send({ _csrf: csrfOf(page.text) });
    assert.equal(r.status, 303);
    assert.equal(r.headers.location, '/ui/login');
    assert.match(cookieNamed(r, 'kickstand_session')!, /^kickstand_session=; .*Max-Age=0/);
    assert.equal((await request(h.app).get('/ui/').set('Cookie', sid)).status, 303, 'the old session id is dead server-side');
  });

  test('a session expires after its lifetime', async () => {
    const h = dashboardHarness({ sessionTtlMs: 60_000 });
    const { agent } = await loggedIn(h.app);
    assert.equal((await agent.get('/ui/')).status, 200);
    h.clock.now += 60_000;
    const r = await agent.get('/ui/');
    assert.equal(r.status, 303);
    assert.equal(r.headers.location, '/ui/login?next=%2Fui%2F');
  });
});

describe('dashboard without a login', () => {
  const pages = ['/ui/', '/ui', '/ui/systems/ngtest-hvm', '/ui/register', '/ui/distros', '/ui/leases', '/ui/nothing'];
  for (const path of pages) {
    test(`GET ${path} redirects to the login form`, async () => {
      const h = dashboardHarness();
      await armed(h);
      const r = await request(h.app).get(path);
      assert.equal(r.status, 303);
      assert.equal(r.headers.location, `/ui/login?next=${encodeURIComponent(path)}`);
      assert.ok(!r.text.includes('centos44-hvm'), 'nothing about systems leaks');
    });
  }

  test('a forged session cookie is treated as no session', async () => {
    const r = await request(dashboardHarness().app).get('/ui/').set('Cookie', `kickstand_session=${'A'.repeat(43)}`);
    assert.equal(r.status, 303);
  });

  test('the live stream is 401', async () => {
    assert.equal((await request(dashboardHarness().app).get('/ui/events')).status, 401);
  });

  const actions: Array<[string, Record<string, string>]> = [
    ['/ui/systems/ngtest-hvm/rebuild', {}],
    ['/ui/systems/ngtest-hvm/disarm', {}],
    ['/ui/register', { name: 'other', macs: '00:16:3e:00:00:01', profile: 'centos44-hvm', build: 'on' }],
    ['/ui/logout', {}],
  ];
  for (const [path, body] of actions) {
    test(`POST ${path} is refused with 401 and changes nothing`, async () => {
      const h = dashboardHarness();
      await armed(h);
      const before = JSON.stringify(await h.store.listSystems());
      const r = await request(h.app).post(path).type('form').send(body);
      assert.equal(r.status, 401);
      assert.equal(JSON.stringify(await h.store.listSystems()), before);
      assert.deepEqual((await h.store.listEvents(NG.name)).map((e) => e.stage), ['armed']);
    });
  }

  for (const [path, body] of actions) {
    test(`POST ${path} with a session but no or a wrong CSRF token is 403 and changes nothing`, async () => {
      const h = dashboardHarness();
      await armed(h);
      const { agent, csrf } = await loggedIn(h.app);
      const before = JSON.stringify(await h.store.listSystems());
      assert.equal((await agent.post(path).type('form').send(body)).status, 403);
      assert.equal((await agent.post(path).type('form').send({ ...body, _csrf: `${csrf.slice(1)}A` })).status, 403);
      assert.equal((await agent.post(path).set('content-type', 'application/json').send(JSON.stringify({ ...body, _csrf: csrf }))).status, 403, 'only form posts carry the token');
      assert.equal(JSON.stringify(await h.store.listSystems()), before);
      assert.equal((await agent.get('/ui/')).status, 200, 'still logged in');
    });
  }

  test('a CSRF token from another session is refused', async () => {
    const h = dashboardHarness();
    await armed(h);
    const a = await loggedIn(h.app);
    const b = await loggedIn(h.app);
    assert.notEqual(a.csrf, b.csrf);
    assert.equal((await a.agent.post('/ui/systems/ngtest-hvm/rebuild').type('form').send({ _csrf: b.csrf })).status, 403);
  });
});

describe('dashboard forms', () => {
  test('register through the form creates and arms the system like the API does', async () => {
    const h = dashboardHarness();
    const { agent, csrf } = await loggedIn(h.app);
    const form = await agent.get('/ui/register');
    assert.match(form.text, /<option value="centos44-hvm"/);
    const r = await agent.post('/ui/register').type('form').send({ _csrf: csrf, name: 'ngtest-hvm', macs: '00-16-3E-84-B5-99, 00:16:3e:84:b5:9a', profile: 'centos44-hvm', hostname: 'ngtest', ip: '', overrides: '{"xen":{"vcpus":4}}', build: 'on' });
    assert.equal(r.status, 303);
    assert.equal(r.headers.location, '/ui/systems/ngtest-hvm');
    const s = (await h.store.getSystem('ngtest-hvm'))!;
    assert.deepEqual(s.macs, ['00:16:3e:84:b5:99', '00:16:3e:84:b5:9a']);
    assert.equal(s.state, 'build');
    assert.equal(s.ip, null);
    assert.deepEqual(s.overrides, { xen: { vcpus: 4 } });
    assert.deepEqual((await h.store.listEvents(s.name)).map((e) => [e.stage, e.message]), [['armed', 'armed at registration']]);
    const page = await agent.get(r.headers.location);
    assert.match(page.text, /badge-armed" data-badge>armed</);
  });

  test('register without the build box leaves the system registered', async () => {
    const h = dashboardHarness();
    const { agent, csrf } = await loggedIn(h.app);
    await agent.post('/ui/register').type('form').send({ _csrf: csrf, name: 'quiet', macs: '00:16:3e:00:00:07', profile: 'el9-kvm' }).expect(303);
    assert.equal((await h.store.getSystem('quiet'))!.state, 'registered');
  });

  const bad: Array<[string, Record<string, string>, number, RegExp]> = [
    ['a bad MAC', { macs: '00:16:3e:84:b5' }, 400, /invalid MAC address/],
    ['a shell hostname', { hostname: '$(reboot)' }, 400, /hostname/],
    ['an unknown profile', { profile: 'nope' }, 400, /no profile named/],
    ['overrides that are not JSON', { overrides: '{xen' }, 400, /overrides: not valid JSON/],
    ['a name that exists', { name: 'taken' }, 409, /already exists/],
  ];
  for (const [what, change, status, message] of bad) {
    test(`register with ${what} is ${status}, shows the error with the values sent and stores nothing new`, async () => {
      const h = dashboardHarness();
      await h.store.createSystem({ name: 'taken', macs: ['00:16:3e:00:00:99'], profile: 'el9-kvm' }, h.clock.now);
      const { agent, csrf } = await loggedIn(h.app);
      const body = { _csrf: csrf, name: 'fresh', macs: '00:16:3e:84:b5:99', profile: 'centos44-hvm', hostname: 'ok', build: 'on', ...change };
      const r = await agent.post('/ui/register').type('form').send(body);
      assert.equal(r.status, status);
      assert.match(r.text, /role="alert"/);
      assert.match(r.text, message);
      assert.match(r.text, new RegExp(`name="macs" value="${body.macs}"`));
      assert.deepEqual((await h.store.listSystems()).map((s) => s.name), ['taken']);
    });
  }

  test('rebuild through the form arms a fresh run; cancel disarms it', async () => {
    const h = dashboardHarness();
    const token = await armed(h);
    const { agent, csrf } = await loggedIn(h.app);
    await request(h.app).post(`/events/${token}/built`).expect(200);
    assert.equal((await h.store.getSystem(NG.name))!.state, 'built');
    h.clock.now += 1000;
    const r = await agent.post('/ui/systems/ngtest-hvm/rebuild').type('form').send({ _csrf: csrf });
    assert.equal(r.status, 303);
    assert.equal(r.headers.location, '/ui/systems/ngtest-hvm');
    const s = (await h.store.getSystem(NG.name))!;
    assert.equal(s.state, 'build');
    assert.equal(s.run, 2);
    assert.notEqual(s.token, token);
    const ev = await h.store.listEvents(NG.name, { run: 2 });
    assert.deepEqual(ev.map((e) => [e.stage, e.message]), [['armed', 'rebuild requested from the dashboard']]);
    await agent.post('/ui/systems/ngtest-hvm/disarm').type('form').send({ _csrf: csrf }).expect(303);
    assert.equal((await h.store.getSystem(NG.name))!.state, 'registered');
  });

  test('rebuilding an unknown system is a 404 page; a discovered one without a profile is 409', async () => {
    const h = dashboardHarness();
    await h.lifecycle.discovered('00:16:3e:aa:bb:cc', '10.0.0.9');
    const { agent, csrf } = await loggedIn(h.app);
    const missing = await agent.post('/ui/systems/nope/rebuild').type('form').send({ _csrf: csrf });
    assert.equal(missing.status, 404);
    assert.match(missing.text, /no system named &quot;nope&quot;/);
    const noProfile = await agent.post('/ui/systems/discovered-00163eaabbcc/rebuild').type('form').send({ _csrf: csrf });
    assert.equal(noProfile.status, 409);
  });
});
