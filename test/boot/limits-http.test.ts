// Bounded state over HTTP: floods of unknown MACs, step reports, late reports on a retired token
// and installer logs stop at their caps (with a 429 or by not recording), each cap counted in the
// limit metric and logged once per interval, while what an install needs still gets through.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { harness, type Harness, type HarnessOptions } from '../http/harness.ts';
import { openSqliteStore } from '../../server/store/sqlite.ts';

const MAC = '00:16:3e:84:b5:99';

/** Returns a harness with `ng` armed and its kickstart fetched (run bound to the test client). */
async function installing(o: HarnessOptions = {}): Promise<{ h: Harness; token: string }> {
  const h = harness(o);
  await h.store.createSystem({ name: 'ng', macs: [MAC], profile: 'centos44-hvm' }, h.clock.now);
  const token = (await h.lifecycle.arm('ng', null)).token!;
  await request(h.app).get(`/ks/${token}`).expect(200);
  return { h, token };
}

const macOf = (i: number) => `52:54:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
const limitLines = (h: Harness, limit: string) => h.logs().filter((l) => l.limit === limit);

for (const [label, store] of [['memory', () => undefined], ['sqlite', () => openSqliteStore(':memory:')]] as const) {
  describe(`caps over HTTP (${label} store)`, () => {
    test('a step repeated 57 times is one event', async () => {
      const { h, token } = await installing({ store: store() });
      for (let i = 0; i < 57; i++) {
        const r = await request(h.app).get(`/events/${token}/kernel-installed`).expect(200);
        assert.equal(r.body.recorded, i === 0);
      }
      await request(h.app).get(`/events/${token}/bootloader-installed`).expect(200);
      await request(h.app).get(`/events/${token}/kernel-installed`).expect(200);
      assert.deepEqual((await h.store.listEvents('ng')).map((e) => e.stage), ['armed', 'kickstart', 'kernel-installed', 'bootloader-installed', 'kernel-installed']);
    });

    test('events per run stop at the cap with 429; built still ends the run', async () => {
      const { h, token } = await installing({ store: store(), limits: { eventsPerRun: 12 } });
      let refused = 0;
      for (let i = 0; i < 30; i++) {
        const r = await request(h.app).get(`/events/${token}/${i % 2 ? 'partitioned' : 'formatted'}`);
        if (r.status === 429) refused++;
        else assert.equal(r.status, 200);
      }
      assert.equal(await h.store.countEvents('ng', 1), 12);
      assert.equal(refused, 20);
      const built = await request(h.app).get(`/events/${token}/built`);
      assert.equal(built.status, 200);
      assert.equal(built.body.state, 'built');
      assert.equal(await h.store.countEvents('ng', 1), 13);
      assert.equal((await request(h.app).get(`/events/${token}/booted`)).status, 429, 'a retired run at its cap takes no more');
      assert.equal(h.lifecycle.refusals.counts('limit').events_per_run, 21);
      assert.equal(limitLines(h, 'events_per_run').length, 1, 'logged once per interval, not per refusal');
    });

    test('a retired token accepts a bounded number of built, failed and booted reports', async () => {
      const { h, token } = await installing({ store: store(), limits: { finalReportsPerRun: 4 } });
      await request(h.app).get(`/events/${token}/built`).expect(200);
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await request(h.app).post(`/events/${token}/${i % 2 ? 'failed' : 'booted'}`).send('x'.repeat(1000))).status);
      assert.deepEqual(statuses, [200, 200, 200, 429, 429, 429]);
      assert.equal(await h.store.countEvents('ng', 1, ['built', 'failed', 'booted']), 4);
      assert.equal((await h.store.getSystem('ng'))!.state, 'built');
    });

    test('installer logs kept per system stay under the byte cap, newest first', async () => {
      const h = harness({ store: store(), maxLogBytes: 4096, limits: { logBytesPerSystem: 10_000 } });
      await h.store.createSystem({ name: 'ng', macs: [MAC], profile: 'centos44-hvm' }, h.clock.now);
      for (let run = 1; run <= 5; run++) {
        const token = (await h.lifecycle.arm('ng', null)).token!;
        await request(h.app).get(`/ks/${token}`).expect(200);
        await request(h.app).post(`/events/${token}/failed`).type('text/plain').send(String(run).repeat(4000)).expect(200);
      }
      const logs = (await h.store.listEvents('ng')).filter((e) => e.stage === 'failed').map((e) => e.log?.[0] ?? null);
      assert.deepEqual(logs, [null, null, null, '4', '5']);
      assert.equal(h.lifecycle.refusals.counts('limit').log_bytes_per_system, 3);
    });

    test('a flood of unknown MACs records discovered systems only up to the window cap, then the total cap', async () => {
      const h = harness({ store: store(), limits: { discoveredPerWindow: 5, discoveredWindowMs: 60_000, discoveredMax: 8 } });
      for (let i = 0; i < 40; i++) {
        const r = await request(h.app).get(`/ipxe/${macOf(i)}`);
        assert.equal(r.text, 'ipxe localboot default\n', 'every unknown MAC is still answered');
      }
      assert.equal((await h.store.countSystems(0)).byState.discovered, 5);
      h.clock.now += 60_000;
      for (let i = 40; i < 80; i++) await request(h.app).get(`/ipxe/${macOf(i)}`).expect(200);
      assert.equal((await h.store.countSystems(0)).byState.discovered, 8, 'the total cap holds across windows');
      const counts = h.lifecycle.refusals.counts('limit');
      assert.equal(counts.discovered_per_window, 35 + 35);
      assert.equal(counts.discovered_max, 2);
      assert.equal(limitLines(h, 'discovered_per_window').length, 2, 'one line per interval');
    });

    test('record_discovered false is obeyed on the iPXE path too', async () => {
      const h = harness({ store: store(), recordDiscovered: false });
      await request(h.app).get(`/ipxe/${macOf(1)}`).expect(200);
      assert.deepEqual(await h.store.listSystems(), []);
    });
  });
}
