import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { UNARMED_TOKEN } from '../../server/render/context.ts';
import { ideAddress } from '../../server/render/disks.ts';
import { BASE, TOKEN, contextFor, renderer } from './fixtures.ts';

describe('render context of the notes guest', () => {
  const ctx = contextFor('centos44-hvm');

  test('hda1 holds the notes figures: sector 63, byte 32256, 10482381 KiB; hdb1 is swap', () => {
    assert.deepEqual(
      { device: ctx.root.device, start: ctx.root.start, offset: ctx.root.offset, kib: ctx.root.kib, spec: ctx.root.spec, fstype: ctx.root.fstype },
      { device: '/dev/hda1', start: 63, offset: 32256, kib: 10482381, spec: 'LABEL=ROOT', fstype: 'ext3' },
    );
    assert.deepEqual(ctx.swaps.map((s) => [s.device, s.spec, s.disk]), [['/dev/hdb1', 'LABEL=SWAP', 'hdb']]);
    assert.equal(ctx.disks[0]!.cylinders, 1305);
  });

  test('URLs follow the contract: ks, scripts, events, booted, tree from the ISO, iPXE', () => {
    assert.deepEqual(ctx.urls, {
      base: BASE,
      kickstart: `${BASE}/ks/${TOKEN}`,
      install: `${BASE}/scripts/${TOKEN}/install.sh`,
      rescue: `${BASE}/scripts/${TOKEN}/rescue.sh`,
      events: `${BASE}/events/${TOKEN}`,
      booted: `${BASE}/events/${TOKEN}/booted`,
      tree: `${BASE}/trees/centos-4.4-i386/`,
      stock: `${BASE}/trees/centos-4.4-i386/stock/`,
      bootIpxe: `${BASE}/boot.ipxe`,
      ipxe: `${BASE}/ipxe/00:16:3e:84:b5:99`,
    });
    assert.equal(ctx.distro.tftpKernel, 'distros/centos-4.4-i386/vmlinuz');
    assert.equal(ctx.distro.httpInitrd, `${BASE}/trees/centos-4.4-i386/isolinux/initrd.img`);
  });

  test('el4 boots the installer with ks= kssendmac ksdevice=bootif, IPAPPEND 2 and the serial console', () => {
    assert.deepEqual(ctx.boot.args, [`ks=${BASE}/ks/${TOKEN}`, 'kssendmac', 'ksdevice=bootif', 'console=ttyS0,9600']);
    assert.equal(ctx.boot.ipappend, true);
    assert.deepEqual(ctx.boot.cdArgs, [`ks=${BASE}/ks/${TOKEN}`, 'kssendmac', 'ksdevice=eth0', 'console=ttyS0,9600']);
  });

  test('GRUB: (hd0,0) with /boot on root, serial unit 0 at 9600, root by label', () => {
    assert.equal(ctx.grub.root, '(hd0,0)');
    assert.equal(ctx.grub.prefix, '/boot');
    assert.equal(ctx.grub.kernelArgs, 'ro root=LABEL=ROOT console=tty0 console=ttyS0,9600 selinux=0');
    assert.equal(ctx.grub.serial, '--unit=0 --speed=9600');
  });

  test('Xen: the notes memory, shadow memory, vcpus, MAC, bridge and CD, boot dca while armed', () => {
    const x = ctx.xen!;
    assert.deepEqual([x.memory, x.shadowMemory, x.vcpus, x.mac, x.bridge, x.boot, x.cdrom], [512, 8, 2, '00:16:3e:84:b5:99', 'xenbr0', 'dca', '/root/inst/CentOS-4.4-i386-binDVD.iso']);
    assert.deepEqual(x.disks, [
      { vdev: 'hda', target: '/var/xen/ngtest-hvm-hda.img' },
      { vdev: 'hdb', target: '/var/xen/ngtest-hvm-hdb.img' },
    ]);
  });

  test('the context is frozen plain data', () => {
    assert.ok(Object.isFrozen(ctx) && Object.isFrozen(ctx.disks[0]!.partitions[0]));
    assert.equal(Object.getPrototypeOf(ctx.xen), Object.prototype);
    assert.deepEqual(JSON.parse(JSON.stringify(ctx)), ctx);
  });
});

describe('render context variants', () => {
  test('not armed: URLs carry the placeholder token, Xen boots the disk first, menus boot locally', async () => {
    const ctx = contextFor('centos44-hvm', { armed: false });
    assert.equal(ctx.armed, false);
    assert.equal(ctx.urls.kickstart, `${BASE}/ks/${UNARMED_TOKEN}`);
    assert.equal(ctx.xen!.boot, 'c');
    const r = await renderer();
    assert.match(r.render('pxelinux', ctx), /^LABEL local\n {2}LOCALBOOT 0$/m);
    assert.doesNotMatch(r.render('pxelinux', ctx), /KERNEL|APPEND/);
    assert.match(r.render('ipxe', ctx), /^sanboot --no-describe --drive 0x80 \|\| exit 1$/m);
    assert.doesNotMatch(r.render('ipxe', ctx), /kernel|initrd/);
    assert.match(r.render('rescue', ctx), /^EVENTS_URL=''$/m);
  });

  test('el7 and later boot with inst.ks= inst.ks.sendmac inst.repo= and no IPAPPEND', () => {
    const ctx = contextFor('el9-kvm');
    assert.deepEqual(ctx.boot.args, [`inst.ks=${BASE}/ks/${TOKEN}`, 'inst.ks.sendmac', `inst.repo=${BASE}/trees/rocky-9-x86_64/`, 'console=ttyS0,115200']);
    assert.equal(ctx.boot.ipappend, false);
  });

  test('a script-installer distro boots with kickstand.script=<install.sh URL>', () => {
    assert.deepEqual(contextFor('script-chs').boot.args, [`kickstand.script=${BASE}/scripts/${TOKEN}/install.sh`, 'console=ttyS0,115200']);
  });

  test('separate /boot: GRUB root (hd0,0) without a /boot prefix; swap on the same disk by device', () => {
    const ctx = contextFor('split-boot');
    assert.equal(ctx.grub.root, '(hd0,0)');
    assert.equal(ctx.grub.prefix, '');
    assert.deepEqual(ctx.mounts.map((m) => m.mount), ['/', '/boot']);
    assert.deepEqual(ctx.unmounts.map((m) => m.mount), ['/boot', '/']);
    assert.deepEqual(ctx.swaps.map((s) => [s.device, s.spec]), [['/dev/hda2', '/dev/hda2']]);
    assert.equal(ctx.urls.tree, 'http://vault.example.org/centos/6.10/os/x86_64/');
    assert.deepEqual(ctx.fstab.slice(0, 3), ['LABEL=ROOT / ext4 defaults 1 1', 'LABEL=BOOT /boot ext3 defaults 1 2', '/dev/hda2 swap swap defaults 0 0']);
  });

  test('phy backend: volumes in the volume group folder', () => {
    const ctx = contextFor('script-chs');
    assert.equal(ctx.disks[0]!.image, '/dev/VolumeGroup00/ngtest-hvm-hda');
    assert.deepEqual(ctx.disks[0]!.lv, { vg: 'VolumeGroup00', name: 'ngtest-hvm-hda' });
  });

  test('IDE names map to libata SCSI addresses: hda primary master 0:0:0:0 … hdd secondary slave 1:0:1:0', () => {
    assert.deepEqual(['hda', 'hdb', 'hdc', 'hdd', 'sda', 'vda'].map(ideAddress), ['0:0:0:0', '0:0:1:0', '1:0:0:0', '1:0:1:0', '', '']);
  });
});
