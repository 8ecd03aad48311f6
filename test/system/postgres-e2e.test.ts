// The QEMU install (test/e2e) once more, with kickstand's store on PostgreSQL: the guest PXE-boots
// from `kickstand serve` (DHCP full mode, TFTP, HTTP), installs itself reporting every step, and the
// lease, the events and the built state are rows in the database. One boot: the other boots of
// the e2e suite exercise nothing the store does differently.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ensurePackages, isRoot } from './lib/apt.ts';
import { startPostgres, type TestPostgres } from './lib/postgres.ts';
import { buildGuestArtifacts } from '../e2e/build/artifacts.ts';
import { LAB_PACKAGES, Lab, markers } from '../e2e/harness.ts';
import { KICKSTAND_PACKAGES, SYSTEM_NAME, startKickstand } from '../e2e/kickstand-server.ts';
import { INSTALL_STAGES, PROFILE } from '../e2e/suite.ts';
import type { ServerUnderTest } from '../e2e/server-under-test.ts';

const skip = isRoot() || process.env.CI === 'true' ? false : 'needs root (namespaces, tap device, apt, PostgreSQL as its own user)';

describe('e2e install with the store on PostgreSQL', { skip }, () => {
  let pg: TestPostgres | undefined;
  let lab: Lab | undefined;
  let server: ServerUnderTest | undefined;
  let url = '';
  let failed = false;

  before(async () => {
    ensurePackages([...LAB_PACKAGES, ...KICKSTAND_PACKAGES]);
    pg = await startPostgres();
    url = await pg.createDatabase('e2e');
    const guest = buildGuestArtifacts({ log: (l) => process.stderr.write(`e2e: ${l}\n`) });
    lab = new Lab({ hdaBytes: PROFILE.hdaMib * 2 ** 20, hdbBytes: PROFILE.hdbMib * 2 ** 20 });
    server = await startKickstand(lab, guest, PROFILE, { config: { store: { url } } });
  });

  after(async () => {
    await server?.stop();
    if (lab && (failed || process.env.KICKSTAND_E2E_KEEP)) process.stderr.write(`e2e[postgres]: logs kept in ${lab.keepArtifacts('postgres', {})}\n`);
    lab?.cleanup();
    await pg?.stop();
  });

  test('a PXE install reports every step; the lease, events and built state are in PostgreSQL', async () => {
    try {
      await server!.armInstall();
      const boot = await lab!.boot({ name: 'boot1-pxe', from: 'pxe' });
      const why = `${boot.name}: ${boot.seconds} s\nmarkers:\n  ${markers(boot.serial).join('\n  ')}\n${boot.serial.split(/\r?\n/).slice(-30).join('\n')}`;
      assert.ok(boot.serial.includes('KICKSTAND-INIT: script exited 0'), why);
      const stages = (await pg!.sql(`SELECT stage FROM events WHERE system = '${SYSTEM_NAME}' ORDER BY id`, 'e2e')).rows.map((r) => String(r.stage));
      let i = 0;
      for (const s of stages) if (s === INSTALL_STAGES[i]) i++;
      assert.equal(i, INSTALL_STAGES.length, `events ${JSON.stringify(stages)}\n${why}`);
      assert.ok(!stages.includes('failed'), why);
      assert.equal(stages.filter((s) => s === 'built').length, 1);
      const sys = (await pg!.sql(`SELECT state, build FROM systems WHERE name = '${SYSTEM_NAME}'`, 'e2e')).rows[0];
      assert.deepEqual(sys, { state: 'built', build: false });
      const leases = (await pg!.sql(`SELECT mac, state FROM leases WHERE mac = '${lab!.mac}'`, 'e2e')).rows;
      assert.ok(leases.some((l) => l.state === 'bound'), `a bound lease for ${lab!.mac}: ${JSON.stringify(leases)}`);
    } catch (err) {
      failed = true;
      throw err;
    }
  });
});
