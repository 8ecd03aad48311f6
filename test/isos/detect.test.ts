import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bufferSource } from '../../server/byte-source.ts';
import { detectDistro, familyOf, type TreeFiles } from '../../server/isos/detect.ts';
import { openIso } from '../../server/isos/reader.ts';
import { parseIni, splitRelease } from '../../server/isos/treeinfo.ts';
import { fixtureBytes } from './fixtures.ts';

/** Returns a tree of in-memory files (directories implied). */
function memTree(files: Record<string, string>): TreeFiles {
  return {
    readFile: async (p) => (p in files ? Buffer.from(files[p]!) : null),
    stat: async (p) => (p in files ? { type: 'file' } : null),
  };
}

const KERNEL_PXE = { 'images/pxeboot/vmlinuz': 'k', 'images/pxeboot/initrd.img': 'i' };

describe('distro detection on tool-built images', () => {
  test('the CentOS-4-shaped image is centos-4.4-i386 (el4) from .discinfo, booting isolinux/', async () => {
    const r = await openIso(bufferSource(fixtureBytes('centos4')));
    const d = await detectDistro(r, { volumeId: r.volume.volumeId });
    assert.deepEqual(
      { name: d.name, family: d.family, version: d.version, arch: d.arch, kernel: d.kernel, initrd: d.initrd, source: d.source },
      { name: 'centos-4.4-i386', family: 'el4', version: '4.4', arch: 'i386', kernel: 'isolinux/vmlinuz', initrd: 'isolinux/initrd.img', source: 'discinfo' },
    );
    assert.ok(d.reasons.includes('no .treeinfo'));
  });

  test('the EL9-shaped image is rocky-9.2-x86_64 (el9) from .treeinfo, booting images/pxeboot/', async () => {
    const r = await openIso(bufferSource(fixtureBytes('el9')));
    const d = await detectDistro(r);
    assert.deepEqual(
      { name: d.name, family: d.family, product: d.product, kernel: d.kernel, initrd: d.initrd, source: d.source },
      { name: 'rocky-9.2-x86_64', family: 'el9', product: 'Rocky Linux', kernel: 'images/pxeboot/vmlinuz', initrd: 'images/pxeboot/initrd.img', source: 'treeinfo' },
    );
    assert.ok(d.reasons.some((x) => x.includes('[images-x86_64] names kernel images/pxeboot/vmlinuz')));
  });

  test('an image with no distro files says why nothing was found', async () => {
    const r = await openIso(bufferSource(fixtureBytes('joliet')));
    const d = await detectDistro(r, { volumeId: 'JOLIET' });
    assert.equal(d.source, 'none');
    assert.equal(d.kernel, null);
    for (const why of ['no .treeinfo', 'no .discinfo', 'no images/pxeboot/vmlinuz with images/pxeboot/initrd.img', 'no isolinux/vmlinuz with isolinux/initrd.img']) {
      assert.ok(d.reasons.includes(why), why);
    }
  });
});

describe('distro detection rules', () => {
  test('a pre-productmd .treeinfo ([general] family/version/arch) names an EL5 tree', async () => {
    const d = await detectDistro(
      memTree({ '.treeinfo': '[general]\nfamily = CentOS\nversion = 5.4\narch = x86_64\n\n[images-x86_64]\nkernel = images/pxeboot/vmlinuz\ninitrd = images/pxeboot/initrd.img\n', ...KERNEL_PXE }),
    );
    assert.deepEqual([d.name, d.family, d.source], ['centos-5.4-x86_64', 'el5', 'treeinfo']);
  });

  test('.treeinfo wins over .discinfo, and a kernel it names but the tree lacks falls back to the conventions', async () => {
    const d = await detectDistro(
      memTree({
        '.treeinfo': '[release]\nname = AlmaLinux\nversion = 8.9\n[tree]\narch = x86_64\n[images-x86_64]\nkernel = nope/vmlinuz\ninitrd = nope/initrd.img\n',
        '.discinfo': '1\nSomething Else 1.0\ni386\nALL\n',
        'isolinux/vmlinuz': 'k',
        'isolinux/initrd.img': 'i',
      }),
    );
    assert.deepEqual([d.name, d.family, d.kernel], ['almalinux-8.9-x86_64', 'el8', 'isolinux/vmlinuz']);
    assert.ok(d.reasons.some((x) => x.includes('not both in the tree')));
  });

  test('a RHEL 5 .discinfo maps to rhel and el5; a later disc of a set gets a -discN suffix', async () => {
    const d = await detectDistro(memTree({ '.discinfo': '1\nRed Hat Enterprise Linux Server 5.4\nx86_64\n1\n', ...KERNEL_PXE }));
    assert.deepEqual([d.name, d.family, d.kernel], ['rhel-5.4-x86_64', 'el5', 'images/pxeboot/vmlinuz']);
    const disc2 = await detectDistro(memTree({ '.discinfo': '1\nCentOS 4.4\ni386\n2\n' }));
    assert.deepEqual([disc2.name, disc2.kernel], ['centos-4.4-i386-disc2', null]);
  });

  test('Fedora from a productmd .treeinfo is family fedora', async () => {
    const d = await detectDistro(memTree({ '.treeinfo': '[release]\nname = Fedora\nversion = 39\n[tree]\narch = x86_64\n', ...KERNEL_PXE }));
    assert.deepEqual([d.name, d.family], ['fedora-39-x86_64', 'fedora']);
  });

  test('el10 and Fedora from their ISOs\' productmd .treeinfo (Rocky 10, RHEL 10, CentOS Stream 10, AlmaLinux 10, Fedora 45)', async () => {
    const treeinfo = (name: string, short: string, version: string, variant: string) =>
      `[checksums]\nimages/pxeboot/vmlinuz = sha256:00\n\n[general]\n; WARNING.0 = This section provides compatibility with pre-productmd treeinfos.\narch = x86_64\nfamily = ${name}\nname = ${name} ${version}\nplatforms = x86_64,xen\nversion = ${version}\n\n` +
      `[header]\ntype = productmd.treeinfo\nversion = 1.2\n\n[images-x86_64]\nboot.iso = images/boot.iso\ninitrd = images/pxeboot/initrd.img\nkernel = images/pxeboot/vmlinuz\n\n[images-xen]\ninitrd = images/pxeboot/initrd.img\nkernel = images/pxeboot/vmlinuz\n\n` +
      `[release]\nname = ${name}\nshort = ${short}\nversion = ${version}\n\n[stage2]\nmainimage = images/install.img\n\n[tree]\narch = x86_64\nbuild_timestamp = 1748000000\nplatforms = x86_64,xen\nvariants = ${variant}\n`;
    const cases: Array<[string, string, string, string, string, string]> = [
      ['Rocky Linux', 'Rocky', '10.0', 'BaseOS,AppStream', 'rocky-10.0-x86_64', 'el10'],
      ['Red Hat Enterprise Linux', 'RHEL', '10.0', 'BaseOS,AppStream', 'rhel-10.0-x86_64', 'el10'],
      ['CentOS Stream', 'CentOS-Stream', '10', 'BaseOS,AppStream', 'centos-stream-10-x86_64', 'el10'],
      ['AlmaLinux', 'AlmaLinux', '10.0', 'BaseOS,AppStream', 'almalinux-10.0-x86_64', 'el10'],
      ['Fedora', 'Fedora', '45', 'Server', 'fedora-45-x86_64', 'fedora'],
    ];
    for (const [name, short, version, variant, slug, family] of cases) {
      const d = await detectDistro(memTree({ '.treeinfo': treeinfo(name, short, version, variant), ...KERNEL_PXE }));
      assert.deepEqual([d.name, d.family, d.source, d.kernel, d.initrd], [slug, family, 'treeinfo', 'images/pxeboot/vmlinuz', 'images/pxeboot/initrd.img'], name);
    }
  });

  test('without .treeinfo or .discinfo the layout and volume id still make a distro', async () => {
    const d = await detectDistro(memTree({ 'isolinux/vmlinuz': 'k', 'isolinux/initrd.img': 'i' }), { volumeId: 'CentOS_4.4_Final', fileName: 'CentOS-4.4-i386-binDVD.iso' });
    assert.deepEqual([d.name, d.family, d.arch, d.source], ['centos-4.4-i386', 'el4', 'i386', 'layout']);
    const odd = await detectDistro(memTree(KERNEL_PXE), { volumeId: 'MY DISC' });
    assert.deepEqual([odd.name, odd.family, odd.source], ['my-disc', 'unknown', 'layout']);
  });

  test('families follow the major version of EL rebuilds and stay unknown outside el4..el10', () => {
    assert.equal(familyOf('Rocky Linux', '10.0'), 'el10');
    assert.equal(familyOf('Red Hat Enterprise Linux', '11.0'), 'unknown');
    assert.equal(familyOf('Rocky Linux', '9.2'), 'el9');
    assert.equal(familyOf('Scientific Linux', '6.10'), 'el6');
    assert.equal(familyOf('CentOS Stream', '8'), 'el8');
    assert.equal(familyOf('Red Hat Enterprise Linux AS', '4'), 'el4');
    assert.equal(familyOf('CentOS', '3.9'), 'unknown');
    assert.equal(familyOf('Debian', '12'), 'unknown');
    assert.equal(familyOf('Fedora', '39'), 'fedora');
  });

  test('release names split into product and version; INI comments and sections parse', () => {
    assert.deepEqual(splitRelease('CentOS 4.4'), { product: 'CentOS', version: '4.4' });
    assert.deepEqual(splitRelease('Red Hat Enterprise Linux AS 4'), { product: 'Red Hat Enterprise Linux AS', version: '4' });
    assert.deepEqual(splitRelease('Unnamed'), { product: 'Unnamed' });
    const ini = parseIni('; c\n[a]\nK = v = w\n# c\n[b]\nx=1\n');
    assert.deepEqual([ini.get('a')?.get('k'), ini.get('b')?.get('x')], ['v = w', '1']);
  });
});
