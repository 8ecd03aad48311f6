// By-hand probe (not a figure): DISCOVER->OFFER delay of kickstand (SQLite or PostgreSQL) and Kea at
// fixed offered rates, interleaved, over the dhcp figure's veth pair, and when in the run the slow
// answers fell: for finding what bounds the latency row of `npm run bench -- dhcp`.
//   node --import tsx bench/dhcp-probe.ts [RATES=1000,2400] [SERVERS=kickstand,kea] [CLIENTS=10000] ['{"DHCP__…":"…"}']
// (PROBE_PROF=DIR writes kickstand's CPU profiles there; PROBE_WARMUP=S runs S seconds of other
// clients first, as the figure's latency step does; PROBE_KEEP=1 keeps the step folders.)
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createNetns, linkNetns } from '../test/system/lib/netns.ts';
import { startPostgres, type TestPostgres } from '../test/system/lib/postgres.ts';
import { startKea, type BenchSubnet } from './lib/dhcp-peers.ts';
import { parseExchanges, perfdhcp } from './lib/perfdhcp.ts';
import { WARMUP_MAC, startKickstandDhcp } from './figures/dhcp.ts';

const [ratesArg = '1000,2400', serversArg = 'kickstand,kea', clientsArg = '10000', extraArg = '{}'] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const inner = process.argv.includes('--inner');

if (!inner) {
  // Outside: make the two namespaces, run this file again inside the server's, then remove them.
  const server = createNetns('ks-dp-');
  const client = createNetns('ks-dpc-');
  try {
    const { aIf, bIf } = linkNetns(server, '10.232.0.1/16', client, '10.232.0.2/16');
    const env = { ...process.env, PROBE_CLIENT_NS: client.name, PROBE_SERVER_IF: aIf, PROBE_CLIENT_IF: bIf };
    spawnSync('ip', ['netns', 'exec', server.name, process.execPath, '--import', 'tsx', new URL(import.meta.url).pathname, ratesArg, serversArg, clientsArg, extraArg, '--inner'], { stdio: 'inherit', env });
  } finally {
    server.cleanup();
    client.cleanup();
  }
} else {
  const subnet: BenchSubnet = { iface: process.env.PROBE_SERVER_IF!, serverIp: '10.232.0.1', network: '10.232.0.0', prefix: 16, mask: '255.255.0.0', poolStart: '10.232.1.0', poolEnd: '10.232.255.254', leaseSeconds: 3600 };
  const dir = mkdtempSync('/tmp/ks-dhcp-probe-');
  let postgres: TestPostgres | null = null;
  let n = 0;
  try {
    for (const rate of ratesArg.split(',').map(Number)) {
      for (const server of serversArg.split(',')) {
        const stepDir = join(dir, `${++n}-${server}-${rate}`);
        mkdirSync(stepDir);
        let storeUrl: string | undefined;
        if (server === 'kickstand-pg') {
          postgres ??= await startPostgres();
          storeUrl = await postgres.createDatabase(`probe_${n}`);
        }
        const peer = server === 'kea' ? await startKea(stepDir, subnet) : await startKickstandDhcp(stepDir, subnet, process.env.PROBE_PROF, storeUrl, JSON.parse(extraArg) as Record<string, string>);
        try {
          const warm = Number(process.env.PROBE_WARMUP ?? 0);
          if (warm > 0) {
            const w = await perfdhcp({ ns: process.env.PROBE_CLIENT_NS!, iface: process.env.PROBE_CLIENT_IF!, server: subnet.serverIp, rate, clients: rate * warm, timers: true, baseMac: WARMUP_MAC });
            console.log(`${server} at ${rate}/s, first ${warm} s: DISCOVER->OFFER p50 ${w.offerDelays!.p50.toFixed(2)} p99 ${w.offerDelays!.p99.toFixed(2)} ms`);
          }
          const perf = await perfdhcp({ ns: process.env.PROBE_CLIENT_NS!, iface: process.env.PROBE_CLIENT_IF!, server: subnet.serverIp, rate, clients: Number(clientsArg), timers: true, keepDump: true });
          const d = perf.offerDelays!;
          // Where the slow answers fall: per tenth of a second of the run, how many took over 10 ms and the worst.
          const ex = parseExchanges(perf.output, 'DISCOVER-OFFER');
          const t0 = Math.min(...ex.map((x) => x.sent));
          const slots = new Map<number, { n: number; worst: number }>();
          for (const x of ex) {
            if (x.delayMs <= 10) continue;
            const k = Math.floor((x.sent - t0) * 10) / 10;
            const v = slots.get(k) ?? { n: 0, worst: 0 };
            v.n++;
            v.worst = Math.max(v.worst, x.delayMs);
            slots.set(k, v);
          }
          const slow = [...slots].map(([k, v]) => `${k.toFixed(1)}s:${v.n}/${v.worst.toFixed(0)}ms`);
          console.log(`${server} at ${rate}/s: ${perf.doraPerSecond.toFixed(0)} DORA/s, ${perf.dropPct.toFixed(2)}% dropped; DISCOVER->OFFER p50 ${d.p50.toFixed(2)} p90 ${d.p90.toFixed(2)} p99 ${d.p99.toFixed(2)} max ${d.max.toFixed(2)} ms (${d.count} exchanges)`);
          console.log(`  over 10 ms (second of the run: count/worst): ${slow.slice(0, 40).join(' ') || 'none'}${slow.length > 40 ? ` … ${slow.length - 40} more` : ''}`);
        } finally {
          await peer.proc.stop();
        }
      }
    }
  } finally {
    await postgres?.stop();
    if (process.env.PROBE_KEEP) console.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
