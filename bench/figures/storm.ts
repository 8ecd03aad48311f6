// Figure 5: a boot storm. kickstand runs as the real service in the server namespace with DHCP in
// full mode on the veth; 10,000 systems are registered and armed beforehand (`kickstand system
// import`); the simulator (bench/storm/sim.ts) runs in the client namespace and starts 100
// machines a second, each from its own leased address (the pool's addresses are put on the
// client's veth beforehand). `npm run bench -- storm --machines 1000` runs a smaller storm.
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ip } from '../../test/system/lib/netns.ts';
import { ROOT, benchMac, importArmed, listAll, startService } from '../lib/kickstand.ts';
import { start } from '../lib/procs.ts';
import { fmt, percentile } from '../lib/result.ts';
import { Sampler, memory, mib } from '../lib/sample.ts';
import type { MachineRecord } from '../storm/sim.ts';
import type { Figure } from './types.ts';

export const MACHINES = 10_000;
/** Machines started per second (evenly spaced): 10,000 machines start over 100 s. */
export const RATE = 100;
/** Goals: p99 of every stage but the TFTP transfers, and kickstand's peak RSS. */
export const STAGE_P99_MS = 50;
export const RSS_LIMIT_MIB = 400;
/** The pool: 10.233.1.0 up, one /24 per 256 machines (at least four), all present on the client's veth. */
function pool(count: number): { start: string; end: string; blocks: number[] } {
  const n = Math.max(4, Math.ceil(count / 256));
  if (n > 250) throw new Error(`a storm of ${count} machines needs more than 10.233.1.0 – 10.233.250.255`);
  return { start: '10.233.1.0', end: `10.233.${n}.255`, blocks: Array.from({ length: n }, (_, i) => i + 1) };
}
const STAGES: Array<{ key: keyof MachineRecord['stages']; label: string; transfer?: boolean }> = [
  { key: 'dhcp', label: 'DHCP (DORA)' },
  { key: 'tftp-loader-first', label: 'TFTP pxelinux.0: first answer' },
  { key: 'tftp-loader', label: 'TFTP pxelinux.0 + ldlinux.c32 (transfer)', transfer: true },
  { key: 'tftp-config', label: 'TFTP pxelinux.cfg (UUID miss + 01-MAC)' },
  { key: 'kickstart', label: 'HTTP kickstart' },
  { key: 'event', label: 'HTTP event (each of 5)' },
  { key: 'total', label: 'whole machine, DHCP to built', transfer: true },
];

export const stormFigure: Figure = async (ctx) => {
  if (!ctx.client) throw new Error('the storm figure needs a client namespace');
  const c = ctx.client;
  const count = ctx.machines ?? (ctx.quick ? 100 : MACHINES);
  const rampMs = Math.max(1000, (count / RATE) * 1000);
  const POOL = pool(count);
  const batch = POOL.blocks.flatMap((b) => Array.from({ length: 256 }, (_, i) => `addr add 10.233.${b}.${i}/32 dev ${c.clientIf}`)).join('\n');
  writeFileSync(join(ctx.dir, 'addrs.batch'), `${batch}\n`);
  ip('-n', c.ns, '-batch', join(ctx.dir, 'addrs.batch'));
  ip('-n', c.ns, 'route', 'add', 'default', 'dev', c.clientIf);

  const subnet = { network: '10.233.0.0', mask: '255.255.0.0', router: c.serverIp, pool_start: POOL.start, pool_end: POOL.end, lease_seconds: 3600 };
  const service = {
    dir: ctx.dir,
    host: '127.0.0.1',
    cpuProfileDir: ctx.profileDir,
    settings: { HTTP__HOST: '0.0.0.0', TFTP__HOST: '0.0.0.0', TFTP__PORT: '69', DHCP__MODE: 'full', DHCP__INTERFACE: c.serverIf, DHCP__SERVER_IP: c.serverIp, DHCP__SUBNET: JSON.stringify(subnet) },
  };
  const macs = Array.from({ length: count }, (_, i) => benchMac(0x100000 + i));
  ctx.log(`registering and arming ${count} systems (kickstand system import)`);
  const regSeconds = await importArmed(service, macs.map((mac, i) => ({ name: `storm-${String(i).padStart(5, '0')}`, mac })));
  const svc = await startService(service);
  const rssBefore = memory(svc.proc.pid).rss;

  const cfg = join(ctx.dir, 'sim.json');
  const out = join(ctx.dir, 'sim-result.json');
  writeFileSync(cfg, JSON.stringify({ macs, rampMs, out }));
  ctx.log(`${count} machines over ${rampMs / 1000} s`);
  const sampler = new Sampler(svc.proc.pid, 500);
  const sim = start('storm-sim', process.execPath, ['--import', 'tsx', 'bench/storm/sim.ts', cfg], { ns: c.ns, cwd: ROOT, logFile: join(ctx.dir, 'sim.log') });
  const timeout = setTimeout(() => void sim.stop(2000), rampMs + 300_000);
  const code = await sim.exited;
  clearTimeout(timeout);
  const s = sampler.stop();

  ctx.log(readFileSync(join(ctx.dir, 'sim.log'), 'utf8').trim());
  if (code !== 0) throw new Error(`the simulator exited ${code}: ${readFileSync(join(ctx.dir, 'sim.log'), 'utf8').slice(-2000)}`);
  const { seconds, records, cpuSeconds: simCpuSeconds } = JSON.parse(readFileSync(out, 'utf8')) as { seconds: number; records: MachineRecord[]; cpuSeconds: number };
  const built = (await listAll(svc, 'state=built')).filter((x) => x.name.startsWith('storm-')).length;
  const hwm = memory(svc.proc.pid).hwm;
  await svc.stop();

  const ok = records.filter((r) => r.ok);
  const failures = records.filter((r) => !r.ok);
  const values = (key: keyof MachineRecord['stages']) => ok.flatMap((r) => (key === 'event' ? r.stages.event : r.stages[key] === undefined ? [] : [r.stages[key] as number]));
  const rows = STAGES.map((st) => {
    const v = values(st.key);
    return [st.label, fmt(v.length), fmt(percentile(v, 50), 1), fmt(percentile(v, 99), 1), fmt(Math.max(...v), 1)];
  });
  const slow = STAGES.filter((st) => !st.transfer && percentile(values(st.key), 99) >= STAGE_P99_MS).map((st) => st.label);
  const total = values('total');
  const t = s.threads;
  const others = t.otherPct.filter((p) => p >= 1);
  const dhcpResent = ok.filter((r) => (r.dhcpSent ?? 2) > 2).length;
  const tftpResent = ok.reduce((a, r) => a + r.tftpRetransmits, 0);
  return {
    title: 'Boot storm',
    tables: [
      {
        caption: `${fmt(count)} simulated BIOS PXE machines started evenly over ${rampMs / 1000} s (${RATE} a second); ${fmt(ok.length)} completed in ${seconds.toFixed(1)} s. Milliseconds per stage, measured by the simulator:`,
        columns: ['stage', 'samples', 'p50 ms', 'p99 ms', 'max ms'],
        rows,
      },
      {
        caption: 'kickstand during the storm (CPU in % of one core, averaged over the storm; the main thread runs DHCP, HTTP, the store and TFTP requests, worker threads the TFTP transfers)',
        columns: ['peak RSS (VmHWM, since start)', 'RSS before → max during', 'CPU all threads (peak 0.5 s)', 'main thread (CPU per machine)', 'other threads (≥ 1 %)', 'machine cores busy (every process)', 'the simulator', 'whole machine p50', 'import of the armed systems'],
        rows: [[
          `${mib(hwm)} MiB`,
          `${mib(rssBefore)} → ${mib(s.rssMax)} MiB`,
          `${s.cpuAvgPct.toFixed(0)}% (${s.cpuPeakPct.toFixed(0)}%)`,
          `${t.mainPct.toFixed(0)}% (${((t.mainPct / 100) * s.seconds * 1000 / count).toFixed(2)} ms)`,
          others.length ? others.map((p) => `${p.toFixed(0)}%`).join(', ') : '—',
          t.corePct.map((p, i) => `cpu${i} ${p.toFixed(0)}%`).join(', '),
          `${((simCpuSeconds / seconds) * 100).toFixed(0)}% of one core`,
          `${fmt(percentile(total, 50), 0)} ms`,
          `${fmt(count)} in ${regSeconds.toFixed(1)} s`,
        ]],
      },
    ],
    checks: [
      { target: `all ${count} machines built`, measured: `${ok.length} completed, ${built} built in the store${failures.length ? `; first failure: ${failures[0].mac}: ${failures[0].error}` : ''}`, pass: ok.length === count && built === count },
      { target: `p99 < ${STAGE_P99_MS} ms for every stage but the TFTP transfers`, measured: slow.length ? `over ${STAGE_P99_MS} ms: ${slow.join(', ')}` : `worst: ${Math.max(...STAGES.filter((x) => !x.transfer).map((x) => percentile(values(x.key), 99))).toFixed(1)} ms`, pass: slow.length === 0 },
      { target: `peak RSS < ${RSS_LIMIT_MIB} MiB`, measured: `${mib(hwm)} MiB`, pass: hwm < RSS_LIMIT_MIB * 1024 * 1024 },
    ],
    commands: [
      `kickstand system import systems.csv   # before the service starts: name,macs,profile,hostname,build with build=true, ${count} rows`,
      svc.command.replace(c.serverIf, '<veth>'),
      `node --import tsx bench/storm/sim.ts sim.json   # in the client namespace: {"macs":[${count} MACs],"rampMs":${rampMs}}`,
    ],
    notes: [
      'Each machine: DISCOVER/REQUEST with PXE options (broadcast), the firmware\'s tsize probe and then pxelinux.0 (blksize 1456), ldlinux.c32, pxelinux.cfg/<uuid> (not found) and pxelinux.cfg/01-<mac> (blksize 1408), the kickstart from the menu\'s ks= URL, and five step reports ending in built. Each TFTP transfer and HTTP request comes from the machine\'s leased address on a fresh socket.',
      `Retransmissions: ${dhcpResent} machines resent a DHCP message (timeouts 1, 2, 4, 8 s), ${tftpResent} TFTP packets resent (1 s timeout).`,
      'kickstand runs at its default log level (info), which writes a line per DHCP answer and per lifecycle event. The simulator shares the two cores with kickstand, so its own event loop adds to every latency.',
    ],
    raw: { seconds, regSeconds, sample: s, simCpuSeconds, hwm, built, failures: failures.slice(0, 20) },
  };
};
