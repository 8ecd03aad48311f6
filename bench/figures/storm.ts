// Figure 5: a boot storm. kickstand runs as the real service with DHCP in full mode on a link the
// simulated machines share (a bridge in the client namespace); 10,000 systems are registered and
// armed beforehand (`kickstand system import`); the simulator (bench/storm/sim.ts) runs in the
// client namespace and starts 100 machines a second, each from its own leased address (the pool's
// addresses are put on the client's bridge beforehand). `-- storm --machines 1000`: a smaller storm. The storm runs three times: SQLite with one
// instance, PostgreSQL with one, and PostgreSQL with two instances splitting the clients by DHCP
// load balancing (the second in a namespace of its own on the same bridge).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ip } from '../../test/system/lib/netns.ts';
import { addBridge, enslave } from '../../test/system/lib/bridge.ts';
import { startPostgres, type TestPostgres } from '../../test/system/lib/postgres.ts';
import { benchMac } from '../lib/kickstand.ts';
import { notePid } from '../lib/procs.ts';
import { fmt, percentile, ratio } from '../lib/result.ts';
import { mib } from '../lib/sample.ts';
import { runStorm, type StormLab, type StormRun, type StormVariant } from '../lib/storm-run.ts';
import type { MachineRecord } from '../storm/sim.ts';
import type { Figure } from './types.ts';

export const MACHINES = 10_000;
/** Machines started per second (evenly spaced): 10,000 machines start over 100 s. */
export const RATE = 100;
/** Goals: p99 of every stage but the TFTP transfers, and kickstand's peak RSS. */
export const STAGE_P99_MS = 50;
export const RSS_LIMIT_MIB = 400;
/** The pool: 10.233.1.0 up, one /24 per 256 machines (at least four), all present on the client's bridge. */
function pool(count: number): { start: string; end: string; blocks: number[] } {
  const n = Math.max(4, Math.ceil(count / 256));
  if (n > 250) throw new Error(`a storm of ${count} machines needs more than 10.233.1.0 – 10.233.250.255`);
  return { start: '10.233.1.0', end: `10.233.${n}.255`, blocks: Array.from({ length: n }, (_, i) => i + 1) };
}
/** Address of the second instance, on the same /16 as the first. */
const SECOND_IP = '10.233.0.3';
export const VARIANTS: StormVariant[] = [
  { key: 'sqlite', label: 'SQLite, one instance', store: 'sqlite', instances: 1 },
  { key: 'pg1', label: 'PostgreSQL, one instance', store: 'postgres', instances: 1 },
  { key: 'pg2', label: 'PostgreSQL, two instances (DHCP load balancing)', store: 'postgres', instances: 2 },
];
const STAGES: Array<{ key: keyof MachineRecord['stages']; label: string; transfer?: boolean }> = [
  { key: 'dhcp', label: 'DHCP (DORA)' },
  { key: 'tftp-loader-first', label: 'TFTP pxelinux.0: first answer' },
  { key: 'tftp-loader', label: 'TFTP pxelinux.0 + ldlinux.c32 (transfer)', transfer: true },
  { key: 'tftp-config', label: 'TFTP pxelinux.cfg (UUID miss + 01-MAC)' },
  { key: 'kickstart', label: 'HTTP kickstart' },
  { key: 'event', label: 'HTTP event (each of 5)' },
  { key: 'total', label: 'whole machine, DHCP to built', transfer: true },
];

/** Returns the values of one stage over the machines that completed. */
function values(run: StormRun, key: keyof MachineRecord['stages']): number[] {
  return run.records.filter((r) => r.ok).flatMap((r) => (key === 'event' ? r.stages.event : r.stages[key] === undefined ? [] : [r.stages[key] as number]));
}

export const stormFigure: Figure = async (ctx) => {
  if (!ctx.client) throw new Error('the storm figure needs a client namespace');
  const c = ctx.client;
  const count = ctx.machines ?? (ctx.quick ? 100 : MACHINES);
  const rampMs = Math.max(1000, (count / RATE) * 1000);
  const POOL = pool(count);
  // One link for every variant: the client's end of the veth becomes a bridge port, and the
  // machines' addresses live on the bridge (a second instance joins the same bridge).
  ip('-n', c.ns, 'addr', 'flush', 'dev', c.clientIf);
  const bridge = addBridge(c.ns);
  enslave(c.ns, c.clientIf, bridge);
  const batch = POOL.blocks.flatMap((b) => Array.from({ length: 256 }, (_, i) => `addr add 10.233.${b}.${i}/32 dev ${bridge}`));
  writeFileSync(join(ctx.dir, 'addrs.batch'), `${[`addr add ${c.clientIp}/${c.prefix} dev ${bridge}`, ...batch].join('\n')}\n`);
  ip('-n', c.ns, '-batch', join(ctx.dir, 'addrs.batch'));
  ip('-n', c.ns, 'route', 'add', 'default', 'dev', bridge);
  const lab: StormLab = {
    clientNs: c.ns,
    bridge,
    serverIf: c.serverIf,
    serverIp: c.serverIp,
    secondIp: SECOND_IP,
    prefix: c.prefix,
    subnet: { network: '10.233.0.0', mask: '255.255.0.0', router: c.serverIp, pool_start: POOL.start, pool_end: POOL.end, lease_seconds: 3600 },
  };
  const macs = Array.from({ length: count }, (_, i) => benchMac(0x100000 + i));
  let pg: TestPostgres | null = null;
  const runs: StormRun[] = [];
  try {
    for (const variant of VARIANTS) {
      if (variant.store === 'postgres' && !pg) {
        ctx.log('starting PostgreSQL (Debian package, throwaway cluster)');
        pg = await startPostgres({ onStart: notePid });
      }
      runs.push(await runStorm({ dir: ctx.dir, lab, variant, macs, rampMs, pg, profileDir: ctx.profileDir, log: ctx.log }));
    }
  } finally {
    await pg?.stop();
  }
  const [sqlite, pg1, pg2] = runs as [StormRun, StormRun, StormRun];

  const ok = sqlite.records.filter((r) => r.ok);
  const failures = sqlite.records.filter((r) => !r.ok);
  const rows = STAGES.map((st) => {
    const v = values(sqlite, st.key);
    return [st.label, fmt(v.length), fmt(percentile(v, 50), 1), fmt(percentile(v, 99), 1), fmt(Math.max(...v), 1)];
  });
  const slow = STAGES.filter((st) => !st.transfer && percentile(values(sqlite, st.key), 99) >= STAGE_P99_MS).map((st) => st.label);
  const dhcpResent = ok.filter((r) => (r.dhcpSent ?? 2) > 2).length;
  const tftpResent = ok.reduce((a, r) => a + r.tftpRetransmits, 0);
  const hwm = sqlite.instances[0]!.hwm;
  const s = sqlite.instances[0]!.sample;
  const p = (run: StormRun, key: keyof MachineRecord['stages'], q: number) => fmt(percentile(values(run, key), q), 1);
  const completed = (run: StormRun) => run.records.filter((r) => r.ok).length;
  const allBuilt = (run: StormRun) => completed(run) === count && run.built === count;
  const total99 = (run: StormRun) => percentile(values(run, 'total'), 99);
  const split = (run: StormRun) => {
    const by = new Map<string, number>();
    for (const r of run.records) if (r.server) by.set(r.server, (by.get(r.server) ?? 0) + 1);
    return [...by.values()].join(' + ');
  };
  return {
    title: 'Boot storm',
    tables: [
      {
        caption: `${count} simulated BIOS PXE machines started evenly over ${rampMs / 1000} s (${RATE} a second) against one instance on SQLite; ${ok.length} completed in ${sqlite.seconds.toFixed(1)} s. Milliseconds per stage, measured by the simulator:`,
        columns: ['stage', 'samples', 'p50 ms', 'p99 ms', 'max ms'],
        rows,
      },
      {
        caption: 'kickstand during the storm (SQLite, one instance; CPU in % of one core over the storm: the main thread runs DHCP, HTTP, the store and TFTP requests, worker threads the TFTP transfers)',
        columns: ['peak RSS (VmHWM, since start)', 'RSS before → max during', 'CPU all threads (peak 0.5 s)', 'main thread (CPU per machine)', 'other threads (≥ 1 %)', 'machine cores busy (every process)', 'the simulator', 'whole machine p50', 'import of the armed systems'],
        rows: [[
          `${mib(hwm)} MiB`,
          `${mib(sqlite.instances[0]!.rssBefore)} → ${mib(s.rssMax)} MiB`,
          `${s.cpuAvgPct.toFixed(0)}% (${s.cpuPeakPct.toFixed(0)}%)`,
          `${s.threads.mainPct.toFixed(0)}% (${(((s.threads.mainPct / 100) * s.seconds * 1000) / count).toFixed(2)} ms)`,
          s.threads.otherPct.filter((x) => x >= 1).map((x) => `${x.toFixed(0)}%`).join(', ') || '—',
          s.threads.corePct.map((x, i) => `cpu${i} ${x.toFixed(0)}%`).join(', '),
          `${((sqlite.simCpuSeconds / sqlite.seconds) * 100).toFixed(0)}% of one core`,
          `${fmt(percentile(values(sqlite, 'total'), 50), 0)} ms`,
          `${fmt(count)} in ${sqlite.regSeconds.toFixed(1)} s`,
        ]],
      },
      {
        caption: `The same storm on each store: milliseconds (p50 / p99) per stage; with two instances each machine is answered by one (machines per instance given), and CPU and peak RSS are per instance`,
        columns: ['store', 'built', 'storm s', 'DHCP', 'TFTP pxelinux.cfg', 'HTTP kickstart', 'HTTP event', 'whole machine', 'machines per instance', 'CPU avg', 'peak RSS'],
        rows: runs.map((run) => [
          run.variant.label,
          `${run.built} / ${count}`,
          run.seconds.toFixed(1),
          `${p(run, 'dhcp', 50)} / ${p(run, 'dhcp', 99)}`,
          `${p(run, 'tftp-config', 50)} / ${p(run, 'tftp-config', 99)}`,
          `${p(run, 'kickstart', 50)} / ${p(run, 'kickstart', 99)}`,
          `${p(run, 'event', 50)} / ${p(run, 'event', 99)}`,
          `${p(run, 'total', 50)} / ${p(run, 'total', 99)}`,
          split(run),
          run.instances.map((i) => `${i.sample.cpuAvgPct.toFixed(0)}%`).join(' + '),
          run.instances.map((i) => `${mib(i.hwm)} MiB`).join(' + '),
        ]),
      },
    ],
    checks: [
      { target: `all ${count} machines built`, measured: `${ok.length} completed, ${sqlite.built} built in the store${failures.length ? `; first failure: ${failures[0].mac}: ${failures[0].error}` : ''}`, pass: allBuilt(sqlite) },
      { target: `p99 < ${STAGE_P99_MS} ms for every stage but the TFTP transfers`, measured: slow.length ? `over ${STAGE_P99_MS} ms: ${slow.join(', ')}` : `worst: ${Math.max(...STAGES.filter((x) => !x.transfer).map((x) => percentile(values(sqlite, x.key), 99))).toFixed(1)} ms`, pass: slow.length === 0 },
      { target: `peak RSS < ${RSS_LIMIT_MIB} MiB`, measured: `${mib(hwm)} MiB`, pass: hwm < RSS_LIMIT_MIB * 1024 * 1024 },
      { target: `PostgreSQL, one and two instances: all ${count} machines built`, measured: `one: ${pg1.built}, two: ${pg2.built} (${split(pg2)})`, pass: allBuilt(pg1) && allBuilt(pg2) },
      { target: 'two instances no slower than one (whole machine p99)', measured: `${fmt(total99(pg2), 0)} vs ${fmt(total99(pg1), 0)} ms`, ratio: ratio(total99(pg2), total99(pg1)), pass: total99(pg2) <= total99(pg1) },
    ],
    commands: [
      `kickstand system import systems.csv   # before each run's service starts: name,macs,profile,hostname,build with build=true, ${count} rows`,
      ...runs.flatMap((run) => run.commands.map((cmd) => `${cmd}   # ${run.variant.label}`)),
      `node --import tsx bench/storm/sim.ts sim.json   # in the client namespace: {"macs":[${count} MACs],"rampMs":${rampMs}}`,
    ],
    notes: [
      'Each machine: DISCOVER/REQUEST with PXE options (broadcast), the firmware\'s tsize probe and then pxelinux.0 (blksize 1456), ldlinux.c32, pxelinux.cfg/<uuid> (not found) and pxelinux.cfg/01-<mac> (blksize 1408), the kickstart from the menu\'s ks= URL, and five step reports ending in built. Each TFTP transfer and HTTP request comes from the machine\'s leased address on a fresh socket.',
      `Retransmissions (SQLite run): ${dhcpResent} machines resent a DHCP message (timeouts 1, 2, 4, 8 s), ${tftpResent} TFTP packets resent (1 s timeout).`,
      'PostgreSQL is Debian\'s package, a throwaway cluster on a Unix socket on the same machine (fsync off), one database per run; on PostgreSQL every offer is claimed in the database before it is sent (instances share the pool). With two instances, each answers the DHCP clients of its RFC 3074 buckets and then serves their TFTP and HTTP; both share the two cores with PostgreSQL and the simulator.',
      `The kernel's ARP table (one for all namespaces) was given room for the storm's addresses for the run (${ctx.neighbours ?? 'not raised'}; the default gc_thresh3 of 1024 drops replies to every machine past about the thousandth, and a provisioning LAN of this size needs the same setting on the kickstand host).`,
      `Connections the kernel dropped before kickstand accepted them (TcpExt ListenOverflows / ListenDrops of each instance's namespace, over the storm): ${runs.map((run) => `${run.variant.label}: ${run.instances.map((i) => `${i.listen.listenOverflows} / ${i.listen.listenDrops}`).join(' + ')}`).join('; ')}. A dropped handshake leaves the client's request unanswered until the kernel gives up on it and answers the client's resend with a reset.`,
      'kickstand runs at its default log level (info), which writes a line per DHCP answer and per lifecycle event. The simulator shares the two cores with kickstand, so its own event loop adds to every latency.',
    ],
    raw: runs.map((run) => ({ variant: run.variant.key, seconds: run.seconds, regSeconds: run.regSeconds, built: run.built, instances: run.instances, failures: run.records.filter((r) => !r.ok).slice(0, 20) })),
  };
};
