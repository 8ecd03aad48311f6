// The whole service started in-process as `kickstand serve` starts it (real templates, SQLite,
// ISO catalog, HTTP and TFTP on free loopback ports): the notes' guest is registered over the API,
// PXELINUX fetches its menu over TFTP, anaconda fetches the kickstart, steps report, built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../server/config/load.ts';
import { silentLogger } from '../server/log.ts';
import { startKickstand } from '../server/main.ts';
import { tftpGet } from './tftp/client.ts';

const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');

test('the service serves the notes guest end to end over HTTP and TFTP on loopback', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-service-'));
  const config = loadConfig({
    cwd: ROOT,
    isRoot: false,
    env: {
      KICKSTAND_DATA_DIR: join(dir, 'var'),
      KICKSTAND_ISOS_DIR: join(dir, 'isos'),
      KICKSTAND_HTTP__HOST: '127.0.0.1',
      KICKSTAND_HTTP__PORT: '0',
      KICKSTAND_TFTP__HOST: '127.0.0.1',
      KICKSTAND_TFTP__PORT: '0',
    },
  });
  const running = await startKickstand(config, silentLogger());
  try {
    const base = `http://127.0.0.1:${running.httpPort}`;
    const tokenPath = running.adminTokenPath!;
    assert.equal(statSync(tokenPath).mode & 0o777, 0o600, 'admin token file is private');
    const admin = { authorization: `Bearer ${readFileSync(tokenPath, 'utf8').trim()}`, 'content-type': 'application/json' };
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const created = await fetch(`${base}/api/v1/systems`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ name: 'ngtest-hvm', macs: ['00:16:3e:84:B5:99'], hostname: 'ngtest', profile: 'centos44-hvm', build: true }),
    });
    assert.equal(created.status, 201);
    const token = String(((await created.json()) as { urls: { kickstart: string } }).urls.kickstart).split('/ks/')[1]!;

    // PXELINUX: UUID first (not found), then 01-MAC (the install entry with the token).
    const uuid = await tftpGet({ port: running.tftpPort!, filename: 'pxelinux.cfg/b8945908-d6a6-41a9-611d-74a6ab80b83d' });
    assert.equal(uuid.error?.code, 1);
    const menu = await tftpGet({ port: running.tftpPort!, filename: 'pxelinux.cfg/01-00-16-3e-84-b5-99', options: { tsize: 0 } });
    const text = menu.data.toString();
    assert.match(text, /KERNEL distros\/centos-4\.4-i386\/vmlinuz/i);
    assert.ok(text.includes(`ks=http://127.0.0.1:${running.httpPort}/ks/${token}`), text);
    assert.match(text, /kssendmac/);
    assert.match(text, /IPAPPEND 2/);

    const ks = await fetch(`${base}/ks/${token}`);
    assert.equal(ks.status, 200);
    const kickstart = await ks.text();
    assert.match(kickstart, /^install$/m);
    assert.match(kickstart, /^url --url http:\/\/127\.0\.0\.1:\d+\/trees\/centos-4\.4-i386\/$/m);
    assert.match(kickstart, /^clearpart --all --initlabel --drives=hda,hdb$/m);
    assert.match(kickstart, /^kernel-smp-devel$/m);
    for (const stage of ['partitioned', 'formatted', 'kernel-installed', 'bootloader-installed', 'built']) {
      assert.equal((await fetch(`${base}/events/${token}/${stage}`)).status, 200, stage);
    }
    const after = await tftpGet({ port: running.tftpPort!, filename: 'pxelinux.cfg/01-00-16-3e-84-b5-99' });
    assert.match(after.data.toString(), /LOCALBOOT 0/);
    assert.equal((await fetch(`${base}/ks/${token}`)).status, 404);
    const events = (await (await fetch(`${base}/api/v1/systems/ngtest-hvm/events`, { headers: admin })).json()) as { events: Array<{ stage: string }> };
    assert.deepEqual(events.events.map((e) => e.stage), ['armed', 'pxe', 'kickstart', 'partitioned', 'formatted', 'kernel-installed', 'bootloader-installed', 'built']);
    // main wires metrics: TFTP transfers, lean-path HTTP requests and the install counted.
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /kickstand_tftp_transfers_total\{[^}]*\} [1-9]/);
    assert.match(metrics, /kickstand_http_requests_total\{route="event",method="GET",status="200"\} 5/);
    assert.match(metrics, /kickstand_installs_built_total(\{[^}]*\})? 1/);
    // and the process metrics, added once the service was up
    assert.match(metrics, /^process_cpu_user_seconds_total \d/m);
    assert.match(metrics, /^nodejs_eventloop_lag_seconds \d/m);
    // the dashboard is mounted and asks for a login
    const ui = await fetch(`${base}/ui/`, { redirect: 'manual' });
    assert.equal(ui.status, 303);
    assert.match(ui.headers.get('location') ?? "", /login/);
  } finally {
    await running.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a start-up failure names its cause and releases every port it had bound', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-service-fail-'));
  const env = {
    KICKSTAND_DATA_DIR: join(dir, 'var'),
    KICKSTAND_ISOS_DIR: join(dir, 'isos'),
    KICKSTAND_HTTP__HOST: '127.0.0.1',
    KICKSTAND_HTTP__PORT: '0',
    KICKSTAND_TFTP__HOST: '127.0.0.1',
    KICKSTAND_TFTP__PORT: '0',
  };
  try {
    const first = await startKickstand(loadConfig({ cwd: ROOT, isRoot: false, env }), silentLogger());
    const port = String(first.httpPort);
    await first.close();
    const bad = loadConfig({
      cwd: ROOT,
      isRoot: false,
      env: { ...env, KICKSTAND_HTTP__PORT: port, KICKSTAND_DHCP__MODE: 'proxy', KICKSTAND_DHCP__SERVER_IP: '127.0.0.1', KICKSTAND_DHCP__INTERFACE: 'ks-no-such-if' },
    });
    await assert.rejects(startKickstand(bad, silentLogger()), /dhcp\.interface: interface "ks-no-such-if" does not exist/);
    // HTTP and TFTP were up when DHCP failed; they were closed, so the same HTTP port binds again.
    const again = await startKickstand(loadConfig({ cwd: ROOT, isRoot: false, env: { ...env, KICKSTAND_HTTP__PORT: port } }), silentLogger());
    assert.equal(again.httpPort, Number(port));
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
