// End to end (issue 5): a QEMU guest (TCG, iPXE ROM from ipxe-qemu, Debian kernel) PXE-boots in
// a private network namespace, installs itself onto two IDE disks (CHS partitions, ext3, swap,
// stock kernel, GRUB legacy in the MBR) and reports each step; then it boots from its own disk
// with no NIC boot ROM and reports `booted`. Judged by the events the server recorded, the serial
// console and the disk images, never by QEMU's exit code.
//
// Server: `startServer()` below. Today only the stand-in (dnsmasq + standin-http.ts serving the
// draft install script) exists; KICKSTAND_E2E_SKIP_STANDIN=1 skips it once kickstand's own run does.
// Run: `npm run test:e2e` (root). KICKSTAND_E2E_KEEP=1 keeps logs of passing runs too.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { ensurePackages, isRoot } from '../system/lib/apt.ts';
import { buildGuestArtifacts, type GuestArtifacts } from './build/artifacts.ts';
import { chsPartition, FIRST_SECTOR } from './chs.ts';
import { blkidProbe, debugfs, dumpe2fs, mbrHasGrub, sfdiskDump, wipeBootCode } from './disk-checks.ts';
import { LAB_PACKAGES, Lab, markers, type BootResult } from './harness.ts';
import type { E2eProfile, ServerUnderTest } from './server-under-test.ts';
import { STANDIN_PACKAGES, startStandin } from './standin.ts';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const PROFILE: E2eProfile = {
  hdaBytes: 2 * GiB,
  hdbBytes: 256 * MiB,
  root: chsPartition(2 * GiB),
  swap: chsPartition(256 * MiB),
  rootLabel: 'ks-root',
  swapLabel: 'ks-swap',
  kernelArgs: 'console=ttyS0,115200',
};
const INSTALL_STAGES = ['partitioned', 'formatted', 'kernel-installed', 'bootloader-installed', 'built'];
const ROOT_OFFSET = FIRST_SECTOR * 512;

/** Starts the server under test in the lab: the stand-in today, kickstand once it serves. */
async function startServer(lab: Lab, guest: GuestArtifacts, profile: E2eProfile): Promise<ServerUnderTest> {
  return startStandin(lab, guest, profile);
}

/** Returns a failure message with the serial markers and the tail of the serial log. */
function explain(boot: BootResult): string {
  const tail = boot.serial.split(/\r?\n/).slice(-40).join('\n');
  return `${boot.name}: exit ${boot.exitCode}, timed out ${boot.timedOut}, ${boot.seconds} s\n` +
    `markers:\n  ${markers(boot.serial).join('\n  ')}\nserial tail:\n${tail}`;
}

const skip = !isRoot() ? 'needs root (namespaces, tap, apt)' : process.env.KICKSTAND_E2E_SKIP_STANDIN ? 'KICKSTAND_E2E_SKIP_STANDIN set' : false;

describe('e2e with the stand-in server (dnsmasq + static HTTP + draft install script)', { skip }, () => {
  let guest: GuestArtifacts;
  let lab: Lab | undefined;
  let server: ServerUnderTest | undefined;
  let failed = false;
  let installed = false;

  /** Runs a test body, remembering a failure so the logs are kept. */
  const guarded = (body: (t: TestContext) => Promise<void>) => async (t: TestContext) => {
    try {
      await body(t);
    } catch (err) {
      failed = true;
      throw err;
    }
  };

  before(async () => {
    ensurePackages([...LAB_PACKAGES, ...STANDIN_PACKAGES]);
    guest = buildGuestArtifacts({ log: (l) => process.stderr.write(`e2e: ${l}\n`) });
    lab = new Lab({ hdaBytes: PROFILE.hdaBytes, hdbBytes: PROFILE.hdbBytes });
    server = await startServer(lab, guest, PROFILE);
  });

  after(async () => {
    await server?.stop();
    if (lab && (failed || process.env.KICKSTAND_E2E_KEEP)) {
      const extra: Record<string, string> = {
        'events.json': JSON.stringify((await server?.events()) ?? [], null, 2),
        'hda.sfdisk': sfdiskDump(lab.hda).text,
        'hdb.sfdisk': sfdiskDump(lab.hdb).text,
        'boots.json': JSON.stringify(lab.boots.map(({ serial: _s, ...b }) => b), null, 2),
      };
      const logs = server?.logFiles() ?? {};
      const kept = lab.keepArtifacts('standin', extra);
      process.stderr.write(`e2e: logs kept in ${kept} (server logs: ${Object.values(logs).join(', ')})\n`);
    }
    lab?.cleanup();
  });

  test('the CHS profile gives 261 cylinders and 2096451 blocks for a 2 GiB hda', () => {
    assert.deepEqual(PROFILE.root, { cylinders: 261, startSector: 63, sectors: 4192902, blocks1k: 2096451 });
    assert.deepEqual(PROFILE.swap, { cylinders: 32, startSector: 63, sectors: 514017, blocks1k: 257008 });
  });

  test('boot 1 (PXE) partitions, formats, installs kernel and GRUB, and reports each step then built', guarded(async () => {
    await server!.armInstall();
    const boot = await lab!.boot({ name: 'boot1-pxe', from: 'pxe' });
    process.stderr.write(`e2e: ${boot.name} took ${boot.seconds} s\n`);
    const stages = (await server!.events()).map((e) => e.stage);
    assert.ok(boot.serial.includes('KICKSTAND-INIT: script exited 0'), explain(boot));
    assert.deepEqual(stages, INSTALL_STAGES, explain(boot));
    installed = true;
  }));

  test('after boot 1, hda has one bootable CHS partition with ext3 of the computed size and GRUB in the MBR', guarded(async (t) => {
    if (!installed) return t.skip('boot 1 did not install');
    const hda = sfdiskDump(lab!.hda);
    assert.equal(hda.partitions.length, 1, hda.text);
    assert.deepEqual(
      { start: hda.partitions[0].start, size: hda.partitions[0].size, type: hda.partitions[0].type, bootable: hda.partitions[0].bootable },
      { start: PROFILE.root.startSector, size: PROFILE.root.sectors, type: '83', bootable: true },
      hda.text,
    );
    const sb = dumpe2fs(lab!.hda, ROOT_OFFSET);
    const blockSize = Number(sb['Block size']);
    // mke2fs was given 1 KiB blocks; it keeps whole blocks of its own block size.
    assert.equal(Number(sb['Block count']), Math.floor((PROFILE.root.blocks1k * 1024) / blockSize), JSON.stringify(sb));
    assert.equal(sb['Filesystem volume name'], PROFILE.rootLabel);
    assert.match(sb['Filesystem features'], /has_journal/);
    assert.doesNotMatch(sb['Filesystem features'], /extent/, 'ext3, not ext4');
    assert.ok(mbrHasGrub(lab!.hda), 'GRUB stage1 in the MBR of hda');
  }));

  test('after boot 1, hdb holds labelled swap and the root holds menu.lst, grub.conf link, fstab, securetty', guarded(async (t) => {
    if (!installed) return t.skip('boot 1 did not install');
    const hdb = sfdiskDump(lab!.hdb);
    assert.equal(hdb.partitions.length, 1, hdb.text);
    assert.equal(hdb.partitions[0].type, '82', hdb.text);
    assert.equal(hdb.partitions[0].size, PROFILE.swap.sectors, hdb.text);
    const swap = blkidProbe(lab!.hdb, ROOT_OFFSET);
    assert.equal(swap.TYPE, 'swap', JSON.stringify(swap));
    assert.equal(swap.LABEL, PROFILE.swapLabel);
    const menu = debugfs(lab!.hda, ROOT_OFFSET, 'cat /boot/grub/menu.lst');
    assert.match(menu, new RegExp(`root=LABEL=${PROFILE.rootLabel} `));
    assert.match(menu, /console=ttyS0/);
    assert.match(debugfs(lab!.hda, ROOT_OFFSET, 'stat /boot/grub/grub.conf'), /Fast link dest: "menu.lst"/);
    assert.match(debugfs(lab!.hda, ROOT_OFFSET, 'cat /etc/fstab'), new RegExp(`^LABEL=${PROFILE.swapLabel}\\s+swap`, 'm'));
    assert.match(debugfs(lab!.hda, ROOT_OFFSET, 'cat /etc/securetty'), /^ttyS0$/m);
  }));

  test('boot 2 (disk only, NIC without boot ROM) runs GRUB and the installed system reports booted', guarded(async (t) => {
    if (!installed) return t.skip('boot 1 did not install');
    const before = (await server!.events()).length;
    const boot = await lab!.boot({ name: 'boot2-disk', from: 'disk' });
    process.stderr.write(`e2e: ${boot.name} took ${boot.seconds} s\n`);
    const stages = (await server!.events()).slice(before).map((e) => e.stage);
    assert.ok(boot.serial.includes('KICKSTAND-SYSTEM: booted reported'), explain(boot));
    assert.deepEqual(stages, ['booted'], explain(boot));
    assert.match(boot.serial, /GNU GRUB/, 'GRUB legacy ran from the MBR');
    assert.match(debugfs(lab!.hda, ROOT_OFFSET, 'cat /var/log/kickstand-booted'), /\d/, 'the installed root was mounted read-write');
    assert.match(boot.serial, new RegExp(`KICKSTAND-SYSTEM: swap: /dev/sd[a-z]1`), 'swap from fstab by LABEL');
  }));

  test('boot 3: with the MBR wiped and the install re-armed, a PXE boot reinstalls and reports built again', guarded(async (t) => {
    if (!installed) return t.skip('boot 1 did not install');
    installed = false;
    wipeBootCode(lab!.hda);
    assert.ok(!mbrHasGrub(lab!.hda));
    await server!.armInstall();
    const before = (await server!.events()).length;
    const boot = await lab!.boot({ name: 'boot3-pxe-reinstall', from: 'pxe' });
    process.stderr.write(`e2e: ${boot.name} took ${boot.seconds} s\n`);
    const stages = (await server!.events()).slice(before).map((e) => e.stage);
    assert.ok(boot.serial.includes('KICKSTAND-INIT: script exited 0'), explain(boot));
    assert.deepEqual(stages, INSTALL_STAGES, explain(boot));
    assert.ok(mbrHasGrub(lab!.hda), 'GRUB back in the MBR');
    assert.equal(sfdiskDump(lab!.hda).partitions[0]?.size, PROFILE.root.sectors);
    installed = true;
  }));

  test('boot 4: PXE again gets the local-boot menu, falls through to the disk, and the system reports booted', guarded(async (t) => {
    if (!installed) return t.skip('boot 3 did not reinstall');
    const before = (await server!.events()).length;
    const boot = await lab!.boot({ name: 'boot4-pxe-local', from: 'pxe-then-disk' });
    process.stderr.write(`e2e: ${boot.name} took ${boot.seconds} s\n`);
    const stages = (await server!.events()).slice(before).map((e) => e.stage);
    assert.ok(boot.serial.includes('KICKSTAND-SYSTEM: booted reported'), explain(boot));
    assert.deepEqual(stages, ['booted'], explain(boot));
    assert.ok(!boot.serial.includes('KICKSTAND-INIT:'), 'the installer did not run again');
    assert.match(boot.serial, /Booting from local disk[\s\S]*GNU GRUB/, 'pxelinux LOCALBOOT, then GRUB from the MBR');
  }));
});
