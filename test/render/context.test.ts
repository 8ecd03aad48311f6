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

  test('finding 8: the display name NGTest-hvm names the Xen domain as in the notes; files and URLs use the slug', () => {
    assert.equal(ctx.xen!.name, 'NGTest-hvm');
    assert.equal(ctx.system.displayName, 'NGTest-hvm');
    assert.equal(ctx.disks[0]!.image, '/var/xen/ngtest-hvm-hda.img');
    assert.throws(() => contextFor('centos44-hvm', { system: { displayName: 'Other-Name' } }), /system\.displayName "Other-Name": expected a spelling of ngtest-hvm/);
  });

  test('finding 8: GRUB titles read CentOS (version) and the device map names hd0 and hd1', () => {
    assert.equal(ctx.grub.title, 'CentOS');
    assert.deepEqual(ctx.grub.deviceMap, ['(hd0) /dev/hda', '(hd1) /dev/hdb']);
    assert.equal(contextFor('el9-kvm').grub.title, 'Rocky Linux');
  });

  test('the context is frozen plain data', () => {
    assert.ok(Object.isFrozen(ctx) && Object.isFrozen(ctx.disks[0]!.partitions[0]));
    assert.equal(Object.getPrototypeOf(ctx.xen), Object.prototype);
    assert.deepEqual(JSON.parse(JSON.stringify(ctx)), ctx);
  });
});

describe('render context variants', () => {
  test('finding 6: not armed and never built, Xen boots the CD first (a prepared disk has no GRUB before the rescue run); once built, the disk', () => {
    assert.equal(contextFor('centos44-hvm', { armed: false, system: { state: 'registered' } }).xen!.boot, 'dca');
    assert.equal(contextFor('centos44-hvm', { armed: false, system: { state: 'built' } }).xen!.boot, 'c');
  });

  test('not armed: URLs carry the placeholder token, menus boot locally', async () => {
    const ctx = contextFor('centos44-hvm', { armed: false });
    assert.equal(ctx.armed, false);
    assert.equal(ctx.urls.kickstart, `${BASE}/ks/${UNARMED_TOKEN}`);
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

  test('finding 6: the boot CD\'s isolinux.cfg carries the SERIAL line pxelinux.cfg has', async () => {
    const r = await renderer();
    const ctx = contextFor('centos44-hvm');
    assert.match(r.render('pxelinux', ctx), /^SERIAL 0 9600$/m);
    assert.match(r.render('isolinux', ctx), /^SERIAL 0 9600$/m);
    assert.doesNotMatch(r.render('isolinux', contextFor('split-boot')), /SERIAL/);
  });

  test('finding 7: BOOTIF names the MAC that booted; without one, the first MAC', async () => {
    const two = { macs: ['00:16:3e:84:b5:99', '00:16:3e:00:00:02'] };
    const r = await renderer();
    assert.match(r.render('ipxe', contextFor('centos44-hvm', { system: two, bootMac: '00:16:3e:00:00:02' })), / BOOTIF=01-00-16-3e-00-00-02 /);
    assert.match(r.render('ipxe', contextFor('centos44-hvm', { system: two })), / BOOTIF=01-00-16-3e-84-b5-99 /);
    assert.throws(() => contextFor('centos44-hvm', { system: two, bootMac: '00:16:3e:00:00:03' }), /bootMac .*one of the system's MACs/);
  });

  test('finding 5: a static network line takes the system ip and the site subnet; the profile may override; none without an ip', async () => {
    const r = await renderer();
    const site = { network: '10.9.0.0', mask: '255.255.0.0', router: '10.9.0.1', dns: ['10.9.0.2'] };
    const staticProfile = { network: { mode: 'static' } };
    const ctx = contextFor('el9-kvm', { system: { ip: '10.9.8.7', overrides: staticProfile }, site });
    assert.deepEqual([ctx.network.static, ctx.network.ip, ctx.network.netmask, ctx.network.gateway, ctx.network.nameservers], [true, '10.9.8.7', '255.255.0.0', '10.9.0.1', '10.9.0.2']);
    assert.match(r.render('kickstart', ctx), /^network --onboot=yes --device=00:16:3e:84:b5:99 --bootproto=static --ip=10\.9\.8\.7 --netmask=255\.255\.0\.0 --gateway=10\.9\.0\.1 --nameserver=10\.9\.0\.2 /m);
    assert.equal(contextFor('el9-kvm', { system: { overrides: staticProfile }, site }).network.static, false, 'no ip: DHCP');
    assert.throws(() => contextFor('el9-kvm', { system: { ip: '10.10.0.7', overrides: staticProfile }, site }), /ip 10\.10\.0\.7 is outside the subnet 10\.9\.0\.0\/255\.255\.0\.0/);
    assert.throws(() => contextFor('el9-kvm', { system: { ip: '10.9.8.7', overrides: staticProfile } }), /network\.netmask: a static address needs a netmask/);
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
