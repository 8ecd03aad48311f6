// Profiles that boot UEFI (firmware: uefi or both): GPT with an EFI system partition in the
// kickstarts of each family that can install one, clear refusals where an installer cannot, the
// install script's ESP and UEFI boot loader, fstab, and OVMF for Xen.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProfileError } from '../../server/errors.ts';
import { applyOverrides } from '../../server/profiles/load.ts';
import { buildContext } from '../../server/render/context.ts';
import { artifactsFor } from '../../server/render/artifacts.ts';
import { GPT_TYPES } from '../../server/geometry/gpt.ts';
import { allProfiles, BASE, contextFor, fixedSystem, renderer, TOKEN } from './fixtures.ts';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'kickstand-uefi-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Returns the context of a profile changed by overrides, rendered with distro family forced. */
function variant(name: string, over: Record<string, unknown>, family?: 'el4' | 'el5' | 'el6' | 'el7' | 'el8' | 'el9') {
  const { profiles, distros } = allProfiles();
  const profile = applyOverrides(profiles.get(name)!, over, 'test');
  const base = distros.get(profile.distro)!;
  const distro = family ? { ...base, family } : base;
  return buildContext({ system: fixedSystem({ profile: name }), profile, distro, urls: { base: BASE }, token: TOKEN });
}

describe('UEFI kickstarts', async () => {
  const r = await renderer();

  test('el9: GPT by --disklabel, the ESP first on the boot disk, no reqpart (it would add a second /boot/efi)', () => {
    const lines = r.render('kickstart', contextFor('uefi-kvm')).split('\n');
    const at = (l: string) => lines.indexOf(l);
    assert.ok(at('clearpart --all --initlabel --drives=vda,vdb --disklabel=gpt') >= 0);
    assert.ok(at('part /boot/efi --fstype=efi --size=256 --ondisk=vda') > at('clearpart --all --initlabel --drives=vda,vdb --disklabel=gpt'));
    assert.ok(at('part /boot/efi --fstype=efi --size=256 --ondisk=vda') < at('part /boot --fstype=xfs --size=1024 --ondisk=vda --asprimary --label=BOOT'));
    assert.ok(!lines.includes('reqpart'));
    assert.ok(!lines.some((l) => l.startsWith('part biosboot')));
  });

  test('a bios profile keeps reqpart and an MBR (no --disklabel, no ESP)', () => {
    const text = r.render('kickstart', contextFor('el9-kvm'));
    assert.ok(text.split('\n').includes('reqpart'));
    assert.doesNotMatch(text, /disklabel|^part \/boot\/efi|biosboot/m);
  });

  test('el6: the ESP as RHEL 6 documents it (--fstype=efi), no --disklabel (RHEL 6 has none)', () => {
    const text = r.render('kickstart', contextFor('uefi-kvm', { family: 'el6' }));
    assert.match(text, /^clearpart --all --initlabel --drives=vda,vdb$/m);
    assert.match(text, /^part \/boot\/efi --fstype=efi --size=256 --ondisk=vda$/m);
  });

  test('both: a BIOS boot partition and an ESP, GRUB for both firmwares in %packages, and a %post adding the other half', () => {
    const text = r.render('kickstart', contextFor('hybrid-kvm'));
    assert.match(text, /^part biosboot --fstype=biosboot --size=1 --ondisk=vda\npart \/boot\/efi --fstype=efi --size=200 --ondisk=vda$/m);
    assert.match(text, /^grub2-pc\ngrub2-efi-x64\nshim-x64$/m);
    assert.match(text, /grub2-install --target=i386-pc "\/dev\/\$BOOT_DISK"/);
  });

  test('installers that cannot set the firmware up are refused with the profile, distro and fix named', () => {
    assert.throws(() => contextFor('uefi-kvm', { family: 'el5' }), (e: unknown) => e instanceof ProfileError && /profile uefi-kvm \(firmware uefi\) with distro rocky-9-x86_64: anaconda before RHEL 6 installs no UEFI boot loader; use firmware bios/.test(e.message));
    assert.throws(() => contextFor('hybrid-kvm', { family: 'el6' }), /RHEL 6 cannot make one disk boot from both BIOS and UEFI/);
    assert.throws(() => variant('script-uefi', { firmware: 'both' }), /the script installer's GRUB legacy cannot boot a GPT disk from BIOS/);
    assert.throws(() => variant('uefi-kvm', { alignment: 'chs' }), /profile uefi-kvm: alignment chs is for MBR disks; firmware uefi lays a GPT out on 1MiB boundaries/);
  });
});

describe('UEFI install script and host-side configs', async () => {
  const r = await renderer();

  test('the disk gets a GPT with the ESP as partition 1 (vfat), root and swap after it; fstab mounts the ESP by label', () => {
    const ctx = contextFor('script-uefi');
    const sda = ctx.disks[0]!;
    assert.equal(sda.label, 'gpt');
    assert.deepEqual([sda.esp?.number, sda.esp?.type, sda.esp?.sizeMib], [1, GPT_TYPES.efi, 64]);
    assert.deepEqual(sda.partitions.map((p) => [p.number, p.role]), [[2, 'root'], [3, 'swap']]);
    assert.equal(sda.sfdisk[0], 'label: gpt');
    assert.deepEqual(ctx.fstab.slice(0, 2), ['LABEL=ROOT / ext3 defaults 1 1', 'LABEL=ESP /boot/efi vfat umask=0077,shortname=winnt 0 2']);
    assert.equal(ctx.root.device, '/dev/sda2');
  });

  test('install.sh makes the ESP, mounts it, installs the UEFI loader and skips GRUB legacy', () => {
    const text = r.render('install', contextFor('script-uefi'));
    assert.match(text, /^mkfs\.fat -F 32 -n 'ESP' "\$\(find_disk 'sda'\)"'1' >\/dev\/null$/m);
    assert.match(text, /^mount_once "\$\(find_disk 'sda'\)"'1' "\$TARGET"'\/boot\/efi' -t vfat$/m);
    assert.match(text, /^install_efi_loader "\$TARGET"$/m);
    assert.doesNotMatch(text, /^grub_setup /m);
    const bios = r.render('install', contextFor('script-chs'));
    assert.doesNotMatch(bios, /install_efi_loader|mkfs\.fat/);
  });

  test('install_efi_loader puts shim and GRUB at \\EFI\\BOOT and a grub.cfg that finds and boots the kernel', () => {
    const text = r.render('install', contextFor('script-uefi'));
    const fn = /^install_efi_loader\(\) \{[\s\S]*?^\}$/m.exec(text)?.[0];
    const vars = text.split('\n').filter((l) => /^(SYSTEM_NAME|GUEST_HOSTNAME|BOOT_PREFIX|KERNEL_ARGS)=/.test(l));
    assert.ok(fn && vars.length === 4, 'the script defines install_efi_loader and its variables');
    const root = join(dir, 'root');
    mkdirSync(join(root, 'boot/efi'), { recursive: true });
    for (const f of ['vmlinuz-stock', 'initrd-stock.img']) writeFileSync(join(root, 'boot', f), '');
    // fetch NAME DEST stands in for the download from the install tree's stock/ folder.
    const script = `set -eu\n${vars.join('\n')}\nfetch() { echo "stock:$1" > "$2"; }\n${fn}\ninstall_efi_loader "$1"\n`;
    writeFileSync(join(dir, 'efi.sh'), script);
    const run = spawnSync('sh', [join(dir, 'efi.sh'), root], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const efi = join(root, 'boot/efi/EFI/BOOT');
    assert.equal(readFileSync(join(efi, 'BOOTX64.EFI'), 'utf8'), 'stock:efi/BOOTX64.EFI\n');
    assert.equal(readFileSync(join(efi, 'grubx64.efi'), 'utf8'), 'stock:efi/grubx64.efi\n');
    assert.equal(
      readFileSync(join(efi, 'grub.cfg'), 'utf8'),
      [
        '# written by kickstand for ngtest-hvm',
        'set timeout=0',
        'search --no-floppy --file --set=root /boot/vmlinuz-stock',
        "menuentry 'ngtest-hvm.example.org (stock)' {",
        '\tlinux /boot/vmlinuz-stock ro root=LABEL=ROOT console=tty0 console=ttyS0,115200',
        '\tinitrd /boot/initrd-stock.img',
        '}',
        '',
      ].join('\n'),
    );
  });

  test('rescue and prepare (GRUB legacy, MBR) and the xm config do not apply; xl boots OVMF', () => {
    const kinds = artifactsFor(contextFor('uefi-kvm'));
    for (const k of ['rescue', 'prepare', 'xen'] as const) assert.ok(!kinds.includes(k), k);
    assert.match(r.render('xl', contextFor('uefi-kvm')), /^type = 'hvm'\nbios = 'ovmf'$/m);
    assert.doesNotMatch(r.render('xl', contextFor('script-chs')), /bios =/);
  });
});
