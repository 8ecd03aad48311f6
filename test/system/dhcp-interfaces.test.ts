// Interface binding with real clients: kickstand's namespace has the configured interface (a
// bridge, with a veth pair whose both ends sit in kickstand's namespace, as in the e2e lab, so
// every broadcast reaches the namespace twice) and a second interface on another link. A client
// on the bridge gets exactly one answer per request, in full and in proxy mode; a client on the
// second interface gets none, not even by unicast to the configured address on port 4011.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ensurePackages, isRoot } from './lib/apt.ts';
import { createNetns, ip, type Netns } from './lib/netns.ts';
import { linkBare, startRunner, readEnv, waitUntil, PXE_CLIENT, type Runner } from './fixtures/dhcp-harness.ts';

const skip = isRoot() || process.env.CI === 'true' ? false : 'needs root for network namespaces';
const SERVER = '10.231.11.1';
const OTHER = '10.231.12.1';
const MAC_A = '02:4b:53:00:0a:01';
const MAC_B = '02:4b:53:00:0b:01';
let srv: Netns, ca: Netns, cb: Netns, aIf: string, bIf: string, otherIf: string, dir: string;
let runner: Runner | null = null;

const booter = { tftpServer: SERVER, httpBase: `http://${SERVER}:8080`, ipxeChain: false };
const full = () => ({
  mode: 'full', serverIp: SERVER, interfaces: ['br0'], booter,
  subnet: { network: '10.231.11.0', mask: '255.255.255.0', router: SERVER, poolStart: '10.231.11.100', poolEnd: '10.231.11.150', leaseSeconds: 3600 },
});
const proxy = () => ({ mode: 'proxy', serverIp: SERVER, interfaces: ['br0'], booter });

/** Runs udhcpc once in ns on ifname with the given MAC; returns what its hook saw on "bound" ({} when no lease). */
function udhcpc(ns: Netns, ifname: string, mac: string): Record<string, string> {
  ip('-n', ns.name, 'link', 'set', ifname, 'address', mac);
  const out = join(dir, `udhcpc-${mac.replace(/:/g, '')}.env`);
  const hook = join(dir, 'udhcpc-hook.sh');
  writeFileSync(hook, `#!/bin/sh\n[ "$1" = bound ] && env > "$OUT"\nexit 0\n`);
  chmodSync(hook, 0o755);
  // -n: exit with an error when no lease came after -t tries.
  spawnSync('ip', ['netns', 'exec', ns.name, 'env', `OUT=${out}`, 'busybox', 'udhcpc', '-i', ifname, '-f', '-q', '-n', '-t', '3', '-T', '1', '-s', hook], { timeout: 30_000 });
  return readEnv(out);
}

/** Runs the PXE client fixture in ns (DISCOVER by broadcast, then REQUEST to target:4011); returns the replies it printed. */
function pxeClient(ns: Netns, mac: string, target: string): Array<Record<string, unknown>> {
  const out = ns.exec(process.execPath, ['--import', 'tsx', PXE_CLIENT, mac, target], { timeout: 30_000 });
  return out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Gives a client link an address and a broadcast route (the PXE client broadcasts from it). */
function address(ns: Netns, ifname: string, cidr: string): void {
  ip('-n', ns.name, 'addr', 'add', cidr, 'dev', ifname);
  ip('-n', ns.name, 'route', 'add', '255.255.255.255', 'dev', ifname);
}

const linesFor = (mac: string) => runner!.lines().filter((l) => l.mac === mac);
/** Lets the server's log lines, held while a client ran synchronously, reach this process. */
const settle = () => new Promise((r) => setTimeout(r, 1000));

before(() => {
  if (skip) return;
  ensurePackages(['busybox']);
  dir = mkdtempSync(join(tmpdir(), 'ks-dhcpi-'));
  srv = createNetns('ks-dis');
  ca = createNetns('ks-dia');
  cb = createNetns('ks-dib');
  // The configured interface: a bridge carrying the server's address, a port to client A, and a
  // veth pair with both ends in the server's namespace (one end a bridge port, the other up).
  ip('-n', srv.name, 'link', 'add', 'br0', 'type', 'bridge', 'forward_delay', '0');
  ip('-n', srv.name, 'addr', 'add', `${SERVER}/24`, 'dev', 'br0');
  ip('-n', srv.name, 'link', 'set', 'br0', 'up');
  const a = linkBare(srv, '10.231.11.254/32', ca);
  ip('-n', srv.name, 'addr', 'del', '10.231.11.254/32', 'dev', a.aIf);
  ip('-n', srv.name, 'link', 'set', a.aIf, 'master', 'br0');
  ip('-n', srv.name, 'link', 'add', 'ksloop0', 'type', 'veth', 'peer', 'name', 'ksloop1');
  ip('-n', srv.name, 'link', 'set', 'ksloop0', 'master', 'br0');
  for (const l of ['ksloop0', 'ksloop1']) ip('-n', srv.name, 'link', 'set', l, 'up');
  aIf = a.bIf;
  // The second interface: another link with an address of its own, to client B.
  const b = linkBare(srv, `${OTHER}/24`, cb);
  otherIf = b.aIf;
  bIf = b.bIf;
});

after(async () => {
  await runner?.stop().catch(() => undefined);
  for (const ns of [ca, cb, srv]) ns?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('full mode: a client on the configured interface gets a lease, with one OFFER and one ACK', { skip }, async () => {
  runner = await startRunner(srv, full());
  const env = udhcpc(ca, aIf, MAC_A);
  assert.match(env.ip ?? '', /^10\.231\.11\.1[0-4]\d$/, `lease: ${JSON.stringify(env)}`);
  assert.equal(env.serverid, SERVER);
  assert.equal(env.boot_file, 'pxelinux.0');
  await waitUntil(() => linesFor(MAC_A).some((l) => l.msg === 'dhcp ack'), 'the ACK in the server log', 10_000);
  await settle();
  const lines = linesFor(MAC_A);
  assert.equal(lines.filter((l) => l.msg === 'dhcp offer').length, 1, 'one OFFER, though the broadcast reached the namespace twice');
  assert.equal(lines.filter((l) => l.msg === 'dhcp ack').length, 1, 'one ACK');
  assert.ok(lines.every((l) => l.msg !== 'dhcp offer' || l.interface === 'br0'));
});

test(`full mode: a client on a second interface of the server's namespace gets no answer, and kickstand never sees it`, { skip }, async () => {
  const env = udhcpc(cb, bIf, MAC_B);
  assert.deepEqual(env, {}, 'no lease on the second interface');
  await settle();
  assert.deepEqual(linesFor(MAC_B), [], `kickstand logged nothing for ${MAC_B}`);
  assert.ok(otherIf, 'the second interface exists in the server namespace');
  await runner!.stop();
  runner = null;
});

test('proxy mode: a PXE client on the configured interface gets exactly one boot OFFER, then an ACK on port 4011', { skip }, async () => {
  runner = await startRunner(srv, proxy());
  address(ca, aIf, '10.231.11.50/24');
  const mac = '02:50:58:45:0a:01';
  const replies = pxeClient(ca, mac, SERVER);
  await waitUntil(() => linesFor(mac).some((l) => l.msg === 'pxe event'), 'the pxe event in the server log', 10_000);
  const offers = replies.filter((r) => r.type === 2 && r.serverId === SERVER);
  const acks = replies.filter((r) => r.type === 5 && r.serverId === SERVER);
  assert.equal(offers.length, 1, `one proxy OFFER: ${JSON.stringify(replies)}`);
  assert.equal(offers[0].file, 'pxelinux.0');
  assert.equal(offers[0].yiaddr, '0.0.0.0');
  assert.equal(acks.length, 1, `one ACK from port 4011: ${JSON.stringify(replies)}`);
  assert.equal(acks[0].from, `${SERVER}:4011`);
  await settle();
  assert.equal(linesFor(mac).filter((l) => l.msg === 'dhcp offer').length, 1, 'one OFFER in the server log');
});

test('proxy mode: a PXE client on the second interface gets nothing, by broadcast or by unicast to the configured address', { skip }, async () => {
  address(cb, bIf, '10.231.12.50/24');
  // A route to the configured interface's subnet through the server: the REQUEST to 4011 arrives on the second interface.
  ip('-n', cb.name, 'route', 'add', '10.231.11.0/24', 'via', OTHER);
  const mac = '02:50:58:45:0b:01';
  const replies = pxeClient(cb, mac, SERVER);
  assert.deepEqual(replies, [], 'no reply on the second interface');
  await settle();
  assert.deepEqual(linesFor(mac), [], `kickstand logged nothing for ${mac}`);
});
