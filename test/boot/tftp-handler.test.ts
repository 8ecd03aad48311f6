// The TFTP policy as PXELINUX drives it: the lookup order, install while armed, local boot after,
// discovered machines, kernels from distros, and everything else from the file opener.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bufferSource, type ByteSource } from '../../server/byte-source.ts';
import { Artifacts } from '../../server/boot/artifacts.ts';
import { BootPolicy } from '../../server/boot/boot-policy.ts';
import { Lifecycle } from '../../server/boot/lifecycle.ts';
import { Trust } from '../../server/boot/trust.ts';
import { createTftpHandler, normalizeTftpPath } from '../../server/boot/tftp-handler.ts';
import { silentLogger } from '../../server/log.ts';
import { ProfileRegistry } from '../../server/profiles/registry.ts';
import { memoryStore } from '../fakes/memory-store.ts';
import { fakeRenderer } from '../fakes/renderer.ts';
import { PROFILES_DIR } from '../http/harness.ts';

const MAC = '00:16:3e:84:b5:99';

async function setup(o: { trust?: boolean; recordDiscovered?: boolean } = {}) {
  const log = silentLogger();
  const store = memoryStore();
  const lifecycle = new Lifecycle({ store, log, trust: o.trust ? new Trust({ store }) : undefined });
  const registry = new ProfileRegistry(PROFILES_DIR, log);
  const artifacts = new Artifacts(registry, fakeRenderer());
  const opened: string[] = [];
  const handler = createTftpHandler({
    policy: new BootPolicy({ lifecycle, recordDiscovered: o.recordDiscovered ?? true }),
    artifacts,
    registry,
    media: { openFile: async (distro, path) => (distro === 'centos-4.4-i386' ? bufferSource(Buffer.from(`${distro}:${path}`)) : null) },
    openFile: async (path) => {
      opened.push(path);
      return path === 'pxelinux.0' ? bufferSource(Buffer.from('PXELINUX')) : null;
    },
    base: 'http://10.0.0.1:8080',
    log,
  });
  await store.createSystem({ name: 'ng', macs: [MAC], profile: 'centos44-hvm' }, 1);
  const get = async (filename: string, address = '10.0.0.50'): Promise<string | null> => {
    const src: ByteSource | null = await handler({ filename, mode: 'octet', remote: { address, port: 2070 }, options: {} });
    return src ? (await src.read(0, src.size)).toString() : null;
  };
  return { store, lifecycle, get, opened };
}

test('PXELINUX lookup order: UUID and hex-IP names are not found, 01-MAC answers, default answers', async () => {
  const { get } = await setup();
  assert.equal(await get('pxelinux.cfg/b8945908-d6a6-41a9-611d-74a6ab80b83d'), null);
  assert.equal(await get('pxelinux.cfg/C0A80032'), null);
  assert.equal(await get('pxelinux.cfg/C0A8'), null);
  assert.equal(await get('pxelinux.cfg/01-00-16-3e-84-b5-99'), 'pxelinux localboot ng\n');
  assert.equal(await get('pxelinux.cfg/default'), 'pxelinux localboot default\n');
});

test('an armed system gets the install entry and a pxe event; after built it gets local boot', async () => {
  const { get, lifecycle, store } = await setup();
  const s = await lifecycle.arm('ng', null);
  assert.equal(await get('/pxelinux.cfg/01-00-16-3E-84-B5-99'), `pxelinux install ng http://10.0.0.1:8080/ks/${s.token}\n`);
  assert.deepEqual((await store.listEvents('ng')).map((e) => e.stage), ['armed', 'pxe']);
  await lifecycle.report(s.token!, 'built', { source: null });
  assert.equal(await get('pxelinux.cfg/01-00-16-3e-84-b5-99'), 'pxelinux localboot ng\n');
});

test('an unknown MAC gets the default local-boot menu and is recorded as discovered', async () => {
  const { get, store } = await setup();
  assert.equal(await get('pxelinux.cfg/01-52-54-00-00-00-01'), 'pxelinux localboot default\n');
  assert.equal((await store.getSystem('discovered-525400000001'))!.state, 'discovered');
});

test('with lifecycle.record_discovered off, an unknown MAC is answered and not recorded', async () => {
  const { get, store } = await setup({ recordDiscovered: false });
  assert.equal(await get('pxelinux.cfg/01-52-54-00-00-00-01'), 'pxelinux localboot default\n');
  assert.equal(await store.getSystem('discovered-525400000001'), null);
});

test('trust: an armed system\'s menu goes only to its leased address; elsewhere local boot and no pxe event', async () => {
  const { get, lifecycle, store } = await setup({ trust: true });
  await store.saveLeases([{ mac: MAC, ip: '10.0.0.50', hostname: null, state: 'bound', expiresAt: Date.now() + 60_000, updatedAt: 1 }]);
  const s = await lifecycle.arm('ng', null);
  assert.equal(await get('pxelinux.cfg/01-00-16-3e-84-b5-99', '10.0.0.66'), 'pxelinux localboot default\n');
  assert.deepEqual((await store.listEvents('ng')).map((e) => e.stage), ['armed']);
  assert.equal(await get('pxelinux.cfg/01-00-16-3e-84-b5-99', '10.0.0.50'), `pxelinux install ng http://10.0.0.1:8080/ks/${s.token}\n`);
  assert.deepEqual((await store.listEvents('ng')).map((e) => e.stage), ['armed', 'pxe']);
  assert.deepEqual(lifecycle.refusals.counts('trust'), { not_its_address: 1 });
});

test('distro kernels and initrds come from the distro media under a stable path', async () => {
  const { get } = await setup();
  assert.equal(await get('distros/centos-4.4-i386/vmlinuz'), 'centos-4.4-i386:isolinux/vmlinuz');
  assert.equal(await get('distros/centos-4.4-i386/initrd.img'), 'centos-4.4-i386:isolinux/initrd.img');
  assert.equal(await get('distros/nope/vmlinuz'), null);
  assert.equal(await get('distros/centos-4.4-i386/other'), null);
  await assert.rejects(get('distros/rocky-9-x86_64/vmlinuz'), /is not available/);
});

test('other names go to the file opener with DOS separators and leading slashes normalised', async () => {
  const { get, opened } = await setup();
  assert.equal(await get('\\pxelinux.0'), 'PXELINUX');
  assert.equal(await get('ldlinux.c32'), null);
  assert.deepEqual(opened, ['pxelinux.0', 'ldlinux.c32']);
  assert.equal(normalizeTftpPath('//boot\\x86\\file'), 'boot/x86/file');
});
