// GRUB 2 network boot configs as Debian's signed GRUB network image asks for them over TFTP (what
// it asked in a TFTP log: grub/x86_64-efi/*.lst, then grub/grub.cfg), and as images that search
// do (grub.cfg-01-<mac>, hex-IP names), driven through the TFTP policy handler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bufferSource, type ByteSource } from '../../server/byte-source.ts';
import { Artifacts } from '../../server/boot/artifacts.ts';
import { BootPolicy } from '../../server/boot/boot-policy.ts';
import { Lifecycle } from '../../server/boot/lifecycle.ts';
import { Trust } from '../../server/boot/trust.ts';
import { createTftpHandler } from '../../server/boot/tftp-handler.ts';
import { createGrubConfigs, parseGrubPath } from '../../server/boot/grub-config.ts';
import { silentLogger } from '../../server/log.ts';
import { ProfileRegistry } from '../../server/profiles/registry.ts';
import { memoryStore } from '../fakes/memory-store.ts';
import { fakeRenderer } from '../fakes/renderer.ts';
import { PROFILES_DIR } from '../http/harness.ts';

const MAC = '00:16:3e:84:b5:99';

async function setup(o: { trust?: boolean } = {}) {
  const log = silentLogger();
  const store = memoryStore();
  const lifecycle = new Lifecycle({ store, log, trust: o.trust ? new Trust({ store }) : undefined });
  const policy = new BootPolicy({ lifecycle, recordDiscovered: true });
  const registry = new ProfileRegistry(PROFILES_DIR, log);
  const artifacts = new Artifacts(registry, fakeRenderer());
  const opened: string[] = [];
  const base = 'http://10.0.0.1:8080';
  const handler = createTftpHandler({
    policy, artifacts, registry, base, log,
    media: { openFile: async () => null },
    openFile: async (path) => {
      opened.push(path);
      return path === 'grubx64.efi' ? bufferSource(Buffer.from('GRUB')) : null;
    },
    grub: createGrubConfigs({ policy, artifacts, base }),
  });
  await store.createSystem({ name: 'ng', macs: [MAC], profile: 'centos44-hvm' }, 1);
  const get = async (filename: string, address = '10.0.0.50'): Promise<string | null> => {
    const src: ByteSource | null = await handler({ filename, mode: 'octet', remote: { address, port: 2070 }, options: {} });
    return src ? (await src.read(0, src.size)).toString() : null;
  };
  return { store, lifecycle, get, opened };
}

test('the names GRUB asks for are recognised under its prefixes, and nothing else', () => {
  assert.deepEqual(parseGrubPath('grub/grub.cfg'), { kind: 'entry' });
  assert.deepEqual(parseGrubPath('boot/grub/grub.cfg-01-00-16-3E-84-B5-99'), { kind: 'mac', mac: MAC });
  assert.deepEqual(parseGrubPath('grub.cfg-0A000032'), { kind: 'unserved' });
  assert.equal(parseGrubPath('grub/x86_64-efi/command.lst'), null);
  assert.equal(parseGrubPath('other/grub.cfg'), null);
  assert.equal(parseGrubPath('grubx64.efi'), null);
});

test('Debian\'s grubnetx64 sequence: module lists fall through to the file opener (not found), grub/grub.cfg gets the entry config', async () => {
  const { get, opened } = await setup();
  for (const lst of ['command', 'fs', 'crypto', 'terminal']) assert.equal(await get(`/grub/x86_64-efi/${lst}.lst`), null);
  assert.equal(await get('/grub/grub.cfg'), 'grub entry: configfile $prefix/grub.cfg-01-<mac>\n');
  assert.deepEqual(opened, ['grub/x86_64-efi/command.lst', 'grub/x86_64-efi/fs.lst', 'grub/x86_64-efi/crypto.lst', 'grub/x86_64-efi/terminal.lst']);
});

test('grub.cfg-01-<mac>: the install entry and a pxe event while armed, local boot once built; hex-IP names are not found', async () => {
  const { get, lifecycle, store } = await setup();
  assert.equal(await get('grub/grub.cfg-0A000032'), null);
  assert.equal(await get('grub/grub.cfg-01-00-16-3e-84-b5-99'), 'grub localboot ng\n');
  const s = await lifecycle.arm('ng', null);
  assert.equal(await get('grub/grub.cfg-01-00-16-3e-84-b5-99'), `grub install ng http://10.0.0.1:8080/ks/${s.token}\n`);
  const events = await store.listEvents('ng');
  assert.deepEqual(events.map((e) => e.stage), ['armed', 'pxe']);
  assert.equal(events[1]!.message, 'tftp grub.cfg-01-00-16-3e-84-b5-99');
  await lifecycle.report(s.token!, 'built', { source: null });
  assert.equal(await get('grub/grub.cfg-01-00-16-3e-84-b5-99'), 'grub localboot ng\n');
});

test('an unknown MAC gets the default local-boot config and is recorded as discovered', async () => {
  const { get, store } = await setup();
  assert.equal(await get('grub/grub.cfg-01-52-54-00-00-00-02'), 'grub localboot default\n');
  assert.equal((await store.getSystem('discovered-525400000002'))!.state, 'discovered');
});

test('trust: an armed system\'s grub.cfg-01-<mac> goes only to its leased address; elsewhere local boot and no pxe event', async () => {
  const { get, lifecycle, store } = await setup({ trust: true });
  await store.saveLeases([{ mac: MAC, ip: '10.0.0.50', hostname: null, state: 'bound', expiresAt: Date.now() + 60_000, updatedAt: 1 }]);
  const s = await lifecycle.arm('ng', null);
  assert.equal(await get('grub/grub.cfg-01-00-16-3e-84-b5-99', '10.0.0.66'), 'grub localboot default\n', 'no token for a spoofed MAC');
  assert.deepEqual((await store.listEvents('ng')).map((e) => e.stage), ['armed']);
  assert.equal(await get('grub/grub.cfg-01-00-16-3e-84-b5-99', '10.0.0.50'), `grub install ng http://10.0.0.1:8080/ks/${s.token}\n`);
  assert.deepEqual((await store.listEvents('ng')).map((e) => e.stage), ['armed', 'pxe']);
  assert.deepEqual(lifecycle.refusals.counts('trust'), { not_its_address: 1 });
});
