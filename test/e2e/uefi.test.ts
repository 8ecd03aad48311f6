// UEFI end to end against `kickstand serve` only (issue 15): QEMU on q35 under TCG with Debian's
// OVMF, one SATA disk, the profile `firmware: uefi` (GPT: ESP, root, swap). Judged by the events
// kickstand recorded, the serial console, the lab's capture and the disk image.
//   1 UEFI PXE through QEMU's iPXE EFI ROM → kickstand's iPXE script → the install script makes the
//     GPT and the ESP and puts shim and GRUB on it → built.
//   2 The disk through the firmware alone (no network boot) → shim → GRUB → kernel → booted.
//   3 Secure Boot enforced (OVMF_CODE_4M.secboot.fd, Microsoft's keys, SMM): OVMF's own PXE →
//     shimx64.efi → grubx64.efi (Debian's signed grubnetx64) → grub/grub.cfg → grub.cfg-01-<mac>
//     → Debian's signed kernel → installer → built; the kernel says Secure Boot is on.
//   4 Built, the same machine boots from the network again: GRUB's local-boot entry reads the
//     ESP's grub.cfg, the disk's kernel boots under Secure Boot → booted, no installer.
//   5 UEFI HTTP Boot with kickstand's TFTP switched off: OVMF fetches /boot/ipxe.efi by URL →
//     iPXE → its script → install → built.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePackages, isRoot } from '../system/lib/apt.ts';
import { buildGuestArtifacts, type GuestArtifacts } from './build/artifacts.ts';
import { TREE_PATHS } from './build/install-tree.ts';
import { blkidProbe, countPackets, dumpe2fs, fatFile, fatList, httpRequests, sfdiskDump, tftpReadRequests } from './disk-checks.ts';
import { LAB_PACKAGES, Lab, type BootOptions } from './harness.ts';
import { KICKSTAND_PACKAGES, KICKSTAND_UEFI_PACKAGES, UEFI_DISK, UEFI_PROFILE_NAME, startKickstand, type KickstandUnderTest } from './kickstand-server.ts';
import { INSTALL_STAGES, PROFILE, assertStagesInOrder, explain, guestStages } from './suite.ts';

const servers = new Set((process.env.KICKSTAND_E2E_SERVERS ?? 'kickstand,standin').split(',').map((s) => s.trim()));
const skip = !isRoot() ? 'needs root (namespaces, tap device, apt)' : !servers.has('kickstand') ? 'kickstand not in KICKSTAND_E2E_SERVERS' : false;
/** A UEFI boot under TCG: OVMF alone takes ~20 s to reach its boot manager. */
const UEFI_BOOT_TIMEOUT_MS = Number(process.env.KICKSTAND_E2E_BOOT_TIMEOUT ?? 300) * 1000;
const MIB = 1048576;
const GPT_ESP = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';

describe('e2e UEFI with kickstand (OVMF, GPT + ESP, Secure Boot, HTTP Boot)', { skip }, () => {
  let guest: GuestArtifacts;
  let lab: Lab | undefined;
  let server: KickstandUnderTest | undefined;
  let failed = false;
  let installed = false;
  const espOffset = MIB;
  const rootOffset = (1 + UEFI_DISK.espMib) * MIB;

  const guarded = (body: (t: TestContext) => Promise<void>) => async (t: TestContext) => {
    try {
      await body(t);
    } catch (err) {
      failed = true;
      throw err;
    }
  };

  /** Boots the guest and returns the result, the guest stages recorded meanwhile, and the TFTP requests it made. */
  const bootAndCollect = async (name: string, o: Omit<BootOptions, 'name'>) => {
    const before = (await server!.events()).length;
    const tftpBefore = tftpReadRequests(join(lab!.dir, 'lab.pcap')).length;
    const boot = await lab!.boot({ name, timeoutMs: UEFI_BOOT_TIMEOUT_MS, ...o });
    process.stderr.write(`e2e[uefi]: ${boot.name} took ${boot.seconds} s\n`);
    const stages = guestStages((await server!.events()).slice(before));
    const tftp = tftpReadRequests(join(lab!.dir, 'lab.pcap')).slice(tftpBefore).map((r) => r.split(' ')[1]!.replace(/^\/+/, ''));
    return { boot, stages, tftp, why: `${explain(boot, stages)}\nTFTP: ${tftp.join(' ')}` };
  };

  before(async () => {
    try {
      ensurePackages([...LAB_PACKAGES, ...KICKSTAND_PACKAGES, ...KICKSTAND_UEFI_PACKAGES]);
      guest = buildGuestArtifacts({ log: (l) => process.stderr.write(`e2e: ${l}\n`) });
      lab = new Lab({ hdaBytes: UEFI_DISK.diskMib * MIB, hdbBytes: MIB, serverCidr: '10.231.1.1/24', mac: '52:54:00:4b:53:02' });
      // Secure Boot machines PXE-boot shim; clients that run iPXE still get their script.
      server = await startKickstand(lab, guest, PROFILE, { profile: UEFI_PROFILE_NAME, config: { dhcp: { efi_loader: 'shim' } } });
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
        'boots.json': JSON.stringify(lab.boots.map(({ serial: _s, ...b }) => b), null, 2),
      };
      process.stderr.write(`e2e[uefi]: logs kept in ${lab.keepArtifacts('uefi', extra)}\n`);
    }
    lab?.cleanup();
  });

  test('boot 1 (UEFI PXE, iPXE EFI ROM): the install script lays out GPT + ESP, installs shim and GRUB, reports built', guarded(async () => {
    await server!.armInstall();
    const { boot, stages, why } = await bootAndCollect('uefi1-ipxe-rom', { from: 'pxe', firmware: 'uefi', uefiNet: 'ipxe' });
    assert.ok(boot.serial.includes('KICKSTAND-INIT: script exited 0'), why);
    assertStagesInOrder(stages, INSTALL_STAGES, why);
    installed = true;
  }));

  test('after boot 1, the disk has a GPT with the ESP (vfat, shim and GRUB at \\EFI\\BOOT), ext3 root and swap', guarded(async (t) => {
    if (!installed) return t.skip('boot 1 did not install');
    const d = sfdiskDump(lab!.hda);
    assert.match(d.text, /^label: gpt$/m, d.text);
    assert.deepEqual(d.partitions.map((p) => [p.start, p.size, p.type]), [
      [2048, UEFI_DISK.espMib * 2048, GPT_ESP],
      [(1 + UEFI_DISK.espMib) * 2048, UEFI_DISK.rootMib * 2048, '0FC63DAF-8483-4772-8E79-3D69D8477DE4'],
      [(1 + UEFI_DISK.espMib + UEFI_DISK.rootMib) * 2048, (UEFI_DISK.diskMib - 2 - UEFI_DISK.espMib - UEFI_DISK.rootMib) * 2048, '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F'],
    ], d.text);
    const esp = blkidProbe(lab!.hda, espOffset);
    assert.deepEqual([esp.TYPE, esp.LABEL], ['vfat', 'ESP'], JSON.stringify(esp));
    assert.deepEqual(fatList(lab!.hda, espOffset, '/EFI/BOOT').sort(), ['BOOTX64.EFI', 'grub.cfg', 'grubx64.efi']);
    assert.deepEqual(fatFile(lab!.hda, espOffset, '/EFI/BOOT/BOOTX64.EFI'), readFileSync(join(guest.treeDir, TREE_PATHS.stockEfi, 'BOOTX64.EFI')), 'shim on the ESP');
    const cfg = fatFile(lab!.hda, espOffset, '/EFI/BOOT/grub.cfg')?.toString() ?? '';
    assert.match(cfg, new RegExp(`linux /boot/vmlinuz-stock ro root=LABEL=${PROFILE.rootLabel} `), cfg);
    const sb = dumpe2fs(lab!.hda, rootOffset);
    assert.equal(sb['Filesystem volume name'], PROFILE.rootLabel);
    assert.equal(Number(sb['Block count']), (UEFI_DISK.rootMib * MIB) / 4096);
  }));

  test('boot 2: the firmware boots the disk on its own (shim, GRUB, kernel) and the system reports booted', guarded(async (t) => {
    if (!installed) return t.skip('boot 1 did not install');
    const { boot, stages, why } = await bootAndCollect('uefi2-disk', { from: 'disk', firmware: 'uefi' });
    assert.ok(boot.serial.includes('KICKSTAND-SYSTEM: booted reported'), why);
    assert.deepEqual(stages, ['booted'], why);
  }));

  test('boot 3 (Secure Boot enforced): OVMF PXE → shim → signed GRUB → its grub.cfg-01-<mac> → signed kernel → installer → built', guarded(async () => {
    installed = false;
    await server!.armInstall();
    const { boot, stages, tftp, why } = await bootAndCollect('uefi3-secureboot-pxe', { from: 'pxe', firmware: 'secboot', uefiNet: 'native' });
    assert.match(boot.serial, /secureboot: Secure boot enabled/, `the kernel says Secure Boot is on\n${why}`);
    assert.match(boot.serial, /Kernel is locked down from EFI Secure Boot/, why);
    assert.ok(boot.serial.includes('KICKSTAND-INIT: script exited 0'), why);
    assertStagesInOrder(stages, INSTALL_STAGES, why);
    const mac = `01-${lab!.mac.replace(/:/g, '-')}`;
    for (const f of ['shimx64.efi', 'grubx64.efi', 'grub/grub.cfg', `grub/grub.cfg-${mac}`, 'distros/kickstand-e2e/vmlinuz']) assert.ok(tftp.includes(f), `TFTP ${f}: ${why}`);
    installed = true;
  }));

  test('boot 4: built, the next network boot leaves to the disk (GRUB reads the ESP\'s grub.cfg) and reports booted under Secure Boot', guarded(async (t) => {
    if (!installed) return t.skip('boot 3 did not install');
    const { boot, stages, tftp, why } = await bootAndCollect('uefi4-secureboot-local', { from: 'pxe-then-disk', firmware: 'secboot', uefiNet: 'native', timeoutMs: 240_000 });
    assert.ok(tftp.includes(`grub/grub.cfg-01-${lab!.mac.replace(/:/g, '-')}`), why);
    assert.ok(!tftp.some((f) => f.startsWith('distros/')), `no installer kernel was fetched\n${why}`);
    assert.match(boot.serial, /kickstand: reading \(hd0,gpt1\)\/EFI\/BOOT\/grub\.cfg/, why);
    assert.ok(boot.serial.includes('KICKSTAND-SYSTEM: booted reported'), why);
    assert.ok(!boot.serial.includes('KICKSTAND-INIT:'), 'the installer did not run again');
    assert.match(boot.serial, /secureboot: Secure boot enabled/, why);
    assert.deepEqual(stages, ['booted'], why);
  }));

  test('boot 5 (UEFI HTTP Boot, kickstand\'s TFTP off): OVMF fetches /boot/ipxe.efi by URL, iPXE installs, built', guarded(async () => {
    await server!.reconfigure({ tftp: { enabled: false } });
    await server!.armInstall();
    const pcap = join(lab!.dir, 'lab.pcap');
    const tftpBefore = countPackets(pcap, 'udp port 69');
    const httpBefore = httpRequests(pcap, 8080).length;
    const { boot, stages, why } = await bootAndCollect('uefi5-http-boot', { from: 'pxe', firmware: 'uefi', uefiNet: 'http' });
    assert.ok(boot.serial.includes('KICKSTAND-INIT: script exited 0'), why);
    assertStagesInOrder(stages, INSTALL_STAGES, why);
    const http = httpRequests(pcap, 8080).slice(httpBefore);
    assert.ok(http.includes('GET /boot/ipxe.efi'), `HTTP: ${http.join(', ')}\n${why}`);
    assert.ok(http.some((r) => r.startsWith('GET /ipxe/')), `iPXE fetched its script: ${http.join(', ')}`);
    assert.equal(countPackets(pcap, 'udp port 69'), tftpBefore, 'no TFTP at all');
  }));
});
