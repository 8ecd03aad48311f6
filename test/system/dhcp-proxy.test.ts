// Proxy mode on a shared link: dnsmasq hands out addresses, kickstand answers only the PXE client
// (with a boot file and no address) and leaves udhcpc to dnsmasq. Three namespaces: a switch (a
// bridge, with dnsmasq on it), kickstand, and the client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePackages, skipUnlessRoot } from './lib/apt.ts';
import { createNetns, ip, type Netns } from './lib/netns.ts';
import { linkBare, startRunner, waitUntil, readEnv, PXE_CLIENT, type Runner } from './fixtures/dhcp-harness.ts';

const skip = skipUnlessRoot('needs root for network namespaces');
let sw: Netns, ks: Netns, cl: Netns, clIf: string, dir: string, runner: Runner | null = null;

before(async () => {
  if (skip) return;
  ensurePackages(['busybox', 'dnsmasq-base']);
  dir = mkdtempSync(join(tmpdir(), 'ks-dhcpp-'));
  sw = createNetns('ks-dps');
  ks = createNetns('ks-dpk');
  cl = createNetns('ks-dpc');
  ip('-n', sw.name, 'link', 'add', 'br0', 'type', 'bridge');
  ip('-n', sw.name, 'addr', 'add', '10.231.8.2/24', 'dev', 'br0');
  ip('-n', sw.name, 'link', 'set', 'br0', 'up');
  const ksLink = linkBare(ks, '10.231.8.1/24', sw);
  const clLink = linkBare(sw, '10.231.8.250/32', cl);
  ip('-n', sw.name, 'addr', 'del', '10.231.8.250/32', 'dev', clLink.aIf);
  for (const port of [ksLink.bIf, clLink.aIf]) ip('-n', sw.name, 'link', 'set', port, 'master', 'br0');
  clIf = clLink.bIf;
  ip('-n', cl.name, 'link', 'set', clIf, 'address', '02:4b:53:00:01:01');
  sw.spawn('dnsmasq', ['--no-daemon', '--conf-file=/dev/null', '--port=0', '--interface=br0', '--bind-interfaces',
    '--dhcp-range=10.231.8.100,10.231.8.150,1h', `--dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`, `--pid-file=${join(dir, 'dnsmasq.pid')}`]);
  runner = await startRunner(ks, {
    mode: 'proxy', serverIp: '10.231.8.1', interfaces: [ksLink.aIf],
    booter: { tftpServer: '10.231.8.1', httpBase: 'http://10.231.8.1:8080', ipxeChain: false },
  });
});

after(async () => {
  await runner?.stop().catch(() => undefined);
  for (const ns of [cl, ks, sw]) ns?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('udhcpc gets its address from dnsmasq; kickstand logs it as not a PXE client and stays silent', { skip }, async () => {
  const out = join(dir, 'udhcpc.env');
  const hook = join(dir, 'hook.sh');
  // The hook also puts the address on the link, so the PXE client below can broadcast from it.
  writeFileSync(hook, `#!/bin/sh\n[ "$1" = bound ] && { env > "${out}"; ip addr add "$ip/$mask" dev "$interface"; ip route add 255.255.255.255 dev "$interface"; }\nexit 0\n`);
  chmodSync(hook, 0o755);
  cl.exec('busybox', ['udhcpc', '-i', clIf, '-f', '-q', '-n', '-t', '5', '-T', '1', '-s', hook], { timeout: 30_000 });
  const env = readEnv(out);
  assert.equal(env.serverid, '10.231.8.2');
  assert.match(env.ip, /^10\.231\.8\.1[0-5]\d$/);
  await waitUntil(() => runner!.lines().some((l) => l.mac === '02:4b:53:00:01:01' && /not a pxe client/.test(String(l.reason))), 'kickstand refusal', 10_000);
  assert.ok(!runner!.lines().some((l) => l.mac === '02:4b:53:00:01:01' && typeof l.reply === 'string'));
});

test('a PXE client gets an address offer from dnsmasq and the boot offer from kickstand, then an ACK on port 4011', { skip }, async () => {
  const mac = '02:50:58:45:00:01';
  const out = cl.exec(process.execPath, ['--import', 'tsx', PXE_CLIENT, mac, '10.231.8.1'], { timeout: 30_000 });
  const replies = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  const fromDnsmasq = replies.find((r) => r.serverId === '10.231.8.2' && r.type === 2);
  const proxyOffer = replies.find((r) => r.serverId === '10.231.8.1' && r.type === 2);
  const proxyAck = replies.find((r) => r.serverId === '10.231.8.1' && r.type === 5);
  assert.ok(fromDnsmasq, `dnsmasq offered an address: ${out}`);
  assert.notEqual(fromDnsmasq.yiaddr, '0.0.0.0');
  assert.ok(proxyOffer, `kickstand answered: ${out}`);
  assert.equal(proxyOffer.yiaddr, '0.0.0.0');
  assert.equal(proxyOffer.siaddr, '10.231.8.1');
  assert.equal(proxyOffer.file, 'pxelinux.0');
  assert.equal(proxyOffer.vendor, 'PXEClient');
  assert.equal(proxyOffer.uuid, '000123456789abcdef0123456789abcdef');
  assert.equal(proxyOffer.pxe43, '060108ff');
  assert.ok(proxyAck, `kickstand acked on 4011: ${out}`);
  assert.equal(proxyAck.file, 'pxelinux.0');
  await waitUntil(() => runner!.lines().some((l) => l.msg === 'pxe event' && l.mac === mac), 'pxe event in the server log', 10_000);
});
