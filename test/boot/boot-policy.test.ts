// The one boot policy for machines that name themselves by MAC, as DHCP drives it (TFTP and iPXE
// are driven through their own handlers in tftp-handler.test.ts and limits/trust-http.test.ts),
// plus the pieces it stands on: trusted-host lists and rate-limited refusal logs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BootPolicy } from '../../server/boot/boot-policy.ts';
import { Lifecycle } from '../../server/boot/lifecycle.ts';
import { Refusals } from '../../server/boot/refusals.ts';
import { normalizeAddress, Trust, trustedHostList } from '../../server/boot/trust.ts';
import { ConfigError } from '../../server/errors.ts';
import { captureLogger, silentLogger } from '../../server/log.ts';
import { memoryStore } from '../fakes/memory-store.ts';

const MAC = '00:16:3e:84:b5:99';

async function setup(recordDiscovered: boolean) {
  const store = memoryStore();
  const lifecycle = new Lifecycle({ store, log: silentLogger(), trust: new Trust({ store }) });
  await store.createSystem({ name: 'ng', macs: [MAC], profile: 'centos44-hvm' }, 1);
  return { store, lifecycle, policy: new BootPolicy({ lifecycle, recordDiscovered }) };
}

test('a DHCP PXE answer records pxe for an armed system (once per run) and discovered for an unknown MAC', async () => {
  const { store, lifecycle, policy } = await setup(true);
  await lifecycle.arm('ng', null);
  await policy.dhcpAnswered(MAC, 'dhcp: pxelinux.0');
  await policy.dhcpAnswered(MAC, 'dhcp: pxelinux.0');
  assert.deepEqual((await store.listEvents('ng')).map((e) => `${e.stage} ${e.message}`), ['armed armed', 'pxe dhcp: pxelinux.0']);
  await policy.dhcpAnswered('52:54:00:00:00:01', 'dhcp: pxelinux.0');
  assert.equal((await store.getSystem('discovered-525400000001'))!.state, 'discovered');
});

test('a DHCP PXE answer to an unknown MAC records nothing when record_discovered is off', async () => {
  const { store, policy } = await setup(false);
  await policy.dhcpAnswered('52:54:00:00:00:01', 'dhcp: pxelinux.0');
  assert.deepEqual((await store.listSystems()).map((s) => s.name), ['ng']);
});

test('a discovered MAC asking again gets the default menu and is not recorded twice', async () => {
  const { store, policy } = await setup(true);
  assert.equal(await policy.menuFor('52:54:00:00:00:02', '10.0.0.9', 'ipxe'), null);
  assert.equal(await policy.menuFor('52:54:00:00:00:02', '10.0.0.9', 'ipxe'), null);
  assert.equal((await store.listEvents('discovered-525400000002')).length, 1);
  assert.equal((await policy.menuFor(MAC, '10.0.0.9', 'ipxe'))!.name, 'ng', 'a registered system not armed gets its own (local-boot) menu from anywhere');
});

test("kickstand's leases name a machine's address only in full mode: after a switch to ProxyDHCP the site's DHCP server may give that address to another machine", async () => {
  const store = memoryStore();
  const s = await store.createSystem({ name: 'ng', macs: [MAC], profile: 'centos44-hvm' }, 1);
  await store.saveLeases([{ mac: MAC, ip: '10.0.0.5', hostname: null, state: 'bound', expiresAt: Date.now() + 3_600_000, updatedAt: 1 }]);
  const full = new Trust({ store, policy: { leasesNameAddresses: true } });
  assert.deepEqual(await full.knownAddresses(s), ['10.0.0.5']);
  assert.equal((await full.byMac(s, '10.0.0.9', null, 'menu')).ok, false, 'full mode: not its leased address');
  const proxy = new Trust({ store, policy: { leasesNameAddresses: false } });
  assert.deepEqual(await proxy.knownAddresses(s), []);
  assert.equal((await proxy.byMac(s, '10.0.0.9', null, 'menu')).ok, true, 'proxy mode: no known address, the menu answers (its token binds the run)');
  assert.equal((await proxy.byMac(s, '10.0.0.9', null, 'kickstart')).ok, false, 'but a kickstart by MAC does not');
});

test('trusted hosts: addresses and CIDRs, v4 and v6; anything else is a ConfigError naming the entry', () => {
  const t = new Trust({ store: memoryStore(), policy: { trustedHosts: ['10.1.0.0/16', '192.0.2.7', 'fd00::/8'] } });
  assert.equal(t.isTrustedHost('10.1.200.3'), true);
  assert.equal(t.isTrustedHost('::ffff:10.1.0.1'), true, 'IPv4-mapped sources count as IPv4');
  assert.equal(t.isTrustedHost('10.2.0.1'), false);
  assert.equal(t.isTrustedHost('192.0.2.7'), true);
  assert.equal(t.isTrustedHost('fd12::1'), true);
  assert.equal(t.isTrustedHost(null), false);
  for (const bad of ['10.0.0.0/33', 'host.example', '10.0.0.1/x', '300.0.0.1']) {
    assert.throws(() => trustedHostList(['10.0.0.1', bad]), (e: unknown) => e instanceof ConfigError && e.field === 'security.trusted_hosts[1]', bad);
  }
  assert.equal(normalizeAddress('::FFFF:10.0.0.1'), '10.0.0.1');
  assert.equal(normalizeAddress('FD00::1'), 'fd00::1');
});

test('refusals are counted every time but logged once per interval per reason, with how many were not', () => {
  const { log, lines } = captureLogger('debug');
  const clock = { now: 0 };
  const r = new Refusals({ log, intervalMs: 1000, clock: () => clock.now });
  for (let i = 0; i < 5; i++) r.note('trust', 'not_its_address', { source: `10.0.0.${i}` }, 'refused');
  r.note('limit', 'events_per_run', {}, 'limit reached');
  clock.now = 1000;
  r.note('trust', 'not_its_address', {}, 'refused');
  assert.deepEqual(r.counts('trust'), { not_its_address: 6 });
  assert.deepEqual(r.counts('limit'), { events_per_run: 1 });
  assert.deepEqual(lines().map((l) => [l.refused ?? l.limit, l.msg]), [
    ['not_its_address', 'refused'],
    ['events_per_run', 'limit reached'],
    ['not_its_address', 'refused (and 4 more since the last such line)'],
  ]);
});
