// Full mode against real clients: Debian's dhclient and busybox udhcpc get a lease and the boot
// file from kickstand inside private namespaces, and leases survive a server restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePackages, skipUnlessRoot } from './lib/apt.ts';
import { createNetns, ip, type Netns } from './lib/netns.ts';
import { linkBare, startRunner, waitUntil, readEnv, type Runner } from './fixtures/dhcp-harness.ts';

const skip = skipUnlessRoot('needs root for network namespaces');
let srv: Netns, cli: Netns, cliIf: string, srvIf: string, dir: string, runner: Runner | null = null;

const config = () => ({
  mode: 'full',
  serverIp: '10.231.7.1',
  interfaces: [srvIf],
  subnet: { network: '10.231.7.0', mask: '255.255.255.0', router: '10.231.7.1', dns: ['10.231.7.1'], domain: 'lab.test', poolStart: '10.231.7.10', poolEnd: '10.231.7.50', leaseSeconds: 3600 },
  leaseFile: join(dir, 'leases.json'),
  booter: { tftpServer: '10.231.7.1', httpBase: 'http://10.231.7.1:8080', ipxeChain: false },
});

/** Runs udhcpc once with the client link's MAC set to mac; returns what its hook saw on "bound". */
function udhcpc(mac: string): Record<string, string> {
  ip('-n', cli.name, 'link', 'set', cliIf, 'address', mac);
  const out = join(dir, `udhcpc-${mac.replace(/:/g, '')}.env`);
  const hook = join(dir, 'udhcpc-hook.sh');
  writeFileSync(hook, `#!/bin/sh\n[ "$1" = bound ] && env > "$OUT"\nexit 0\n`);
  chmodSync(hook, 0o755);
  cli.exec('env', [`OUT=${out}`, 'busybox', 'udhcpc', '-i', cliIf, '-f', '-q', '-n', '-t', '5', '-T', '1', '-s', hook], { timeout: 30_000 });
  return readEnv(out);
}

before(async () => {
  if (skip) return;
  ensurePackages(['isc-dhcp-client', 'busybox']);
  dir = mkdtempSync(join(tmpdir(), 'ks-dhcp-'));
  srv = createNetns('ks-dfs');
  cli = createNetns('ks-dfc');
  ({ aIf: srvIf, bIf: cliIf } = linkBare(srv, '10.231.7.1/24', cli));
  runner = await startRunner(srv, config());
});

after(async () => {
  await runner?.stop().catch(() => undefined);
  srv?.cleanup();
  cli?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('dhclient gets a lease, lease times and the boot file', { skip }, async () => {
  ip('-n', cli.name, 'link', 'set', cliIf, 'address', '02:4b:53:00:00:01');
  const out = join(dir, 'dhclient.env');
  const hook = join(dir, 'dhclient-hook.sh');
  writeFileSync(hook, `#!/bin/sh\n[ "$reason" = BOUND ] && env > ${out}\nexit 0\n`);
  chmodSync(hook, 0o755);
  const child = cli.spawn('dhclient', ['-d', '-1', '-sf', hook, '-lf', join(dir, 'dhclient.leases'), '-pf', join(dir, 'dhclient.pid'), cliIf]);
  try {
    await waitUntil(() => existsSync(out) && readFileSync(out, 'utf8').includes('new_ip_address'), 'dhclient BOUND', 30_000);
  } finally {
    if (child.pid) process.kill(child.pid, 'SIGKILL');
  }
  const env = readEnv(out);
  assert.equal(env.new_ip_address, '10.231.7.10');
  assert.equal(env.new_filename, 'pxelinux.0');
  assert.equal(env.new_next_server, '10.231.7.1');
  assert.equal(env.new_dhcp_lease_time, '3600');
  assert.equal(env.new_subnet_mask, '255.255.255.0');
  assert.equal(env.new_routers, '10.231.7.1');
  assert.ok(runner!.lines().some((l) => l.msg === 'dhcp ack' && l.mac === '02:4b:53:00:00:01'));
  const stored = JSON.parse(readFileSync(join(dir, 'leases.json'), 'utf8'));
  assert.equal(stored['02:4b:53:00:00:01'].state, 'bound');
});

test('udhcpc gets a lease and the boot file', { skip }, () => {
  const env = udhcpc('02:4b:53:00:00:02');
  assert.equal(env.ip, '10.231.7.11');
  assert.equal(env.boot_file, 'pxelinux.0');
  assert.equal(env.siaddr, '10.231.7.1');
  assert.equal(env.serverid, '10.231.7.1');
  assert.equal(env.lease, '3600');
});

test('after a restart the server keeps its leases: new clients get other addresses, old ones their own', { skip }, async () => {
  await runner!.stop();
  runner = await startRunner(srv, config());
  assert.ok(runner.lines().some((l) => l.msg === 'dhcp leases loaded' && l.leases === 2));
  assert.equal(udhcpc('02:4b:53:00:00:03').ip, '10.231.7.12');
  assert.equal(udhcpc('02:4b:53:00:00:01').ip, '10.231.7.10');
  assert.equal(udhcpc('02:4b:53:00:00:02').ip, '10.231.7.11');
});
