// Issue 19's findings, each driven the way it was found: a system or override saved through the
// API (supertest, the real templates), a profile file loaded from disk, an iPXE request for a
// second NIC. Each must be refused at save, naming the field, or come out right.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { Artifacts } from '../../server/boot/artifacts.ts';
import { Lifecycle } from '../../server/boot/lifecycle.ts';
import { artifactRenderer } from '../../server/boot/renderer.ts';
import { createHttpHandler } from '../../server/http/app.ts';
import { silentLogger } from '../../server/log.ts';
import { ProfileError } from '../../server/errors.ts';
import { loadProfiles } from '../../server/profiles/load.ts';
import { FAMILIES } from '../../server/profiles/schema.ts';
import { ProfileRegistry } from '../../server/profiles/registry.ts';
import { memoryStore } from '../fakes/memory-store.ts';
import { REPO, renderer } from './fixtures.ts';

const ADMIN = 'findings-admin-token-0123456789ab';
const auth = { Authorization: `Bearer ${ADMIN}` };
const NOTES_MAC = '00:16:3e:84:b5:99';

/** Returns an HTTP handler over a memory store, the example profiles and the real templates. */
async function app() {
  const log = silentLogger();
  const store = memoryStore();
  const lifecycle = new Lifecycle({ store, log });
  const registry = new ProfileRegistry(join(REPO, 'profiles'), log);
  const artifacts = new Artifacts(registry, artifactRenderer(await renderer(), { subnet: { network: '10.0.0.0', mask: '255.255.255.0', router: '10.0.0.1', dns: ['10.0.0.2'] } }));
  return { handler: createHttpHandler({ lifecycle, registry, artifacts, adminToken: ADMIN, log }), store };
}

/** Posts a system and returns the response. */
async function add(h: Awaited<ReturnType<typeof app>>, body: Record<string, unknown>) {
  return request(h.handler).post('/api/v1/systems').set(auth).send({ name: 'ng', macs: [NOTES_MAC], profile: 'centos44-hvm', ...body });
}

/** Asserts a 400 naming field (and matching message). */
function refused(r: request.Response, field: string, message: RegExp): void {
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.error.field, field, JSON.stringify(r.body));
  assert.match(r.body.error.message, message);
}

describe('finding 2: values in option position are refused when the override is saved', () => {
  test('{"timezone":"--utc"}, {"keyboard":"--help"}, el9 {"timezone":"--nontp"}, a kernel argument "--x", a language "-x"', async () => {
    const h = await app();
    refused(await add(h, { overrides: { timezone: '--utc' } }), 'overrides.timezone', /expected a zone name/);
    refused(await add(h, { overrides: { keyboard: '--help' } }), 'overrides.keyboard', /not starting with "-"/);
    refused(await add(h, { profile: 'el9-kvm', overrides: { timezone: '--nontp' } }), 'overrides.timezone', /expected a zone name/);
    refused(await add(h, { overrides: { kernel_args: ['--x'] } }), 'overrides.kernel_args[0]', /not starting with "-"/);
    refused(await add(h, { overrides: { language: '-x' } }), 'overrides.language', /locale/);
    assert.deepEqual(await h.store.listSystems(), [], 'nothing was saved');
  });
});

describe('finding 3: layouts that cannot install are refused at save, naming the field', () => {
  const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['a disk hdc beside the Xen CD-ROM', { overrides: { disks: { hdc: { size_mib: 1024, partitions: [{ role: 'data', fstype: 'ext3', mount: '/data' }] } } } }, 'overrides.disks.hdc', /attach xen\.cdrom as hdc/],
    ['a 16-character XFS label', { profile: 'el9-kvm', overrides: { disks: { vda: { partitions: [{ role: 'root', label: 'ABCDEFGHIJKLMNOP' }] } } } }, 'overrides.disks.vda.partitions[0].label', /xfs labels hold at most 12 characters, got 16/],
    ['two / mounts', { overrides: { disks: { hdb: { partitions: [{ role: 'data', fstype: 'ext3', mount: '/' }] } } } }, 'overrides.disks.hdb.partitions[0].mount', /\/ is already mounted from disks\.hda\.partitions\[0\]/],
    ['a label used twice', { overrides: { disks: { hdb: { partitions: [{ role: 'swap', label: 'ROOT' }] } } } }, 'overrides.disks.hdb.partitions[0].label', /label "ROOT" is already used by disks\.hda\.partitions\[0\]/],
    ['disks.hda.size_mib: 1e308', { overrides: { disks: { hda: { size_mib: 1e308 } } } }, 'overrides.disks.hda.size_mib', /MBR disk addresses 2 TiB|integer/],
    ['ttyS9', { overrides: { serial: { device: 'ttyS9' } } }, 'overrides.serial.device', /ttyS0 to ttyS3/],
    ['@base --nobase', { overrides: { packages: ['@base --nobase'] } }, 'overrides.packages[0]', /no word may start with "-"/],
    ['ext4 on el4', { overrides: { disks: { hda: { partitions: [{ role: 'root', fstype: 'ext4', label: 'ROOT' }] } } } }, 'overrides.disks.hda.partitions[0].fstype', /the el4 installer cannot make ext4/],
  ];
  for (const [what, body, field, message] of cases) {
    test(`${what}`, async () => {
      const h = await app();
      refused(await add(h, body), field, message);
      assert.deepEqual(await h.store.listSystems(), []);
    });
  }

  test('a 253-character hostname (a host name holds 64), broadcast and multicast MACs', async () => {
    const h = await app();
    const long = Array.from({ length: 4 }, () => 'a'.repeat(62)).join('.') + '.b';
    assert.equal(long.length, 253);
    refused(await add(h, { hostname: long }), 'hostname', /at most 64 characters/);
    refused(await add(h, { macs: ['ff:ff:ff:ff:ff:ff'] }), 'macs[0]', /broadcast/);
    refused(await add(h, { macs: ['01:00:5e:00:00:01'] }), 'macs[0]', /multicast/);
  });

  test('an override changed later through PATCH is checked the same way', async () => {
    const h = await app();
    assert.equal((await add(h, {})).status, 201);
    const r = await request(h.handler).patch('/api/v1/systems/ng').set(auth).send({ overrides: { disks: { hda: { partitions: [{ role: 'root', label: 'ROOT' }, { role: 'data', fstype: 'ext3', mount: '/', size_mib: 1 }] } } } });
    assert.equal(r.status, 400);
    assert.match(r.body.error.field, /^overrides\.disks\.hda\.partitions/);
  });

  test('a profile file with a duplicate label or an XFS label past 12 is refused at load, naming file and key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-findings-'));
    try {
      writeFileSync(join(dir, 'd.yaml'), 'kind: distro\nname: d\nfamily: el9\narch: x86_64\nkernel: k\ninitrd: i\n');
      writeFileSync(join(dir, 'p.yaml'), 'kind: profile\nname: p\ndistro: d\ndisks:\n  vda: { size_mib: 4096, partitions: [{ role: root, label: THIRTEENCHARS }] }\n');
      assert.throws(() => loadProfiles(dir), (e: unknown) => e instanceof ProfileError && /p\.yaml: disks\.vda\.partitions\[0\]\.label: xfs labels hold at most 12/.test(e.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('every family a distro may name has a kickstart template (a fedora distro renders)', async () => {
    const r = await renderer();
    assert.deepEqual([...FAMILIES].sort(), [...r.kickstarts].sort());
  });
});

describe('findings 5, 6, 7, 8 through the service', () => {
  test('finding 8: NGTest-hvm is accepted as the display name; its slug names the system; the xm config names the domain as the notes do', async () => {
    const h = await app();
    const r = await add(h, { name: 'NGTest-hvm' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.deepEqual([r.body.name, r.body.displayName], ['ngtest-hvm', 'NGTest-hvm']);
    const xm = await request(h.handler).get('/api/v1/systems/ngtest-hvm/render/xen').set(auth);
    assert.equal(xm.status, 200);
    assert.match(xm.text, /^name = 'NGTest-hvm'$/m);
    assert.match(xm.text, /'file:\/var\/xen\/ngtest-hvm-hda\.img,hda,w'/);
    // The display name finds the system wherever a name is taken.
    const byDisplay = await request(h.handler).get('/api/v1/systems/NGTest-hvm').set(auth);
    assert.equal(byDisplay.status, 200);
    assert.equal(byDisplay.body.name, 'ngtest-hvm');
    const clash = await add(h, { name: 'ngtest-HVM', macs: ['00:16:3e:00:00:09'] });
    assert.equal(clash.status, 409, 'two spellings of one slug');
  });

  test('finding 6: a VNC password with a quote is refused at save; a render error names no absolute path and no value', async () => {
    const h = await app();
    refused(await add(h, { overrides: { xen: { vnc: { password: "pa'ss" } } } }), 'overrides.xen.vnc.password', /without quotes or backslashes/);
    const { contextFor } = await import('./fixtures.ts');
    const ctx = contextFor('centos44-hvm');
    const bad = { ...ctx, xen: { ...ctx.xen!, vnc: { ...ctx.xen!.vnc, password: "se'cr" } } };
    const r = await renderer();
    assert.throws(() => r.render('xl', bad), (e: unknown) => {
      const m = (e as Error).message;
      assert.match(m, /template xen\/xl\.cfg\.hbs: \{\{xl\}\} \(line \d+\): a value of 5 characters contains a quote/);
      assert.doesNotMatch(m, /se'cr|\/work\/|templates\//);
      return true;
    });
  });

  test('finding 7: GET /ipxe/<second mac> renders BOOTIF=01-<second mac>', async () => {
    const h = await app();
    assert.equal((await add(h, { macs: [NOTES_MAC, '00:16:3e:00:00:02'], build: true })).status, 201);
    const second = await request(h.handler).get('/ipxe/00:16:3e:00:00:02');
    assert.equal(second.status, 200);
    assert.match(second.text, / BOOTIF=01-00-16-3e-00-00-02 /);
    const first = await request(h.handler).get(`/ipxe/${NOTES_MAC}`);
    assert.match(first.text, / BOOTIF=01-00-16-3e-84-b5-99 /);
  });

  test('finding 5: a system with an ip and a profile asking for static gets a static network line from the subnet settings', async () => {
    const h = await app();
    assert.equal((await add(h, { profile: 'el9-kvm', ip: '10.0.0.42', overrides: { network: { mode: 'static' } }, build: true })).status, 201);
    const ks = await request(h.handler).get('/api/v1/systems/ng/render/kickstart').set(auth);
    assert.equal(ks.status, 200, ks.text);
    assert.match(ks.text, /^network --onboot=yes --device=00:16:3e:84:b5:99 --bootproto=static --ip=10\.0\.0\.42 --netmask=255\.255\.255\.0 --gateway=10\.0\.0\.1 --nameserver=10\.0\.0\.2 --hostname=ng --activate$/m);
  });
});

describe('findings 2 and 8 through the kickstand command, as an operator types it', () => {
  const cli = (dataDir: string, ...args: string[]) => {
    // The TypeScript source through tsx (bin/kickstand.js runs the build, which may be stale or absent).
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'server', 'cli', 'main.ts'), ...args], {
      cwd: REPO,
      encoding: 'utf8',
      env: { ...process.env, KICKSTAND_DATA_DIR: dataDir, KICKSTAND_ISOS_DIR: join(dataDir, 'isos'), KICKSTAND_CONFIG: '' },
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  test("system add NGTest-hvm works; --override '{\"timezone\":\"--utc\"}' is refused naming the field", () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-findings-cli-'));
    try {
      const bad = cli(dir, 'system', 'add', 'other', '--mac', '00:16:3e:00:00:07', '--profile', 'centos44-hvm', '--override', '{"timezone":"--utc"}');
      assert.notEqual(bad.code, 0);
      assert.match(bad.err, /timezone: expected a zone name/);
      const add = cli(dir, 'system', 'add', 'NGTest-hvm', '--mac', '00:16:3E:84:B5:99', '--profile', 'centos44-hvm', '--build');
      assert.equal(add.code, 0, add.err);
      assert.match(add.out, /^added ngtest-hvm \(display name NGTest-hvm\) \(00:16:3e:84:b5:99\) profile centos44-hvm, armed$/m);
      const shown = cli(dir, 'system', 'show', 'NGTest-hvm');
      assert.equal(shown.code, 0, shown.err);
      assert.match(shown.out, /"displayName": "NGTest-hvm"/);
      const xm = cli(dir, 'render', 'xen', '--system', 'NGTest-hvm');
      assert.equal(xm.code, 0, xm.err);
      assert.match(xm.out, /^name = 'NGTest-hvm'$/m);
      const ks = cli(dir, 'render', 'kickstart', '--system', 'ngtest-hvm', '--base', 'http://10.0.0.1:8080');
      assert.match(ks.out, /^timezone --utc Pacific\/Auckland$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
