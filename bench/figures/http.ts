// Figure 1: one armed system's kickstart over HTTP (/ks/<token>, rendered by the real service with
// the real templates and SQLite) against nginx serving the same bytes as a static file, both
// measured with the same wrk command in alternating rounds (nginx, kickstand, bare node:http, five
// times); the median round of each is reported, and every round is listed.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, benchMac, registerArmed, startService } from '../lib/kickstand.ts';
import { startNginx } from '../lib/peers.ts';
import { start, waitFor } from '../lib/procs.ts';
import { fmt, ratio } from '../lib/result.ts';
import { Sampler, memory, mib } from '../lib/sample.ts';
import { wrk, type WrkResult } from '../lib/wrk.ts';
import type { Figure } from './types.ts';

const HOST = '127.0.0.1';
const KS_PORT = 8080;
const NGINX_PORT = 8081;
const BARE_PORT = 8082;
/** wrk settings the issue names: 2 threads, 64 connections, 10 seconds. */
export const WRK = { threads: 2, connections: 64, seconds: 10 };
/** Alternating rounds per server: the median of five is what the figure reports. */
export const ROUNDS = 5;

export const httpFigure: Figure = async (ctx) => {
  const seconds = ctx.quick ? 3 : WRK.seconds;
  const rounds = ctx.quick ? 1 : ROUNDS;
  const svc = await startService({ dir: ctx.dir, host: HOST, port: KS_PORT, cpuProfileDir: ctx.profileDir, settings: { LOG_LEVEL: 'info' } });
  const path = await registerArmed(svc, 'bench-ks', benchMac(1));
  const res = await fetch(`${svc.base}${path}`);
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`kickstart answered ${res.status}`);
  const www = join(ctx.dir, 'www');
  mkdirSync(join(www, 'ks'), { recursive: true });
  writeFileSync(join(www, path), body);
  const nginx = await startNginx(ctx.dir, www, HOST, NGINX_PORT);
  const bare = start('bare-http', process.execPath, ['--import', 'tsx', 'bench/bare-http.ts', join(www, path), String(BARE_PORT)], { cwd: ROOT, logFile: join(ctx.dir, 'bare-http.log') });
  const bareUrl = `http://${HOST}:${BARE_PORT}/`;
  await waitFor(async () => (await fetch(bareUrl).catch(() => null))?.ok === true, 'the bare node:http server');
  const nginxUrl = `http://${HOST}:${NGINX_PORT}${path}`;
  const same = Buffer.from(await (await fetch(nginxUrl)).arrayBuffer()).equals(body);
  if (!same) throw new Error('nginx does not serve the kickstart bytes');
  ctx.log(`kickstart is ${body.length} bytes; warming up`);
  const ksUrl = `${svc.base}${path}`;
  await wrk(ksUrl, { ...WRK, seconds: 2 });
  await wrk(nginxUrl, { ...WRK, seconds: 2 });

  await wrk(bareUrl, { ...WRK, seconds: 2 });
  const runs: { kickstand: WrkResult[]; nginx: WrkResult[]; bare: WrkResult[] } = { kickstand: [], nginx: [], bare: [] };
  const cpu: number[] = [];
  for (let i = 0; i < rounds; i++) {
    runs.nginx.push(await wrk(nginxUrl, { ...WRK, seconds }));
    const sampler = new Sampler(svc.proc.pid, 250);
    runs.kickstand.push(await wrk(ksUrl, { ...WRK, seconds }));
    cpu.push(sampler.stop().cpuAvgPct);
    runs.bare.push(await wrk(bareUrl, { ...WRK, seconds }));
    ctx.log(`round ${i + 1}: nginx ${fmt(runs.nginx[i].rps)} req/s, kickstand ${fmt(runs.kickstand[i].rps)} req/s`);
  }
  /** The round with the median req/s (the lower middle one for an even count). */
  const mid = (xs: WrkResult[]) => [...xs].sort((a, b) => a.rps - b.rps)[Math.floor((xs.length - 1) / 2)]!;
  const k = mid(runs.kickstand);
  const n = mid(runs.nginx);
  const b = mid(runs.bare);
  const perRound = runs.kickstand.map((r, i) => r.rps / runs.nginx[i]!.rps);
  const rss = memory(svc.proc.pid);
  await nginx.proc.stop();
  await bare.stop();
  await svc.stop();
  const row = (name: string, r: WrkResult, extra: string) => [name, fmt(r.rps), r.p50Ms.toFixed(2), r.p99Ms.toFixed(2), fmt(r.requests), String(r.non2xx + r.socketErrors), extra];
  return {
    title: 'Kickstart over HTTP',
    tables: [
      {
        caption: `\`GET /ks/<token>\` (${body.length} bytes), median of ${rounds} alternating ${seconds} s rounds (kickstand ÷ nginx per round: ${perRound.map((x) => `${x.toFixed(2)}×`).join(', ')})`,
        columns: ['server', 'req/s', 'p50 ms', 'p99 ms', 'requests', 'errors / non-2xx', 'notes'],
        rows: [
          row('kickstand', k, `CPU ${[...cpu].sort((x, y) => x - y)[Math.floor((cpu.length - 1) / 2)]!.toFixed(0)}% of one core (median round), RSS ${mib(rss.rss)} MiB after`),
          row('nginx (static file)', n, 'worker_processes auto (2 workers)'),
          row('bare node:http (same bytes from memory)', b, 'the ceiling for one Node process, for reference'),
        ],
      },
    ],
    checks: [
      { target: 'kickstart repeat fetch req/s ≥ 0.8× nginx (medians of interleaved rounds)', measured: `${fmt(k.rps)} vs ${fmt(n.rps)} req/s`, ratio: ratio(k.rps, n.rps), pass: k.rps >= 0.8 * n.rps },
      { target: 'every kickstart answered 200 (all rounds)', measured: `${runs.kickstand.reduce((a, r) => a + r.non2xx, 0)} non-2xx, ${runs.kickstand.reduce((a, r) => a + r.socketErrors, 0)} socket errors`, pass: runs.kickstand.every((r) => r.non2xx + r.socketErrors === 0) },
    ],
    commands: [k.command.replace(ksUrl, `http://127.0.0.1:${KS_PORT}/ks/<token>`), n.command.replace(nginxUrl, `http://127.0.0.1:${NGINX_PORT}/ks/<token>`), svc.command, nginx.command],
    notes: [
      'kickstand runs as `kickstand serve` at its default log level (info); the system is registered and armed over the API, so each request looks the token up in the store (SQLite behind its read cache), is answered from the render cache, and is counted in /metrics; the first fetch moves the system to installing, repeats change nothing.',
      'nginx, wrk and kickstand share the same two cores; wrk itself takes a large part of one. A Node process uses one core for JavaScript, nginx runs two workers.',
    ],
    raw: { runs, bodyBytes: body.length, cpuPct: cpu, perRound },
  };
};
