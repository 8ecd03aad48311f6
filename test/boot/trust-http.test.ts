// The trust model over real TCP from distinct loopback addresses: a MAC alone gets nothing of an
// armed machine from another address when kickstand knows the machine's address (a lease of its
// full-mode DHCP or a fixed ip); the first fetch of a run binds it, and from then on its token URLs,
// by-MAC menus and step reports count only from that address; trusted hosts and the `any` settings
// open what they say. Every refusal leaves the system's state and events as they were.
import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { harness, type Harness, type HarnessOptions } from '../http/harness.ts';
import { serveOnLoopback, type Loopback } from '../http/from-address.ts';
import { openSqliteStore } from '../../server/store/sqlite.ts';

const MAC = '00:16:3e:84:b5:99';
const DASHED = '00-16-3e-84-b5-99';
const GUEST = '127.0.0.2';
const ATTACKER = '127.0.0.3';

let open: Loopback[] = [];
afterEach(async () => {
  for (const l of open) await l.close();
  open = [];
});

/** Returns a harness served on loopback with system `ng` registered (and armed unless told not to). */
async function setup(o: HarnessOptions & { ip?: string; lease?: string; arm?: boolean } = {}) {
  const h: Harness = harness(o);
  await h.store.createSystem({ name: 'ng', macs: [MAC], profile: 'centos44-hvm', ip: o.ip ?? null }, h.clock.now);
  if (o.lease) await h.store.saveLeases([{ mac: MAC, ip: o.lease, hostname: null, state: 'bound', expiresAt: h.clock.now + 3600_000, updatedAt: h.clock.now }]);
  const token = o.arm === false ? null : (await h.lifecycle.arm('ng', null)).token!;
  const lo = await serveOnLoopback(h.app);
  open.push(lo);
  const state = async () => {
    const s = (await h.store.getSystem('ng'))!;
    return { state: s.state, stage: s.stage, events: (await h.store.listEvents('ng')).map((e) => e.stage) };
  };
  return { h, lo, token: token!, state, guest: lo.from(GUEST), attacker: lo.from(ATTACKER) };
}

for (const [label, store] of [['memory', () => undefined], ['sqlite', () => openSqliteStore(':memory:')]] as const) {
  describe(`trust model over HTTP (${label} store)`, () => {
    test('full mode: a spoofed MAC from another address gets no menu token, no kickstart, and moves nothing', async () => {
      const { token, state, guest, attacker, h } = await setup({ store: store(), lease: GUEST });
      const before = await state();
      const menu = await attacker.get(`/ipxe/${DASHED}`);
      assert.equal(menu.status, 200);
      assert.equal(menu.text, 'ipxe localboot default\n', 'the local-boot menu, never the token');
      for (const [path, headers] of [
        ['/ks', { 'X-RHN-Provisioning-MAC-0': `eth0 ${MAC}` }],
        [`/ks?mac=${DASHED}`, {}],
      ] as const) {
        const r = await attacker.get(path, headers);
        assert.equal(r.status, 403, path);
        assert.equal(r.json.error!.code, 'forbidden');
        assert.doesNotMatch(r.text, /ng|127\.0\.0\.2/, 'the refusal names neither the system nor its address');
      }
      assert.deepEqual(await state(), before, 'no pxe, kickstart or state change');
      // The machine itself, from its leased address: its install menu, then its kickstart.
      assert.equal((await guest.get(`/ipxe/${DASHED}`)).text, `ipxe install ng http://127.0.0.1:${open[0]!.port}/ks/${token}\n`);
      const ks = await guest.get('/ks', { 'X-RHN-Provisioning-MAC-0': `eth0 ${MAC}` });
      assert.equal(ks.status, 200);
      assert.match(ks.text, /^# kickstart for ng/);
      assert.deepEqual(await state(), { state: 'installing', stage: 'kickstart', events: ['armed', 'pxe', 'kickstart'] });
      assert.equal((await h.store.findToken(token))!.boundIp, GUEST);
      const refusals = h.logs().filter((l) => l.refused);
      assert.ok(refusals.some((l) => l.refused === 'not_its_address' && l.source === ATTACKER && JSON.stringify(l.expected) === JSON.stringify([GUEST])), 'logged for the operator with the expected address');
    });

    test('a second NIC asking from its leased address gets the install menu naming that NIC (BOOTIF); from elsewhere the local-boot menu', async () => {
      const h = harness({ store: store() });
      const second = '00:16:3e:00:00:02';
      await h.store.createSystem({ name: 'ng', macs: [MAC, second], profile: 'centos44-hvm' }, h.clock.now);
      await h.store.saveLeases([{ mac: second, ip: GUEST, hostname: null, state: 'bound', expiresAt: h.clock.now + 3600_000, updatedAt: h.clock.now }]);
      const token = (await h.lifecycle.arm('ng', null)).token!;
      const lo = await serveOnLoopback(h.app);
      open.push(lo);
      assert.equal((await lo.from(ATTACKER).get('/ipxe/00-16-3e-00-00-02')).text, 'ipxe localboot default\n', 'no token and no NIC for a spoofed MAC');
      assert.equal((await lo.from(GUEST).get('/ipxe/00-16-3e-00-00-02')).text, `ipxe install ng http://127.0.0.1:${lo.port}/ks/${token} bootif ${second}\n`);
    });

    test('the issue 14 takeover: spoofed header fetch and built from elsewhere fail; the real guest installs', async () => {
      const { token, state, guest, attacker } = await setup({ store: store(), lease: GUEST });
      assert.equal((await attacker.get('/ks', { 'X-RHN-Provisioning-MAC-0': `eth0 ${MAC}` })).status, 403);
      assert.equal((await attacker.post(`/events/${token}/built`, 'done')).status, 403, 'reports before the run is bound: only from the machine\'s address');
      assert.equal((await state()).state, 'build');
      assert.equal((await guest.get(`/ks/${token}`)).status, 200);
      assert.equal((await attacker.get(`/events/${token}/built`)).status, 403);
      assert.equal((await state()).state, 'installing');
      const built = await guest.get(`/events/${token}/built`);
      assert.equal(built.status, 200);
      assert.equal(built.json.state, 'built');
    });

    test('a fixed ip is the machine\'s address; an expired or offered lease is not', async () => {
      const { guest, attacker, lo, h } = await setup({ store: store(), ip: '127.0.0.4' });
      assert.equal((await lo.from('127.0.0.4').get(`/ks?mac=${DASHED}`)).status, 200);
      assert.equal((await guest.get(`/ks?mac=${DASHED}`)).status, 403, 'bound to .4 now');
      const other = await setup({ store: store(), lease: GUEST });
      await other.h.store.saveLeases([{ mac: MAC, ip: GUEST, hostname: null, state: 'offered', expiresAt: other.h.clock.now + 60_000, updatedAt: 1 }]);
      assert.equal((await other.guest.get(`/ks?mac=${DASHED}`)).status, 403, 'an offer is not an address in use');
      await other.h.store.saveLeases([{ mac: MAC, ip: GUEST, hostname: null, state: 'bound', expiresAt: other.h.clock.now - 1, updatedAt: 1 }]);
      assert.equal((await other.guest.get(`/ks?mac=${DASHED}`)).status, 403, 'an expired lease is not either');
      void attacker;
      void h;
    });

    test('no known address (proxy mode): the menu carries the token, the first token fetch binds the run', async () => {
      const { token, state, guest, attacker, h } = await setup({ store: store() });
      assert.match((await attacker.get(`/ipxe/${DASHED}`)).text, /install ng/, 'nothing tells the machine from anyone else yet');
      const byMac = await guest.get(`/ks?mac=${DASHED}`);
      assert.equal(byMac.status, 403, 'a kickstart by MAC needs a known address');
      assert.match(byMac.json.error!.message, /token URL/);
      assert.equal((await guest.get(`/scripts/${token}/install.sh`)).status, 200);
      assert.equal((await attacker.get(`/ks/${token}`)).status, 403, 'the run is bound to the guest now');
      assert.equal((await attacker.get(`/ipxe/${DASHED}`)).text, 'ipxe localboot default\n', 'and so is its menu');
      assert.match((await guest.get(`/ipxe/${DASHED}`)).text, /install ng/);
      assert.equal((await guest.get(`/ks?mac=${DASHED}`)).status, 200, 'by MAC from the bound address');
      assert.equal((await attacker.get(`/events/${token}/partitioned`)).status, 403);
      assert.equal((await guest.get(`/events/${token}/partitioned`)).status, 200);
      assert.deepEqual((await state()).events, ['armed', 'pxe', 'script', 'kickstart', 'partitioned']);
      void h;
    });

    test('late built, failed and booted count from the bound address only; booted also from a known address', async () => {
      const { token, guest, attacker, lo } = await setup({ store: store(), ip: '127.0.0.4' });
      const installer = lo.from('127.0.0.4');
      assert.equal((await installer.get(`/ks/${token}`)).status, 200);
      assert.equal((await installer.get(`/events/${token}/built`)).json.state, 'built');
      assert.equal((await attacker.get(`/events/${token}/failed`)).status, 403);
      assert.equal((await installer.get(`/events/${token}/failed?message=late`)).status, 200);
      assert.equal((await guest.get(`/events/${token}/booted`)).status, 403);
      const other = await setup({ store: store(), ip: '127.0.0.5' });
      // The installer got a DHCP address; the installed system comes up on its fixed one.
      await other.lo.from('127.0.0.6').get(`/ks/${other.token}`);
      await other.lo.from('127.0.0.6').get(`/events/${other.token}/built`);
      assert.equal((await other.lo.from('127.0.0.5').get(`/events/${other.token}/booted`)).status, 200);
      assert.equal((await other.lo.from('127.0.0.5').get(`/events/${other.token}/failed`)).status, 403, 'only booted');
    });

    test('a HEAD looks without binding; two first fetches from two addresses: one wins, one is refused', async () => {
      const { token, guest, attacker, h } = await setup({ store: store() });
      assert.equal((await attacker.head(`/ks/${token}`)).status, 200);
      assert.equal((await h.store.findToken(token))!.boundIp, null);
      const [a, b] = await Promise.all([guest.get(`/ks/${token}`), attacker.get(`/ks/${token}`)]);
      assert.deepEqual([a.status, b.status].sort(), [200, 403]);
      assert.equal((await h.store.findToken(token))!.boundIp, a.status === 200 ? GUEST : ATTACKER);
      const loser = a.status === 200 ? attacker : guest;
      assert.equal((await loser.head(`/ks/${token}`)).status, 403, 'not even a look from another address once bound');
    });

    test('trusted hosts report for any run (prepare.sh on the Xen host) and fetch without binding', async () => {
      const { token, guest, lo, h } = await setup({ store: store(), trust: { trustedHosts: ['127.0.0.8/30'] } });
      const xenHost = lo.from('127.0.0.9');
      assert.equal((await xenHost.get(`/events/${token}/partitioned`)).status, 200);
      assert.equal((await xenHost.get(`/scripts/${token}/prepare.sh`)).status, 404, 'no such script');
      assert.equal((await xenHost.get(`/scripts/${token}/rescue.sh`)).status, 200);
      assert.equal((await h.store.findToken(token))!.boundIp, null, 'a trusted host does not bind the run');
      assert.equal((await guest.get(`/scripts/${token}/rescue.sh`)).status, 200);
      assert.equal((await xenHost.get(`/events/${token}/formatted`)).status, 200, 'still trusted after the guest bound the run');
      assert.equal((await lo.from('127.0.0.12').get(`/events/${token}/formatted`)).status, 403, 'outside the CIDR');
    });

    test('match_by_mac any and bind_runs false open what they say', async () => {
      const { token, attacker, guest } = await setup({ store: store(), lease: GUEST, trust: { matchByMac: 'any', bindRuns: false } });
      assert.equal((await attacker.get(`/ks?mac=${DASHED}`)).status, 200);
      assert.equal((await guest.get(`/ks/${token}`)).status, 200);
      assert.equal((await attacker.get(`/events/${token}/built`)).status, 200);
    });

    test('refusals are counted by reason in the trust metric', async () => {
      const { h, attacker } = await setup({ store: store(), lease: GUEST });
      await attacker.get(`/ks?mac=${DASHED}`);
      await attacker.get(`/ipxe/${DASHED}`);
      assert.deepEqual(h.lifecycle.refusals.counts('trust'), { not_its_address: 2 });
    });
  });
}
