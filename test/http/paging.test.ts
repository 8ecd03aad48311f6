// Cursor pagination and filters of the API lists, run against the SQLite store (which pages in SQL)
// and the in-memory store (which has no page query: fleet.ts filters its full list), so both give
// the same pages: every system exactly once in name order, search by name, hostname, IP or MAC
// fragment, and the displayed state `stalled` (quiet installs and armed guests quiet after PXE).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { openSqliteStore } from '../../server/store/sqlite.ts';
import type { Store } from '../../server/store/types.ts';
import { memoryStore } from '../fakes/memory-store.ts';
import { harness } from './harness.ts';

const STALL_MS = 60_000;

/** Follows next_cursor from the first page; returns every page's names. */
async function allPages(h: ReturnType<typeof harness>, query: string): Promise<string[][]> {
  const pages: string[][] = [];
  let cursor: string | null = null;
  do {
    const r = await request(h.app).get(`/api/v1/systems?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`).set(h.auth).expect(200);
    pages.push((r.body.systems as Array<{ name: string }>).map((s) => s.name));
    cursor = r.body.next_cursor as string | null;
    assert.ok(pages.length < 100, 'pagination ends');
  } while (cursor);
  return pages;
}

for (const [kind, make] of [
  ['sqlite', () => openSqliteStore(':memory:')],
  ['memory', () => memoryStore()],
] as Array<[string, () => Store]>) {
  describe(`API lists page by cursor (${kind} store)`, () => {
    test('every system exactly once, in name order, pages of the asked size; filters by text and by displayed state', async () => {
      const h = harness({ store: make(), stallMs: STALL_MS });
      const names: string[] = [];
      for (let i = 0; i < 253; i++) {
        const name = `node-${String(i).padStart(3, '0')}`;
        names.push(name);
        const mac = `52:54:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
        await h.store.createSystem({ name, macs: [mac], profile: 'el9-kvm', hostname: i === 7 ? 'web_7%.lab' : `h${i}`, ip: i === 9 ? '10.9.8.7' : null }, h.clock.now);
      }
      const pages = await allPages(h, 'limit=100');
      assert.deepEqual(pages.map((p) => p.length), [100, 100, 53]);
      assert.deepEqual(pages.flat(), names);
      const defaults = await request(h.app).get('/api/v1/systems').set(h.auth).expect(200);
      assert.equal(defaults.body.systems.length, 100, 'the default page is 100 systems, not the fleet');

      assert.deepEqual((await allPages(h, 'q=NODE-25')).flat(), ['node-250', 'node-251', 'node-252'], 'search ignores case');
      assert.deepEqual((await allPages(h, 'q=no-such-text')).flat(), [], 'nothing matches');
      assert.deepEqual((await allPages(h, `q=${encodeURIComponent('00:00:fa')}`)).flat(), ['node-250'], 'MAC fragment');
      assert.deepEqual((await allPages(h, `q=${encodeURIComponent('7%.')}`)).flat(), ['node-007'], '% in the text matches itself');
      assert.deepEqual((await allPages(h, 'q=10.9.8')).flat(), ['node-009'], 'IP fragment');

      // Stalled: three installing and two armed-after-PXE go quiet; one armed-after-PXE stays fresh.
      const arm = async (n: string) => (await h.lifecycle.arm(n, null)).token!;
      for (const n of ['node-010', 'node-120', 'node-240']) {
        await arm(n);
        await h.lifecycle.fetched(n, 'kickstart', null);
      }
      for (const n of ['node-050', 'node-200']) {
        await arm(n);
        await h.lifecycle.pxe(n, '10.0.0.5', null);
      }
      await arm('node-100');
      h.clock.now += STALL_MS + 1000;
      await h.lifecycle.pxe('node-100', '10.0.0.6', null);
      const stalled = await allPages(h, 'state=stalled&limit=2');
      assert.deepEqual(stalled.flat(), ['node-010', 'node-050', 'node-120', 'node-200', 'node-240']);
      assert.deepEqual(stalled.map((p) => p.length), [2, 2, 1]);
      assert.deepEqual((await allPages(h, 'state=build')).flat(), ['node-100'], 'a fresh PXE boot is not stalled');
      assert.deepEqual((await allPages(h, 'state=installing')).flat(), [], 'quiet installs show as stalled only');
      const one = await request(h.app).get('/api/v1/systems/node-050').set(h.auth).expect(200);
      assert.equal(one.body.state, 'stalled');
    });
  });
}

test('events, profiles and distros page by cursor too', async () => {
  const h = harness();
  await h.store.createSystem({ name: 'ev', macs: ['52:54:00:00:01:01'], profile: 'el9-kvm' }, h.clock.now);
  for (let i = 0; i < 5; i++) await h.lifecycle.arm('ev', null);
  const ids: number[] = [];
  let cursor: string | null = null;
  do {
    const r: request.Response = await request(h.app).get(`/api/v1/systems/ev/events?limit=2${cursor ? `&cursor=${cursor}` : ''}`).set(h.auth).expect(200);
    ids.push(...(r.body.events as Array<{ id: number }>).map((e) => e.id));
    cursor = r.body.next_cursor;
  } while (cursor);
  assert.equal(ids.length, 5, 'one event per arming');
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
  const all = await request(h.app).get('/api/v1/profiles').set(h.auth).expect(200);
  const first = await request(h.app).get('/api/v1/profiles?limit=1').set(h.auth).expect(200);
  const second = await request(h.app).get(`/api/v1/profiles?limit=1&cursor=${first.body.next_cursor}`).set(h.auth).expect(200);
  assert.deepEqual([first.body.profiles[0].name, second.body.profiles[0].name], all.body.profiles.slice(0, 2).map((p: { name: string }) => p.name));
  const distros = await request(h.app).get('/api/v1/distros?limit=1').set(h.auth).expect(200);
  assert.equal(distros.body.distros.length, 1);
  assert.equal(typeof distros.body.next_cursor, 'string');
  const bad = await request(h.app).get('/api/v1/systems?limit=5000').set(h.auth).expect(400);
  assert.equal(bad.body.error.field, 'limit');
});
