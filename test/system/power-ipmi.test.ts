// Power control against a simulated BMC (OpenIPMI's ipmi_sim on loopback, IPMI 2.0 lanplus) with
// the real ipmitool: what the driver tells the BMC (power, one-shot PXE boot, UEFI), rebuild with
// reboot through the API recording power-cycled, and the failures an operator meets (a wrong
// password, a BMC that does not answer) as clear errors with a power-failed event while the
// install stays armed. The QEMU guest behind a BMC is in test/e2e/power-ipmi.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { Artifacts } from '../../server/boot/artifacts.ts';
import { Lifecycle } from '../../server/boot/lifecycle.ts';
import { PowerControl } from '../../server/boot/power-control.ts';
import { createHttpHandler } from '../../server/http/app.ts';
import { captureLogger } from '../../server/log.ts';
import { ipmiDriver } from '../../server/power/ipmi.ts';
import { SecretBox } from '../../server/power/secret-box.ts';
import type { PowerTarget } from '../../server/power/types.ts';
import { ProfileRegistry } from '../../server/profiles/registry.ts';
import { memoryStore } from '../fakes/memory-store.ts';
import { fakeRenderer } from '../fakes/renderer.ts';
import { ADMIN, PROFILES_DIR } from '../http/harness.ts';
import { ensurePackages, isRoot } from './lib/apt.ts';
import { BMC_USER, freeUdpPort, fileChassis, startBmc, type Bmc } from './lib/bmc.ts';

const PASSWORD = 'Bmc-pw-31';
const skip = isRoot() ? false : 'needs root (apt-get install openipmi ipmitool)';
if (skip && process.env.CI === 'true') throw new Error('power-ipmi system test cannot run under CI: needs root');

describe('ipmi driver against ipmi_sim', { skip }, () => {
  let bmc: Bmc;
  let state: string;
  const target = (o: Partial<PowerTarget> = {}): PowerTarget => ({
    system: 'node1', driver: 'ipmi', address: '127.0.0.1', user: BMC_USER, secret: PASSWORD, port: bmc.port, domain: null, uefi: false, boot: 'network', configDir: '/etc/xen', ...o,
  });
  const calls = () => readFileSync(join(state, 'calls.log'), 'utf8').trim().split('\n').filter((l) => !l.includes(' get '));

  before(async () => {
    ensurePackages(['openipmi', 'ipmitool']);
    state = mkdtempSync(join(tmpdir(), 'ks-chassis-'));
    bmc = await startBmc({ chassisControl: fileChassis(state), password: PASSWORD });
  });
  after(() => {
    bmc?.stop();
    rmSync(state, { recursive: true, force: true });
  });

  test('status, on, cycle and off reach the chassis; next boot is pxe (efiboot accepted) or cdrom', async () => {
    const d = ipmiDriver(target());
    assert.equal(await d.status(), 'off');
    await d.on();
    assert.equal(await d.status(), 'on');
    await d.setNextBoot('network');
    assert.equal(readFileSync(join(state, 'boot'), 'utf8').trim(), 'pxe');
    await ipmiDriver(target({ uefi: true })).setNextBoot('network');
    await d.setNextBoot('cd');
    assert.equal(readFileSync(join(state, 'boot'), 'utf8').trim(), 'cdrom');
    await d.cycle();
    await new Promise((r) => setTimeout(r, 1500)); // ipmi_sim powers back on a second after the off
    assert.equal(await d.status(), 'on');
    await d.off();
    assert.equal(await d.status(), 'off');
    assert.deepEqual(calls(), ['0x20 set power 1', '0x20 set boot pxe', '0x20 set boot pxe', '0x20 set boot cdrom', '0x20 set power 0', '0x20 set power 1', '0x20 set power 0']);
  });

  test('a wrong password and a BMC that does not answer fail within seconds, quoting ipmitool', async () => {
    const started = Date.now();
    await assert.rejects(ipmiDriver(target({ secret: 'wrong' })).status(), /^PowerError: ipmi 127\.0\.0\.1:\d+: .*Unable to establish IPMI v2 \/ RMCP\+ session$/);
    const port = await freeUdpPort();
    await assert.rejects(ipmiDriver(target({ port })).status(), new RegExp(`^PowerError: ipmi 127\\.0\\.0\\.1:${port}: .*Unable to establish IPMI v2 / RMCP\\+ session$`));
    assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
  });

  test('the API: rebuild with reboot sets pxe and powers the machine on; wrong credentials are a 502, power-failed, still armed', async () => {
    const { log, lines } = captureLogger('debug');
    const store = memoryStore();
    const lifecycle = new Lifecycle({ store, log });
    const registry = new ProfileRegistry(PROFILES_DIR, log);
    const artifacts = new Artifacts(registry, fakeRenderer());
    const power = new PowerControl({ lifecycle, registry, log, secrets: new SecretBox(join(state, 'key')) });
    const app = createHttpHandler({ lifecycle, registry, artifacts, adminToken: ADMIN, log, power });
    const auth = { Authorization: `Bearer ${ADMIN}` };
    await request(app).post('/api/v1/systems').set(auth).send({ name: 'node1', macs: ['00:16:3e:00:04:01'], profile: 'el9-kvm' }).expect(201);
    await request(app).put('/api/v1/systems/node1/power').set(auth).send({ driver: 'ipmi', address: '127.0.0.1', port: bmc.port, user: BMC_USER, secret: PASSWORD }).expect(200);
    await request(app).post('/api/v1/systems/node1/power/off').set(auth).expect(200);
    const before = calls().length;
    await request(app).post('/api/v1/systems/node1/rebuild').set(auth).send({ reboot: true }).expect(200);
    assert.deepEqual(calls().slice(before), ['0x20 set boot pxe', '0x20 set power 1']);
    assert.deepEqual((await store.listEvents('node1')).map((e) => e.stage), ['power-off', 'armed', 'power-cycled']);

    await request(app).put('/api/v1/systems/node1/power').set(auth).send({ driver: 'ipmi', address: '127.0.0.1', port: bmc.port, user: BMC_USER, secret: 'not-the-password' }).expect(200);
    const r = await request(app).post('/api/v1/systems/node1/rebuild').set(auth).send({ reboot: true }).expect(502);
    assert.match(r.body.error.message, /^ipmi 127\.0\.0\.1:\d+: .*Unable to establish IPMI v2 \/ RMCP\+ session$/);
    assert.equal((await store.getSystem('node1'))!.build, true);
    assert.equal((await store.listEvents('node1')).at(-1)!.stage, 'power-failed');
    const text = JSON.stringify(lines());
    assert.ok(!text.includes(PASSWORD) && !text.includes('not-the-password'), 'no password in the log');
  });
});
