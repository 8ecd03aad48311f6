import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { harness, ADMIN } from './harness.ts';
import { brokenStore } from '../fakes/memory-store.ts';
import { ROUTES } from '../../server/http/routes.ts';

const NG = { name: 'ngtest-hvm', macs: ['00:16:3E:84:B5:99'], hostname: 'ngtest', profile: 'centos44-hvm' };

describe('API auth', () => {
  for (const spec of ROUTES.filter((r) => r.auth)) {
    for (const method of spec.methods) {
      test(`${method} ${spec.path} without a token is 401`, async () => {
        const h = harness();
        const path = spec.path.replace(':name', 'x').replace(':kind', 'kickstart');
        const r = await request(h.app)[method.toLowerCase() as 'get'](path);
        assert.equal(r.status, 401);
        assert.equal(r.body.error.code, 'unauthorized');
      });
    }
  }

  test('a wrong token and a malformed header are 401', async () => {
    const h = harness();
    assert.equal((await request(h.app).get('/api/v1/systems').set('Authorization', `Bearer ${ADMIN}x`)).status, 401);
    assert.equal((await request(h.app).get('/api/v1/systems').set('Authorization', `Basic ${ADMIN}`)).status, 401);
    assert.equal((await request(h.app).get('/api/v1/systems').set('Authorization', 'Bearer')).status, 401);
  });

  test('healthz needs no token', async () => {
    const r = await request(harness().app).get('/healthz');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { ok: true });
  });
});

describe('systems API', () => {
  test('create stores one canonical MAC form and returns 201 with the view', async () => {
    const h = harness();
    const r = await request(h.app).post('/api/v1/systems').set(h.auth).send({ ...NG, macs: ['00-16-3E-84-B5-99', '0016.3e84.b59a'] });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.deepEqual(r.body.macs, ['00:16:3e:84:b5:99', '00:16:3e:84:b5:9a']);
    assert.equal(r.body.state, 'registered');
    assert.equal(r.body.build, false);
    assert.equal(r.body.urls, null);
    const list = await request(h.app).get('/api/v1/systems').set(h.auth);
    assert.deepEqual(list.body.systems.map((s: { name: string }) => s.name), ['ngtest-hvm']);
  });

  test('create with build: true arms it and shows token URLs', async () => {
    const h = harness();
    const r = await request(h.app).post('/api/v1/systems').set(h.auth).send({ ...NG, build: true });
    assert.equal(r.body.state, 'build');
    assert.match(r.body.urls.kickstart, /^http:\/\/127\.0\.0\.1:\d+\/ks\/[A-Za-z0-9_-]{27}$/);
    assert.match(r.body.urls.rescueOneLiner, /rescue\.sh && sh \/tmp\/rescue\.sh$/);
  });

  const bad: Array<[string, Record<string, unknown>, string]> = [
    ['an invalid MAC', { ...NG, macs: ['00:16:3e:84:b5'] }, 'macs[0]'],
    ['mixed MAC separators', { ...NG, macs: ['00:16-3e:84:b5:99'] }, 'macs[0]'],
    ['no MACs', { ...NG, macs: [] }, 'macs'],
    ['the same MAC twice', { ...NG, macs: ['00:16:3e:84:b5:99', '00-16-3e-84-b5-99'] }, 'macs'],
    ['a wrong type', { ...NG, build: 'yes' }, 'build'],
    ['an unknown key', { ...NG, colour: 'red' }, 'colour'],
    ['a bad name', { ...NG, name: 'Bad Name' }, 'name'],
    ['a shell hostname', { ...NG, hostname: '$(reboot)' }, 'hostname'],
    ['a bad IP', { ...NG, ip: '10.0.0.300' }, 'ip'],
    ['an unknown profile', { ...NG, profile: 'nope' }, 'profile'],
    ['overrides that break the profile', { ...NG, overrides: { disks: { hda: { size_mib: 'big' } } } }, 'overrides.disks.hda.size_mib'],
    ['overrides with an unknown key', { ...NG, overrides: { colour: 1 } }, 'overrides.colour'],
  ];
  for (const [what, body, field] of bad) {
    test(`create with ${what} is 400 naming ${field} and writes nothing`, async () => {
      const h = harness();
      const r = await request(h.app).post('/api/v1/systems').set(h.auth).send(body);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 'bad_request');
      assert.equal(r.body.error.field, field);
      assert.deepEqual(await h.store.listSystems(), []);
    });
  }

  test('a body that is not JSON, or not an object, is 400', async () => {
    const h = harness();
    const r = await request(h.app).post('/api/v1/systems').set(h.auth).set('content-type', 'application/json').send('{"name":');
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /not valid JSON/);
    const r2 = await request(h.app).post('/api/v1/systems').set(h.auth).send([1, 2]);
    assert.equal(r2.status, 400);
  });

  test('duplicate names and MACs are 409', async () => {
    const h = harness();
    await request(h.app).post('/api/v1/systems').set(h.auth).send(NG).expect(201);
    const dupName = await request(h.app).post('/api/v1/systems').set(h.auth).send({ ...NG, macs: ['00:00:00:00:00:01'] });
    assert.equal(dupName.status, 409);
    assert.equal(dupName.body.error.field, 'name');
    const dupMac = await request(h.app).post('/api/v1/systems').set(h.auth).send({ ...NG, name: 'other', macs: ['00163e84b599'] });
    assert.equal(dupMac.status, 409);
    assert.equal(dupMac.body.error.field, 'macs');
  });

  test('get, patch and delete a system; unknown names are 404', async () => {
    const h = harness();
    await request(h.app).post('/api/v1/systems').set(h.auth).send(NG).expect(201);
    assert.equal((await request(h.app).get('/api/v1/systems/ngtest-hvm').set(h.auth)).body.hostname, 'ngtest');
    const p = await request(h.app).patch('/api/v1/systems/ngtest-hvm').set(h.auth).send({ hostname: 'renamed', overrides: { xen: { vcpus: 4 } } });
    assert.equal(p.status, 200);
    assert.equal(p.body.hostname, 'renamed');
    assert.deepEqual(p.body.overrides, { xen: { vcpus: 4 } });
    assert.equal((await request(h.app).patch('/api/v1/systems/ngtest-hvm').set(h.auth).send({ profile: 7 })).status, 400);
    assert.equal((await request(h.app).patch('/api/v1/systems/nope').set(h.auth).send({ hostname: 'x' })).status, 404);
    assert.equal((await request(h.app).get('/api/v1/systems/nope').set(h.auth)).status, 404);
    assert.equal((await request(h.app).delete('/api/v1/systems/ngtest-hvm').set(h.auth)).status, 204);
    assert.equal((await request(h.app).delete('/api/v1/systems/ngtest-hvm').set(h.auth)).status, 404);
  });

  test('rebuild arms with a fresh token; disarm cancels; events list the timeline', async () => {
    const h = harness();
    await request(h.app).post('/api/v1/systems').set(h.auth).send(NG).expect(201);
    const a = await request(h.app).post('/api/v1/systems/ngtest-hvm/rebuild').set(h.auth);
    assert.equal(a.body.state, 'build');
    h.clock.now += 5000;
    const b = await request(h.app).post('/api/v1/systems/ngtest-hvm/rebuild').set(h.auth);
    assert.notEqual(a.body.urls.kickstart, b.body.urls.kickstart);
    assert.equal(b.body.run, 2);
    const d = await request(h.app).post('/api/v1/systems/ngtest-hvm/disarm').set(h.auth);
    assert.equal(d.body.state, 'registered');
    assert.equal(d.body.build, false);
    const ev = await request(h.app).get('/api/v1/systems/ngtest-hvm/events').set(h.auth);
    assert.deepEqual(ev.body.events.map((e: { stage: string }) => e.stage), ['armed', 'armed', 'failed']);
    assert.equal(ev.body.events[1].sincePreviousMs, null);
    assert.equal((await request(h.app).get('/api/v1/systems/ngtest-hvm/events?run=x').set(h.auth)).status, 400);
    assert.equal((await request(h.app).post('/api/v1/systems/nope/rebuild').set(h.auth)).status, 404);
  });

  test('render returns the artifact for operators; unknown kinds are 400', async () => {
    const h = harness();
    await request(h.app).post('/api/v1/systems').set(h.auth).send(NG).expect(201);
    const r = await request(h.app).get('/api/v1/systems/ngtest-hvm/render/kickstart').set(h.auth);
    assert.equal(r.status, 200);
    assert.match(r.text, /kickstart for ngtest-hvm \(profile centos44-hvm, distro centos-4\.4-i386\)/);
    assert.equal((await request(h.app).get('/api/v1/systems/ngtest-hvm/render/bogus').set(h.auth)).status, 400);
  });

  test('a broken store gives 500 with a generic message and the server keeps serving', async () => {
    const h = harness({ store: brokenStore() });
    const r = await request(h.app).get('/api/v1/systems').set(h.auth);
    assert.equal(r.status, 500);
    assert.deepEqual(r.body, { error: { code: 'internal', message: 'internal error' } });
    assert.equal((await request(h.app).get('/healthz')).status, 200);
  });

  test('unknown API routes are JSON 404s', async () => {
    const r = await request(harness().app).get('/api/v1/nothing').set('Authorization', `Bearer ${ADMIN}`);
    assert.equal(r.status, 404);
    assert.equal(r.body.error.code, 'not_found');
  });
});

describe('profiles and distros API', () => {
  test('profiles are resolved with extends and have secrets masked', async () => {
    const h = harness();
    const r = await request(h.app).get('/api/v1/profiles').set(h.auth);
    const names = r.body.profiles.map((p: { name: string }) => p.name);
    assert.ok(names.includes('centos44-hvm') && names.includes('el9-kvm'));
    assert.ok(!names.includes('hvm-base'), 'abstract profiles are not listed');
    const one = await request(h.app).get('/api/v1/profiles/centos44-hvm').set(h.auth);
    assert.equal(one.body.root_password_hash, '********');
    assert.equal(one.body.xen.vcpus, 2);
    assert.equal(one.body.xen.bridge, 'xenbr0', 'inherited from hvm-base');
    assert.deepEqual(one.body.parents, ['hvm-base']);
    assert.ok(!JSON.stringify(r.body).includes('$1$'));
    assert.equal((await request(h.app).get('/api/v1/profiles/nope').set(h.auth)).status, 404);
  });

  test('distros list the YAML distros', async () => {
    const h = harness();
    const r = await request(h.app).get('/api/v1/distros').set(h.auth);
    assert.deepEqual(r.body.distros.map((d: { name: string }) => d.name), ['centos-4.4-i386', 'fedora-45-x86_64', 'rocky-10-x86_64', 'rocky-9-x86_64']);
  });
});
