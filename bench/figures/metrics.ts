// Figure 8: what a Prometheus scrape of /metrics costs with 10,000 systems in the store (issue 14:
// it listed every system twice with a MAC query per row, ~420 ms per scrape, and four scrapers
// pushed /healthz to 4.8 s). The store is filled before `kickstand serve` starts (built,
// registered, discovered, failed and installing systems, half of the installing ones stalled);
// then scrapes one after another over a keep-alive connection, then four scrapers in a loop while
// /healthz is timed beside them.
import { request as httpRequest, Agent } from 'node:http';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { benchMac, startService } from '../lib/kickstand.ts';
import { fmt, median } from '../lib/result.ts';
import { cpuSeconds } from '../lib/sample.ts';
import { openSqliteStore } from '../../server/store/sqlite.ts';
import type { SystemState } from '../../server/store/types.ts';
import type { Figure } from './types.ts';

const HOST = '127.0.0.1';
export const SYSTEMS = 10_000;
/** Target from issue 14: one scrape with 10,000 systems. */
export const TARGET_MS = 20;
const SCRAPERS = 4;

/** Share of each stored state among the systems (the rest are built). */
const MIX: Array<[SystemState, number]> = [['registered', 0.2], ['discovered', 0.1], ['failed', 0.05], ['installing', 0.05]];

/** Fills the store at path with n systems in the MIX; returns how many of each state. */
async function fill(path: string, n: number): Promise<Record<string, number>> {
  const store = openSqliteStore(path);
  const counts: Record<string, number> = {};
  const now = Date.now();
  for (let i = 0; i < n; i++) {
    let state: SystemState = 'built';
    let acc = 0;
    for (const [s, share] of MIX) {
      acc += share;
      if (i < acc * n) {
        state = s;
        break;
      }
    }
    const name = `bench-${String(i).padStart(5, '0')}`;
    await store.createSystem({ name, macs: [benchMac(i)], hostname: name, profile: state === 'discovered' ? null : 'centos44-hvm', state }, now);
    // Half the installing systems went quiet two hours ago: stalled at the default 30 minutes.
    if (state === 'installing') await store.transition(name, now, () => ({ patch: { lastEventAt: i % 2 ? now : now - 2 * 3600_000 } }));
    counts[state] = (counts[state] ?? 0) + 1;
  }
  await store.close();
  return counts;
}

/** GETs path once over agent; resolves with the milliseconds until the whole body arrived. */
function timedGet(agent: Agent, port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = httpRequest({ host: HOST, port, path, agent }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error(`${path}: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Returns the p-th percentile (0..1) of xs. */
function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
}

/** Starts kickstand on a store of n systems (filled first) and times `scrapes` scrapes one after another; returns the service still running. */
async function scrapeAlone(ctx: Parameters<Figure>[0], dir: string, n: number, scrapes: number) {
  mkdirSync(join(dir, 'var'), { recursive: true });
  const counts = n > 0 ? await fill(join(dir, 'var', 'kickstand.db'), n) : {};
  const svc = await startService({ dir, host: HOST, cpuProfileDir: ctx.profileDir, settings: { TFTP__ENABLED: 'false' } });
  const port = Number(new URL(svc.base).port);
  const text = await (await fetch(`${svc.base}/metrics`)).text();
  const gauge = (state: string) => Number(new RegExp(`^kickstand_systems\\{state="${state}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  const total = ['registered', 'build', 'built', 'discovered', 'failed', 'installing', 'stalled'].reduce((a, st) => a + gauge(st), 0);
  if (total !== n) throw new Error(`the scrape counted ${total} systems, not ${n}`);
  const agent = new Agent({ keepAlive: true, maxSockets: SCRAPERS + 1 });
  for (let i = 0; i < 20; i++) await timedGet(agent, port, '/metrics');
  const cpu0 = cpuSeconds(svc.proc.pid);
  const times: number[] = [];
  for (let i = 0; i < scrapes; i++) times.push(await timedGet(agent, port, '/metrics'));
  const cpuMs = ((cpuSeconds(svc.proc.pid) - cpu0) * 1000) / scrapes;
  ctx.log(`${n} systems: ${scrapes} scrapes, median ${median(times).toFixed(2)} ms, p95 ${pct(times, 0.95).toFixed(2)} ms, server CPU ${cpuMs.toFixed(2)} ms per scrape`);
  return { svc, port, agent, times, cpuMs, counts };
}

export const metricsFigure: Figure = async (ctx) => {
  const n = SYSTEMS;
  const scrapes = ctx.quick ? 50 : 300;
  const loadSeconds = ctx.quick ? 3 : 10;
  const empty = await scrapeAlone(ctx, join(ctx.dir, 'empty'), 0, scrapes);
  empty.agent.destroy();
  await empty.svc.stop();
  ctx.log(`filling a store with ${n} systems`);
  const full = await scrapeAlone(ctx, join(ctx.dir, 'full'), n, scrapes);
  const { svc, port, agent, counts } = full;

  // Four scrapers in a loop; /healthz timed every 50 ms beside them.
  let running = true;
  const scraped: number[] = [];
  const loops = Array.from({ length: SCRAPERS }, async () => {
    while (running) scraped.push(await timedGet(agent, port, '/metrics'));
  });
  const health: number[] = [];
  const healthAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  const until = performance.now() + loadSeconds * 1000;
  while (performance.now() < until) {
    health.push(await timedGet(healthAgent, port, '/healthz'));
    await new Promise((r) => setTimeout(r, 50));
  }
  running = false;
  await Promise.all(loops);
  agent.destroy();
  healthAgent.destroy();
  await svc.stop();
  ctx.log(`${SCRAPERS} scrapers for ${loadSeconds} s: ${scraped.length} scrapes, /healthz p95 ${pct(health, 0.95).toFixed(2)} ms`);

  const ms = (x: number) => `${fmt(x, 2)} ms`;
  const row = (label: string, xs: number[], cpu: string) => [label, ms(median(xs)), ms(pct(xs, 0.95)), ms(Math.max(...xs)), cpu, String(xs.length)];
  const p95 = pct(full.times, 0.95);
  const growth = median(full.times) / median(empty.times);
  return {
    title: '/metrics with 10,000 systems',
    tables: [
      {
        caption: `Scrapes over one keep-alive connection with an empty store and with ${n} systems (${Object.entries(counts).map(([st, c]) => `${c} ${st}`).join(', ')}), then ${SCRAPERS} scrapers in a loop for ${loadSeconds} s with /healthz timed every 50 ms beside them`,
        columns: ['measurement', 'median', 'p95', 'max', 'server CPU per scrape', 'count'],
        rows: [
          row('one scrape at a time, 0 systems', empty.times, ms(empty.cpuMs)),
          row(`one scrape at a time, ${n} systems`, full.times, ms(full.cpuMs)),
          row(`scrape, ${SCRAPERS} scrapers at once, ${n} systems`, scraped, ''),
          row(`/healthz beside ${SCRAPERS} scrapers`, health, ''),
        ],
      },
    ],
    checks: [
      { target: `a scrape with ${n} systems < ${TARGET_MS} ms (p95, one at a time)`, measured: ms(p95), pass: p95 < TARGET_MS },
      { target: `scrape time independent of the number of systems (median at ${n} ≤ 1.5× at 0)`, measured: `${ms(median(full.times))} vs ${ms(median(empty.times))}`, ratio: `${growth.toFixed(2)}×`, pass: growth <= 1.5 },
      { target: `/healthz beside ${SCRAPERS} scrapers < ${TARGET_MS} ms (p95)`, measured: ms(pct(health, 0.95)), pass: pct(health, 0.95) < TARGET_MS },
    ],
    commands: [
      `(store filled in-process before start: bench/figures/metrics.ts fill(), ${n} systems)`,
      svc.command,
      `GET http://${HOST}:8080/metrics   # ${scrapes} times, one keep-alive connection; then ${SCRAPERS} in a loop`,
      `GET http://${HOST}:8080/healthz   # every 50 ms while the ${SCRAPERS} scrapers run`,
    ],
    notes: [
      'Times are from the request leaving this process to the last byte of the answer (Node http client, keep-alive). Server CPU is utime+stime of the kickstand process from /proc over the timed scrapes.',
      'The system gauges read Store.countSystems: per-state counts kept by triggers and an index range for stalled systems. Before issue 14 a scrape listed every system twice with a MAC query per row (~420 ms at 10,000).',
      'The scrape includes prom-client\'s process_* and nodejs_* metrics, as `kickstand serve` exports them.',
    ],
    raw: { counts, empty: { times: empty.times, cpuMs: empty.cpuMs }, full: { times: full.times, cpuMs: full.cpuMs }, scraped, health },
  };
};
