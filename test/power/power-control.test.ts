// Power control through the API, the dashboard and /metrics over fake machines: settings with a
// write-only secret sealed in the store and never logged, rebuild with reboot (armed, next boot,
// cycled, `power-cycled`), failures (502, `power-failed`, still armed), validation of every value
// that reaches a command line, profile defaults, and bulk rebuilds with a concurrency limit.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { Lifecycle } from '../../server/boot/lifecycle.ts';
import { PowerControl } from '../../server/boot/power-control.ts';
import { silentLogger } from '../../server/log.ts';
import { ProfileRegistry } from '../../server/profiles/registry.ts';
import { SecretBox } from '../../server/power/secret-box.ts';
import type { PowerDriver } from '../../server/power/types.ts';
import { memoryStore } from '../fakes/memory-store.ts';
import { ADMIN, NG, csrfOf, dashboardHarness, loggedIn } from '../http/dashboard-harness.ts';
import { PROFILES_DIR } from '../http/harness.ts';

const SECRET = 'bmc-Secret-42!';
const auth = { Authorization: `Bearer ${ADMIN}` };

describe('power control over the API', () => {
  test('settings: the secret is write-only, sealed in the store, kept when omitted, never logged', async () => {
    const h = dashboardHarness();
    await request(h.app).post('/api/v1/systems').set(auth).send(NG).expect(201);
    const put = await request(h.app).put(`/api/v1/systems/${NG.name}/power`).set(auth).send({ driver: 'ipmi', address: '10.0.0.5', user: 'admin', secret: SECRET, port: 6230, uefi: true }).expect(200);
    assert.ok(!JSON.stringify(put.body).includes(SECRET));
    assert.deepEqual(put.body.settings, { driver: 'ipmi', address: '10.0.0.5', user: 'admin', secretSet: true, port: 6230, domain: null, uefi: true, boot: null, config_dir: null });
    const stored = (await h.store.getPowerSettings(NG.name))!;
    assert.match(stored.secret!, /^v1:/);
    assert.ok(!JSON.stringify(stored).includes(SECRET), 'the store holds a sealed secret only');
    // Changing the address without a secret keeps the stored one; the driver gets it in plain.
    await request(h.app).put(`/api/v1/systems/${NG.name}/power`).set(auth).send({ driver: 'ipmi', address: '10.0.0.6', user: 'admin' }).expect(200);
    await request(h.app).post(`/api/v1/systems/${NG.name}/power/status`).set(auth).expect(200);
    assert.equal(h.machines.machine(NG.name).targets.at(-1)!.secret, SECRET);
    assert.equal(h.machines.machine(NG.name).targets.at(-1)!.address, '10.0.0.6');
    const got = await request(h.app).get(`/api/v1/systems/${NG.name}/power`).set(auth).expect(200);
    assert.equal(got.body.settings.secretSet, true);
    assert.ok(!JSON.stringify(got.body).includes(SECRET));
    await request(h.app).put(`/api/v1/systems/${NG.name}/power`).set(auth).send({ driver: 'ipmi', address: '10.0.0.6', secret: null }).expect(200);
    assert.equal((await h.store.getPowerSettings(NG.name))!.secret, null);
    assert.ok(!JSON.stringify(h.logs()).includes(SECRET), 'no log line holds the secret');
  });

  test('values that would reach a command line are validated: 400 naming the field', async () => {
    const h = dashboardHarness();
    await request(h.app).post('/api/v1/systems').set(auth).send(NG).expect(201);
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ driver: 'ipmi', address: '-oProxyCommand=touch /tmp/x' }, /^address: /],
      [{ driver: 'ipmi', address: '10.0.0.5; reboot' }, /^address: /],
      [{ driver: 'libvirt', address: 'qemu+tcp://admin:hunter2@10.0.0.5/system' }, /^address: a libvirt URI names a user only/],
      [{ driver: 'ipmi', user: '-U root' }, /^user: /],
      [{ driver: 'ipmi', secret: 'two\nlines' }, /^secret: /],
      [{ driver: 'libvirt', address: '10.0.0.5' }, /^address: the libvirt driver takes a connection URI/],
      [{ driver: 'ipmi', address: 'qemu:///system' }, /^address: the ipmi driver takes a host name/],
      [{ driver: 'libvirt', address: 'qemu:///system', secret: 'x' }, /^secret: the libvirt driver uses no password/],
      [{ driver: 'xen', domain: '../../etc' }, /^domain: /],
      [{ driver: 'xen', config_dir: 'relative/dir' }, /^config_dir: /],
      [{ driver: 'redfish' }, /^driver: /],
      [{ driver: 'ipmi', colour: 'red' }, /colour/],
    ];
    for (const [body, re] of bad) {
      const r = await request(h.app).put(`/api/v1/systems/${NG.name}/power`).set(auth).send(body).expect(400);
      assert.match(r.body.error.message, re, JSON.stringify(body));
    }
    assert.equal(await h.store.getPowerSettings(NG.name), null, 'nothing was saved');
  });

  test('rebuild with reboot arms, sets the next boot, cycles and records power-cycled', async () => {
    const h = dashboardHarness();
    await request(h.app).post('/api/v1/systems').set(auth).send(NG).expect(201);
    await request(h.app).put(`/api/v1/systems/${NG.name}/power`).set(auth).send({ driver: 'ipmi', address: '10.0.0.5', user: 'admin', secret: SECRET }).expect(200);
    const r = await request(h.app).post(`/api/v1/systems/${NG.name}/rebuild`).set(auth).send({ reboot: true }).expect(200);
    assert.equal(r.body.build, true);
    assert.deepEqual(h.machines.machine(NG.name).calls, ['next-boot network', 'cycle']);
    const ev = (await h.store.listEvents(NG.name)).map((e) => [e.stage, e.message]);
    assert.deepEqual(ev, [['armed', 'rebuild with reboot requested'], ['power-cycled', 'ipmi: next boot network, power-cycled for the install']]);
    // Without reboot (no body, or reboot false) nothing is powered.
    await request(h.app).post(`/api/v1/systems/${NG.name}/rebuild`).set(auth).expect(200);
    await request(h.app).post(`/api/v1/systems/${NG.name}/rebuild`).set(auth).send({ reboot: false }).expect(200);
    assert.equal(h.machines.machine(NG.name).calls.length, 2);
    const metrics = await request(h.app).get('/metrics').expect(200);
    assert.match(metrics.text, /kickstand_power_systems\{state="on"\} 1/);
    assert.match(metrics.text, /kickstand_power_systems\{state="off"\} 0/);
    assert.match(metrics.text, /kickstand_power_actions_total\{driver="ipmi",action="cycle",result="ok"\} 1/);
  });

  test('a BMC that fails: 502 with its words, a power-failed event, and the install stays armed', async () => {
    const h = dashboardHarness();
    await request(h.app).post('/api/v1/systems').set(auth).send(NG).expect(201);
    await request(h.app).put(`/api/v1/systems/${NG.name}/power`).set(auth).send({ driver: 'ipmi', address: '10.0.0.5' }).expect(200);
    h.machines.machine(NG.name).fail = 'Unable to establish IPMI v2 / RMCP+ session';
    const r = await request(h.app).post(`/api/v1/systems/${NG.name}/rebuild`).set(auth).send({ reboot: true }).expect(502);
    assert.equal(r.body.error.code, 'power_failed');
    assert.equal(r.body.error.message, 'ipmi 10.0.0.5: Unable to establish IPMI v2 / RMCP+ session');
    const s = (await h.store.getSystem(NG.name))!;
    assert.equal(s.build, true);
    assert.equal(s.state, 'build');
    const last = (await h.store.listEvents(NG.name)).at(-1)!;
    assert.equal(last.stage, 'power-failed');
    assert.match(last.message!, /Unable to establish IPMI v2.*the install stays armed/);
    const act = await request(h.app).post(`/api/v1/systems/${NG.name}/power/cycle`).set(auth).expect(502);
    assert.match(act.body.error.message, /RMCP\+ session/);
    const view = await request(h.app).get(`/api/v1/systems/${NG.name}/power`).set(auth).expect(200);
    assert.equal(view.body.status.state, 'unknown');
    assert.match(view.body.status.error, /RMCP\+ session/);
  });

  test('no power driver: rebuild with reboot is a 409 naming how to set one, and the install stays armed', async () => {
    const h = dashboardHarness();
    await request(h.app).post('/api/v1/systems').set(auth).send(NG).expect(201);
    const r = await request(h.app).post(`/api/v1/systems/${NG.name}/rebuild`).set(auth).send({ reboot: true }).expect(409);
    assert.match(r.body.error.message, /has no power driver; set one/);
    assert.equal((await h.store.getSystem(NG.name))!.build, true);
    assert.equal((await h.store.listEvents(NG.name)).at(-1)!.stage, 'power-failed');
  });

  test('bulk rebuild: one result per system, failures do not stop the others', async () => {
    const h = dashboardHarness();
    for (const [i, n] of ['a1', 'a2', 'a3'].entries()) {
      await request(h.app).post('/api/v1/systems').set(auth).send({ name: n, macs: [`00:16:3e:00:00:0${i}`], profile: 'el9-kvm' }).expect(201);
      await request(h.app).put(`/api/v1/systems/${n}/power`).set(auth).send({ driver: 'libvirt', address: 'qemu:///system' }).expect(200);
    }
    h.machines.machine('a2').fail = "error: failed to get domain 'a2'";
    const r = await request(h.app).post('/api/v1/rebuild').set(auth).send({ systems: ['a1', 'a2', 'a3', 'ghost'], reboot: true, concurrency: 2 }).expect(200);
    assert.deepEqual(r.body.results.map((x: { system: string; ok: boolean; error: { code: string } | null }) => [x.system, x.ok, x.error?.code ?? null]), [['a1', true, null], ['a2', false, 'power_failed'], ['a3', true, null], ['ghost', false, 'not_found']]);
    assert.equal((await h.store.getSystem('a2'))!.build, true);
    await request(h.app).post('/api/v1/rebuild').set(auth).send({ systems: ['a1', 'a1'] }).expect(400);
  });
});

describe('power control: concurrency, profile defaults, secrets', () => {
  test('a bulk rebuild never has more machines in flight than its limit', async () => {
    const store = memoryStore();
    const log = silentLogger();
    const lifecycle = new Lifecycle({ store, log });
    let inFlight = 0;
    let most = 0;
    const slow = async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 20));
      inFlight--;
    };
    const driver: PowerDriver = { name: 'ipmi', status: async () => 'on', on: slow, off: slow, cycle: slow, setNextBoot: async () => {}, installDone: async () => {} };
    const power = new PowerControl({ lifecycle, registry: new ProfileRegistry(PROFILES_DIR, log), log, secrets: new SecretBox(join(mkdtempSync(join(tmpdir(), 'ks-k-')), 'k')), createDriver: () => driver });
    const names = Array.from({ length: 9 }, (_, i) => `n${i}`);
    for (const [i, n] of names.entries()) {
      await store.createSystem({ name: n, macs: [`00:16:3e:00:01:0${i}`], profile: 'el9-kvm' }, 1);
      await power.setSettings(n, { driver: 'ipmi', address: `10.0.1.${i + 1}` });
    }
    const results = await power.rebuildMany(names, { reboot: true, source: null, reason: 't', concurrency: 3 });
    assert.ok(results.every((r) => r.ok));
    assert.equal(most, 3);
  });

  test('a profile\'s power block gives shared defaults, its secret_file the secret; the system\'s own settings win', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-prof-'));
    cpSync(PROFILES_DIR, dir, { recursive: true });
    const secretFile = join(dir, 'bmc-password');
    writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
    writeFileSync(join(dir, 'rack.yaml'), `kind: profile\nname: rack\nextends: el9-kvm\npower:\n  driver: ipmi\n  user: admin\n  secret_file: ${secretFile}\n  uefi: true\n`);
    const store = memoryStore();
    const log = silentLogger();
    const targets: unknown[] = [];
    const power = new PowerControl({
      lifecycle: new Lifecycle({ store, log }),
      registry: new ProfileRegistry(dir, log),
      log,
      secrets: new SecretBox(join(dir, 'key')),
      createDriver: (t) => {
        targets.push(t);
        return { name: t.driver, status: async () => 'off', on: async () => {}, off: async () => {}, cycle: async () => {}, setNextBoot: async () => {}, installDone: async () => {} };
      },
    });
    await store.createSystem({ name: 'r1', macs: ['00:16:3e:00:02:01'], profile: 'rack' }, 1);
    await power.setSettings('r1', { address: 'bmc-r1.lab' });
    assert.equal(await power.act('r1', 'status', null), 'off');
    assert.deepEqual(targets.at(-1), { system: 'r1', driver: 'ipmi', address: 'bmc-r1.lab', user: 'admin', secret: SECRET, port: null, domain: null, uefi: true, boot: 'network', configDir: '/etc/xen' });
    const view = await power.view('r1');
    assert.equal(view.settings.driver, null);
    assert.equal(view.effective.driver, 'ipmi');
    assert.equal(view.effective.secretSet, true);
    await power.setSettings('r1', { address: 'bmc-r1.lab', user: 'operator', uefi: false });
    await power.act('r1', 'status', null);
    assert.equal((targets.at(-1) as { user: string }).user, 'operator');
    assert.equal((targets.at(-1) as { uefi: boolean }).uefi, false);
    assert.deepEqual((await power.controlled()).map((s) => s.name), ['r1']);
  });
});

describe('power on the dashboard', () => {
  test('a power column on the list, a rebuild-and-power-cycle button, and a failure shown with its words', async () => {
    const h = dashboardHarness();
    await request(h.app).post('/api/v1/systems').set(auth).send(NG).expect(201);
    await request(h.app).post('/api/v1/systems').set(auth).send({ name: 'plain', macs: ['00:16:3e:00:00:77'], profile: 'el9-kvm' }).expect(201);
    await request(h.app).put(`/api/v1/systems/${NG.name}/power`).set(auth).send({ driver: 'ipmi', address: '10.0.0.5' }).expect(200);
    await request(h.app).post(`/api/v1/systems/${NG.name}/power/on`).set(auth).expect(200);
    const { agent } = await loggedIn(h.app);
    const list = await agent.get('/ui/').expect(200);
    assert.match(list.text, /<th>Power<\/th>/);
    assert.match(list.text, /data-system="ngtest-hvm"[\s\S]*?<td data-label="Power" data-power>on<\/td>/);
    assert.match(list.text, /data-system="plain"[\s\S]*?<td data-label="Power" data-power><\/td>/);
    const page = await agent.get(`/ui/systems/${NG.name}`).expect(200);
    assert.match(page.text, /id="rebuild-reboot"/);
    assert.match(page.text, /<dt>Power<\/dt><dd>ipmi 10\.0\.0\.5: on, just now<\/dd>/);
    assert.doesNotMatch((await agent.get('/ui/systems/plain').expect(200)).text, /rebuild-reboot/);
    const csrf = csrfOf(page.text);
    await agent.post(`/ui/systems/${NG.name}/rebuild-reboot`).type('form').send({ _csrf: csrf }).expect(303);
    assert.deepEqual((await h.store.listEvents(NG.name)).slice(-2).map((e) => e.stage), ['armed', 'power-cycled']);
    h.machines.machine(NG.name).fail = 'Unable to establish IPMI v2 / RMCP+ session';
    const failed = await agent.post(`/ui/systems/${NG.name}/rebuild-reboot`).type('form').send({ _csrf: csrf }).expect(502);
    assert.match(failed.text, /ipmi 10\.0\.0\.5: Unable to establish IPMI v2 \/ RMCP\+ session/);
    assert.equal((await h.store.getSystem(NG.name))!.build, true);
    await agent.post(`/ui/systems/${NG.name}/rebuild-reboot`).type('form').send({ _csrf: 'wrong' }).expect(403);
  });

  test('the power form saves settings (the secret write-only), buttons run actions, and a bad value is a 400 page', async () => {
    const h = dashboardHarness();
    await request(h.app).post('/api/v1/systems').set(auth).send(NG).expect(201);
    const { agent } = await loggedIn(h.app);
    const page = await agent.get(`/ui/systems/${NG.name}`).expect(200);
    assert.match(page.text, /id="power-section"/);
    const csrf = csrfOf(page.text);
    await agent.post(`/ui/systems/${NG.name}/power`).type('form').send({ _csrf: csrf, driver: 'ipmi', address: '10.0.0.7', user: 'admin', secret: SECRET, port: '623', uefi: 'on', boot: '', domain: '', config_dir: '' }).expect(303);
    const after = await agent.get(`/ui/systems/${NG.name}`).expect(200);
    assert.ok(!after.text.includes(SECRET), 'the page never shows the secret');
    assert.match(after.text, /<small>set; leave empty to keep it<\/small>/);
    assert.match(after.text, /name="address" value="10\.0\.0\.7"/);
    assert.match(after.text, /<option value="ipmi" selected>/);
    const stored = (await h.store.getPowerSettings(NG.name))!;
    assert.deepEqual([stored.driver, stored.address, stored.user, stored.options], ['ipmi', '10.0.0.7', 'admin', { port: 623, uefi: true }]);
    // Saving again with the secret field empty keeps it; the box removes it.
    await agent.post(`/ui/systems/${NG.name}/power`).type('form').send({ _csrf: csrf, driver: 'ipmi', address: '10.0.0.8', secret: '' }).expect(303);
    assert.match((await h.store.getPowerSettings(NG.name))!.secret!, /^v1:/);
    await agent.post(`/ui/systems/${NG.name}/power/on`).type('form').send({ _csrf: csrf }).expect(303);
    assert.equal((await h.store.listEvents(NG.name)).at(-1)!.stage, 'power-on');
    assert.equal(h.machines.machine(NG.name).targets.at(-1)!.secret, SECRET);
    await agent.post(`/ui/systems/${NG.name}/power`).type('form').send({ _csrf: csrf, driver: 'ipmi', address: '10.0.0.8', clear_secret: 'on' }).expect(303);
    assert.equal((await h.store.getPowerSettings(NG.name))!.secret, null);
    const bad = await agent.post(`/ui/systems/${NG.name}/power`).type('form').send({ _csrf: csrf, driver: 'ipmi', address: '$(reboot)' }).expect(400);
    assert.match(bad.text, /address: expected a host name/);
    await agent.post(`/ui/systems/${NG.name}/power/explode`).type('form').send({ _csrf: csrf }).expect(404);
    assert.ok(!JSON.stringify(h.logs()).includes(SECRET));
  });
});
