// The e2e boots and checks, defined once and run against each server (the stand-in, kickstand):
// boot 1 PXE install, boot 2 from disk with no NIC boot ROM, boot 3 reinstall after wiping the
// MBR, boot 4 PXE again with the local-boot menu falling through to the disk, boot 5 the CD route
// (a boot ISO, order dca, no NIC boot ROM) reinstalling once more. Judged by the events
// the server recorded, the serial console and the disk images, never by QEMU's exit code.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { ensurePackages } from '../system/lib/apt.ts';
import { buildGuestArtifacts, type GuestArtifacts } from './build/artifacts.ts';
import { layoutDisk } from '../../server/geometry/layout.ts';
import { blkidProbe, catFollowing, debugfs, dumpe2fs, mbrHasGrub, sfdiskDump, wipeBootCode } from './disk-checks.ts';
import { LAB_PACKAGES, Lab, markers, type BootOptions, type BootResult } from './harness.ts';
import type { E2eProfile, RecordedEvent, ServerUnderTest } from './server-under-test.ts';

const HDA = layoutDisk(2048, [{ kind: 'linux', bootable: true }], 'chs', 'hda');
const HDB = layoutDisk(256, [{ kind: 'swap' }], 'chs', 'hdb');
/** The guest's profile: small CHS disks laid out by kickstand's geometry module (figures asserted below), labels, serial console. */
export const PROFILE: E2eProfile = {
  hdaMib: 2048,
  hdbMib: 256,
  hdaCylinders: HDA.cylinders,
  root: HDA.partitions[0]!,
  swap: HDB.partitions[0]!,
  rootLabel: 'ks-root',
  swapLabel: 'ks-swap',
  // panic=1: a kernel panic reboots, and -no-reboot turns that into QEMU exiting instead of a hang.
  kernelArgs: 'console=ttyS0,115200 panic=1',
};
/** Steps every install must report, in this order (a server may record more between them). */
export const INSTALL_STAGES = ['partitioned', 'formatted', 'kernel-installed', 'bootloader-installed', 'built'];
/** Stages only the guest reports (the server's own events, such as `pxe` or `armed`, are left out). */
const GUEST_STAGES = new Set([...INSTALL_STAGES, 'packages-installed', 'configured', 'failed', 'booted']);
const ROOT_OFFSET = PROFILE.root.offset;
const SWAP_OFFSET = PROFILE.swap.offset;

/** Starts a server in the lab for the guest. */
export type StartServer = (lab: Lab, guest: GuestArtifacts, profile: E2eProfile) => Promise<ServerUnderTest>;

export interface SuiteOptions {
  title: string;
  /** Short name for the artifacts folder. */
  name: string;
  skip: string | false;
  /** Debian packages this server needs besides the lab's. */
  packages: string[];
  start: StartServer;
}

/** Returns a failure message with the serial markers and the tail of the serial log. */
export function explain(boot: BootResult, stages: string[] = []): string {
  const tail = boot.serial.split(/\r?\n/).slice(-40).join('\n');
  return `${boot.name}: exit ${boot.exitCode}, timed out ${boot.timedOut}, ${boot.seconds} s; stages ${stages.join(', ')}\n` +
    `markers:\n  ${markers(boot.serial).join('\n  ')}\nserial tail:\n${tail}`;
}

/** Returns the guest-reported stages among events. */
export function guestStages(events: RecordedEvent[]): string[] {
  return events.map((e) => e.stage).filter((s) => GUEST_STAGES.has(s));
}

/** Asserts that `required` appears in `stages` in order, and that nothing failed. */
export function assertStagesInOrder(stages: string[], required: string[], message: string): void {
  assert.ok(!stages.includes('failed'), `the guest reported failed\n${message}`);
  let i = 0;
  for (const s of stages) if (s === required[i]) i++;
  assert.equal(i, required.length, `stages ${JSON.stringify(stages)} lack ${JSON.stringify(required.slice(i))} in order\n${message}`);
}

/** Defines the install suite against one server. */
export function defineInstallSuite(o: SuiteOptions): void {
  describe(o.title, { skip: o.skip }, () => {
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

    /** Boots the guest and returns the result with the guest stages recorded during that boot. */
    const bootAndCollect = async (name: string, from: BootOptions['from'], cdrom?: string) => {
      const before = (await server!.events()).length;
      const boot = await lab!.boot({ name, from, cdrom });
      process.stderr.write(`e2e[${o.name}]: ${boot.name} took ${boot.seconds} s\n`);
      const stages = guestStages((await server!.events()).slice(before));
      return { boot, stages, why: explain(boot, stages) };
    };

    before(async () => {
      try {
        ensurePackages([...LAB_PACKAGES, ...o.packages]);
        guest = buildGuestArtifacts({ log: (l) => process.stderr.write(`e2e: ${l}\n`) });
        lab = new Lab({ hdaBytes: PROFILE.hdaMib * 2 ** 20, hdbBytes: PROFILE.hdbMib * 2 ** 20 });
        server = await o.start(lab, guest, PROFILE);
      } catch (err) {
        failed = true;
        throw err;
      }
    });

    after(async () => {
      await server?.stop();
      if (lab && (failed || process.env.KICKSTAND_E2E_KEEP)) {
        const extra: Record<string, string> = {
          'events.json': JSON.stringify((await server?.events().catch(() => [])) ?? [], null, 2),
          'hda.sfdisk': sfdiskDump(lab.hda).text,
          'hdb.sfdisk': sfdiskDump(lab.hdb).text,
          'boots.json': JSON.stringify(lab.boots.map(({ serial: _s, ...b }) => b), null, 2),
        };
        process.stderr.write(`e2e[${o.name}]: logs kept in ${lab.keepArtifacts(o.name, extra)}\n`);
      }
      lab?.cleanup();
    });

    test('the geometry module gives a 2 GiB hda 261 cylinders: sectors 63..4192964, 2096451 KiB, 524112 ext blocks', () => {
      assert.equal(PROFILE.hdaCylinders, 261);
      const { start, end, sectors, offset, kib, extBlocks } = PROFILE.root;
      assert.deepEqual({ start, end, sectors, offset, kib, extBlocks }, { start: 63, end: 261 * 16065 - 1, sectors: 4192902, offset: 32256, kib: 2096451, extBlocks: 524112 });
      assert.deepEqual([PROFILE.swap.start, PROFILE.swap.sectors], [63, 32 * 16065 - 63]);
    });

    test('boot 1 (PXE) partitions, formats, installs kernel and GRUB, and reports each step then built', guarded(async () => {
      await server!.armInstall();
      const { boot, stages, why } = await bootAndCollect('boot1-pxe', 'pxe');
      assert.ok(boot.serial.includes('KICKSTAND-INIT: script exited 0'), why);
      assertStagesInOrder(stages, INSTALL_STAGES, why);
      installed = true;
    }));

    test('after boot 1, hda has one bootable CHS partition with ext3 of the computed size and GRUB in the MBR', guarded(async (t) => {
      if (!installed) return t.skip('boot 1 did not install');
      const hda = sfdiskDump(lab!.hda);
      assert.equal(hda.partitions.length, 1, hda.text);
      const p = hda.partitions[0];
      assert.deepEqual(
        { start: p.start, size: p.size, type: p.type, bootable: p.bootable },
        { start: PROFILE.root.start, size: PROFILE.root.sectors, type: '83', bootable: true },
        hda.text,
      );
      const sb = dumpe2fs(lab!.hda, ROOT_OFFSET);
      // Whether mke2fs got the 1 KiB figure or -b 4096 and the 4 KiB one, the result is the same.
      assert.equal(Number(sb['Block size']), 4096, JSON.stringify(sb));
      assert.equal(Number(sb['Block count']), PROFILE.root.extBlocks, JSON.stringify(sb));
      assert.equal(sb['Filesystem volume name'], PROFILE.rootLabel);
      assert.match(sb['Filesystem features'], /has_journal/);
      assert.doesNotMatch(sb['Filesystem features'], /extent/, 'ext3, not ext4');
      assert.ok(mbrHasGrub(lab!.hda), 'GRUB stage1 in the MBR of hda');
    }));

    test('after boot 1, hdb holds labelled swap and the root holds the GRUB menu (both names), fstab, securetty', guarded(async (t) => {
      if (!installed) return t.skip('boot 1 did not install');
      const hdb = sfdiskDump(lab!.hdb);
      assert.equal(hdb.partitions.length, 1, hdb.text);
      assert.equal(hdb.partitions[0].type, '82', hdb.text);
      assert.equal(hdb.partitions[0].size, PROFILE.swap.sectors, hdb.text);
      const swap = blkidProbe(lab!.hdb, SWAP_OFFSET);
      assert.equal(swap.TYPE, 'swap', JSON.stringify(swap));
      assert.equal(swap.LABEL, PROFILE.swapLabel);
      const menu = catFollowing(lab!.hda, ROOT_OFFSET, '/boot/grub/menu.lst');
      assert.match(menu, new RegExp(`root=LABEL=${PROFILE.rootLabel}(\\s|$)`, 'm'), menu);
      assert.match(menu, /console=ttyS0/, menu);
      // One of menu.lst and grub.conf is a symlink to the other (Debian reads menu.lst, Red Hat grub.conf).
      const links = ['menu.lst', 'grub.conf'].map((f) => debugfs(lab!.hda, ROOT_OFFSET, `stat /boot/grub/${f}`));
      assert.ok(/Fast link dest: "grub.conf"/.test(links[0]) || /Fast link dest: "menu.lst"/.test(links[1]), links.join('\n'));
      assert.match(catFollowing(lab!.hda, ROOT_OFFSET, '/etc/fstab'), new RegExp(`^LABEL=${PROFILE.swapLabel}\\s+swap`, 'm'));
      assert.match(catFollowing(lab!.hda, ROOT_OFFSET, '/etc/securetty'), /^ttyS0$/m);
    }));

    test('boot 2 (disk only, NIC without boot ROM) runs GRUB and the installed system reports booted', guarded(async (t) => {
      if (!installed) return t.skip('boot 1 did not install');
      const { boot, stages, why } = await bootAndCollect('boot2-disk', 'disk');
      assert.ok(boot.serial.includes('KICKSTAND-SYSTEM: booted reported'), why);
      assert.deepEqual(stages, ['booted'], why);
      assert.match(boot.serial, /GNU GRUB/, 'GRUB legacy ran from the MBR');
      assert.match(boot.serial, /KICKSTAND-SYSTEM: swap: \/dev\/sd[a-z]1/, 'swap from fstab by LABEL');
      assert.match(debugfs(lab!.hda, ROOT_OFFSET, 'cat /var/log/kickstand-booted'), /\d/, 'the installed root was mounted read-write');
    }));

    test('boot 3: with the MBR wiped and the install re-armed, a PXE boot reinstalls and reports built again', guarded(async (t) => {
      if (!installed) return t.skip('boot 1 did not install');
      installed = false;
      wipeBootCode(lab!.hda);
      assert.ok(!mbrHasGrub(lab!.hda));
      await server!.armInstall();
      const { boot, stages, why } = await bootAndCollect('boot3-pxe-reinstall', 'pxe');
      assert.ok(boot.serial.includes('KICKSTAND-INIT: script exited 0'), why);
      assertStagesInOrder(stages, INSTALL_STAGES, why);
      assert.ok(mbrHasGrub(lab!.hda), 'GRUB back in the MBR');
      assert.equal(sfdiskDump(lab!.hda).partitions[0]?.size, PROFILE.root.sectors);
      installed = true;
    }));

    test('boot 4: PXE again gets the local-boot menu, falls through to the disk, and the system reports booted', guarded(async (t) => {
      if (!installed) return t.skip('boot 3 did not reinstall');
      const { boot, stages, why } = await bootAndCollect('boot4-pxe-local', 'pxe-then-disk');
      assert.ok(boot.serial.includes('KICKSTAND-SYSTEM: booted reported'), why);
      assert.deepEqual(stages, ['booted'], why);
      assert.ok(!boot.serial.includes('KICKSTAND-INIT:'), 'the installer did not run again');
      assert.match(boot.serial, /GNU GRUB/, 'GRUB from the MBR');
      // pxelinux writes to the serial console only when its config says SERIAL (the stand-in's does).
      if (boot.serial.includes('PXELINUX')) assert.match(boot.serial, /Booting from local disk[\s\S]*GNU GRUB/, why);
    }));

    test('boot 5 (the CD route): a boot ISO as hdc, order dca, no NIC boot ROM, reinstalls and reports built', guarded(async (t) => {
      if (!installed) return t.skip('boot 3 did not reinstall');
      installed = false;
      wipeBootCode(lab!.hda);
      await server!.armInstall();
      const iso = await server!.bootIso();
      const { boot, stages, why } = await bootAndCollect('boot5-cd', 'cd', iso);
      // No NIC boot ROM and no boot code in the MBR: the CD is the only thing that can have booted.
      assert.ok(boot.serial.includes('KICKSTAND-INIT: script exited 0'), why);
      assertStagesInOrder(stages, INSTALL_STAGES, why);
      assert.ok(mbrHasGrub(lab!.hda), 'GRUB back in the MBR');
      installed = true;
    }));
  });
}
