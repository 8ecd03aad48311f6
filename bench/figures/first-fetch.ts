// Figure 9: kickstart first fetch. 10,000 distinct systems are registered and armed beforehand
// (`kickstand system import`), then each fetches its own kickstart once over HTTP (64 keep-alive
// connections): every fetch looks its token up, binds the run to the address (trust policy),
// renders the kickstart and records the fetch (build → installing) in its own transition.
// `npm run bench -- first-fetch --machines 2000` runs a smaller list.
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, benchMac, importArmed, listAll, startService, type Service } from '../lib/kickstand.ts';
import type { FetchOnceConfig, FetchOnceResult } from '../lib/fetch-once.ts';
import { start } from '../lib/procs.ts';
import { fmt } from '../lib/result.ts';
import { Sampler, memory, mib, type SampleSummary } from '../lib/sample.ts';
import type { Figure } from './types.ts';

export const SYSTEMS = 10_000;
export const CONNECTIONS = 64;
/** Goal: first fetches per second. */
export const GOAL_PER_SECOND = 5_000;

/** Runs the fetch-once client over the list in its own process; returns what it and the sampler saw. */
async function fetchAll(dir: string, svc: Service, pathsFile: string, label: string): Promise<{ r: FetchOnceResult; s: SampleSummary }> {
  const out = join(dir, `${label}.json`);
  const cfg: FetchOnceConfig = { host: '127.0.0.1', port: 8080, pathsFile, connections: CONNECTIONS, out };
  writeFileSync(join(dir, `${label}-config.json`), JSON.stringify(cfg));
  const sampler = new Sampler(svc.proc.pid, 250);
  const client = start(`fetch-${label}`, process.execPath, ['--import', 'tsx', 'bench/lib/fetch-once.ts', join(dir, `${label}-config.json`)], { cwd: ROOT, logFile: join(dir, `${label}.log`) });
  const code = await client.exited;
  const s = sampler.stop();
  if (code !== 0) throw new Error(`the fetch client exited ${code}: ${readFileSync(join(dir, `${label}.log`), 'utf8').slice(-2000)}`);
  return { r: JSON.parse(readFileSync(out, 'utf8')) as FetchOnceResult, s };
}

export const firstFetchFigure: Figure = async (ctx) => {
  const count = ctx.machines ?? (ctx.quick ? 2_000 : SYSTEMS);
  const service = { dir: ctx.dir, host: '127.0.0.1', port: 8080, cpuProfileDir: ctx.profileDir, settings: { LOG_LEVEL: 'info' } };
  ctx.log(`registering and arming ${count} systems (kickstand system import)`);
  const importSeconds = await importArmed(service, Array.from({ length: count }, (_, i) => ({ name: `ff-${String(i).padStart(5, '0')}`, mac: benchMac(0x200000 + i) })));
  const svc = await startService(service);
  const paths = (await listAll(svc)).map((x) => x.urls?.kickstart).filter((u): u is string => !!u).map((u) => new URL(u).pathname);
  if (paths.length !== count) throw new Error(`${paths.length} armed systems listed with a kickstart URL, expected ${count}`);
  const pathsFile = join(ctx.dir, 'paths.txt');
  writeFileSync(pathsFile, `${paths.join('\n')}\n`);
  const rssBefore = memory(svc.proc.pid).rss;

  ctx.log(`${count} first fetches over ${CONNECTIONS} connections`);
  const first = await fetchAll(ctx.dir, svc, pathsFile, 'first');
  const installing = (await listAll(svc, 'state=installing')).length;
  const hwm = memory(svc.proc.pid).hwm;
  await svc.stop();

  const rate = (x: { r: FetchOnceResult }) => x.r.ok / x.r.seconds;
  const row = (label: string, x: { r: FetchOnceResult; s: SampleSummary }) => [
    label,
    fmt(rate(x)),
    `${fmt(x.r.ok)} / ${fmt(x.r.requests)}`,
    x.r.p50Ms.toFixed(2),
    x.r.p99Ms.toFixed(2),
    x.r.maxMs.toFixed(1),
    `${x.s.threads.mainPct.toFixed(0)}% (${((x.s.threads.mainPct / 100) * x.s.seconds * 1e6 / Math.max(1, x.r.requests)).toFixed(0)} µs per fetch)`,
    `${((x.r.cpuSeconds / x.r.seconds) * 100).toFixed(0)}%`,
  ];
  const firstRate = rate(first);
  return {
    title: 'Kickstart first fetch',
    tables: [
      {
        caption: `${fmt(count)} armed systems, each kickstart fetched once over ${CONNECTIONS} keep-alive connections (\`GET /ks/<token>\`)`,
        columns: ['fetch', 'fetches/s', '200 / requests', 'p50 ms', 'p99 ms', 'max ms', 'kickstand main thread (CPU per fetch)', 'client CPU'],
        rows: [row('first fetch (render, bind the run, record build → installing)', first)],
      },
      {
        caption: 'kickstand',
        columns: ['peak RSS (VmHWM)', 'RSS before the fetches', 'systems installing after the first pass', 'import of the armed systems'],
        rows: [[`${mib(hwm)} MiB`, `${mib(rssBefore)} MiB`, fmt(installing), `${fmt(count)} in ${importSeconds.toFixed(1)} s`]],
      },
    ],
    checks: [
      { target: `first fetch of ${fmt(count)} distinct kickstarts ≥ ${fmt(GOAL_PER_SECOND)}/s`, measured: `${fmt(firstRate)}/s (${first.r.seconds.toFixed(2)} s)`, pass: firstRate >= GOAL_PER_SECOND },
      {
        target: 'every first fetch answered 200 and recorded',
        measured: `${fmt(first.r.ok)} answered 200${Object.keys(first.r.other).length ? `, others: ${JSON.stringify(first.r.other)}` : ''}; ${fmt(installing)} systems installing`,
        pass: first.r.ok === count && installing === count,
      },
    ],
    commands: [
      `kickstand system import systems.csv   # before the service starts: name,macs,profile,hostname,build with build=true, ${count} rows`,
      svc.command,
      `node --import tsx bench/lib/fetch-once.ts config.json   # {"host":"127.0.0.1","port":8080,"pathsFile":"paths.txt","connections":${CONNECTIONS}}: each /ks/<token> once`,
    ],
    notes: [
      'kickstand runs at its default log level (info): one line per recorded fetch and one per run bound to its address. The client runs on the same two cores.',
      'The systems are imported before the service starts, so the first pass also finds every system and token outside the read cache: what the first boot of a freshly registered fleet costs.',
    ],
    raw: { first, importSeconds, hwm, installing },
  };
};
