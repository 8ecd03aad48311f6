// One conformance suite run against every Store implementation (hono's runTest pattern).
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../server/store/types.ts';
import { ConflictError, NotFoundError } from '../../server/errors.ts';

/** Registers the Store conformance tests for one implementation; newStore returns an empty store. */
export function runStoreConformance(label: string, newStore: () => Store | Promise<Store>, options: { skip?: boolean | string } = {}): void {
  describe(`Store conformance: ${label}`, { skip: options.skip }, () => {
    let store: Store;
    beforeEach(async () => {
      store = await newStore();
    });
    afterEach(async () => {
      await store.close();
    });

    const base = { name: 'ng', macs: ['00:16:3e:84:b5:99'], profile: 'centos44-hvm' };

    test('createSystem returns the stored system with defaults and timestamps', async () => {
      const s = await store.createSystem({ ...base, hostname: 'ngtest', overrides: { xen: { vcpus: 4 } } }, 1000);
      assert.equal(s.name, 'ng');
      assert.deepEqual(s.macs, ['00:16:3e:84:b5:99']);
      assert.equal(s.state, 'registered');
      assert.equal(s.build, false);
      assert.equal(s.run, 0);
      assert.deepEqual(s.overrides, { xen: { vcpus: 4 } });
      assert.equal(s.createdAt, 1000);
      assert.deepEqual(await store.getSystem('ng'), s);
    });

    test('a display name is kept beside the slug name; without one it is null', async () => {
      const s = await store.createSystem({ ...base, name: 'ngtest-hvm', displayName: 'NGTest-hvm' }, 1);
      assert.deepEqual([s.name, s.displayName], ['ngtest-hvm', 'NGTest-hvm']);
      assert.equal((await store.getSystem('ngtest-hvm'))!.displayName, 'NGTest-hvm');
      assert.equal((await store.listSystems())[0]!.displayName, 'NGTest-hvm');
      const plain = await store.createSystem({ ...base, name: 'plain', macs: ['00:16:3e:00:00:01'] }, 2);
      assert.equal(plain.displayName, null);
    });

    test('a duplicate name is a ConflictError and changes nothing', async () => {
      await store.createSystem(base, 1);
      await assert.rejects(store.createSystem({ ...base, macs: ['00:00:00:00:00:01'] }, 2), (e: unknown) => e instanceof ConflictError && e.field === 'name');
      assert.equal((await store.listSystems()).length, 1);
    });

    test('a MAC owned by another system is a ConflictError on create and update', async () => {
      await store.createSystem(base, 1);
      await assert.rejects(store.createSystem({ ...base, name: 'other' }, 2), (e: unknown) => e instanceof ConflictError && e.field === 'macs');
      assert.equal(await store.getSystem('other'), null);
      await store.createSystem({ ...base, name: 'other', macs: ['00:00:00:00:00:02'] }, 3);
      await assert.rejects(store.updateSystem('other', { macs: ['00:16:3e:84:b5:99'] }, 4), ConflictError);
      assert.deepEqual((await store.getSystem('other'))!.macs, ['00:00:00:00:00:02']);
    });

    test('a duplicate IP is a ConflictError', async () => {
      await store.createSystem({ ...base, ip: '10.0.0.5' }, 1);
      await assert.rejects(store.createSystem({ ...base, name: 'b', macs: ['00:00:00:00:00:03'], ip: '10.0.0.5' }, 2), ConflictError);
    });

    test('find by MACs and by IP', async () => {
      await store.createSystem({ ...base, macs: ['00:00:00:00:00:0a', '00:00:00:00:00:0b'], ip: '10.0.0.9' }, 1);
      await store.createSystem({ ...base, name: 'two', macs: ['00:00:00:00:00:0c'] }, 1);
      assert.deepEqual((await store.findSystemsByMacs(['00:00:00:00:00:0b'])).map((s) => s.name), ['ng']);
      assert.deepEqual((await store.findSystemsByMacs(['00:00:00:00:00:0b', '00:00:00:00:00:0c'])).map((s) => s.name), ['ng', 'two']);
      assert.deepEqual(await store.findSystemsByMacs([]), []);
      assert.equal((await store.findSystemByIp('10.0.0.9'))!.name, 'ng');
      assert.equal(await store.findSystemByIp('10.0.0.10'), null);
    });

    test('updateSystem changes only the given fields; unknown system is NotFoundError', async () => {
      await store.createSystem(base, 1);
      const s = await store.updateSystem('ng', { hostname: 'h2', macs: ['00:00:00:00:00:05', '00:16:3e:84:b5:99'] }, 7);
      assert.equal(s.hostname, 'h2');
      assert.equal(s.profile, 'centos44-hvm');
      assert.deepEqual(s.macs, ['00:00:00:00:00:05', '00:16:3e:84:b5:99']);
      assert.equal(s.updatedAt, 7);
      await assert.rejects(store.updateSystem('nope', { hostname: 'x' }, 8), NotFoundError);
    });

    test('deleteSystem removes the system, its MACs and events', async () => {
      await store.createSystem(base, 1);
      await store.transition('ng', 2, (s) => ({ event: { run: s.run, time: 2, stage: 'pxe', message: null, source: null, log: null } }));
      assert.equal(await store.deleteSystem('ng'), true);
      assert.equal(await store.deleteSystem('ng'), false);
      assert.deepEqual(await store.findSystemsByMacs(base.macs), []);
      assert.deepEqual(await store.listEvents('ng'), []);
      await store.createSystem(base, 3);
    });

    test('transition applies patch, token and event together and returns them', async () => {
      await store.createSystem(base, 1);
      const r = await store.transition('ng', 5, (s) => ({
        patch: { build: true, state: 'build', run: s.run + 1, token: 'tok1', tokenExpiresAt: 100 },
        issueToken: { token: 'tok1', run: s.run + 1, createdAt: 5, expiresAt: 100 },
        event: { run: s.run + 1, time: 5, stage: 'armed', message: 'rebuild', source: '127.0.0.1', log: null },
      }));
      assert.equal(r.changed, true);
      assert.equal(r.system.state, 'build');
      assert.equal(r.system.run, 1);
      assert.equal(r.event!.stage, 'armed');
      assert.deepEqual(await store.findToken('tok1'), { token: 'tok1', system: 'ng', run: 1, createdAt: 5, expiresAt: 100, retiredAt: null, boundIp: null });
      const events = await store.listEvents('ng');
      assert.equal(events.length, 1);
      assert.equal(events[0]!.message, 'rebuild');
    });

    test('transition returning null changes nothing', async () => {
      await store.createSystem(base, 1);
      const r = await store.transition('ng', 5, () => null);
      assert.equal(r.changed, false);
      assert.equal(r.system.updatedAt, 1);
    });

    test('a transition that throws writes nothing', async () => {
      await store.createSystem(base, 1);
      await assert.rejects(
        store.transition('ng', 5, () => {
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal((await store.getSystem('ng'))!.updatedAt, 1);
    });

    test('retireTokensAt retires live tokens and keeps them findable', async () => {
      await store.createSystem(base, 1);
      await store.transition('ng', 2, () => ({ issueToken: { token: 'a', run: 1, createdAt: 2, expiresAt: 50 } }));
      await store.transition('ng', 3, () => ({ retireTokensAt: 3, issueToken: { token: 'b', run: 2, createdAt: 3, expiresAt: 60 } }));
      assert.equal((await store.findToken('a'))!.retiredAt, 3);
      assert.equal((await store.findToken('b'))!.retiredAt, null);
      assert.equal(await store.findToken('zzz'), null);
    });

    test('listEvents filters by run and keeps order; limit keeps the newest', async () => {
      await store.createSystem(base, 1);
      for (const [run, stage] of [[1, 'pxe'], [1, 'built'], [2, 'pxe'], [2, 'partitioned']] as const) {
        await store.transition('ng', 1, () => ({ event: { run, time: 1, stage, message: null, source: null, log: null } }));
      }
      assert.deepEqual((await store.listEvents('ng', { run: 2 })).map((e) => e.stage), ['pxe', 'partitioned']);
      assert.deepEqual((await store.listEvents('ng')).map((e) => e.stage), ['pxe', 'built', 'pxe', 'partitioned']);
      assert.deepEqual((await store.listEvents('ng', { limit: 2 })).map((e) => e.stage), ['pxe', 'partitioned']);
    });

    test('bindToken binds once: the first address stays, later ones get it back; unknown tokens give null', async () => {
      await store.createSystem(base, 1);
      await store.transition('ng', 2, () => ({ issueToken: { token: 'a', run: 1, createdAt: 2, expiresAt: 50 } }));
      assert.equal((await store.findToken('a'))!.boundIp, null, 'read (and cached) before binding');
      assert.equal(await store.bindToken('a', '10.0.0.7'), '10.0.0.7');
      assert.equal(await store.bindToken('a', '10.0.0.8'), '10.0.0.7');
      assert.equal((await store.findToken('a'))!.boundIp, '10.0.0.7');
      // Retiring keeps the binding (late reports of the run are checked against it).
      await store.transition('ng', 3, () => ({ retireTokensAt: 3 }));
      assert.deepEqual([(await store.findToken('a'))!.retiredAt, (await store.findToken('a'))!.boundIp], [3, '10.0.0.7']);
      assert.equal(await store.bindToken('nope', '10.0.0.7'), null);
    });

    test('countEvents counts one run, optionally only some stages', async () => {
      await store.createSystem(base, 1);
      for (const [run, stage] of [[1, 'pxe'], [1, 'built'], [1, 'booted'], [2, 'pxe'], [2, 'failed']] as const) {
        await store.transition('ng', 1, () => ({ event: { run, time: 1, stage, message: null, source: null, log: null } }));
      }
      assert.equal(await store.countEvents('ng', 1), 3);
      assert.equal(await store.countEvents('ng', 1, ['built', 'failed', 'booted']), 2);
      assert.equal(await store.countEvents('ng', 2, ['built']), 0);
      assert.equal(await store.countEvents('ng', 1, []), 0);
      assert.equal(await store.countEvents('other', 1), 0);
    });

    test('trimLogs drops the oldest logs until the newest fit, counting UTF-8 bytes, and keeps the events', async () => {
      await store.createSystem(base, 1);
      await store.createSystem({ ...base, name: 'two', macs: ['00:00:00:00:00:0e'] }, 1);
      const fail = (name: string, log: string) => store.transition(name, 1, () => ({ event: { run: 1, time: 1, stage: 'failed', message: null, source: null, log } }));
      await fail('ng', 'a'.repeat(40));
      await fail('ng', 'é'.repeat(20)); // 40 bytes, 20 characters
      await fail('ng', 'c'.repeat(40));
      await fail('two', 'd'.repeat(100));
      assert.equal(await store.trimLogs('ng', 100), 1);
      assert.deepEqual((await store.listEvents('ng')).map((e) => e.log?.length ?? null), [null, 20, 40]);
      assert.equal(await store.trimLogs('ng', 100), 0);
      assert.equal(await store.trimLogs('ng', 39), 2);
      assert.deepEqual((await store.listEvents('ng')).map((e) => e.log), [null, null, null]);
      assert.equal((await store.listEvents('two'))[0]!.log!.length, 100, 'another system is untouched');
    });

    test('countSystems counts by state, and the systems quiet since before a time: installing, or armed with pxe last', async () => {
      await store.createSystem(base, 1);
      await store.createSystem({ ...base, name: 'd1', macs: ['00:00:00:00:00:d1'], profile: null, state: 'discovered' }, 1);
      await store.createSystem({ ...base, name: 'i1', macs: ['00:00:00:00:00:01'] }, 1);
      await store.createSystem({ ...base, name: 'i2', macs: ['00:00:00:00:00:02'] }, 1);
      await store.transition('i1', 100, () => ({ patch: { state: 'installing', stateChangedAt: 100, lastEventAt: 500 } }));
      await store.transition('i2', 100, () => ({ patch: { state: 'installing', stateChangedAt: 100 } }));
      const c = await store.countSystems(300);
      assert.deepEqual(c.byState, { registered: 1, build: 0, installing: 2, built: 0, failed: 0, discovered: 1 });
      assert.equal(c.stalled, 1, 'i2: no event, state changed at 100 < 300; i1: last event at 500');
      assert.equal(c.stalledInstalling, 1);
      assert.equal((await store.countSystems(1000)).stalled, 2);
      // Armed: quiet after pxe is stalled; armed and never booted, or booted since, is not.
      await store.createSystem({ ...base, name: 'a1', macs: ['00:00:00:00:00:a1'] }, 1);
      await store.createSystem({ ...base, name: 'a2', macs: ['00:00:00:00:00:a2'] }, 1);
      await store.transition('a1', 100, () => ({ patch: { state: 'build', stage: 'pxe', stateChangedAt: 50, lastEventAt: 100 } }));
      await store.transition('a2', 100, () => ({ patch: { state: 'build', stateChangedAt: 50 } }));
      const armed = await store.countSystems(300);
      assert.deepEqual([armed.byState.build, armed.stalled, armed.stalledInstalling], [2, 2, 1], 'a1 stalled at pxe; a2 armed, not booted');
      assert.equal((await store.countSystems(80)).stalled, 0, 'a1 booted at 100, after 80');
      await store.deleteSystem('a1');
      await store.deleteSystem('a2');
      // Counts follow every change: state patches (same state twice counts once), deletes, new systems.
      await store.updateSystem('d1', { state: 'registered', profile: 'p' }, 2);
      await store.transition('i1', 600, () => ({ patch: { state: 'built' } }));
      await store.transition('i2', 600, () => ({ patch: { state: 'installing', stage: 'partitioned' } }));
      await store.deleteSystem('ng');
      await store.createSystem({ ...base, name: 'n2', macs: ['00:00:00:00:00:03'] }, 700);
      assert.deepEqual((await store.countSystems(300)).byState, { registered: 2, build: 0, installing: 1, built: 1, failed: 0, discovered: 0 });
      assert.equal((await store.countSystems(300)).stalled, 1);
    });

    test('findLeases returns the rows of the given MACs only', async () => {
      const l = { mac: '00:00:00:00:00:01', ip: '10.0.0.50', hostname: null, state: 'bound' as const, expiresAt: 10, updatedAt: 1 };
      await store.saveLeases([l, { ...l, mac: '00:00:00:00:00:02', ip: '10.0.0.51', state: 'offered' }, { ...l, mac: '00:00:00:00:00:03', ip: '10.0.0.52' }]);
      assert.deepEqual((await store.findLeases(['00:00:00:00:00:02', '00:00:00:00:00:01', '00:00:00:00:00:09'])).map((x) => [x.mac, x.ip, x.state]), [
        ['00:00:00:00:00:01', '10.0.0.50', 'bound'],
        ['00:00:00:00:00:02', '10.0.0.51', 'offered'],
      ]);
      assert.deepEqual(await store.findLeases([]), []);
    });

    test('findLeases returns every address a MAC has a row at, by address', async () => {
      const l = { mac: '00:00:00:00:00:01', ip: '10.0.0.60', hostname: null, state: 'released' as const, expiresAt: 10, updatedAt: 1 };
      await store.saveLeases([l, { ...l, ip: '10.0.0.55', state: 'bound' }, { ...l, mac: '00:00:00:00:00:02', ip: '10.0.0.9' }]);
      assert.deepEqual((await store.findLeases(['00:00:00:00:00:01'])).map((x) => [x.ip, x.state]), [
        ['10.0.0.55', 'bound'],
        ['10.0.0.60', 'released'],
      ]);
    });

    test('leases round-trip, one row per address', async () => {
      const l = { mac: '00:00:00:00:00:01', ip: '10.0.0.50', hostname: null, state: 'bound' as const, expiresAt: 10, updatedAt: 1 };
      await store.saveLeases([l, { ...l, mac: '00:00:00:00:00:02', ip: '10.0.0.51' }]);
      await store.saveLeases([{ ...l, state: 'released', updatedAt: 2 }]);
      let all = await store.loadLeases();
      assert.equal(all.length, 2);
      assert.equal(all[0]!.state, 'released');
      assert.equal(all[1]!.ip, '10.0.0.51');
      // The address moved to another client: still one row for it, the newest.
      await store.saveLeases([{ ...l, mac: '00:00:00:00:00:03', updatedAt: 3 }]);
      all = await store.loadLeases();
      assert.deepEqual(all.map((x) => [x.ip, x.mac]), [['10.0.0.50', '00:00:00:00:00:03'], ['10.0.0.51', '00:00:00:00:00:02']]);
    });

    const lease = (mac: string, ip: string, state: 'offered' | 'bound' | 'released' | 'declined', expiresAt: number, updatedAt = 1) => ({ mac, ip, hostname: null, state, expiresAt, updatedAt });
    const A = '02:00:00:00:00:0a';
    const B = '02:00:00:00:00:0b';

    test('claimLeases refuses an address another client holds, until its lease ends', async () => {
      assert.deepEqual(await store.claimLeases([lease(A, '10.0.0.7', 'offered', 100)], 10), []);
      assert.deepEqual(await store.claimLeases([lease(B, '10.0.0.7', 'offered', 100)], 20), ['10.0.0.7']);
      assert.deepEqual(await store.claimLeases([lease(A, '10.0.0.7', 'bound', 5000)], 30), [], 'the holder may bind its offer');
      assert.deepEqual(await store.claimLeases([lease(B, '10.0.0.7', 'bound', 9000)], 4999), ['10.0.0.7']);
      assert.deepEqual(await store.claimLeases([lease(B, '10.0.0.7', 'offered', 9000)], 5000), [], 'expired: free for anyone');
      const [row] = await store.loadLeases();
      assert.equal(row!.mac, B);
    });

    test('claimLeases: a released address is free; a release or decline needs the holder', async () => {
      await store.claimLeases([lease(A, '10.0.0.8', 'bound', 1000)], 1);
      assert.deepEqual(await store.claimLeases([lease(B, '10.0.0.8', 'released', 2)], 2), ['10.0.0.8'], 'B cannot release what A holds');
      assert.deepEqual(await store.claimLeases([lease(B, '10.0.0.8', 'declined', 2000)], 2), ['10.0.0.8']);
      assert.deepEqual(await store.claimLeases([lease(A, '10.0.0.8', 'released', 3)], 3), []);
      assert.deepEqual(await store.claimLeases([lease(B, '10.0.0.8', 'offered', 500)], 4), []);
      assert.equal((await store.loadLeases())[0]!.mac, B);
    });

    test('claimLeases: a declined address stays out, for its decliner too, until the quarantine ends', async () => {
      await store.claimLeases([lease(A, '10.0.0.9', 'bound', 1000)], 1);
      assert.deepEqual(await store.claimLeases([lease(A, '10.0.0.9', 'declined', 500)], 2), []);
      assert.deepEqual(await store.claimLeases([lease(A, '10.0.0.9', 'offered', 600)], 3), ['10.0.0.9']);
      assert.deepEqual(await store.claimLeases([lease(B, '10.0.0.9', 'offered', 600)], 3), ['10.0.0.9']);
      assert.deepEqual(await store.claimLeases([lease(B, '10.0.0.9', 'offered', 900)], 500), []);
    });

    test('claimLeases: an offer or binding releases the client\'s other live leases', async () => {
      await store.claimLeases([lease(A, '10.0.0.20', 'bound', 1000), lease(B, '10.0.0.21', 'bound', 1000)], 1);
      assert.deepEqual(await store.claimLeases([lease(A, '10.0.0.22', 'offered', 1000)], 5), []);
      const byIp = new Map((await store.loadLeases()).map((l) => [l.ip, l]));
      assert.equal(byIp.get('10.0.0.20')!.state, 'released');
      assert.equal(byIp.get('10.0.0.21')!.state, 'bound', 'another client\'s lease is untouched');
      assert.equal(byIp.get('10.0.0.22')!.state, 'offered');
      // In one batch, in order: A moves back and gives up its offer, B takes that address; B's old one is released.
      assert.deepEqual(await store.claimLeases([lease(A, '10.0.0.20', 'bound', 2000), lease(A, '10.0.0.22', 'released', 6), lease(B, '10.0.0.22', 'offered', 2000)], 6), []);
      const after = new Map((await store.loadLeases()).map((l) => [l.ip, [l.mac, l.state]]));
      assert.deepEqual(Object.fromEntries(after), { '10.0.0.20': [A, 'bound'], '10.0.0.21': [B, 'released'], '10.0.0.22': [B, 'offered'] });
    });

    test('concurrent transitions of one system each see the previous one: one built report wins', async () => {
      await store.createSystem(base, 1);
      await store.transition('ng', 2, () => ({ patch: { build: true, state: 'installing' } }));
      const built = (t: number) =>
        store.transition('ng', t, (s) => (s.state === 'built' ? null : { patch: { build: false, state: 'built' }, event: { run: s.run, time: t, stage: 'built', message: null, source: null, log: null } }));
      const results = await Promise.all([3, 4, 5, 6, 7, 8].map(built));
      assert.equal(results.filter((r) => r.changed).length, 1);
      assert.deepEqual((await store.listEvents('ng')).map((e) => e.stage), ['built']);
      assert.equal((await store.getSystem('ng'))!.state, 'built');
    });

    test('power settings round-trip, replace the previous ones, and go with their system', async () => {
      await store.createSystem(base, 1);
      await store.createSystem({ ...base, name: 'aa', macs: ['00:00:00:00:00:0d'] }, 1);
      const p = { system: 'ng', driver: 'ipmi', address: '10.0.0.5', user: 'admin', secret: 'v1:sealed', options: { port: 623, uefi: true } };
      const saved = await store.setPowerSettings(p, 5);
      assert.deepEqual(saved, { ...p, updatedAt: 5 });
      assert.deepEqual(await store.getPowerSettings('ng'), { ...p, updatedAt: 5 });
      await store.setPowerSettings({ ...p, system: 'aa', driver: null, secret: null, options: {} }, 6);
      assert.deepEqual((await store.listPowerSettings()).map((s) => s.system), ['aa', 'ng']);
      await store.setPowerSettings({ ...p, address: '10.0.0.6', secret: null, options: {} }, 7);
      assert.deepEqual(await store.getPowerSettings('ng'), { ...p, address: '10.0.0.6', secret: null, options: {}, updatedAt: 7 });
      assert.equal(await store.getPowerSettings('nobody'), null);
      await assert.rejects(store.setPowerSettings({ ...p, system: 'nobody' }, 8), NotFoundError);
      assert.equal(await store.deletePowerSettings('aa'), true);
      assert.equal(await store.deletePowerSettings('aa'), false);
      await store.deleteSystem('ng');
      assert.equal(await store.getPowerSettings('ng'), null);
      assert.deepEqual(await store.listPowerSettings(), []);
    });
  });
}
