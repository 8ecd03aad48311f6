// Rebuild with reboot through libvirt, end to end (issue 18): Debian's libvirtd, started by the
// test in the lab's namespace (a private instance, see test/system/lib/libvirtd.ts), runs the
// guest as a TCG domain on the lab's tap. The operator types kickstand commands only: the domain,
// its disk without boot code, is powered on and sits at "no bootable device"; rebuild --reboot
// writes network-first boot order into the domain, destroys and starts it, it installs and
// reports built, and kickstand puts the disk first again. (Starting a domain that is off is the
// unit tests' and the IPMI e2e's case.) A domain that does not exist is a clear error and a
// power-failed event; the install stays armed.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePackages, isRoot } from '../system/lib/apt.ts';
import { LIBVIRT_PACKAGES, startLibvirtd, type Libvirtd } from '../system/lib/libvirtd.ts';
import { bootOrder } from '../../server/power/libvirt-xml.ts';
import { buildGuestArtifacts, type GuestArtifacts } from './build/artifacts.ts';
import { mbrHasGrub } from './disk-checks.ts';
import { DEFAULT_BOOT_TIMEOUT_MS, LAB_PACKAGES, Lab, markers } from './harness.ts';
import { KICKSTAND_PACKAGES, SYSTEM_NAME, startKickstand } from './kickstand-server.ts';
import { ksCli, waitForStage, waitUntil } from './power-lab.ts';
import type { ServerUnderTest } from './server-under-test.ts';
import { INSTALL_STAGES, PROFILE } from './suite.ts';

const servers = new Set((process.env.KICKSTAND_E2E_SERVERS ?? 'kickstand,standin').split(',').map((s) => s.trim()));
const skip = !isRoot() ? 'needs root (namespaces, tap device, apt)' : servers.has('kickstand') ? false : 'kickstand not in KICKSTAND_E2E_SERVERS';

/** Returns the guest's domain XML: TCG, ACPI (the guest powers off), the lab's disks and tap, serial to a file, disk first. */
function domainXml(lab: Lab, serial: string): string {
  const accel = process.env.KICKSTAND_E2E_ACCEL === 'kvm' ? 'kvm' : 'qemu';
  return `<domain type='${accel}'>
  <name>${SYSTEM_NAME}</name>
  <memory unit='MiB'>512</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <boot dev='hd'/>
    <bios rebootTimeout='1000'/>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${lab.hda}'/><target dev='hda' bus='ide'/></disk>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${lab.hdb}'/><target dev='hdb' bus='ide'/></disk>
    <interface type='ethernet'><mac address='${lab.mac}'/><target dev='${lab.tap}' managed='no'/><model type='e1000'/></interface>
    <serial type='file'><source path='${serial}' append='on'/><target port='0'/></serial>
    <video><model type='none'/></video>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

describe('e2e: rebuild --reboot through libvirt (a private libvirtd, TCG domain)', { skip }, () => {
  let guest: GuestArtifacts;
  let lab: Lab | undefined;
  let server: ServerUnderTest | undefined;
  let libvirtd: Libvirtd | undefined;
  let dir = '';
  let failed = false;
  const serialLog = () => join(dir, 'serial.log');
  const serial = () => (existsSync(serialLog()) ? readFileSync(serialLog(), 'latin1') : '');
  const state = () => libvirtd!.virsh(['domstate', SYSTEM_NAME]).out.trim();
  const order = () => bootOrder(libvirtd!.virsh(['dumpxml', '--inactive', SYSTEM_NAME]).out);
  const why = () => `domstate ${state()}; boot order ${order().join(',')}\nserial markers:\n  ${markers(serial()).slice(-15).join('\n  ')}`;
  const guarded = (body: (t: TestContext) => Promise<void>) => async (t: TestContext) => {
    try {
      await body(t);
    } catch (err) {
      failed = true;
      throw err;
    }
  };

  before(async () => {
    try {
      ensurePackages([...LAB_PACKAGES, ...KICKSTAND_PACKAGES, ...LIBVIRT_PACKAGES]);
      guest = buildGuestArtifacts({ log: (l) => process.stderr.write(`e2e: ${l}\n`) });
      lab = new Lab({ hdaBytes: PROFILE.hdaMib * 2 ** 20, hdbBytes: PROFILE.hdbMib * 2 ** 20 });
      dir = join(lab.dir, 'libvirt');
      mkdirSync(dir);
      server = await startKickstand(lab, guest, PROFILE);
      libvirtd = await startLibvirtd(lab.ns, dir);
      writeFileSync(join(dir, 'domain.xml'), domainXml(lab, serialLog()));
      const def = libvirtd.virsh(['define', join(dir, 'domain.xml')]);
      if (def.code !== 0) throw new Error(`virsh define: ${def.err}`);
      await lab.captureStarted();
    } catch (err) {
      failed = true;
      throw err;
    }
  });

  after(async () => {
    await libvirtd?.stop();
    await server?.stop();
    if (lab && (failed || process.env.KICKSTAND_E2E_KEEP)) {
      const events = await server?.events().catch(() => []);
      process.stderr.write(`e2e[power-libvirt]: logs kept in ${lab.keepArtifacts('power-libvirt', { 'events.json': JSON.stringify(events ?? [], null, 2) })}\n`);
    }
    lab?.cleanup();
  });

  test('the settings name the libvirt URI; the domain is shut off and boots from disk', guarded(async () => {
    const set = ksCli(server!, ['system', 'power', SYSTEM_NAME, 'set', '--driver', 'libvirt', '--address', libvirtd!.uri]);
    assert.equal(set.code, 0, set.err);
    assert.equal(ksCli(server!, ['system', 'power', SYSTEM_NAME, 'status']).out, `${SYSTEM_NAME}: power is off\n`);
    assert.deepEqual(order(), ['hd']);
  }));

  test('a domain running with no boot code (blank disk): rebuild --reboot writes network first, destroys and starts it; it installs, reports built, and the disk is first again', guarded(async () => {
    // A blank hda has no MBR, as a wiped one: the domain sits at SeaBIOS's "no bootable device", on.
    assert.equal(ksCli(server!, ['system', 'power', SYSTEM_NAME, 'on']).code, 0);
    await new Promise((r) => setTimeout(r, 5000));
    assert.equal(state(), 'running', 'the broken machine stays on');
    const from = (await server!.events()).length;
    const r = ksCli(server!, ['system', 'rebuild', SYSTEM_NAME, '--reboot']);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(order(), ['network', 'hd'], 'the install boot order is in the domain while armed');
    const events = await waitForStage(server!, from, 'built', DEFAULT_BOOT_TIMEOUT_MS, why);
    const stages = events.map((e) => e.stage);
    assert.deepEqual(stages.slice(0, 2), ['armed', 'power-cycled'], why());
    for (const s of INSTALL_STAGES) assert.ok(stages.includes(s), `${s} missing from ${stages.join(', ')}\n${why()}`);
    assert.ok(!stages.includes('failed'), why());
    await waitUntil('the server puts the disk first once built', () => order().join(',') === 'hd', 30_000);
    await waitUntil('the guest powers off after the install', () => state() === 'shut off', 60_000);
    assert.ok(mbrHasGrub(lab!.hda), 'GRUB in the MBR');
  }));

  test('a domain that does not exist: exit 1 with virsh\'s words, power-failed, the install stays armed', guarded(async () => {
    assert.equal(ksCli(server!, ['system', 'power', SYSTEM_NAME, 'set', '--driver', 'libvirt', '--address', libvirtd!.uri, '--domain', 'no-such-domain']).code, 0);
    const r = ksCli(server!, ['system', 'rebuild', SYSTEM_NAME, '--reboot']);
    assert.equal(r.code, 1);
    assert.match(r.err.trim().split('\n').at(-1)!, /^kickstand: libvirt qemu:\/\/\/system\?socket=\S+ domain no-such-domain: error: failed to get domain 'no-such-domain'/);
    assert.equal(JSON.parse(ksCli(server!, ['system', 'show', SYSTEM_NAME]).out).build, true);
    assert.equal((await server!.events()).at(-1)!.stage, 'power-failed');
    ksCli(server!, ['system', 'disarm', SYSTEM_NAME]);
  }));
});
