// Figure: the operator views with a fleet of 10,000 systems in the SQLite store (a file, WAL, as a
// server runs it). Server-side time to build the dashboard's systems page (first page, a search, the
// stalled filter, a page deep in the fleet) and the API's first page, in-process: the store query,
// the fleet-wide counts, the view model and the HTML. No network: what the server spends per page.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Artifacts } from '../../server/boot/artifacts.ts';
import { encodeCursor, pageRequest, systemFilter, systemsPage as fleetPage } from '../../server/boot/fleet.ts';
import { Lifecycle } from '../../server/boot/lifecycle.ts';
import { systemsPage } from '../../server/http/dashboard/pages.ts';
import { Views } from '../../server/http/dashboard/render.ts';
import { systemView } from '../../server/http/views.ts';
import { silentLogger } from '../../server/log.ts';
import { ProfileRegistry } from '../../server/profiles/registry.ts';
import { openSqliteStore } from '../../server/store/sqlite.ts';
import { ROOT } from '../lib/kickstand.ts';
import { fmt, median } from '../lib/result.ts';
import type { Figure } from './types.ts';

/** Systems in the store, and the target for one page. */
export const FLEET = 10_000;
export const PAGE_TARGET_MS = 100;

export const fleetFigure: Figure = async (ctx) => {
  const count = ctx.quick ? 2_000 : FLEET;
  const runs = ctx.quick ? 10 : 50;
  mkdirSync(join(ctx.dir, 'var'), { recursive: true });
  const store = openSqliteStore(join(ctx.dir, 'var', 'kickstand.db'));
  const log = silentLogger();
  const start = Date.UTC(2026, 10, 1);
  const clock = { now: start };
  const lifecycle = new Lifecycle({ store, log, clock: () => clock.now, stallMs: 1800_000 });
  ctx.log(`registering ${count} systems`);
  for (let i = 0; i < count; i++) {
    const mac = `52:54:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
    await store.createSystem({ name: `node-${String(i).padStart(5, '0')}`, macs: [mac], profile: 'el9-kvm', hostname: `node${i}.lab` }, clock.now);
  }
  // A mix of states: every 50th armed and PXE-booted (stalled once the clock moves), every 7th built.
  for (let i = 0; i < count; i += 50) {
    const name = `node-${String(i).padStart(5, '0')}`;
    await lifecycle.arm(name, null);
    await lifecycle.pxe(name, '10.0.0.9', null);
  }
  clock.now += 3600_000;
  const registry = new ProfileRegistry(join(ROOT, 'profiles'), log);
  const views = new Views();
  const page = { lifecycle, registry, artifacts: new Artifacts(registry, { render: () => '', renderDefault: () => '', renderEntry: () => '', renderGrubEntry: () => '' }), views, log };
  const session = { id: 'bench', csrf: 'bench', createdAt: clock.now, expiresAt: clock.now + 3600_000 };
  const deep = encodeCursor(`node-${String(Math.floor(count * 0.9)).padStart(5, '0')}`);
  const cases: Array<[string, () => Promise<string>]> = [
    ['dashboard /ui/ (first 100)', () => systemsPage(page, session, {})],
    ['dashboard /ui/?q=node99', () => systemsPage(page, session, { q: 'node99' })],
    ['dashboard /ui/?state=stalled', () => systemsPage(page, session, { state: 'stalled' })],
    ['dashboard /ui/?cursor=… (90% in)', () => systemsPage(page, session, { cursor: deep })],
    ['API GET /api/v1/systems (first 100)', async () => JSON.stringify((await fleetPage(lifecycle, systemFilter({}), pageRequest({}))).systems.map((s) => systemView(s, lifecycle, 'http://x')))],
  ];
  const rows: string[][] = [];
  const checks = [];
  const raw: Record<string, number[]> = {};
  for (const [label, fn] of cases) {
    await fn(); // warm
    const ms: number[] = [];
    let bytes = 0;
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      bytes = (await fn()).length;
      ms.push(performance.now() - t0);
    }
    const sorted = [...ms].sort((a, b) => a - b);
    const p95 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))]!;
    raw[label] = ms;
    rows.push([label, `${fmt(median(ms), 2)} ms`, `${fmt(p95, 2)} ms`, `${fmt(bytes / 1024, 1)} KiB`]);
    if (label.startsWith('dashboard')) checks.push({ target: `${label} with ${fmt(count)} systems < ${PAGE_TARGET_MS} ms server-side`, measured: `median ${fmt(median(ms), 2)} ms, p95 ${fmt(p95, 2)} ms`, pass: p95 < PAGE_TARGET_MS });
  }
  await store.close();
  return {
    title: `Operator views with ${fmt(count)} systems`,
    tables: [{ caption: `Server-side time per page, ${runs} runs after one warm-up, SQLite store on disk (WAL)`, columns: ['page', 'median', 'p95', 'HTML/JSON size'], rows }],
    checks,
    commands: ['npm run bench -- fleet'],
    notes: [`${fmt(count)} systems, one MAC each; every 50th armed and quiet after PXE (stalled). Times cover the store query, the fleet-wide counts, the view model and the rendered text; no socket.`],
    raw,
  };
};
