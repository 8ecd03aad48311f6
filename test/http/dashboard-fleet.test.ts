// The systems page with a fleet: one page of rows with a link to the next (which keeps the
// filter), a search box and a state filter, and the counts of every state across the fleet, not
// the page. Against the SQLite store, which pages and counts in SQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSqliteStore } from '../../server/store/sqlite.ts';
import { dashboardHarness, loggedIn } from './dashboard-harness.ts';

const rowsOf = (html: string) => [...html.matchAll(/<tr data-system="([^"]+)"/g)].map((m) => m[1]!);
/** Returns the href of the page's "next page" link, HTML entities decoded, or null. */
const nextOf = (html: string) => /<a rel="next" href="([^"]+)"/.exec(html)?.[1]?.replaceAll('&amp;', '&').replaceAll('&#x3D;', '=') ?? null;

test('the systems page shows one page of a fleet, follows next links with the filter kept, and counts the whole fleet', async () => {
  const h = dashboardHarness({ store: openSqliteStore(':memory:'), stallMs: 60_000 });
  for (let i = 0; i < 230; i++) {
    await h.store.createSystem({ name: `rack${i < 115 ? 'a' : 'b'}-${String(i).padStart(3, '0')}`, macs: [`52:54:00:01:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`], profile: 'el9-kvm', hostname: `host${i}` }, h.clock.now);
  }
  for (const n of ['racka-003', 'rackb-200']) {
    await h.lifecycle.arm(n, null);
    await h.lifecycle.pxe(n, '10.0.0.7', null);
  }
  h.clock.now += 120_000;
  await h.lifecycle.arm('racka-004', null);

  const { agent } = await loggedIn(h.app);
  const first = await agent.get('/ui/');
  assert.equal(first.status, 200);
  assert.equal(rowsOf(first.text).length, 100);
  assert.match(first.text, /<a class="badge badge-registered" href="\/ui\/\?state&#x3D;registered">227 registered<\/a>/, 'counts are fleet-wide');
  assert.match(first.text, />2 stalled</);
  assert.match(first.text, />1 build</);

  // Every system once, following the next links.
  const seen: string[] = rowsOf(first.text);
  let next = nextOf(first.text);
  while (next) {
    const p = await agent.get(next);
    assert.equal(p.status, 200);
    seen.push(...rowsOf(p.text));
    next = nextOf(p.text);
  }
  assert.equal(seen.length, 230);
  assert.equal(new Set(seen).size, 230);

  // A filter: search text and state, kept on the next page's link.
  const racka = await agent.get('/ui/?q=RACKA&limit=50');
  assert.deepEqual(rowsOf(racka.text).length, 50);
  const racka2 = await agent.get(nextOf(racka.text)!);
  assert.ok(rowsOf(racka2.text).every((n) => n.startsWith('racka-')));
  assert.match(nextOf(racka.text)!, /q=RACKA/);
  assert.match(racka.text, /<input type="search" name="q" value="RACKA"/);
  const stalled = await agent.get('/ui/?state=stalled');
  assert.deepEqual(rowsOf(stalled.text), ['racka-003', 'rackb-200']);
  assert.match(stalled.text, /<option value="stalled" selected>/);
  assert.match(stalled.text, /stalled at pxe/);
  const none = await agent.get('/ui/?q=nothing-like-this');
  assert.match(none.text, /No systems match/);
  const bad = await agent.get('/ui/?state=asleep');
  assert.equal(bad.status, 400);
  assert.match(bad.text, /state: expected one of/);
});
