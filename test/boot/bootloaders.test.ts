import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REQUIRED_BOOTLOADERS, describeMissing, findBootloaders, type BootloaderSpec } from '../../server/boot/bootloaders.ts';

describe('boot loaders', () => {
  let base: string;
  let required: BootloaderSpec[];
  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'ks-loaders-'));
    // A fake Debian tree: pxelinux and syslinux modules present, iPXE absent.
    await mkdir(join(base, 'PXELINUX'));
    await mkdir(join(base, 'bios'));
    await writeFile(join(base, 'PXELINUX', 'pxelinux.0'), 'p');
    for (const m of ['ldlinux.c32', 'menu.c32', 'libutil.c32']) await writeFile(join(base, 'bios', m), m);
    await writeFile(join(base, 'bios', 'readme.txt'), 'not a module');
    await mkdir(join(base, 'bios', 'dir.c32'));
    await writeFile(join(base, 'my-ipxe.efi'), 'custom');
    required = REQUIRED_BOOTLOADERS.map((s) => ({ ...s, candidates: s.candidates.map((c) => join(base, c.replace(/^\/usr\/lib\//, '').replace('syslinux/modules/', ''))) }));
  });
  after(() => rm(base, { recursive: true, force: true }));

  test('finds what exists, offers every *.c32 module, and lists what is missing with its package', async () => {
    const r = await findBootloaders({ required, modulesDir: join(base, 'bios') });
    assert.deepEqual(r.found, {
      'pxelinux.0': join(base, 'PXELINUX', 'pxelinux.0'),
      'ldlinux.c32': join(base, 'bios', 'ldlinux.c32'),
      'libutil.c32': join(base, 'bios', 'libutil.c32'),
      'menu.c32': join(base, 'bios', 'menu.c32'),
    });
    assert.deepEqual(r.missing.map((m) => [m.name, m.pkg, m.startup ?? false]), [
      ['undionly.kpxe', 'ipxe', true], ['ipxe.efi', 'ipxe', true], ['snponly.efi', 'ipxe', true],
      ['shimx64.efi', 'shim-signed', true], ['grubx64.efi', 'grub-efi-amd64-signed', true],
      // ARM64 loaders are not expected on an x86 host: named when an ARM64 client asks, not at start-up.
      ['shimaa64.efi', 'shim-signed (arm64)', false], ['grubaa64.efi', 'grub-efi-arm64-signed', false],
    ]);
    assert.match(describeMissing(r.missing.slice(0, 2)), /^undionly\.kpxe \(looked in .*undionly\.kpxe; Debian package ipxe\); ipxe\.efi \(looked in .*ipxe\.efi, .*snponly\.efi; Debian package ipxe\)$/);
  });

  test('an override replaces where a loader is looked for, and can add a name', async () => {
    const r = await findBootloaders({
      required,
      modulesDir: join(base, 'bios'),
      overrides: { 'ipxe.efi': join(base, 'my-ipxe.efi'), 'grubx64.efi': join(base, 'nope.efi'), 'menu.c32': join(base, 'gone.c32') },
    });
    assert.equal(r.found['ipxe.efi'], join(base, 'my-ipxe.efi'));
    assert.equal(r.found['menu.c32'], undefined, 'a missing override is not papered over by the scan');
    assert.deepEqual(
      r.missing.map((m) => m.name),
      ['undionly.kpxe', 'snponly.efi', 'shimx64.efi', 'grubx64.efi', 'shimaa64.efi', 'grubaa64.efi', 'menu.c32'],
    );
    assert.deepEqual(r.missing.find((m) => m.name === 'grubx64.efi'), { name: 'grubx64.efi', tried: [join(base, 'nope.efi')], startup: true });
  });

  test('no modules directory: ldlinux.c32 is reported missing', async () => {
    const noModules = required.map((s) => (s.name === 'ldlinux.c32' ? { ...s, candidates: [join(base, 'no-such-dir', 'ldlinux.c32')] } : s));
    const r = await findBootloaders({ required: noModules, modulesDir: join(base, 'no-such-dir') });
    assert.deepEqual(Object.keys(r.found), ['pxelinux.0']);
    assert.ok(r.missing.some((m) => m.name === 'ldlinux.c32' && m.pkg === 'syslinux-common'));
    assert.equal(describeMissing([]), '');
  });

  test('the Debian defaults point where the packages install', () => {
    assert.deepEqual(
      REQUIRED_BOOTLOADERS.map((s) => s.candidates[0]),
      [
        '/usr/lib/PXELINUX/pxelinux.0', '/usr/lib/syslinux/modules/bios/ldlinux.c32', '/usr/lib/ipxe/undionly.kpxe', '/usr/lib/ipxe/ipxe.efi', '/usr/lib/ipxe/snponly.efi',
        '/usr/lib/shim/shimx64.efi.signed', '/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed', '/usr/lib/shim/shimaa64.efi.signed', '/usr/lib/grub/arm64-efi-signed/grubnetaa64.efi.signed',
      ],
    );
  });
});
