// Every boot file DHCP names is fetchable from the running service: `kickstand serve` started
// in-process (real templates, SQLite, HTTP, TFTP and ProxyDHCP on loopback), a PXE or HTTP Boot
// client of each architecture asks the proxy on its port 4011, and whatever file or URL the answer
// names is fetched back over TFTP or HTTP and compared byte for byte with the file on disk. The
// loaders are test files named in tftp.loaders (a fresh CI machine has no Debian boot loaders).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../server/config/load.ts';
import { captureLogger } from '../../server/log.ts';
import { startKickstand, type Running } from '../../server/main.ts';
import { MsgType, Opt } from '../../server/dhcp/options.ts';
import type { DhcpPacket } from '../../server/dhcp/packet.ts';
import { arch, pxeVendor, request, TestClient, UUID_OPT } from '../dhcp/helpers.ts';
import { tftpGet } from '../tftp/client.ts';

const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../..');
const LOADERS = ['pxelinux.0', 'ldlinux.c32', 'undionly.kpxe', 'ipxe.efi', 'snponly.efi', 'shimx64.efi', 'grubx64.efi', 'grubaa64.efi'];

interface Service {
  running: Running;
  client: TestClient;
  proxyPort: number;
  files: Record<string, string>;
  lines: () => Array<Record<string, unknown>>;
  dir: string;
}

/** Starts the whole service with ProxyDHCP on lo and the given loaders (name -> file contents) and dhcp settings. */
async function serve(loaders: string[], dhcp: Record<string, unknown> = {}): Promise<Service> {
  const dir = mkdtempSync(join(tmpdir(), 'ks-bootfiles-'));
  const files: Record<string, string> = {};
  for (const name of loaders) {
    files[name] = join(dir, `${name}.bin`);
    writeFileSync(files[name]!, `${name} `.repeat(900)); // several TFTP blocks
  }
  const client = await TestClient.open();
  const config = join(dir, 'kickstand.yaml');
  writeFileSync(config, JSON.stringify({
    data_dir: join(dir, 'var'), isos_dir: join(dir, 'isos'), profiles_dir: join(ROOT, 'profiles'), templates_dir: join(ROOT, 'templates'), public_url: 'http://127.0.0.1:1',
    http: { host: '127.0.0.1', port: 0 },
    tftp: { host: '127.0.0.1', port: 0, loaders: files },
    dhcp: { mode: 'proxy', interface: 'lo', server_ip: '127.0.0.1', ports: { server: 0, client: client.port, proxy: 0 }, ...dhcp },
  }));
  const { log, lines } = captureLogger('debug');
  const running = await startKickstand(loadConfig({ cwd: ROOT, isRoot: false, env: { KICKSTAND_CONFIG: config } }), log);
  const listening = lines().find((l) => l.msg === 'DHCP (proxy) listening');
  assert.ok(listening && typeof listening.proxy === 'number', 'the proxy port is logged');
  return { running, client, proxyPort: listening.proxy as number, files, lines, dir };
}

async function stop(s: Service | undefined): Promise<void> {
  if (!s) return;
  await s.running.close();
  await s.client.close();
  rmSync(s.dir, { recursive: true, force: true });
}

/** Asks the proxy on port 4011 as a client of an architecture (PXE, or HTTP Boot's vendor class); returns the ACK or null. */
async function ask(s: Service, archType: number, xid: number, http = false): Promise<DhcpPacket | null> {
  await s.client.send(request(MsgType.REQUEST, {
    mac: `02:00:00:00:${(archType >> 8).toString(16).padStart(2, '0')}:${(archType & 255).toString(16).padStart(2, '0')}`, xid, ciaddr: '127.0.0.1',
    options: [[Opt.CLIENT_ARCH, arch(archType)], [Opt.VENDOR_CLASS, pxeVendor(archType, http ? 'HTTPClient' : 'PXEClient')], [Opt.CLIENT_UUID, UUID_OPT], [Opt.PARAM_REQUEST, [1, 3, 43, 60, 66, 67]]],
  }), s.proxyPort);
  return s.client.next(xid, 1500).catch(() => null);
}

/** Returns the bytes a boot file name or URL points at, fetched from the running service. */
async function fetchNamed(s: Service, named: string): Promise<Buffer> {
  if (/^https?:/.test(named)) {
    // The answer carries public_url; the same path on the service's own port.
    const res = await fetch(`http://127.0.0.1:${s.running.httpPort}${new URL(named).pathname}`);
    assert.equal(res.status, 200, `GET ${named}`);
    return Buffer.from(await res.arrayBuffer());
  }
  const got = await tftpGet({ port: s.running.tftpPort!, filename: named, options: { blksize: 1428 } });
  assert.ok(!got.error, `TFTP ${named}: ${JSON.stringify(got.error)}`);
  return got.data;
}

describe('every boot file DHCP names is served by the running service', () => {
  let s: Service | undefined;
  before(async () => {
    s = await serve(LOADERS);
  });
  after(() => stop(s));

  const cases: Array<[string, number, boolean, string]> = [
    ['BIOS (0)', 0, false, 'pxelinux.0'],
    ['x64 UEFI (7)', 7, false, 'ipxe.efi'],
    ['x64 UEFI (9)', 9, false, 'ipxe.efi'],
    ['ARM64 UEFI (11)', 11, false, 'grubaa64.efi'],
    ['x64 UEFI HTTP Boot (16)', 16, true, 'http://127.0.0.1:1/boot/ipxe.efi'],
    ['ARM64 UEFI HTTP Boot (19)', 19, true, 'http://127.0.0.1:1/boot/grubaa64.efi'],
  ];
  cases.forEach(([name, archType, http, expected], i) => {
    test(`${name}: the answer names ${expected} and that file comes back byte for byte`, async () => {
      const ack = await ask(s!, archType, 0x7000 + i, http);
      assert.ok(ack, 'the proxy acked');
      const named = ack.options.string(Opt.BOOTFILE) ?? ack.file;
      assert.equal(named, expected);
      assert.equal(ack.options.string(Opt.VENDOR_CLASS), http ? 'HTTPClient' : 'PXEClient');
      const file = expected.replace(/^.*\//, '');
      assert.deepEqual(await fetchNamed(s!, named), readFileSync(s!.files[file]!));
      // A boot loader is served under the same name both ways.
      if (!http) assert.equal((await fetch(`http://127.0.0.1:${s!.running.httpPort}/boot/${file}`)).status, 200);
    });
  });

  test('a name that is no boot loader is 404 over HTTP', async () => {
    assert.equal((await fetch(`http://127.0.0.1:${s!.running.httpPort}/boot/kickstand.yaml`)).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${s!.running.httpPort}/boot/..%2fkickstand.yaml`)).status, 404);
  });
});

describe('the Secure Boot chain and missing loaders', () => {
  let s: Service | undefined;
  before(async () => {
    s = await serve(LOADERS.filter((n) => n !== 'grubaa64.efi'), { efi_loader: 'shim' });
  });
  after(() => stop(s));

  test('efi_loader shim: x64 UEFI gets shimx64.efi; grubx64.efi and GRUB\'s grub/grub.cfg are served beside it', async () => {
    const ack = await ask(s!, 7, 0x7100);
    assert.equal(ack?.file, 'shimx64.efi');
    assert.deepEqual(await fetchNamed(s!, 'shimx64.efi'), readFileSync(s!.files['shimx64.efi']!));
    assert.deepEqual(await fetchNamed(s!, 'grubx64.efi'), readFileSync(s!.files['grubx64.efi']!));
    const cfg = (await fetchNamed(s!, '/grub/grub.cfg')).toString();
    assert.match(cfg, /configfile "\$prefix\/grub\.cfg-01-\$m1-\$m2-\$m3-\$m4-\$m5-\$m6"/);
    const mine = (await fetchNamed(s!, '/grub/grub.cfg-01-02-00-00-00-00-07')).toString();
    assert.match(mine, /^menuentry 'kickstand: local disk' \{$/m);
  });

  test('an ARM64 client with no arm64 loader on the host gets no offer, and one log line names the package', async () => {
    for (let i = 0; i < 3; i++) assert.equal(await ask(s!, 11, 0x7200 + i), null);
    const warned = s!.lines().filter((l) => typeof l.msg === 'string' && (l.msg as string).startsWith('no boot offer'));
    assert.deepEqual(warned.map((l) => l.msg), ['no boot offer for ARM64 UEFI clients (arch 11): shimaa64.efi is not on this host; install the Debian package shim-signed (arm64)']);
  });
});
