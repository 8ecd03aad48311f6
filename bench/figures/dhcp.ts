// Figure 3: DHCP full mode with Kea's perfdhcp (as a relay, 50,000 client MACs) from the client
// namespace over a veth pair, against kickstand (the real service, leases in SQLite, and again
// with leases in PostgreSQL), Kea (memfile, persisted) and dnsmasq. Each server climbs a ladder of
// offered rates, restarted with no leases at every step, until 1% of exchanges drop; its figure is
// the best rate under 1%. kickstand is killed with SIGKILL after each step and every MAC it
// acknowledged must have a bound lease in its SQLite file (or PostgreSQL database).
import Database from 'better-sqlite3';
import pg from 'pg';
import { startPostgres, type TestPostgres } from '../../test/system/lib/postgres.ts';
import { notePid } from '../lib/procs.ts';
import { mkdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startService } from '../lib/kickstand.ts';
import { startDnsmasqDhcp, startKea, type BenchSubnet, type DhcpPeer } from '../lib/dhcp-peers.ts';
import { perfdhcp, type PerfResult } from '../lib/perfdhcp.ts';
import { fmt, ratio } from '../lib/result.ts';
import type { Figure, FigureContext } from './types.ts';

/** Client MACs perfdhcp draws from (-R). */
export const CLIENTS = 50_000;
/** Offered rates tried, per server, in order; a server stops at its first step with ≥ 1% drops. */
export const LADDERS = {
  kickstand: [3000, 5000, 7000, 9000, 11000, 13000],
  'kickstand-pg': [1000, 2000, 3000, 5000, 7000, 9000, 11000],
  kea: [3000, 5000, 7000, 9000, 11000, 13000],
  dnsmasq: [100, 200, 400, 800],
};
const SERVERS = ['kickstand', 'kickstand-pg', 'kea', 'dnsmasq'] as const;
type ServerName = (typeof SERVERS)[number];

/** One step: the perfdhcp report and what the server acknowledged and kept. */
interface Step {
  perf: PerfResult;
  acked: number;
  persisted: number;
  /** Acknowledged MACs with no live lease on disk. */
  missing: number;
}

async function startKickstandDhcp(dir: string, s: BenchSubnet, profileDir?: string, storeUrl?: string): Promise<DhcpPeer> {
  const subnet = { network: s.network, mask: s.mask, router: s.serverIp, pool_start: s.poolStart, pool_end: s.poolEnd, lease_seconds: s.leaseSeconds };
  const svc = await startService({
    dir,
    cpuProfileDir: profileDir,
    settings: { TFTP__HOST: '127.0.0.1', DHCP__MODE: 'full', DHCP__INTERFACE: s.iface, DHCP__SERVER_IP: s.serverIp, DHCP__SUBNET: JSON.stringify(subnet), ...(storeUrl ? { STORE__URL: storeUrl } : {}) },
  });
  const log = svc.logFile;
  const command = svc.command.replace(s.iface, '<veth>').replace(storeUrl ?? '\u0000', '<postgres url>');
  if (storeUrl) {
    return {
      proc: svc.proc,
      command,
      ackedMacs: () => ackedIn(log),
      async persistedMacs() {
        const c = new pg.Client({ connectionString: storeUrl });
        await c.connect();
        try {
          return new Set((await c.query("SELECT mac FROM leases WHERE state = 'bound'")).rows.map((r: { mac: string }) => r.mac));
        } finally {
          await c.end();
        }
      },
    };
  }
  return {
    proc: svc.proc,
    command,
    ackedMacs: () => ackedIn(log),
    persistedMacs() {
      const path = join(dir, 'var', 'kickstand.db');
      if (!existsSync(path)) return new Set();
      const db = new Database(path, { readonly: true });
      try {
        return new Set((db.prepare("SELECT mac FROM leases WHERE state = 'bound'").all() as Array<{ mac: string }>).map((r) => r.mac));
      } finally {
        db.close();
      }
    },
  };
}

/** Returns the MACs kickstand logged an ACK for. */
function ackedIn(log: string): Set<string> {
  const macs = new Set<string>();
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    if (!line.includes('"dhcp ack"')) continue;
    const mac = /"mac":"([0-9a-f:]{17})"/.exec(line)?.[1];
    if (mac) macs.add(mac);
  }
  return macs;
}

/** The PostgreSQL server of the kickstand-pg steps (a throwaway cluster, one database per step). */
let postgres: TestPostgres | null = null;

async function step(ctx: FigureContext, server: ServerName, rate: number, subnet: BenchSubnet, clients: number): Promise<Step> {
  const dir = join(ctx.dir, `${server}-${rate}`);
  mkdirSync(dir, { recursive: true });
  let storeUrl: string | undefined;
  if (server === 'kickstand-pg') {
    postgres ??= await startPostgres({ onStart: notePid });
    storeUrl = await postgres.createDatabase(`dhcp_${rate}_${Date.now()}`);
  }
  const peer =
    server === 'kickstand' || server === 'kickstand-pg'
      ? await startKickstandDhcp(dir, subnet, ctx.profileDir, storeUrl)
      : server === 'kea'
        ? await startKea(dir, subnet)
        : await startDnsmasqDhcp(dir, subnet);
  try {
    const perf = await perfdhcp({ ns: ctx.client!.ns, iface: ctx.client!.clientIf, server: subnet.serverIp, rate, clients });
    writeFileSync(join(dir, 'perfdhcp.out'), `${perf.command}\n${perf.output}`);
    // kickstand crashes on purpose: what it acknowledged must already be on disk.
    if (server === 'kickstand' || server === 'kickstand-pg') await peer.proc.kill();
    else await peer.proc.stop();
    const acked = peer.ackedMacs();
    const persisted = await peer.persistedMacs();
    let missing = 0;
    for (const m of acked) if (!persisted.has(m)) missing++;
    ctx.log(`${server} at ${rate}/s: ${fmt(perf.doraPerSecond, 1)} DORA/s, ${perf.dropPct.toFixed(2)}% dropped, ${acked.size} acked, ${persisted.size} on disk, ${missing} missing`);
    return { perf, acked: acked.size, persisted: persisted.size, missing };
  } finally {
    await peer.proc.stop();
  }
}

/** Bisection steps tried between the last rate under 1% and the first over it. */
export const BISECT_STEPS = 2;

/** Climbs the ladder until a step drops ≥ 1%, then bisects between the last pass and that step. */
async function climb(ctx: FigureContext, server: ServerName, subnet: BenchSubnet, clientsAt: (rate: number) => number): Promise<Step[]> {
  const steps: Step[] = [];
  const ladder = ctx.quick ? LADDERS[server].slice(0, 1) : LADDERS[server];
  let fail: number | null = null;
  for (const rate of ladder) {
    const s = await step(ctx, server, rate, subnet, clientsAt(rate));
    steps.push(s);
    if (s.perf.dropPct >= 1) {
      fail = rate;
      break;
    }
  }
  for (let i = 0; fail !== null && !ctx.quick && i < BISECT_STEPS; i++) {
    const pass = Math.max(0, ...steps.filter((x) => x.perf.dropPct < 1).map((x) => x.perf.rate));
    const grain = server === 'dnsmasq' ? 25 : 250;
    const mid = Math.round((pass + fail) / 2 / grain) * grain;
    if (mid <= pass || mid >= fail) break;
    const s = await step(ctx, server, mid, subnet, clientsAt(mid));
    steps.push(s);
    if (s.perf.dropPct >= 1) fail = mid;
  }
  return steps;
}

export const dhcpFigure: Figure = async (ctx) => {
  if (!ctx.client) throw new Error('the dhcp figure needs a client namespace');
  const c = ctx.client;
  const subnet: BenchSubnet = { iface: c.serverIf, serverIp: c.serverIp, network: '10.232.0.0', prefix: 16, mask: '255.255.0.0', poolStart: '10.232.1.0', poolEnd: '10.232.255.254', leaseSeconds: 3600 };
  const clients = ctx.quick ? 5000 : CLIENTS;
  const steps = {} as Record<ServerName, Step[]>;
  // dnsmasq at a few hundred per second would take minutes for 50,000 clients: it gets 10 s per step.
  try {
    for (const server of SERVERS) steps[server] = await climb(ctx, server, subnet, (rate) => (server === 'dnsmasq' ? rate * 10 : clients));
  } finally {
    await postgres?.stop();
    postgres = null;
  }

  const best = (s: ServerName) => steps[s].filter((x) => x.perf.dropPct < 1).reduce<Step | null>((a, b) => (!a || b.perf.doraPerSecond > a.perf.doraPerSecond ? b : a), null);
  const k = best('kickstand');
  const kpg = best('kickstand-pg');
  const kea = best('kea');
  const row = (s: ServerName) => {
    const b = best(s);
    if (!b) return [s, 'none under 1%', '', '', '', '', ''];
    return [s, fmt(b.perf.rate), fmt(b.perf.doraPerSecond, 0), `${b.perf.dropPct.toFixed(2)}%`, `${b.perf.discover.avgDelayMs.toFixed(1)} / ${b.perf.request.avgDelayMs.toFixed(1)}`, fmt(b.acked), `${fmt(b.persisted)} (${b.missing} missing)`];
  };
  const missing = steps.kickstand.reduce((a, s) => a + s.missing, 0);
  const missingPg = steps['kickstand-pg'].reduce((a, s) => a + s.missing, 0);
  return {
    title: 'DHCP (full mode)',
    tables: [
      {
        caption: `Best step with under 1% of DORA exchanges dropped; perfdhcp as a relay, ${fmt(clients)} distinct clients per step (dnsmasq: 10 s of them), over a veth pair between two namespaces`,
        columns: ['server', 'offered /s', 'DORA/s', 'dropped', 'avg delay DO / RA ms', 'MACs acked', 'leases on disk'],
        rows: SERVERS.map(row),
      },
      {
        caption: 'Every step (offered rate → achieved DORA/s, dropped)',
        columns: ['server', 'steps'],
        rows: SERVERS.map((s) => [s, [...steps[s]].sort((a, b) => a.perf.rate - b.perf.rate).map((x) => `${fmt(x.perf.rate)} → ${fmt(x.perf.doraPerSecond)} (${x.perf.dropPct.toFixed(1)}%)`).join(', ')]),
      },
    ],
    checks: [
      { target: "DORA/s ≥ Kea's, under 1% dropped", measured: `${k ? fmt(k.perf.doraPerSecond) : 'none'} vs ${kea ? fmt(kea.perf.doraPerSecond) : 'none'} DORA/s`, ratio: k && kea ? ratio(k.perf.doraPerSecond, kea.perf.doraPerSecond) : undefined, pass: !!k && !!kea && k.perf.doraPerSecond >= kea.perf.doraPerSecond },
      { target: 'every acknowledged lease in SQLite after SIGKILL (all steps)', measured: `${fmt(steps.kickstand.reduce((a, s) => a + s.acked, 0))} MACs acked over ${steps.kickstand.length} steps, ${missing} missing`, pass: missing === 0 },
      {
        target: 'on PostgreSQL: DORA/s ≥ 0.5× Kea memfile, under 1% dropped',
        measured: `${kpg ? fmt(kpg.perf.doraPerSecond) : 'none'} vs ${kea ? fmt(kea.perf.doraPerSecond) : 'none'} DORA/s`,
        ratio: kpg && kea ? ratio(kpg.perf.doraPerSecond, kea.perf.doraPerSecond) : undefined,
        pass: !!kpg && !!kea && kpg.perf.doraPerSecond >= 0.5 * kea.perf.doraPerSecond,
      },
      { target: 'every acknowledged lease in PostgreSQL after SIGKILL (all steps)', measured: `${fmt(steps['kickstand-pg'].reduce((a, s) => a + s.acked, 0))} MACs acked over ${steps['kickstand-pg'].length} steps, ${missingPg} missing`, pass: missingPg === 0 },
    ],
    commands: [
      `${(k?.perf.command ?? steps.kickstand[0].perf.command).replace(c.clientIf, '<veth>')}   # in the client namespace; -r from the ladder`,
      steps.kickstand[0] ? startCommand('kickstand', subnet) : '',
      steps['kickstand-pg'][0] ? `${startCommand('kickstand', subnet).replace(' node ', " KICKSTAND_STORE__URL='<postgres url>' node ")}   # kickstand-pg` : '',
      '# kea-dhcp4 -c kea-dhcp4.json   # memfile, persist true, lfc-interval 0, loggers severity INFO',
      `# dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --interface=<veth> --bind-interfaces --dhcp-range=${subnet.poolStart},${subnet.poolEnd},${subnet.mask},${subnet.leaseSeconds} --dhcp-lease-max=200000 --no-ping --dhcp-leasefile=… --log-facility=…`,
    ].filter(Boolean).map((x) => x.replace(/^# /, '')),
    notes: [
      'DORA/s is ACKs received ÷ the sending period (DISCOVERs sent ÷ the offered rate); perfdhcp waits 1 s more (-W) so answers to the last requests still count. dnsmasq runs with --no-ping: by default it pings every new address first and waits for the echo, which holds it to one client every 3 s.',
      'Every server runs at its default log level (kickstand info, Kea INFO, dnsmasq default), logging to a file, and persists leases (kickstand: SQLite in WAL mode, each ACK sent only after its lease is committed; Kea: memfile CSV; dnsmasq: its lease file).',
      `Each step restarts the server with an empty lease store and runs ${fmt(clients)} exchanges from ${fmt(clients)} client MACs (perfdhcp -R and -n alike), so every exchange allocates a new lease.`,
      'Kea and dnsmasq are stopped with SIGTERM; kickstand with SIGKILL, then its SQLite file is read: the "missing" count is MACs it logged an ACK for with no bound lease on disk.',
      'kickstand-pg is the same service with store.url on PostgreSQL (Debian\'s package, a throwaway cluster on this machine, on a Unix socket, fsync off, a fresh database per step). With a shared store every OFFER is claimed in the database before it is sent and every ACK only after its claim committed (batched: one statement per batch), since other instances may hand out the same pool; the missing count reads its leases table after SIGKILL.',
    ],
    raw: Object.fromEntries(SERVERS.map((s) => [s, steps[s].map((x) => ({ ...x, perf: { ...x.perf, output: undefined } }))])),
  };
};

function startCommand(_server: 'kickstand', s: BenchSubnet): string {
  return `KICKSTAND_DHCP__MODE=full KICKSTAND_DHCP__INTERFACE=<veth> KICKSTAND_DHCP__SERVER_IP=${s.serverIp} KICKSTAND_DHCP__SUBNET='{"network":"${s.network}","mask":"${s.mask}","router":"${s.serverIp}","pool_start":"${s.poolStart}","pool_end":"${s.poolEnd}","lease_seconds":${s.leaseSeconds}}' node --import tsx server/cli/main.ts serve`;
}
